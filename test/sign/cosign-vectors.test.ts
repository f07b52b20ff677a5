/** stevedore's verifier against signatures real cosign made (test/fixtures/README.md names their sources). */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDigest } from "../../src/core/digest.ts";
import { checkBundle } from "../../src/sign/bundle.ts";
import { generateKeyPair, parsePublicKey } from "../../src/sign/keys.ts";
import { checkSignatureBundle, checkSimpleSigning } from "../../src/sign/policy.ts";
import { requirePeer, run } from "../helpers/cli.ts";
import { tmpDir } from "../helpers/tmp.ts";

const fixtures = join(import.meta.dir, "../fixtures/cosign");
const fixture = (name: string) => readFileSync(join(fixtures, name));
const scratch = tmpDir();
const otherKey = parsePublicKey(generateKeyPair("").publicPem, "other key");

describe("cosign sign --key, legacy .sig form (vector from sigstore-rs)", () => {
  const payload = new Uint8Array(fixture("sigstore-rs.payload.json"));
  const signature = fixture("sigstore-rs.sig.b64").toString().trim();
  const key = parsePublicKey(fixture("sigstore-rs.pub").toString(), "sigstore-rs.pub");
  const signed = parseDigest("sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b");

  test("verifies for the image it names, with its key, and reads back cosign's payload", () => {
    const result = checkSimpleSigning(payload, signature, signed, { keys: [otherKey, key] });
    expect(result.ok).toBe(true);
    expect(result.ok && result.payload.critical?.identity?.["docker-reference"]).toBe("registry-testing.svc.lan/busybox");
  });

  test("is refused for another image: no replay", () => {
    const result = checkSimpleSigning(payload, signature, parseDigest(`sha256:${"0".repeat(64)}`), { keys: [key] });
    expect(result).toEqual({ ok: false, reason: `signature is for ${signed}, not sha256:${"0".repeat(64)}` });
  });

  test("is refused with another key, with one payload byte changed, and when an annotation is required", () => {
    expect(checkSimpleSigning(payload, signature, signed, { keys: [otherKey] })).toEqual({ ok: false, reason: "signature does not verify with the key" });
    const tampered = payload.slice();
    tampered[tampered.indexOf(0x62 /* b of busybox */)] = 0x63;
    expect(checkSimpleSigning(tampered, signature, signed, { keys: [key] })).toEqual({ ok: false, reason: "signature does not verify with the key" });
    expect(checkSimpleSigning(payload, signature, signed, { keys: [key], annotations: { env: "prod" } })).toEqual({ ok: false, reason: "annotation env=prod is missing" });
  });

  test("our own payload for the same image and reference is byte-identical to cosign's", async () => {
    const { simpleSigningPayload } = await import("../../src/sign/payload.ts");
    expect(new TextDecoder().decode(simpleSigningPayload("registry-testing.svc.lan/busybox", signed, {}))).toBe(new TextDecoder().decode(payload));
  });
});

describe("cosign v3 bundle (DSSE, from cosign's own test data)", () => {
  const bundle = new Uint8Array(fixture("oci-attestation.sigstore.json"));
  const subject = parseDigest("sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4");

  /** The signer's key, from the bundle's Fulcio certificate (openssl: a real peer, not our parser). */
  async function signerKey(): Promise<Uint8Array> {
    const certificate = join(scratch, "signer.der");
    writeFileSync(certificate, Buffer.from(JSON.parse(new TextDecoder().decode(bundle)).verificationMaterial.certificate.rawBytes, "base64"));
    const { stdout, exitCode } = await run([requirePeer("openssl"), "x509", "-inform", "der", "-in", certificate, "-noout", "-pubkey"]);
    expect(exitCode).toBe(0);
    return parsePublicKey(stdout, "certificate key");
  }

  test("its DSSE signature verifies with the signer's key, over cosign's exact envelope bytes", async () => {
    const result = checkBundle(bundle, [await signerKey()]);
    expect(result.ok).toBe(true);
    expect(result.ok && result.statement.subject?.[0]?.digest?.sha256).toBe(subject.slice("sha256:".length));
    // the Rekor entry is counted, to be reported as not checked (offline), never taken as verified
    expect(result.ok && result.tlogEntries).toBe(1);
  });

  test("it fails with another key", () => {
    expect(checkBundle(bundle, [otherKey])).toEqual({ ok: false, reason: "signature does not verify with the key" });
  });

  test("as an image signature it is refused by type: an attestation is not a signature", async () => {
    expect(checkSignatureBundle(bundle, subject, { keys: [await signerKey()] })).toEqual({
      ok: false,
      reason: "bundle predicate is https://cosign.sigstore.dev/attestation/v1, not a cosign signature",
    });
  });
});
