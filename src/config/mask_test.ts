import assert from "node:assert/strict";
import { defaultConfig } from "./defaults.ts";
import { MASK, maskSecrets } from "./mask.ts";

Deno.test("maskSecrets() hides every credential secret and token, keeps the rest", () => {
  const config = defaultConfig();
  config.k0rdent.credentials.aws.push({
    name: "a",
    accessKeyID: "AKIAFAKE",
    secretAccessKey: "s3cr3t-aws",
    sessionToken: "tok-aws",
  });
  config.k0rdent.credentials.gcp.push({ name: "g", credentials: '{"private_key":"pk"}' });
  config.join.token = "join-token-value";
  config.k0rdent.helm.values = { "k0rdent-ui": { auth: { basic: { password: "ui-pass" } } } };
  const text = JSON.stringify(maskSecrets(config));
  for (
    const secret of [
      "AKIAFAKE",
      "s3cr3t-aws",
      "tok-aws",
      "private_key",
      "join-token-value",
      "ui-pass",
    ]
  ) {
    assert.ok(!text.includes(secret), `${secret} leaked`);
  }
  const masked = maskSecrets(config) as typeof config;
  assert.deepEqual(masked.k0rdent.credentials.aws[0].name, "a");
  assert.deepEqual(masked.k0rdent.credentials.aws[0].secretAccessKey, MASK);
  assert.deepEqual(masked.registry.port, 5000);
  assert.deepEqual(masked.join.tokenFile, "");
});
