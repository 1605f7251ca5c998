/** Reads `<chart>/Chart.yaml` from a Helm chart layer (`.tgz`) held in memory. */
import { parse } from "yaml";
import { skipBody, tarFiles } from "./tar_walk.ts";

/** Name and version of a chart. */
export interface ChartMeta {
  name: string;
  version: string;
}

/** The `name` and `version` of the chart in `layer`, or undefined when it has no Chart.yaml. */
export async function readChartMeta(layer: Uint8Array): Promise<ChartMeta | undefined> {
  const stream = new Blob([layer as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  for await (const file of tarFiles(stream)) {
    if (!/^[^/]+\/Chart\.yaml$/.test(file.path)) {
      await skipBody(file.body);
      continue;
    }
    const doc = parse(await new Response(file.body).text()) as Record<string, unknown> | null;
    if (typeof doc?.version !== "string" && typeof doc?.version !== "number") return undefined;
    return { name: String(doc.name ?? ""), version: String(doc.version) };
  }
  return undefined;
}
