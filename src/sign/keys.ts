import { createPrivateKey, createPublicKey, randomBytes, scryptSync } from "node:crypto";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { p256 } from "@noble/curves/nist.js";
import { AuthError, IntegrityError, UnsupportedError, UsageError } from "../core/errors.ts";

/** An ECDSA P-256 key pair as raw bytes for @noble/curves. */
export interface SigningKey {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const pemPattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

function pemBlock(text: string, where: string): { label: string; der: Buffer } {
  const match = pemPattern.exec(text);
  if (!match) throw new UsageError(`${where}: not a PEM file`);
  return { label: match[1]!, der: Buffer.from(match[2]!.replace(/\s+/g, ""), "base64") };
}

function fromJwk(jwk: { crv?: string; kty?: string; d?: string; x?: string; y?: string }, where: string): { d?: Uint8Array; pub: Uint8Array } {
  if (jwk.kty !== "EC" || jwk.crv !== "P-256") throw new UnsupportedError(`${where}: a ${jwk.crv ?? jwk.kty ?? "unknown"} key; only ECDSA P-256 keys are supported`);
  const b = (s: string) => Buffer.from(s, "base64url");
  return { ...(jwk.d ? { d: b(jwk.d) } : {}), pub: Buffer.concat([Buffer.from([4]), b(jwk.x!), b(jwk.y!)]) };
}

/** cosign's encrypted key body: scrypt for the key, NaCl secretbox around a PKCS#8 key. */
interface EncryptedKey {
  readonly kdf: { readonly name: string; readonly params: { readonly N: number; readonly r: number; readonly p: number }; readonly salt: string };
  readonly cipher: { readonly name: string; readonly nonce: string };
  readonly ciphertext: string;
}

const allowedN = new Set([2 ** 15, 2 ** 16, 2 ** 17]);

function decryptCosignKey(der: Buffer, password: string, where: string): Buffer {
  let body: EncryptedKey;
  try {
    body = JSON.parse(der.toString("utf8")) as EncryptedKey;
  } catch {
    throw new UsageError(`${where}: the encrypted key is not cosign's JSON format`);
  }
  const { N, r, p } = body.kdf?.params ?? {};
  if (body.kdf?.name !== "scrypt" || !allowedN.has(N) || r !== 8 || p !== 1 || body.cipher?.name !== "nacl/secretbox") {
    throw new UnsupportedError(`${where}: unsupported key encryption (${body.kdf?.name} N=${N}, ${body.cipher?.name})`);
  }
  const key = scryptSync(Buffer.from(password, "utf8"), Buffer.from(body.kdf.salt, "base64"), 32, { N, r, p, maxmem: 256 * N * r + (1 << 20) });
  try {
    return Buffer.from(xsalsa20poly1305(key, Buffer.from(body.cipher.nonce, "base64")).decrypt(Buffer.from(body.ciphertext, "base64")));
  } catch {
    throw new AuthError(`${where}: wrong password for the encrypted key`);
  }
}

/** Encrypts a PKCS#8 key as cosign does (scrypt N=2^15, r=8, p=1; secretbox). */
export function encryptCosignKey(pkcs8: Uint8Array, password: string): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const N = 2 ** 15;
  const key = scryptSync(Buffer.from(password, "utf8"), salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 + (1 << 20) });
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(pkcs8);
  const body: EncryptedKey = {
    kdf: { name: "scrypt", params: { N, r: 8, p: 1 }, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: Buffer.from(ciphertext).toString("base64"),
  };
  return pem("ENCRYPTED SIGSTORE PRIVATE KEY", Buffer.from(JSON.stringify(body)));
}

function pem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Reads a private key: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), or cosign's encrypted
 * `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` (with `password`).
 */
export function parsePrivateKey(text: string, password: string | undefined, where: string): SigningKey {
  const { label, der } = pemBlock(text, where);
  let keyObject;
  try {
    if (label === "ENCRYPTED SIGSTORE PRIVATE KEY" || label === "ENCRYPTED COSIGN PRIVATE KEY") {
      if (password === undefined) throw new UsageError(`${where}: the key is encrypted: set COSIGN_PASSWORD or answer the prompt`);
      keyObject = createPrivateKey({ key: decryptCosignKey(der, password, where), format: "der", type: "pkcs8" });
    } else if (label === "PRIVATE KEY" || label === "EC PRIVATE KEY") {
      keyObject = createPrivateKey({ key: text, format: "pem" });
    } else {
      throw new UnsupportedError(`${where}: a "${label}" PEM block is not a supported private key`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof UnsupportedError || err instanceof AuthError) throw err;
    throw new IntegrityError(`${where}: unreadable private key (${(err as Error).message})`);
  }
  const { d, pub } = fromJwk(keyObject.export({ format: "jwk" }) as { crv?: string; kty?: string; d?: string; x?: string; y?: string }, where);
  return { secretKey: d!, publicKey: pub };
}

/** Reads an SPKI public key (`PUBLIC KEY`), P-256 only. */
export function parsePublicKey(text: string, where: string): Uint8Array {
  const { label } = pemBlock(text, where);
  if (label !== "PUBLIC KEY") throw new UnsupportedError(`${where}: a "${label}" PEM block is not a public key`);
  let jwk;
  try {
    jwk = createPublicKey({ key: text, format: "pem" }).export({ format: "jwk" });
  } catch (err) {
    throw new IntegrityError(`${where}: unreadable public key (${(err as Error).message})`);
  }
  return fromJwk(jwk as { crv?: string; kty?: string; x?: string; y?: string }, where).pub;
}

/** A new key pair as cosign writes it: the private key encrypted, the public key as SPKI PEM. */
export function generateKeyPair(password: string): { privatePem: string; publicPem: string } {
  const { secretKey, publicKey } = p256.keygen();
  const xy = publicKey.length === 65 ? publicKey : p256.Point.fromBytes(publicKey).toBytes(false);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const jwk = { kty: "EC", crv: "P-256", d: b64(secretKey), x: b64(xy.subarray(1, 33)), y: b64(xy.subarray(33, 65)) };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  const publicPem = createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString();
  return { privatePem: encryptCosignKey(pkcs8, password), publicPem };
}

/** ECDSA P-256 over SHA-256 of the exact bytes, DER-encoded (what cosign and openssl produce). */
export function signBytes(key: SigningKey, payload: Uint8Array): Uint8Array {
  return p256.sign(payload, key.secretKey, { format: "der" });
}

/** Verifies a DER (or 64-byte compact) signature; high-S accepted, as Go's crypto/ecdsa makes them. */
export function verifyBytes(publicKey: Uint8Array, payload: Uint8Array, signature: Uint8Array): boolean {
  const format = signature.length === 64 ? "compact" : "der";
  try {
    return p256.verify(signature, payload, publicKey, { format, lowS: false });
  } catch {
    return false;
  }
}
