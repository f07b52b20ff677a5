import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { parseManifest } from "../core/manifest.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { referrersTag } from "../registry/referrers.ts";
import { type InTotoStatement, bundleMediaType } from "../sign/bundle.ts";
import { type SimpleSigning, cosignSignatureArtifactType, signatureAnnotation, simpleSigningMediaType } from "../sign/payload.ts";
import { type VerifyPolicy, checkSignatureBundle, checkSimpleSigning } from "../sign/policy.ts";
import { readVerified } from "../stream/verify.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";

export type { VerifyPolicy };

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
  const result =
    candidate.from === "bundle"
      ? checkSignatureBundle(candidate.payload, digest, policy)
      : // legacy and referrer signatures: the signature rides in the layer's annotation
        checkSimpleSigning(candidate.payload, candidate.layer.annotations?.[signatureAnnotation], digest, policy);
  if (!result.ok) return result.reason;
  accept({ source: candidate.from, payload: result.payload, ...(result.tlogEntries > 0 ? { tlog: "not checked (offline verification)" as const } : {}) });
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
    source = await ref.withReference({ tag: `${referrersTag(digest)}.sig` }).openSource({ signal: options.signal, registry: options.registry });
    const manifest = parseManifest(await source.getManifest());
    if (manifest.kind === "manifest") await readPayloads(source, manifest.layers, "sig-tag", into);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  } finally {
    await source?.close();
  }
}
