/**
 * Reads `<chart>/Chart.yaml` and other single files (e.g. `files/release.yaml`) from a Helm
 * chart layer (`.tgz`) held in memory.
 *
 * Only the top-level `name:` and `version:` scalars are needed, and they are read with a
 * line match instead of the `yaml` package on purpose: `yaml` reads `process.env` on every
 * parse, and the registry daemon, which loads bundles in the background, gives up its
 * environment permission once it serves.
 */
import { gunzipStream, GzipError } from "./gunzip.ts";
import { tarReason } from "./source.ts";
import { skipBody, tarFiles, UnsafeEntryError } from "./tar_walk.ts";

/** A Chart.yaml larger than this is refused: it holds a few hundred bytes of metadata. */
export const MAX_CHART_YAML_BYTES = 1024 * 1024;
/**
 * At most this much of a chart layer is decompressed while looking for its Chart.yaml: Helm's
 * own bound on a whole chart (`MaxDecompressedChartSize`, 100 MiB, in helm/helm
 * pkg/chart/loader/archive/archive.go).
 */
export const MAX_CHART_BYTES = 100 * 1024 * 1024;

/** A chart layer that cannot be read; the message is one line to follow `chart "<file>": `. */
export class ChartError extends Error {
  override name = "ChartError";
}

/** Name and version of a chart. */
export interface ChartMeta {
  name: string;
  version: string;
}

/** The value of a top-level scalar key of a YAML mapping (unquoted, comment removed). */
export function topLevelScalar(text: string, key: string): string | undefined {
  const m = new RegExp(`^${key}:[ \\t]*(.*?)[ \\t]*$`, "m").exec(text);
  if (!m) return undefined;
  let value = m[1];
  const quoted = /^(["'])(.*)\1(\s+#.*)?$/.exec(value);
  if (quoted) value = quoted[2];
  else value = value.replace(/\s+#.*$/, "");
  return value === "" ? undefined : value;
}

/** Streams the files of a chart layer, failing once more than {@link MAX_CHART_BYTES} inflate. */
async function* chartFiles(layer: Uint8Array, what: string) {
  let inflated = 0;
  const stream = gunzipStream(new Blob([layer as Uint8Array<ArrayBuffer>]).stream())
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          inflated += chunk.length;
          if (inflated > MAX_CHART_BYTES) {
            throw new ChartError(
              `chart layer decompresses to more than ${MAX_CHART_BYTES} bytes before its ${what}`,
            );
          }
          controller.enqueue(chunk);
        },
      }),
    );
  try {
    yield* tarFiles(stream);
  } catch (err) {
    if (err instanceof ChartError) throw err;
    const detail = err instanceof GzipError || err instanceof UnsafeEntryError
      ? err.message
      : tarReason(err);
    throw new ChartError(`chart layer: ${detail}`, { cause: err });
  }
}

/**
 * The text of the first file of the chart in `layer` whose path matches `path` (e.g.
 * `/^[^/]+\/files\/release\.yaml$/`), or undefined when there is none. A matching file larger
 * than `maxBytes` is a {@link ChartError}, and so is every failure to read the layer.
 */
export async function readChartFile(
  layer: Uint8Array,
  path: RegExp,
  maxBytes: number,
  what = "file",
): Promise<{ path: string; text: string } | undefined> {
  for await (const file of chartFiles(layer, what)) {
    if (!path.test(file.path)) {
      await skipBody(file.body);
      continue;
    }
    if (file.size > maxBytes) {
      throw new ChartError(`"${file.path}" has ${file.size} bytes; at most ${maxBytes} are read`);
    }
    return { path: file.path, text: await new Response(file.body).text() };
  }
  return undefined;
}

/**
 * The `name` and `version` of the chart in `layer`, or undefined when it has no Chart.yaml with
 * a version. Reads no more than {@link MAX_CHART_BYTES} decompressed and stops at the first
 * Chart.yaml with a version; every failure is a {@link ChartError}.
 */
export async function readChartMeta(layer: Uint8Array): Promise<ChartMeta | undefined> {
  for await (const file of chartFiles(layer, "Chart.yaml")) {
    if (!/^[^/]+\/Chart\.yaml$/.test(file.path)) {
      await skipBody(file.body);
      continue;
    }
    if (file.size > MAX_CHART_YAML_BYTES) {
      throw new ChartError(
        `"${file.path}" has ${file.size} bytes; a Chart.yaml may have ${MAX_CHART_YAML_BYTES}`,
      );
    }
    const text = await new Response(file.body).text();
    const version = topLevelScalar(text, "version");
    if (version) return { name: topLevelScalar(text, "name") ?? "", version };
  }
  return undefined;
}
