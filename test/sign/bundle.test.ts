import { expect, test } from "bun:test";
import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { parseDigest } from "../../src/core/digest.ts";
import { checkBundle, signBundle } from "../../src/sign/bundle.ts";
import { generateKeyPair, parsePrivateKey, parsePublicKey } from "../../src/sign/keys.ts";

const digest = parseDigest(`sha256:${"a".repeat(64)}`);

/** sigstore-js's own verifier, trusting one key and no transparency log (offline, as our bundles are). */
function sigstoreVerify(bundleBytes: Uint8Array, publicPem: string): unknown {
  const bundle = bundleFromJSON(JSON.parse(new TextDecoder().decode(bundleBytes)));
  const root = { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
  const trust = toTrustMaterial(root as never, () => ({ publicKey: createPublicKey(publicPem), validFor: () => true }));
  return new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
}

test("sigstore-js, the reference verifier of the bundle format, accepts our bundles with our key only", () => {
  const { privatePem, publicPem } = generateKeyPair("");
  const bytes = signBundle(parsePrivateKey(privatePem, "", "key"), "registry.test/app", digest, { ci: "yes" });
  expect(sigstoreVerify(bytes, publicPem)).toBeTruthy();
  expect(() => sigstoreVerify(bytes, generateKeyPair("").publicPem)).toThrow();
});

test("checkBundle reads back the statement, and refuses a tampered envelope", () => {
  const { privatePem, publicPem } = generateKeyPair("");
  const bytes = signBundle(parsePrivateKey(privatePem, "", "key"), "registry.test/app", digest, { ci: "yes" });
  const result = checkBundle(bytes, [parsePublicKey(publicPem, "pub")]);
  expect(result.ok && result.statement.subject?.[0]?.digest?.sha256).toBe("a".repeat(64));
  const json = JSON.parse(new TextDecoder().decode(bytes));
  json.dsseEnvelope.payload = Buffer.from(Buffer.from(json.dsseEnvelope.payload, "base64").toString().replace("aaaa", "bbbb")).toString("base64");
  expect(checkBundle(new TextEncoder().encode(JSON.stringify(json)), [parsePublicKey(publicPem, "pub")])).toEqual({ ok: false, reason: "signature does not verify with the key" });
});

test("a bundle made by sigstore-js's signer (DSSE, key, no witnesses) is accepted by stevedore's check", async () => {
  const { DSSEBundleBuilder } = await import("@sigstore/sign");
  const { bundleToJSON } = await import("@sigstore/bundle");
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const builder = new DSSEBundleBuilder({
    signer: { sign: async (data: Buffer) => ({ signature: sign("sha256", data, privateKey), key: { $case: "publicKey" as const, publicKey: publicPem, hint: "" } }) },
    witnesses: [],
  });
  const statement = { _type: "https://in-toto.io/Statement/v1", subject: [{ name: "registry.test/app", digest: { sha256: "a".repeat(64) } }], predicateType: "https://sigstore.dev/cosign/sign/v1", predicate: {} };
  const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: "application/vnd.in-toto+json" });
  const bytes = new TextEncoder().encode(JSON.stringify(bundleToJSON(bundle)));
  const result = checkBundle(bytes, [parsePublicKey(publicPem, "pub")]);
  expect(result.ok && result.statement.predicateType).toBe("https://sigstore.dev/cosign/sign/v1");
  expect(checkBundle(bytes, [parsePublicKey(generateKeyPair("").publicPem, "other")]).ok).toBe(false);
});

test("a transparency-log entry is counted for reporting, never checked or trusted", () => {
  const { privatePem, publicPem } = generateKeyPair("");
  const json = JSON.parse(new TextDecoder().decode(signBundle(parsePrivateKey(privatePem, "", "key"), "r/app", digest, {})));
  json.verificationMaterial.tlogEntries = [{ logIndex: "1", kindVersion: { kind: "dsse", version: "0.0.1" } }];
  const result = checkBundle(new TextEncoder().encode(JSON.stringify(json)), [parsePublicKey(publicPem, "pub")]);
  expect(result.ok && result.tlogEntries).toBe(1);
});
