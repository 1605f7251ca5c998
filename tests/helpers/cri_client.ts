/**
 * A minimal CRI client for tests: `runtime.v1.ImageService/PullImage` (what the kubelet and
 * `crictl pull` call) over gRPC on containerd's unix socket, with node:http2 and the two
 * protobuf messages encoded by hand (k8s.io/cri-api `pkg/apis/runtime/v1/api.proto`:
 * `PullImageRequest{ImageSpec image = 1}`, `ImageSpec{string image = 1}`,
 * `PullImageResponse{string image_ref = 1}`). Debian 12 packages no crictl.
 */
import http2 from "node:http2";
import net from "node:net";

/** A failed CRI call: the gRPC status code and message. */
export class CriError extends Error {
  constructor(readonly code: number, message: string) {
    super(`gRPC status ${code}: ${message}`);
  }
}

const MAX_RESPONSE = 64 * 1024;

function varint(n: number): number[] {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited protobuf field. */
function field(num: number, bytes: Uint8Array): Uint8Array {
  return new Uint8Array([(num << 3) | 2, ...varint(bytes.length), ...bytes]);
}

/** The first length-delimited field `num` of a protobuf message, as text ("" when absent). */
function readStringField(msg: Uint8Array, num: number): string {
  let i = 0;
  const readVarint = () => {
    let n = 0;
    for (let shift = 0;; shift += 7) {
      const b = msg[i++];
      n += (b & 127) * 2 ** shift;
      if (b < 128) return n;
    }
  };
  while (i < msg.length) {
    const key = readVarint();
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 2) {
      const len = readVarint();
      if (key >>> 3 === num) return new TextDecoder().decode(msg.subarray(i, i + len));
      i += len;
    } else throw new Error(`Unexpected protobuf wire type ${wire}`);
  }
  return "";
}

/**
 * Asks the CRI plugin behind `socket` to pull `image`; returns the image reference it reports
 * (containerd: the image config digest). A {@link CriError} when the pull fails.
 */
export function criPullImage(socket: string, image: string, timeoutMs = 15_000): Promise<string> {
  const msg = field(1, field(1, new TextEncoder().encode(image)));
  const frame = new Uint8Array(5 + msg.length);
  new DataView(frame.buffer).setUint32(1, msg.length);
  frame.set(msg, 5);
  return new Promise((resolve, reject) => {
    const client = http2.connect("http://localhost", {
      createConnection: () => net.connect(socket),
    });
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`CRI PullImage "${image}" timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (fn: () => void) => {
      clearTimeout(timer);
      client.close();
      fn();
    };
    client.on("error", (err) => done(() => reject(err)));
    const req = client.request({
      ":method": "POST",
      ":path": "/runtime.v1.ImageService/PullImage",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Uint8Array[] = [];
    let size = 0;
    let status: { code: number; message: string } | undefined;
    const noteStatus = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) {
        status = {
          code: Number(headers["grpc-status"]),
          message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        };
      }
    };
    req.on("response", noteStatus);
    req.on("trailers", noteStatus);
    req.on("data", (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > MAX_RESPONSE) req.destroy(new Error("CRI response too large"));
      else chunks.push(chunk);
    });
    req.on("error", (err) => done(() => reject(err)));
    req.on("end", () =>
      done(() => {
        if (!status) return reject(new Error("CRI response without grpc-status"));
        if (status.code !== 0) return reject(new CriError(status.code, status.message));
        const body = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) body.set(c, (at += c.length) - c.length);
        // One gRPC message: 1 byte flags, 4 bytes length, the protobuf.
        const len = new DataView(body.buffer).getUint32(1);
        resolve(readStringField(body.subarray(5, 5 + len), 1));
      }));
    req.end(frame);
  });
}
