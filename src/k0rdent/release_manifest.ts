/**
 * The k0rdent `Release` object of a version, read from kcm's `kcm-templates` chart as kcm ships
 * it: `templates/provider/kcm-templates/files/release.yaml`, rendered by the chart's
 * `templates/release.yaml` (k0rdent/kcm). The chart is pulled over the OCI distribution API
 * (manifest, then its chart layer), with a size limit on each before it is buffered.
 */
import { parseDocument } from "yaml";
import { ChartError, readChartFile } from "../bundle/reading/chart.ts";
import { RegistryClient } from "../bundle/pushing/registry_client.ts";
import { MAX_CHART_LAYER_BYTES } from "../bundle/reading/scan.ts";
import { errorMessage, UserError } from "../errors.ts";
import { hashBytes } from "../hash/sha.ts";
import { readLimited } from "../registry/limits.ts";
import { MAX_MANIFEST_BYTES, MEDIA_TYPES } from "../registry/manifest.ts";

/** The chart layer's media type (Helm OCI support, helm/helm pkg/registry/constants.go). */
const HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/** A release.yaml larger than this is refused (kcm's is about 1.5 KiB). */
export const MAX_RELEASE_YAML_BYTES = 256 * 1024;

/** Where the kcm-templates chart is pulled from. */
export interface TemplatesChartSource {
  /** `host[:port]` of the registry. */
  host: string;
  /** Repository of the chart in it, e.g. `k0rdent-enterprise/charts/kcm-templates`. */
  repository: string;
  plainHttp?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
}

/** A Release object, as YAML to apply and the fields the upgrade needs. */
export interface ReleaseManifest {
  /** `metadata.name`, e.g. `kcm-1-2-0`: what `Management.spec.release` names. */
  name: string;
  /** `spec.version`, e.g. `1.2.0`. */
  version: string;
  /** The YAML as shipped (one document). */
  yaml: string;
}

/**
 * kcm's name for the Release of a version (`ReleaseNameFromVersion` in
 * internal/util/release/release.go): `kcm-` and the version without a leading `v`, `.` and `+`
 * as `-`, lower case.
 */
export function releaseNameFromVersion(version: string): string {
  return "kcm-" + version.replace(/^v/, "").replaceAll(".", "-").replaceAll("+", "-").toLowerCase();
}

/** Parses and checks a release.yaml: one `Release` with a name, `spec.version` and templates. */
export function parseReleaseManifest(text: string, where: string): ReleaseManifest {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    throw new UserError(`Cannot read the Release of ${where}: ${doc.errors[0].message}`);
  }
  const obj = doc.toJS() as {
    kind?: unknown;
    metadata?: { name?: unknown };
    spec?: { version?: unknown; kcm?: { template?: unknown }; capi?: { template?: unknown } };
  } | null;
  const name = obj?.metadata?.name;
  const version = obj?.spec?.version;
  if (
    obj?.kind !== "Release" || typeof name !== "string" || !name ||
    typeof version !== "string" || !version || typeof obj.spec?.kcm?.template !== "string" ||
    typeof obj.spec?.capi?.template !== "string"
  ) {
    throw new UserError(
      `Cannot read the Release of ${where}: expected kind Release with metadata.name, spec.version, spec.kcm.template and spec.capi.template`,
    );
  }
  return { name, version, yaml: text };
}

/** GETs `path` and buffers at most `max` bytes of its body. */
async function getLimited(
  client: RegistryClient,
  path: string,
  scope: string,
  max: number,
  accept: string,
  what: string,
): Promise<Uint8Array | null> {
  const res = await client.request("GET", path, { scope, headers: { Accept: accept } });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) return await client.fail(res, what);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel();
    throw new UserError(`Cannot read ${what}: ${declared} bytes, at most ${max} are read`);
  }
  return await readLimited(
    res.body,
    max,
    () => new UserError(`Cannot read ${what}: more than ${max} bytes`),
  );
}

/**
 * Pulls `<repository>:<version>` (tag `+` as `_`) and returns its `files/release.yaml`; a
 * missing chart, a chart without that file or a Release that does not parse is a UserError.
 */
export async function fetchReleaseManifest(
  source: TemplatesChartSource,
  version: string,
): Promise<ReleaseManifest> {
  const ref = `${source.host}/${source.repository}:${version}`;
  const tag = version.replaceAll("+", "_");
  const scope = `repository:${source.repository}:pull`;
  const client = await RegistryClient.open({
    host: source.host,
    plainHttp: source.plainHttp,
    caFile: source.caFile || undefined,
    username: source.username || undefined,
    password: source.password,
  });
  try {
    const manifestBytes = await getLimited(
      client,
      `/v2/${source.repository}/manifests/${tag}`,
      scope,
      MAX_MANIFEST_BYTES,
      MEDIA_TYPES.ociManifest,
      `the manifest of chart "${ref}"`,
    );
    if (!manifestBytes) {
      throw new UserError(
        `The registry ${source.host} holds no chart "${source.repository}" version "${version}" (load the bundle of that version, or check --k0rdent-version)`,
      );
    }
    let layers: { mediaType?: string; digest?: string }[] = [];
    try {
      layers = (JSON.parse(new TextDecoder().decode(manifestBytes)) as { layers?: [] }).layers ??
        [];
    } catch (err) {
      throw new UserError(`Cannot read the manifest of chart "${ref}": ${errorMessage(err)}`);
    }
    const layer = layers.find((l) => l.mediaType === HELM_CHART_LAYER);
    if (!layer?.digest || !/^sha256:[0-9a-f]{64}$/.test(layer.digest)) {
      throw new UserError(`Chart "${ref}" has no Helm chart layer`);
    }
    const bytes = await getLimited(
      client,
      `/v2/${source.repository}/blobs/${layer.digest}`,
      scope,
      MAX_CHART_LAYER_BYTES,
      "*/*",
      `the chart layer of "${ref}"`,
    );
    if (!bytes) throw new UserError(`Chart "${ref}": its layer ${layer.digest} is missing`);
    const digest = "sha256:" + hashBytes(bytes);
    if (digest !== layer.digest) {
      throw new UserError(
        `Chart "${ref}": its layer is ${digest}, the manifest says ${layer.digest}`,
      );
    }
    let file: { text: string } | undefined;
    try {
      file = await readChartFile(
        bytes,
        /^[^/]+\/files\/release\.yaml$/,
        MAX_RELEASE_YAML_BYTES,
        "files/release.yaml",
      );
    } catch (err) {
      if (err instanceof ChartError) {
        throw new UserError(`Cannot read chart "${ref}": ${err.message}`);
      }
      throw err;
    }
    if (!file) throw new UserError(`Chart "${ref}" holds no files/release.yaml`);
    return parseReleaseManifest(file.text, `chart "${ref}"`);
  } finally {
    client.close();
  }
}
