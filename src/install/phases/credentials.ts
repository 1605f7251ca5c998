/**
 * Phase: apply the provider credentials (generator: `k0rdent/credentials.ts`)
 * with `k0s kubectl apply --server-side -f -`; the secrets travel on stdin
 * only, never on argv, in logs or in files. Skipped when none are configured
 * or the same set was applied last time.
 */
import { credentialNames, renderCredentials } from "../../k0rdent/credentials.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";
import { hashText } from "../../hash/sha.ts";

function manifests(ctx: InstallContext): string {
  return renderCredentials(ctx.config.k0rdent.credentials, ctx.config.k0rdent.helm.namespace);
}

/** The credentials phase. */
export const credentialsPhase: Phase = {
  id: "credentials",
  title: "Apply the provider credentials",
  shouldRun(ctx) {
    const text = manifests(ctx);
    return Promise.resolve(text !== "" && ctx.state.credentialsDigest !== hashText(text));
  },
  async run(ctx) {
    const text = manifests(ctx);
    const names = credentialNames(ctx.config.k0rdent.credentials);
    await ctx.k0s.kubectlApply(
      ["apply", "--server-side", "-f", "-"],
      text,
      `apply --server-side -f - (credentials ${names.join(", ")})`,
    );
    await saveState(ctx.host, ctx.state, { credentialsDigest: hashText(text) });
  },
};
