/**
 * Deno permission flags, listed once: the compiled binary is built with
 * {@link BINARY_PERMISSIONS} (and `deno task k0rdentd` runs main.ts with them); `deno task
 * registry` serves with {@link REGISTRY_SERVE_PERMISSIONS}. Tests and build tasks read these
 * lists (deno.json cannot import them: tests/cli_test.ts and tests/registry_cli_test.ts check
 * that its tasks match).
 */

/**
 * Flags of the compiled binary, baked in by `deno compile` (tasks/compile.ts) and used by the
 * tests that run `main.ts` under `deno run`. Unscoped on purpose: the one binary serves every
 * command, whose paths are chosen at run time: read/write (config, /etc/k0s, /usr/local/bin,
 * /var/lib, bundles, the embedded assets), net (downloads, registry, health checks), env (config
 * overrides), run (k0s, helm, kubectl, skopeo, systemctl, openssl) and sys (hostname, interfaces,
 * OS release for preflight).
 */
export const BINARY_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/**
 * Flags the registry serve path needs, and nothing more: net (listen), read/write (storage, TLS
 * and htpasswd files, config), env (config overrides), sys for the hostname and interface
 * addresses (`--tls auto` SANs) and for statfs (the free-space guard of a `--bundle-path` load),
 * and run for openssl only (`--tls auto` certificates). Once serving, the daemon revokes run,
 * sys, env and ffi; see docs/registry.md.
 */
export const REGISTRY_SERVE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,networkInterfaces,statfs",
  "--allow-run=openssl",
];
