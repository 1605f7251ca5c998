/**
 * Credentials through `install`: the objects of every provider reach
 * `k0s kubectl apply --server-side -f -` on stdin, exactly as the generator
 * renders them, and no secret appears on argv, in the output or logs (even
 * at debug level and on failure) or in any file the install writes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { renderCredentials } from "../src/k0rdent/credentials.ts";
import { FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { airgapArgs, serveAirgapRegistry } from "./helpers/airgap_registry.ts";
import { needsTools } from "./helpers/tools.ts";

const SECRETS = [
  "AKIA-secret-access-key-7f3a",
  "azure-client-secret-91c2",
  "vsphere-password-55d1",
  "openstack-app-secret-0b8e",
  "gcp-private-key-c4e9",
];

const CONFIG = `k0rdent:
  credentials:
    aws:
      - name: aws-cred
        accessKeyID: AKIAEXAMPLE
        secretAccessKey: ${SECRETS[0]}
    azure:
      - name: azure-cred
        subscriptionID: sub-1
        tenantID: tenant-1
        clientID: client-1
        clientSecret: ${SECRETS[1]}
    vsphere:
      - name: vsphere-cred
        vcenter: vcenter.example.com
        username: admin@vsphere.local
        password: ${SECRETS[2]}
    openstack:
      - name: openstack-cred
        authURL: https://keystone.example.com:5000/v3
        applicationCredentialID: app-id-1
        applicationCredentialSecret: ${SECRETS[3]}
    gcp:
      - name: gcp-cred
        credentials: '{"type":"service_account","private_key":"${SECRETS[4]}"}'
`;

const ARGS = [
  "install",
  "--debug",
  "--poll-interval",
  "20ms",
  "--airgap",
  "--k0s-binary",
  join(FAKES_DIR, "k0s"),
  "--ignore-preflight-errors=root,ports",
  // Plain HTTP keeps the registry CA Secret out of the applies these tests count.
  "--registry-insecure",
];

/** A plain-HTTP registry holding the chart, and the install argv for it. */
async function registryArgs() {
  const registry = await serveAirgapRegistry({ charts: ["1.2.0"], insecure: true });
  return Object.assign(registry, { args: [...ARGS, ...airgapArgs(registry)] });
}

async function assertNoSecretLeaks(host: FakeHost, output: string): Promise<void> {
  const argv = (await host.calls()).join("\n");
  const files = await host.files();
  for (const secret of SECRETS) {
    assert.ok(!argv.includes(secret), `secret on argv: ${secret}`);
    assert.ok(!output.includes(secret), `secret in output: ${secret}`);
    for (const file of files.keys()) {
      const text = await Deno.readTextFile(join(host.root, file));
      assert.ok(!text.includes(secret), `secret in ${file}`);
    }
  }
}

Deno.test(
  await needsTools("install: credentials go to kubectl apply --server-side on stdin only", "curl"),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryArgs();
    const configFile = join(host.dir, "k0rdentd.yaml");
    await Deno.writeTextFile(configFile, CONFIG, { mode: 0o600 });
    const result = await host.run(["-c", configFile, ...registry.args]);
    assert.equal(result.code, 0, result.stderr);

    const applies = (await host.mutatingCalls()).filter((c) => c.startsWith("kubectl apply"));
    // Credentials, then the UI exposure objects.
    assert.deepStrictEqual(applies, Array(2).fill("kubectl apply --server-side -f -"));
    const { config } = await loadConfig({ file: configFile, env: () => undefined });
    const expected = renderCredentials(config.k0rdent.credentials, "kcm-system");
    const stdin = await host.stdinLog();
    assert.ok(stdin.startsWith(`== kubectl apply --server-side -f -\n${expected}\n== `), stdin);
    for (const secret of SECRETS) assert.ok(expected.includes(secret));
    for (
      const kind of [
        "AWSClusterStaticIdentity",
        "AzureClusterIdentity",
        "VSphereClusterIdentity",
        "kind: Credential",
      ]
    ) {
      assert.ok(expected.includes(kind), kind);
    }
    await assertNoSecretLeaks(host, result.stdout + result.stderr);

    // Rerun: nothing to apply. A changed secret: applied again.
    await host.clearCalls();
    const again = await host.run(["-c", configFile, ...registry.args]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    await Deno.writeTextFile(configFile, CONFIG.replace(SECRETS[2], `${SECRETS[2]}-rotated`));
    const rotated = await host.run(["-c", configFile, ...registry.args]);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), ["kubectl apply --server-side -f -"]);
  },
);

Deno.test(
  await needsTools(
    "install: a failed credentials apply names the phase and leaks no secret",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryArgs();
    const configFile = join(host.dir, "k0rdentd.yaml");
    await Deno.writeTextFile(configFile, CONFIG, { mode: 0o600 });
    await host.inject("kubectl-apply");
    const failed = await host.run(["-c", configFile, ...registry.args]);
    assert.equal(failed.code, 1);
    assert.ok(failed.stderr.includes('Phase "credentials"'), failed.stderr);
    await assertNoSecretLeaks(host, failed.stdout + failed.stderr);
    await host.inject(null);
    const rerun = await host.run(["-c", configFile, ...registry.args]);
    assert.equal(rerun.code, 0, rerun.stderr);
  },
);
