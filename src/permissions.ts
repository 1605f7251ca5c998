/**
 * Deno permission flags, listed once: the compiled binary is built with
 * {@link BINARY_PERMISSIONS}; `deno task registry` serves with
 * {@link REGISTRY_SERVE_PERMISSIONS}. Tests and build tasks read these lists.
 */

/** Flags of the compiled binary (every command: install runs k0s/helm, reads /proc, ...). */
export const BINARY_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/** Flags the registry serve path needs (net on the listen address, read/write on storage). */
export const REGISTRY_SERVE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];
