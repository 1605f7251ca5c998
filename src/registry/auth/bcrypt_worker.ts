/**
 * bcrypt comparisons in a worker (`bcrypt_worker_main.ts`), one at a time, so they never run on the
 * daemon's event loop. bcryptjs on the loop itself is no option: its async API works in 100 ms
 * slices rescheduled with `setImmediate`, which in Deno starves I/O (one comparison loop held a
 * request to the same process for over 5 s; `docs/registry.md`, Limits).
 */

/** Compares passwords with bcrypt hashes in one worker, started on first use. */
export class BcryptWorker {
  #worker?: Worker;
  #next = 0;
  readonly #pending = new Map<number, { resolve(ok: boolean): void; reject(err: Error): void }>();

  /** Comparisons sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** True when `password` matches `hash`. */
  compare(password: string, hash: string): Promise<boolean> {
    const worker = this.#worker ??= this.#start();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, hash });
    });
  }

  /** Stops the worker; comparisons still waiting fail. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#failAll(new Error("The bcrypt worker was stopped"));
  }

  #start(): Worker {
    const worker = new Worker(new URL("./bcrypt_worker_main.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = (e: MessageEvent<{ id: number; ok: boolean }>) => {
      const waiter = this.#pending.get(e.data.id);
      this.#pending.delete(e.data.id);
      waiter?.resolve(e.data.ok === true);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.#worker?.terminate();
      this.#worker = undefined;
      this.#failAll(new Error(`The bcrypt worker failed: ${e.message}`));
    };
    return worker;
  }

  #failAll(err: Error): void {
    for (const waiter of this.#pending.values()) waiter.reject(err);
    this.#pending.clear();
  }
}
