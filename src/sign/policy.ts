import type { Digest } from "../core/digest.ts";
import { type InTotoStatement, checkBundle, cosignSignPredicate } from "./bundle.ts";
import { verifyBytes } from "./keys.ts";
import { type SimpleSigning, parseSimpleSigning, simpleSigningType } from "./payload.ts";

/** What a signature must satisfy; anything not satisfied is refused (default-deny). */
export interface VerifyPolicy {
  /** Public keys (uncompressed P-256 points); a signature must verify with one of them. */
  readonly keys: readonly Uint8Array[];
  /** Every pair must appear in the payload's `optional` (a bundle: the predicate's annotations). */
  readonly annotations?: Readonly<Record<string, string>>;
}

export type PolicyCheck<T> = { ok: true; payload: T; tlogEntries: number } | { ok: false; reason: string };

/**
 * A simple-signing signature (the `.sig` tag or an OCI 1.1 referrer): the signature over the exact
 * payload bytes, then what the payload says, which must name `digest` (no replay from another image).
 */
export function checkSimpleSigning(payload: Uint8Array, signatureBase64: string | undefined, digest: Digest, policy: VerifyPolicy): PolicyCheck<SimpleSigning> {
  if (!signatureBase64) return { ok: false, reason: "a signature layer has no signature annotation" };
  const signature = Buffer.from(signatureBase64, "base64");
  if (!policy.keys.some((key) => verifyBytes(key, payload, signature))) return { ok: false, reason: "signature does not verify with the key" };
  const parsed = parseSimpleSigning(payload);
  if (parsed?.critical?.type !== simpleSigningType) return { ok: false, reason: "payload is not a cosign container image signature" };
  const signed = parsed.critical.image?.["docker-manifest-digest"];
  if (signed !== digest) return { ok: false, reason: `signature is for ${signed ?? "no image"}, not ${digest}` };
  const missing = missingAnnotation(parsed.optional ?? undefined, policy);
  return missing ? { ok: false, reason: missing } : { ok: true, payload: parsed, tlogEntries: 0 };
}

/** A Sigstore bundle: its DSSE signature, then an in-toto statement of cosign's signature type whose subject is `digest`. */
export function checkSignatureBundle(bytes: Uint8Array, digest: Digest, policy: VerifyPolicy): PolicyCheck<InTotoStatement> {
  const result = checkBundle(bytes, policy.keys);
  if (!result.ok) return result;
  const { statement } = result;
  if (statement.predicateType !== cosignSignPredicate) return { ok: false, reason: `bundle predicate is ${statement.predicateType ?? "missing"}, not a cosign signature` };
  const [algorithm, hex] = digest.split(":") as [string, string];
  if (!statement.subject?.some((s) => s.digest?.[algorithm] === hex)) return { ok: false, reason: `bundle subject is not ${digest}` };
  const missing = missingAnnotation(statement.predicate?.annotations, policy);
  return missing ? { ok: false, reason: missing } : { ok: true, payload: statement, tlogEntries: result.tlogEntries };
}

function missingAnnotation(present: Readonly<Record<string, unknown>> | undefined, policy: VerifyPolicy): string | undefined {
  for (const [key, value] of Object.entries(policy.annotations ?? {})) {
    if (present?.[key] !== value) return `annotation ${key}=${value} is missing`;
  }
  return undefined;
}
