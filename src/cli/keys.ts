import { UsageError } from "../core/errors.ts";
import { type SigningKey, parsePrivateKey, parsePublicKey } from "../sign/keys.ts";
import { readPassword } from "./prompt.ts";

/** The key's password: COSIGN_PASSWORD (empty allowed), else a hidden prompt on a terminal. */
async function password(prompt: string): Promise<string | undefined> {
  if (process.env.COSIGN_PASSWORD !== undefined) return process.env.COSIGN_PASSWORD;
  return process.stdin.isTTY ? readPassword(prompt) : undefined;
}

/** A file the user named, as text; a missing one is a usage error that says what it was for. */
async function readNamedFile(path: string, what: string): Promise<string> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new UsageError(`${path}: no such ${what}`);
  return file.text();
}

const readKeyFile = (path: string) => readNamedFile(path, "key file");

/** A private key; an encrypted one's password from `passphraseFile`'s first line (skopeo's --sign-passphrase-file), else as `password` finds it. */
export async function loadSigningKey(path: string, passphraseFile?: string): Promise<SigningKey> {
  const text = await readKeyFile(path);
  const encrypted = text.includes("ENCRYPTED SIGSTORE PRIVATE KEY") || text.includes("ENCRYPTED COSIGN PRIVATE KEY");
  if (!encrypted) return parsePrivateKey(text, undefined, path);
  return parsePrivateKey(text, passphraseFile ? await firstLine(passphraseFile) : await password(`Password for ${path}: `), path);
}

async function firstLine(path: string): Promise<string> {
  return (await readNamedFile(path, "passphrase file")).split(/\r?\n/, 1)[0] ?? "";
}

export async function loadPublicKey(path: string): Promise<Uint8Array> {
  return parsePublicKey(await readKeyFile(path), path);
}

export async function newKeyPassword(): Promise<string> {
  const first = await password("Password for the new key: ");
  if (first === undefined) throw new UsageError("no terminal to ask for the key's password: set COSIGN_PASSWORD (empty is allowed)");
  if (process.env.COSIGN_PASSWORD === undefined && (await readPassword("Again: ")) !== first) throw new UsageError("the passwords differ");
  return first;
}
