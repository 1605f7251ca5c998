/**
 * A private, temporary helm registry config (`--registry-config`) holding the credentials of an
 * OCI chart registry, so they never reach argv: helm 3.16 and 3.18 ignore `--username` /
 * `--password` for OCI pulls (3.16.3 `cmd/helm/root.go` builds the registry client without them;
 * 3.18.4 passes them, but `pkg/registry/client.go` `NewClient` still takes the credentials from
 * the store only; 3.19.0 uses them), while every version reads a Docker `config.json`
 * (`{"auths": {"<host>": {"auth": base64(user:password)}}}`, oras-go
 * `registry/remote/credentials`).
 */
import { withPrivateTempFile } from "../fsx/private_temp_file.ts";

/** Credentials for `host` (`host[:port]` as the chart reference names it). */
export interface RegistryLogin {
  host: string;
  username: string;
  password: string;
}

/** The `config.json` text for `login`. */
export function registryConfigJson(login: RegistryLogin): string {
  const bytes = new TextEncoder().encode(`${login.username}:${login.password}`);
  const auth = btoa(String.fromCharCode(...bytes));
  return JSON.stringify({ auths: { [login.host]: { auth } } });
}

/**
 * Runs `fn` with the path of a registry config for `login` in a new 0700 directory (file 0600),
 * removed afterwards whatever `fn` does.
 */
export async function withRegistryConfig<T>(
  login: RegistryLogin,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  return await withPrivateTempFile("k0rdentd-helm-", "config.json", registryConfigJson(login), fn);
}
