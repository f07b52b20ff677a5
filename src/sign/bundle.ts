import { createHash } from "node:crypto";
import type { Digest } from "../core/digest.ts";
import { digestHex } from "../core/digest.ts";
import { type SigningKey, signBytes, verifyBytes } from "./keys.ts";

export const bundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
export const inTotoPayloadType = "application/vnd.in-toto+json";
export const cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1";

/** DSSE's pre-authentication encoding: what the signature covers. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const head = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.byteLength} `;
  return Buffer.concat([Buffer.from(head), payload]);
}

/** A key's hint in a bundle: base64 of the SHA-256 of its uncompressed point. */
const keyHint = (publicKey: Uint8Array) => createHash("sha256").update(publicKey).digest("base64");

export interface InTotoStatement {
  readonly _type?: string;
  readonly subject?: readonly { readonly name?: string; readonly digest?: Readonly<Record<string, string>> }[];
  readonly predicateType?: string;
  readonly predicate?: { readonly annotations?: Readonly<Record<string, string>> } | null;
}

/**
 * What cosign v3 writes by default: a Sigstore bundle v0.3 holding a DSSE envelope over an in-toto
 * statement (predicate `https://sigstore.dev/cosign/sign/v1`, subject = the image digest). Signed
 * with a key, offline: no transparency-log entry. `-a` annotations go in the signed predicate.
 */
export function signBundle(key: SigningKey, name: string, digest: Digest, annotations: Readonly<Record<string, string>>): Uint8Array {
  const statement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name, digest: { [digest.slice(0, digest.indexOf(":"))]: digestHex(digest) } }],
    predicateType: cosignSignPredicate,
    predicate: Object.keys(annotations).length > 0 ? { annotations } : {},
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = Buffer.from(signBytes(key, pae(inTotoPayloadType, payload))).toString("base64");
  return Buffer.from(
    JSON.stringify({
      mediaType: bundleMediaType,
      verificationMaterial: { publicKey: { hint: keyHint(key.publicKey) }, tlogEntries: [] },
      dsseEnvelope: { payload: payload.toString("base64"), payloadType: inTotoPayloadType, signatures: [{ sig }] },
    }),
  );
}

export type BundleCheck = { ok: true; statement: InTotoStatement; tlogEntries: number } | { ok: false; reason: string };

/** Verifies a bundle's DSSE signature with one of `keys`; the caller checks what the statement says. */
export function checkBundle(bytes: Uint8Array, keys: readonly Uint8Array[]): BundleCheck {
  let bundle: { dsseEnvelope?: { payload?: string; payloadType?: string; signatures?: { sig?: string }[] }; verificationMaterial?: { tlogEntries?: unknown[] } };
  try {
    bundle = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ok: false, reason: "a bundle is not JSON" };
  }
  const envelope = bundle.dsseEnvelope;
  if (!envelope?.payload || envelope.payloadType !== inTotoPayloadType) return { ok: false, reason: "a bundle holds no in-toto DSSE envelope" };
  const payload = Buffer.from(envelope.payload, "base64");
  const signed = pae(envelope.payloadType, payload);
  const verified = (envelope.signatures ?? []).some((s) => s.sig && keys.some((k) => verifyBytes(k, signed, Buffer.from(s.sig!, "base64"))));
  if (!verified) return { ok: false, reason: "signature does not verify with the key" };
  try {
    return { ok: true, statement: JSON.parse(payload.toString("utf8")) as InTotoStatement, tlogEntries: bundle.verificationMaterial?.tlogEntries?.length ?? 0 };
  } catch {
    return { ok: false, reason: "a bundle's statement is not JSON" };
  }
}
