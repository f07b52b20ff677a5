import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { parseManifest } from "../core/manifest.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { type InTotoStatement, bundleMediaType, checkBundle, cosignSignPredicate } from "../sign/bundle.ts";
import { verifyBytes } from "../sign/keys.ts";
import { type SimpleSigning, cosignSignatureArtifactType, parseSimpleSigning, signatureAnnotation, simpleSigningMediaType, simpleSigningType } from "../sign/payload.ts";
import { readVerified } from "../stream/verify.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";

/** What a signature must satisfy; anything not satisfied is refused (default-deny). */
export interface VerifyPolicy {
  /** Public keys (uncompressed P-256 points); a signature must verify with one of them. */
  readonly keys: readonly Uint8Array[];
  /** Every pair must appear in the payload's `optional`. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface VerifiedSignature {
  readonly source: "sig-tag" | "referrer" | "bundle";
  /** The simple-signing payload, or a bundle's in-toto statement. */
  readonly payload: SimpleSigning | InTotoStatement;
  /** Offline verification: a bundle's transparency-log entries are reported, never checked. */
  readonly tlog?: "not checked (offline verification)";
}

const maxSignatures = 100;
const maxLayers = 1000;
const maxPayloadBytes = 1 << 20;

/**
 * Verifies an image's cosign signatures (the `.sig` tag and OCI referrers) against a policy.
 * Returns the signatures that satisfy it; throws IntegrityError with the reasons when none does.
 */
export async function verify(ref: ImageRef, policy: VerifyPolicy, options: { registry?: RegistryOptions; signal?: AbortSignal } = {}): Promise<VerifiedSignature[]> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  let digest: Digest;
  const candidates: Candidate[] = [];
  try {
    digest = (await source.resolve()).digest;
    await collectFromReferrers(source, digest, candidates);
  } finally {
    await source.close();
  }
  await collectFromSigTag(ref, digest, options, candidates);
  if (candidates.length === 0) throw new IntegrityError(`${ref}: no signatures found for ${digest}`);
  const reasons = new Set<string>();
  const verified: VerifiedSignature[] = [];
  for (const candidate of candidates.slice(0, maxSignatures)) {
    const reason = await check(candidate, digest, policy, (v) => verified.push(v));
    if (reason) reasons.add(reason);
  }
  if (verified.length === 0) throw new IntegrityError(`${ref}: no signature satisfies the policy (${[...reasons].join("; ")})`);
  return verified;
}

/** A signature layer and its payload bytes (read, digest-checked, before anything is closed). */
interface Candidate {
  readonly from: VerifiedSignature["source"];
  readonly layer: Descriptor;
  readonly payload: Uint8Array;
}

async function readPayloads(source: ImageSource, layers: readonly Descriptor[], from: Candidate["from"], into: Candidate[]): Promise<void> {
  const wanted = from === "bundle" ? bundleMediaType : simpleSigningMediaType;
  for (const layer of layers.slice(0, maxLayers)) {
    if (layer.mediaType !== wanted || layer.size > maxPayloadBytes) continue;
    into.push({ from, layer, payload: await readVerified(await source.getBlob(layer), layer, "reading a signature payload") });
  }
}

async function check(candidate: Candidate, digest: Digest, policy: VerifyPolicy, accept: (verified: VerifiedSignature) => void): Promise<string | undefined> {
  if (candidate.from === "bundle") return checkBundleCandidate(candidate, digest, policy, accept);
  const signature = candidate.layer.annotations?.[signatureAnnotation];
  // legacy and referrer signatures: the signature rides in the layer's annotation
  if (!signature) return "a signature layer has no signature annotation";
  const payload = candidate.payload;
  const bytes = Buffer.from(signature, "base64");
  if (!policy.keys.some((key) => verifyBytes(key, payload, bytes))) return "signature does not verify with the key";
  const parsed = parseSimpleSigning(payload);
  if (parsed?.critical?.type !== simpleSigningType) return "payload is not a cosign container image signature";
  const signed = parsed.critical.image?.["docker-manifest-digest"];
  if (signed !== digest) return `signature is for ${signed ?? "no image"}, not ${digest}`;
  for (const [key, value] of Object.entries(policy.annotations ?? {})) {
    if (parsed.optional?.[key] !== value) return `annotation ${key}=${value} is missing`;
  }
  accept({ source: candidate.from, payload: parsed });
  return undefined;
}

function checkBundleCandidate(candidate: Candidate, digest: Digest, policy: VerifyPolicy, accept: (verified: VerifiedSignature) => void): string | undefined {
  const result = checkBundle(candidate.payload, policy.keys);
  if (!result.ok) return result.reason;
  const { statement } = result;
  if (statement.predicateType !== cosignSignPredicate) return `bundle predicate is ${statement.predicateType ?? "missing"}, not a cosign signature`;
  const [algorithm, hex] = digest.split(":") as [string, string];
  if (!statement.subject?.some((s) => s.digest?.[algorithm] === hex)) return `bundle subject is not ${digest}`;
  for (const [key, value] of Object.entries(policy.annotations ?? {})) {
    if (statement.predicate?.annotations?.[key] !== value) return `annotation ${key}=${value} is missing`;
  }
  accept({ source: "bundle", payload: statement, ...(result.tlogEntries > 0 ? { tlog: "not checked (offline verification)" as const } : {}) });
  return undefined;
}

async function collectFromReferrers(source: ImageSource, digest: Digest, into: Candidate[]): Promise<void> {
  const referrers = ((await source.listReferrers?.(digest)) ?? []).filter((r) => r.artifactType === cosignSignatureArtifactType || r.artifactType === bundleMediaType);
  for (const referrer of referrers.slice(0, maxSignatures)) {
    const manifest = parseManifest(await source.getManifest(referrer.digest));
    if (manifest.kind === "manifest") await readPayloads(source, manifest.layers, referrer.artifactType === bundleMediaType ? "bundle" : "referrer", into);
  }
}

async function collectFromSigTag(ref: ImageRef, digest: Digest, options: { registry?: RegistryOptions; signal?: AbortSignal }, into: Candidate[]): Promise<void> {
  if (!ref.withReference) return;
  let source: ImageSource | undefined;
  try {
    source = await ref.withReference({ tag: `${digest.replace(":", "-")}.sig` }).openSource({ signal: options.signal, registry: options.registry });
    const manifest = parseManifest(await source.getManifest());
    if (manifest.kind === "manifest") await readPayloads(source, manifest.layers, "sig-tag", into);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  } finally {
    await source?.close();
  }
}
