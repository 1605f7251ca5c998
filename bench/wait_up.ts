/** Waits for a registry under benchmark to answer `GET /v2/` (both registry benchmarks). */

/** Resolves once `<base>/v2/` answers 2xx (or 401: a registry that wants credentials); throws after 20 s. */
export async function waitUp(base: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/v2/`);
      await res.body?.cancel();
      if (res.ok || res.status === 401) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base} did not come up`);
}
