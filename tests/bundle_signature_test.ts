/**
 * Bundle signatures: keys and signatures are made here with openssl (cosign's key-based blob
 * signature is a base64 DER ECDSA P-256 signature over SHA-256 of the file). Native
 * verification runs inside the load's one pass; `--verifier cosign` runs a FAKE `cosign`
 * (a shell script put first on PATH that checks the same signature with openssl, since
 * cosign is not installed here). Both verifiers must agree on valid, tampered and wrong-key.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { runCli } from "./helpers/cli.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { needsTools } from "./helpers/tools.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

const FAKE_COSIGN = `#!/bin/sh
# Fake cosign for tests: verify-blob --key K --signature S --private-infrastructure=true B
[ "$1" = verify-blob ] || { echo "fake cosign: unexpected $*" >&2; exit 2; }
shift
while [ $# -gt 1 ]; do
  case "$1" in
    --key) key=$2; shift 2 ;;
    --signature) sig=$2; shift 2 ;;
    --private-infrastructure=true) offline=1; shift ;;
    *) echo "fake cosign: unexpected $1" >&2; exit 2 ;;
  esac
done
[ "$offline" = 1 ] || { echo "fake cosign: not offline" >&2; exit 2; }
# Like cosign verify-blob (cmd/cosign/cli/verify/verify_blob.go base64signature): a signature
# file that is not base64 is taken as the signature bytes themselves.
base64 -d "$sig" > "$sig.der" 2>/dev/null || cp "$sig" "$sig.der"
if openssl dgst -sha256 -verify "$key" -signature "$sig.der" "$1" >/dev/null 2>&1; then
  echo "Verified OK" >&2; rm -f "$sig.der"; exit 0
fi
rm -f "$sig.der"; echo "Error: invalid signature when validating ASN.1 encoded signature" >&2; exit 1
`;

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "bundle-sig-" });
  await makeKeyPair(dir);
  await makeKeyPair(dir, "other.pem", "other.pub");
  await makeBundle(join(dir, "good.tar.gz"), { images: 2, seed: 1 });
  await makeBundle(join(dir, "tampered.tar.gz"), { images: 2, seed: 2 });
  // Both carry the signature of good.tar.gz: for "tampered" the content no longer matches.
  await signBlob(dir, "good.tar.gz");
  await Deno.copyFile(join(dir, "good.tar.gz.sig"), join(dir, "tampered.tar.gz.sig"));
  await Deno.mkdir(join(dir, "bin"));
  await Deno.writeTextFile(join(dir, "bin", "cosign"), FAKE_COSIGN, { mode: 0o755 });
  return dir;
}

const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";

async function load(dir: string, bundle: string, key: string, extra: string[] = []) {
  const storage = join(dir, `storage-${crypto.randomUUID().slice(0, 6)}`);
  const res = await runCli(
    [
      "bundle",
      "load",
      join(dir, bundle),
      "--storage",
      storage,
      "--cosign-key",
      join(dir, key),
      ...extra,
    ],
    { env: { PATH: `${join(dir, "bin")}:${PATH}` } },
  );
  const blobs: string[] = [];
  for await (const b of openDiskStorage(storage).listBlobs()) blobs.push(b.digest);
  const repos = await openDiskStorage(storage).listRepositories();
  return { ...res, blobs, repos };
}

Deno.test(
  await needsTools(
    "bundle signature: native and cosign verifiers agree on valid, tampered and wrong key",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      for (const verifier of ["native", "cosign"]) {
        const flags = ["--verifier", verifier];
        const ok = await load(dir, "good.tar.gz", "cosign.pub", flags);
        assert.equal(ok.code, 0, `${verifier}: ${ok.stderr}`);
        assert.ok(ok.repos.length > 0);

        for (
          const [bundle, key] of [["tampered.tar.gz", "cosign.pub"], ["good.tar.gz", "other.pub"]]
        ) {
          const bad = await load(dir, bundle, key, flags);
          assert.equal(bad.code, 1, `${verifier} ${bundle} ${key}: ${bad.stderr}`);
          assert.match(bad.stderr, /Signature check of bundle ".*" failed/);
          assert.deepEqual(bad.repos, [], "no tag after a failed check");
          assert.deepEqual(bad.blobs, [], "everything this load added is removed");
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle signature: both verifiers take a raw DER .sig, as cosign verify-blob does",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const der = await new Deno.Command("openssl", {
        args: ["dgst", "-sha256", "-sign", "key.pem", "-out", "good.tar.gz.sig", "good.tar.gz"],
        cwd: dir,
      }).output();
      assert.equal(der.code, 0, new TextDecoder().decode(der.stderr));
      await Deno.copyFile(join(dir, "good.tar.gz.sig"), join(dir, "tampered.tar.gz.sig"));
      for (const verifier of ["native", "cosign"]) {
        const flags = ["--verifier", verifier];
        const ok = await load(dir, "good.tar.gz", "cosign.pub", flags);
        assert.equal(ok.code, 0, `${verifier}: ${ok.stderr}`);
        assert.ok(ok.repos.length > 0);
        const bad = await load(dir, "tampered.tar.gz", "cosign.pub", flags);
        assert.equal(bad.code, 1, `${verifier}: ${bad.stderr}`);
        assert.match(bad.stderr, /Signature check of bundle ".*" failed/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle signature: missing key or .sig say what to copy where; --verify=false warns",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const noKey = await runCli([
        "bundle",
        "load",
        join(dir, "good.tar.gz"),
        "--storage",
        join(dir, "s"),
      ]);
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /no public key; copy the vendor's cosign\.pub .*--cosign-key/);
      assert.match(noKey.stderr, /--verify=false/);

      await Deno.remove(join(dir, "good.tar.gz.sig"));
      const noSig = await load(dir, "good.tar.gz", "cosign.pub");
      assert.equal(noSig.code, 1);
      assert.match(noSig.stderr, /signature ".*good\.tar\.gz\.sig" not found; copy the/);

      const off = await load(dir, "good.tar.gz", "cosign.pub", ["--verify=false"]);
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stderr, /WITHOUT checking its signature/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle verify: checks the signature (env key, --cosignKey alias) and every blob",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const viaEnv = await runCli(
        ["bundle", "verify", join(dir, "good.tar.gz"), "--output", "json"],
        {
          env: { K0RDENTD_COSIGN_KEY: join(dir, "cosign.pub") },
        },
      );
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      const report = JSON.parse(viaEnv.stdout);
      assert.equal(report.signature, "verified");
      assert.equal(report.k0rdentVersion, "1.2.3");
      assert.ok(report.blobsVerified > 0);

      const alias = await runCli([
        "bundle",
        "verify",
        join(dir, "tampered.tar.gz"),
        "--cosignKey",
        join(dir, "cosign.pub"),
      ]);
      assert.equal(alias.code, 1);
      assert.match(alias.stderr, /Signature check of bundle ".*tampered\.tar\.gz" failed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle signature: registry.verifier cosign in the config file picks the cosign verifier",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const config = join(dir, "k0rdentd.yaml");
      await Deno.writeTextFile(
        config,
        `registry:\n  verifier: cosign\n  cosignKey: ${join(dir, "cosign.pub")}\n`,
      );
      const res = await runCli(
        ["-c", config, "bundle", "load", join(dir, "good.tar.gz"), "--storage", join(dir, "s")],
        { env: { PATH: `${join(dir, "bin")}:${PATH}` } },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /Verifying the signature of ".*good\.tar\.gz" with cosign/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle signature: a bundle loaded with --verify=false is checked on a verifying rerun",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const storage = join(dir, "s");
      const base = ["bundle", "load", join(dir, "good.tar.gz"), "--storage", storage];
      const unchecked = await runCli([...base, "--verify=false"]);
      assert.equal(unchecked.code, 0, unchecked.stderr);
      const wrongKey = await runCli([...base, "--cosign-key", join(dir, "other.pub")]);
      assert.equal(wrongKey.code, 1, wrongKey.stderr);
      assert.match(wrongKey.stderr, /Signature check of bundle ".*good\.tar\.gz" failed/);
      const checked = await runCli([...base, "--cosign-key", join(dir, "cosign.pub")]);
      assert.equal(checked.code, 0, checked.stderr);
      const quick = await runCli([...base, "--cosign-key", join(dir, "cosign.pub")]);
      assert.match(quick.stderr, /is already loaded/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsTools(
    "bundle verify: no key advises what fits verify; the old K0RDENT_COSIGN_KEY works with one warning",
    "openssl",
  ),
  async () => {
    const dir = await setup();
    try {
      const bundle = join(dir, "good.tar.gz");
      const noKey = await runCli(["bundle", "verify", bundle]);
      assert.equal(noKey.code, 1);
      assert.match(
        noKey.stderr,
        /no public key; .*--cosign-key PATH \(or set K0RDENTD_COSIGN_KEY\)/,
      );
      assert.match(noKey.stderr, /pass --verify=false to check the blob digests only/);
      assert.doesNotMatch(noKey.stderr, /to load/);

      const old = await runCli(["bundle", "verify", bundle, "--output", "json"], {
        env: { K0RDENT_COSIGN_KEY: join(dir, "cosign.pub") },
      });
      assert.equal(old.code, 0, old.stderr);
      assert.equal(JSON.parse(old.stdout).signature, "verified");
      const warnings = old.stderr.match(
        /K0RDENT_COSIGN_KEY is deprecated: use K0RDENTD_COSIGN_KEY/g,
      );
      assert.equal(warnings?.length, 1, old.stderr);

      // Both set: the new name wins (the old one points at the wrong key).
      const both = await runCli(["bundle", "verify", bundle], {
        env: {
          K0RDENT_COSIGN_KEY: join(dir, "other.pub"),
          K0RDENTD_COSIGN_KEY: join(dir, "cosign.pub"),
        },
      });
      assert.equal(both.code, 0, both.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
