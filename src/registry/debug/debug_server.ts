/**
 * The debug listener (`--debug-address`): `/metrics` (Prometheus text format 0.0.4), `/healthz`
 * (the process serves: 200) and `/readyz` (200 when the storage is writable and the daemon is not
 * shutting down, else 503; a running bundle load is reported in the body and does not fail it).
 * Plain HTTP, GET and HEAD only; anything else is 404 or 405.
 */
import { errorMessage } from "../../errors.ts";
import type { LoadStatus } from "../../bundle/loading/load_state.ts";
import { headless } from "../http/head.ts";
import { Exposition, EXPOSITION_CONTENT_TYPE } from "./exposition.ts";
import type { HttpMetrics } from "./http_metrics.ts";
import { type EventLoopMonitor, renderProcessMetrics } from "./process_metrics.ts";
import type { StorageUsage } from "./storage_usage.ts";
import type { SourceStatus, SyncStatus } from "../sync/sync_status.ts";

/** What the debug listener reports on. */
export interface DebugSources {
  /** The latest bundle load's status in the storage, or undefined. */
  loadStatus: () => Promise<LoadStatus | undefined>;
  http: HttpMetrics;
  usage: StorageUsage;
  loop: EventLoopMonitor;
  /** Open connections per listener name ("registry", "files"). */
  connections: () => Record<string, number>;
  /** Upload sessions open now. */
  uploadSessions: () => number;
  /** True once the daemon is shutting down. */
  stopping: () => boolean;
  /** Resolves when the storage is writable; rejects with the reason otherwise. */
  checkStorage: () => Promise<void>;
  /** Replication state per `--sync-from` source; undefined when nothing replicates. */
  replication: () => Promise<SyncStatus | undefined>;
  /**
   * Log lines dropped because stderr did not take them in time: of the access log, and of the
   * daemon's other lines.
   */
  droppedLogLines: () => { access: number; daemon: number };
}

const LOAD_STATES: LoadStatus["state"][] = [
  "verifying",
  "loading",
  "tagging",
  "complete",
  "failed",
];

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}

/** The `/metrics` text. */
export async function metricsText(src: DebugSources): Promise<string> {
  const out = new Exposition();
  src.http.render(out);
  out.family(
    "k0rdentd_registry_connections",
    "gauge",
    "Open connections, by listener.",
  );
  for (const [listener, n] of Object.entries(src.connections())) {
    out.sample("k0rdentd_registry_connections", n, { listener });
  }
  out.single(
    "k0rdentd_registry_upload_sessions",
    "gauge",
    "Upload sessions open now.",
    src.uploadSessions(),
  );
  out.family(
    "k0rdentd_registry_log_dropped_lines_total",
    "counter",
    "Log lines dropped because stderr did not take them in time, by log (access, daemon).",
  );
  for (const [name, n] of Object.entries(src.droppedLogLines())) {
    out.sample("k0rdentd_registry_log_dropped_lines_total", n, { log: name });
  }
  const usage = await src.usage.current();
  if (usage) {
    out.single("k0rdentd_registry_storage_blobs", "gauge", "Blobs stored.", usage.blobs);
    out.single(
      "k0rdentd_registry_storage_blob_bytes",
      "gauge",
      "Bytes of the stored blobs.",
      usage.bytes,
    );
    out.single(
      "k0rdentd_registry_storage_counted_timestamp_seconds",
      "gauge",
      `When the blobs were last counted (every ${src.usage.refreshMs / 1000} s at most).`,
      Math.round(usage.at / 1000),
    );
  }
  const load = await src.loadStatus();
  if (load) {
    out.family(
      "k0rdentd_bundle_load_state",
      "gauge",
      "State of the latest bundle load into this storage: 1 for the current state.",
    );
    for (const state of LOAD_STATES) {
      out.sample("k0rdentd_bundle_load_state", load.state === state ? 1 : 0, { state });
    }
    const gauges: [string, string, number][] = [
      ["bytes_done", "Bundle bytes read by the latest load.", load.bytesRead],
      ["bytes_total", "Bundle bytes of the latest load.", load.bytesTotal],
      ["images_done", "Images stored by the latest load.", load.imagesDone],
    ];
    if (load.imagesTotal !== undefined) {
      gauges.push(["images_total", "Images of the latest load's bundle.", load.imagesTotal]);
    }
    for (const [name, help, value] of gauges) {
      out.single(`k0rdentd_bundle_load_${name}`, "gauge", help, value);
    }
  }
  renderReplication(out, await src.replication());
  renderProcessMetrics(out, src.loop);
  return out.text();
}

/** Replication lag per `--sync-from` source (the state `registry status` shows). */
function renderReplication(out: Exposition, status: SyncStatus | undefined): void {
  if (!status?.sources.length) return;
  const families: [string, "gauge" | "counter", string, (s: SourceStatus) => number | undefined][] =
    [
      [
        "k0rdentd_registry_sync_up",
        "gauge",
        "1 when the last pass could list the source, else 0.",
        (s) => s.state === "unreachable" ? 0 : 1,
      ],
      [
        "k0rdentd_registry_sync_tags_behind",
        "gauge",
        "Tags of the source not held here under that tag (last listing).",
        (s) => s.tagsBehind,
      ],
      [
        "k0rdentd_registry_sync_bytes_behind",
        "gauge",
        "Blob bytes still to copy for those tags (a lower bound).",
        (s) => s.bytesBehind,
      ],
      [
        "k0rdentd_registry_sync_copied_bytes_total",
        "counter",
        "Blob bytes copied from the source since the daemon started.",
        (s) => s.bytesCopied,
      ],
      [
        "k0rdentd_registry_sync_last_success_timestamp_seconds",
        "gauge",
        "When a pass last left nothing behind.",
        (s) => s.lastSyncAt ? Math.round(Date.parse(s.lastSyncAt) / 1000) : undefined,
      ],
    ];
  for (const [name, type, help, value] of families) {
    const samples = status.sources.map((s) => [s.source, value(s)] as const)
      .filter((x): x is readonly [string, number] => x[1] !== undefined);
    if (!samples.length) continue;
    out.family(name, type, help);
    for (const [source, v] of samples) out.sample(name, v, { source });
  }
}

/** The `/readyz` answer. */
async function readiness(src: DebugSources): Promise<Response> {
  const problems: string[] = [];
  if (src.stopping()) problems.push("shutting down");
  try {
    await src.checkStorage();
  } catch (err) {
    problems.push(`storage not writable: ${errorMessage(err)}`);
  }
  const load = await src.loadStatus();
  const loading = load && load.state !== "complete" && load.state !== "failed"
    ? `\nbundle load ${load.state}: ${load.imagesDone}${
      load.imagesTotal === undefined ? "" : `/${load.imagesTotal}`
    } images, ${load.bytesRead}/${load.bytesTotal} bytes`
    : "";
  if (problems.length) return text(503, `not ready: ${problems.join("; ")}${loading}\n`);
  return text(200, `ready${loading}\n`);
}

/** The request handler of the debug listener. */
export function createDebugHandler(src: DebugSources): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") {
      return text(404, "not found: /metrics, /healthz and /readyz are served here\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "method not allowed\n", { Allow: "GET, HEAD" });
    }
    let res: Response;
    if (path === "/healthz") res = text(200, "ok\n");
    else if (path === "/readyz") res = await readiness(src);
    else {
      res = new Response(await metricsText(src), {
        headers: { "Content-Type": EXPOSITION_CONTENT_TYPE },
      });
    }
    return req.method === "HEAD" ? headless(res) : res;
  };
}
