/**
 * TLS material for the registry: user-supplied files, or `--tls auto`, which creates a CA and a
 * server certificate (SANs: local addresses, the hostname, `localhost`, extra names) with
 * openssl under `<storage>/tls/`, and reuses them on restart (the server certificate is
 * re-issued from the same CA when the SAN list changes). Keys are written mode 0600.
 */
import { join } from "node:path";
import { errorMessage, ToolError, UserError } from "../errors.ts";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { runChecked, type Runner } from "../process/runner.ts";
import { layout, type TlsFile } from "./storage/layout.ts";

/** Certificate and key, PEM, ready for `Deno.listenTls`. */
export interface TlsMaterial {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** The CA clients must trust (auto mode only). */
  caFile?: string;
}

/** Reads a user-supplied certificate and key; a clear {@link UserError} when unreadable. */
export async function readTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const read = async (what: string, path: string) => {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      throw new UserError(`Cannot read TLS ${what} "${path}": ${errorMessage(err)}`);
    }
    if (!/-----BEGIN [A-Z ]+-----/.test(text)) {
      throw new UserError(`Cannot read TLS ${what} "${path}": not a PEM file`);
    }
    return text;
  };
  return {
    cert: await read("certificate", certFile),
    key: await read("key", keyFile),
    certFile,
    keyFile,
  };
}

/** Subject alternative names for the auto certificate: addresses, hostname, localhost, extras. */
export function defaultSans(extra: readonly string[]): string[] {
  const names = new Set<string>(["localhost", "127.0.0.1", "::1"]);
  try {
    names.add(Deno.hostname());
  } catch {
    // No sys permission for the hostname: the other names still apply.
  }
  try {
    for (const nic of Deno.networkInterfaces()) names.add(nic.address);
  } catch {
    // No sys permission for interfaces: the other names still apply.
  }
  for (const n of extra) if (n.trim()) names.add(n.trim());
  return [...names].sort();
}

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
}

/** The `subjectAltName` value for openssl. */
export function sanExtension(sans: readonly string[]): string {
  return sans.map((n) => (isIp(n) ? `IP:${n.replace(/%.*$/, "")}` : `DNS:${n}`)).join(",");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates (or reuses) the auto-mode CA and server certificate under `<storage>/tls/`. */
export async function autoTls(
  storageDir: string,
  sans: readonly string[],
  runner: Runner,
): Promise<TlsMaterial> {
  const file = (name: TlsFile) => join(storageDir, layout.tls(name));
  const dir = join(storageDir, layout.tlsDir());
  const caKey = file("ca.key");
  const caCert = file("ca.crt");
  const certFile = file("server.crt");
  const keyFile = file("server.key");
  const sansFile = file("server.sans");
  const wanted = sans.join("\n") + "\n";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = await Deno.makeTempDir({ dir, prefix: ".gen-" });
    try {
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
      const newCa = !(await exists(caCert)) || !(await exists(caKey));
      if (newCa) {
        await runChecked(runner, [
          "openssl",
          "req",
          "-x509",
          "-new",
          ...ec,
          "-keyout",
          join(tmp, "ca.key"),
          "-out",
          join(tmp, "ca.crt"),
          "-days",
          "3650",
          "-subj",
          "/CN=k0rdentd registry CA",
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        await Deno.chmod(join(tmp, "ca.key"), 0o600);
        await Deno.rename(join(tmp, "ca.key"), caKey);
        await Deno.rename(join(tmp, "ca.crt"), caCert);
      }
      const current = await Deno.readTextFile(sansFile).catch(() => "");
      if (newCa || current !== wanted || !(await exists(certFile)) || !(await exists(keyFile))) {
        await runChecked(runner, [
          "openssl",
          "req",
          "-new",
          ...ec,
          "-keyout",
          join(tmp, "server.key"),
          "-out",
          join(tmp, "server.csr"),
          "-subj",
          `/CN=${sans.find((s) => !isIp(s) && s !== "localhost") ?? "localhost"}`,
        ]);
        await runChecked(runner, [
          "openssl",
          "x509",
          "-req",
          "-in",
          join(tmp, "server.csr"),
          "-CA",
          caCert,
          "-CAkey",
          caKey,
          "-set_serial",
          `0x${crypto.randomUUID().replaceAll("-", "")}`,
          "-days",
          "825",
          "-out",
          join(tmp, "server.crt"),
          "-extfile",
          "/dev/stdin",
        ], {
          stdin: `subjectAltName=${sanExtension(sans)}\nextendedKeyUsage=serverAuth\n` +
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        });
        await Deno.chmod(join(tmp, "server.key"), 0o600);
        await Deno.rename(join(tmp, "server.key"), keyFile);
        await Deno.rename(join(tmp, "server.crt"), certFile);
        await writeFileAtomic(sansFile, wanted);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    return {
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
      certFile,
      keyFile,
      caFile: caCert,
    };
  } catch (err) {
    // The runner reports a program it cannot start as exit 127.
    if (err instanceof ToolError && err.code === 127 && err.argv[0] === "openssl") {
      throw new UserError(
        `Cannot create TLS certificates in "${dir}": openssl is not installed (--tls auto ` +
          `needs it): install it (e.g. apt-get install -y openssl), or serve plain HTTP with ` +
          `--tls off`,
      );
    }
    if (err instanceof UserError) {
      throw new UserError(`Cannot create TLS certificates in "${dir}": ${err.message}`);
    }
    throw new UserError(`Cannot create TLS certificates in "${dir}": ${errorMessage(err)}`);
  }
}
