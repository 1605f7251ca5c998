/** k0rdentd: install k0s and k0rdent on this host, online or air-gapped. */
import { runCli } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await runCli(Deno.args));
