/** Join phase: write the join token to `/etc/k0s/<role>-token` (0600) for `k0s install --token-file`. */
import type { Phase } from "../../install/phase.ts";
import { type JoinRole, joinTokenPath } from "../token.ts";

/** The token file mode: root only. */
const MODE = 0o600;

/** The phase writing `token` for `role`; skipped once the k0s service is installed. */
export function joinTokenPhase(role: JoinRole, token: string): Phase {
  const path = joinTokenPath(role);
  return {
    id: "join-token",
    title: `Write the join token ${path}`,
    async shouldRun(ctx) {
      if (await ctx.k0s.serviceInstalled(role)) return false;
      return !await ctx.host.matches(path, token + "\n", MODE);
    },
    async run(ctx) {
      await ctx.host.writeFile(path, token + "\n", { mode: MODE });
    },
  };
}
