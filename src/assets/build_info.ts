/**
 * Build metadata: flavor, versions, build time and embedded asset digests.
 * Read from `assets/build-info.json`, which the build tasks write and
 * `deno compile --include assets` embeds; from source there is no such file
 * and the flavor is `online` with the version from `deno.json`.
 */
import { join } from "node:path";
import { z } from "zod";
import denoJson from "../../deno.json" with { type: "json" };
import { UserError } from "../errors.ts";

/** Build flavors. */
export type Flavor = "online" | "airgap";

/** Compression of an embedded asset; both decompress with the built-in `DecompressionStream`. */
export type AssetCompression = "gzip" | "brotli";

/** One embedded file. */
export interface AssetInfo {
  /** Logical name, e.g. `k0s` or `helm`. */
  name: string;
  /** File name inside the assets dir (compressed). */
  file: string;
  /** Version of the tool inside. */
  version: string;
  /** Size and SHA-256 of the uncompressed content. */
  size: number;
  sha256: string;
  /** Size and SHA-256 of the compressed file as embedded. */
  compressedSize: number;
  compressedSha256: string;
  /** How the file is compressed; absent means `gzip`. */
  compression?: AssetCompression;
}

/** The build metadata. */
export interface BuildInfo {
  flavor: Flavor;
  version: string;
  k0sVersion?: string;
  helmVersion?: string;
  /** ISO time of the build; absent when run from source. */
  buildTime?: string;
  /** Rust-style target triple the binary was built for. */
  target?: string;
  assets: AssetInfo[];
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 hex digits");
const byteCount = z.number().int().nonnegative();

/** Checks `build-info.json`; typed against {@link BuildInfo} so the two cannot drift apart. */
const BuildInfoSchema: z.ZodType<BuildInfo> = z.object({
  flavor: z.enum(["online", "airgap"]),
  version: z.string(),
  k0sVersion: z.string().optional(),
  helmVersion: z.string().optional(),
  buildTime: z.string().optional(),
  target: z.string().optional(),
  assets: z.array(z.object({
    name: z.string().min(1),
    file: z.string().min(1),
    version: z.string(),
    size: byteCount,
    sha256: sha256Hex,
    compressedSize: byteCount,
    compressedSha256: sha256Hex,
    compression: z.enum(["gzip", "brotli"]).optional(),
  })).default([]),
});

/** The name of the metadata file inside the assets dir. */
export const BUILD_INFO_FILE = "build-info.json";

/**
 * The assets directory: beside the sources (`assets/`), which is also where
 * `deno compile --include assets` places it inside the binary.
 * `K0RDENTD_ASSETS_DIR` points elsewhere (used by tests and the build task).
 */
export function assetsDir(): string {
  return Deno.env.get("K0RDENTD_ASSETS_DIR") || join(import.meta.dirname ?? ".", "../../assets");
}

/** Reads the build metadata from `dir`, defaulting to the online flavor from source. */
export async function readBuildInfo(dir: string = assetsDir()): Promise<BuildInfo> {
  const path = join(dir, BUILD_INFO_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { flavor: "online", version: denoJson.version, assets: [] };
    }
    throw new UserError(`Cannot read build metadata "${path}": ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`Cannot read build metadata "${path}": ${(err as Error).message}`);
  }
  const result = BuildInfoSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UserError(
      `Cannot read build metadata "${path}": ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return result.data;
}
