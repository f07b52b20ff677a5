import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AuthError } from "../../src/core/errors.ts";
import { generateKeyPair, parsePrivateKey, parsePublicKey, signBytes, verifyBytes } from "../../src/sign/keys.ts";

const fixture = join(import.meta.dir, "../fixtures/cosign/empty-password.key");

test("a key encrypted by cosign (N=2^16, empty password) decrypts to a P-256 key that signs", async () => {
  const key = parsePrivateKey(await Bun.file(fixture).text(), "", "fixture");
  expect(key.publicKey.length).toBe(65);
  const payload = new TextEncoder().encode("payload");
  expect(verifyBytes(key.publicKey, payload, signBytes(key, payload))).toBe(true);
  expect(() => parsePrivateKey("", "", "empty")).toThrow("not a PEM file");
});

test("the wrong password for cosign's key is an AuthError, not garbage", async () => {
  expect(() => parsePrivateKey(readFileSync(fixture, "utf8"), "not-empty", "fixture")).toThrow(AuthError);
});

test("keys we encrypt decrypt by the same published format, and round-trip to the public key", () => {
  const { privatePem, publicPem } = generateKeyPair("pw");
  expect(privatePem).toStartWith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----");
  const body = JSON.parse(Buffer.from(privatePem.split("\n").slice(1, -2).join(""), "base64").toString());
  expect(body.kdf).toMatchObject({ name: "scrypt", params: { N: 32768, r: 8, p: 1 } });
  expect(body.cipher.name).toBe("nacl/secretbox");
  expect(Buffer.from(parsePrivateKey(privatePem, "pw", "k").publicKey)).toEqual(Buffer.from(parsePublicKey(publicPem, "p")));
});
