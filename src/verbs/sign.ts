import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestOf } from "../core/digest.ts";
import { NotFoundError, UnsupportedError } from "../core/errors.ts";
import { type RawManifest, emptyConfig, emptyConfigBytes, encodeManifest, parseManifest } from "../core/manifest.ts";
import { MediaTypes } from "../core/media-type.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { referrersTag } from "../registry/referrers.ts";
import { bundleMediaType, cosignSignPredicate, signBundle } from "../sign/bundle.ts";
import { type SigningKey, signBytes } from "../sign/keys.ts";
import { cosignSignatureArtifactType, signatureAnnotation, simpleSigningMediaType, simpleSigningPayload } from "../sign/payload.ts";
import type { ImageRef } from "../transport/types.ts";

export type SignatureFormat = "legacy" | "referrers" | "bundle";

export interface SignOptions {
  readonly key: SigningKey;
  /**
   * legacy: cosign's `sha256-<hex>.sig` tag (the default: every cosign version and every registry
   * reads it); referrers: the same signature as an OCI 1.1 referrer; bundle: cosign v3's Sigstore
   * bundle (DSSE over an in-toto statement) as a referrer.
   */
  readonly format?: SignatureFormat;
  /** `-a key=value` pairs, stored in the payload's `optional`. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Also sign each image of an index. */
  readonly recursive?: boolean;
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
}

export interface SignResult {
  readonly digest: Digest;
  readonly signature: Digest;
  readonly format: SignatureFormat;
}

/** Signs what the reference names now (a tag is resolved to its digest first) and attaches the signature next to it. */
export async function sign(ref: ImageRef, options: SignOptions): Promise<SignResult[]> {
  if (!ref.withReference) throw new UnsupportedError(`${ref.transport.name}: cannot hold signatures (use docker://, oci: or static:)`);
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    const top = await source.getManifest();
    const subjects = [top];
    const parsed = parseManifest(top);
    if (options.recursive && parsed.kind === "index") for (const child of parsed.manifests) subjects.push(await source.getManifest(child.digest));
    const results: SignResult[] = [];
    for (const subject of subjects) results.push(await signOne(ref, subject, options));
    return results;
  } finally {
    await source.close();
  }
}

/** A signature ready to push: its manifest, the blobs that manifest names, and where it goes. */
interface SignatureImage {
  readonly target: ImageRef;
  readonly manifest: RawManifest;
  readonly blobs: ReadonlyMap<Digest, Uint8Array>;
}

async function signOne(ref: ImageRef, subject: RawManifest, options: SignOptions): Promise<SignResult> {
  const identity = ref.registry ? `${ref.registry}/${ref.repository}` : (ref.repository ?? "");
  const format = options.format ?? "legacy";
  const { target, manifest, blobs } = format === "legacy" ? await sigTagImage(ref, subject, identity, options) : referrerImage(ref, subject, identity, format, options);
  const destination = await target.openDestination({ signal: options.signal, registry: options.registry });
  try {
    for (const [digest, bytes] of blobs) {
      const desc = { mediaType: "application/octet-stream", digest, size: bytes.byteLength };
      if (!(await destination.hasBlob(desc))) await destination.putBlob(desc, new Blob([bytes]).stream());
    }
    await destination.commit(manifest);
  } finally {
    await destination.close();
  }
  return { digest: subject.digest, signature: manifest.digest, format };
}

/** A simple-signing payload for `subject` and the layer that carries it, the signature in its annotation. */
function simpleSigningLayer(subject: RawManifest, identity: string, options: SignOptions): { layer: Descriptor; payload: Uint8Array } {
  const payload = simpleSigningPayload(identity, subject.digest, options.annotations ?? {});
  const signature = Buffer.from(signBytes(options.key, payload)).toString("base64");
  return { payload, layer: { mediaType: simpleSigningMediaType, digest: digestOf(payload), size: payload.byteLength, annotations: { [signatureAnnotation]: signature } } };
}

/** An OCI 1.1 referrer (empty config, `subject` set) holding a simple-signing layer, or a Sigstore bundle. */
function referrerImage(ref: ImageRef, subject: RawManifest, identity: string, format: "referrers" | "bundle", options: SignOptions): SignatureImage {
  const blobs = new Map<Digest, Uint8Array>([[emptyConfig.digest, emptyConfigBytes]]);
  const annotations = { "org.opencontainers.image.created": new Date().toISOString() };
  let artifact: { artifactType: string; layer: Descriptor; annotations: Record<string, string> };
  if (format === "bundle") {
    const bundle = signBundle(options.key, identity, subject.digest, options.annotations ?? {});
    const digest = digestOf(bundle);
    blobs.set(digest, bundle);
    artifact = {
      artifactType: bundleMediaType,
      layer: { mediaType: bundleMediaType, digest, size: bundle.byteLength, annotations: { "org.opencontainers.image.title": `${digest.replace(":", "-")}.sigstore.json` } },
      annotations: { "dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": cosignSignPredicate, ...annotations },
    };
  } else {
    const { layer, payload } = simpleSigningLayer(subject, identity, options);
    blobs.set(layer.digest, payload);
    artifact = { artifactType: cosignSignatureArtifactType, layer, annotations };
  }
  const manifest = encodeManifest(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: artifact.artifactType,
      config: emptyConfig,
      layers: [artifact.layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
      annotations: artifact.annotations,
    },
    MediaTypes.ociManifest,
  );
  return { target: ref.withReference!({ digest: manifest.digest }), manifest, blobs };
}

/** cosign's `sha256-<hex>.sig` image: a new signature is appended, earlier ones (other keys, other annotations) stay. */
async function sigTagImage(ref: ImageRef, subject: RawManifest, identity: string, options: SignOptions): Promise<SignatureImage> {
  const { layer, payload } = simpleSigningLayer(subject, identity, options);
  const target = ref.withReference!({ tag: `${referrersTag(subject.digest)}.sig` });
  const previous = await existingSignatures(target, options);
  const signature = layer.annotations![signatureAnnotation];
  const layers = [...previous.filter((l) => l.digest !== layer.digest || l.annotations?.[signatureAnnotation] !== signature), layer];
  const configBytes = new TextEncoder().encode(
    JSON.stringify({ architecture: "", config: {}, created: "0001-01-01T00:00:00Z", history: layers.map(() => ({ created: "0001-01-01T00:00:00Z" })), os: "", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }),
  );
  const config: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.byteLength };
  const manifest = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }, MediaTypes.ociManifest);
  return { target, manifest, blobs: new Map([[layer.digest, payload], [config.digest, configBytes]]) };
}

/** The layers of the `.sig` image already there, or none. */
async function existingSignatures(target: ImageRef, options: SignOptions): Promise<Descriptor[]> {
  try {
    const source = await target.openSource({ signal: options.signal, registry: options.registry });
    try {
      const m = parseManifest(await source.getManifest());
      return m.kind === "manifest" ? [...m.layers] : [];
    } finally {
      await source.close();
    }
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}
