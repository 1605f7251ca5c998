/**
 * Reads `<chart>/Chart.yaml` from a Helm chart layer (`.tgz`) held in memory.
 *
 * Only the top-level `name:` and `version:` scalars are needed, and they are read with a
 * line match instead of the `yaml` package on purpose: `yaml` reads `process.env` on every
 * parse, and the registry daemon, which loads bundles in the background, gives up its
 * environment permission once it serves.
 */
import { skipBody, tarFiles } from "./tar_walk.ts";

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

/** The `name` and `version` of the chart in `layer`, or undefined when it has no Chart.yaml. */
export async function readChartMeta(layer: Uint8Array): Promise<ChartMeta | undefined> {
  const stream = new Blob([layer as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  let meta: ChartMeta | undefined;
  for await (const file of tarFiles(stream)) {
    if (meta || !/^[^/]+\/Chart\.yaml$/.test(file.path)) {
      await skipBody(file.body);
      continue;
    }
    const text = await new Response(file.body).text();
    const version = topLevelScalar(text, "version");
    if (version) meta = { name: topLevelScalar(text, "name") ?? "", version };
  }
  return meta;
}
