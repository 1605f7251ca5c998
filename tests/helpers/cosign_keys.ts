/**
 * Key-based cosign signatures for tests, made with openssl as `cosign generate-key-pair` and
 * `cosign sign-blob --key` make them: a P-256 key pair in PEM, and `<file>.sig` holding the
 * base64 of the DER ECDSA signature over the SHA-256 of the file.
 */

async function openssl(script: string, dir: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd: dir }).output();
  if (out.code !== 0) {
    throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Writes the private key `<dir>/<privateKey>` and its public key `<dir>/<publicKey>`. */
export async function makeKeyPair(
  dir: string,
  privateKey = "key.pem",
  publicKey = "cosign.pub",
): Promise<void> {
  await openssl(
    `openssl ecparam -name prime256v1 -genkey -noout -out '${privateKey}' && ` +
      `openssl ec -in '${privateKey}' -pubout -out '${publicKey}' 2>/dev/null`,
    dir,
  );
}

/** Writes `<dir>/<file>.sig`, the signature of `<dir>/<file>` with `<dir>/<privateKey>`. */
export async function signBlob(dir: string, file: string, privateKey = "key.pem"): Promise<void> {
  await openssl(
    `openssl dgst -sha256 -sign '${privateKey}' '${file}' | base64 -w0 > '${file}.sig'`,
    dir,
  );
}
