/**
 * Build metadata: flavor, versions, build time and embedded asset digests.
 * Read from `assets/build-info.json`, which the build tasks write and
 * `deno compile --include assets` embeds; from source there is no such file
 * and the flavor is `online` with the version from `deno.json`.
 */
import { join } from "node:path";
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
  try {
    const info = JSON.parse(text) as BuildInfo;
    if (info.flavor !== "online" && info.flavor !== "airgap") throw new Error("unknown flavor");
    return { ...info, assets: info.assets ?? [] };
  } catch (err) {
    throw new UserError(`Cannot read build metadata "${path}": ${(err as Error).message}`);
  }
}
