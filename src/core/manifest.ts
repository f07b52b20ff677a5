import { type Descriptor, parseAnnotations, parseDescriptor } from "./descriptor.ts";
import { type Digest, digestOf, shortDigest } from "./digest.ts";
import { IntegrityError, UnsupportedError } from "./errors.ts";
import { type MediaType, MediaTypes, isImageManifestType, isIndexType, refuseSchema1 } from "./media-type.ts";

/** The OCI empty descriptor's bytes (`{}`): the config an artifact carries in place of an image's. */
export const emptyConfigBytes = new TextEncoder().encode("{}");
export const emptyConfig: Descriptor = { mediaType: MediaTypes.ociEmpty, digest: digestOf(emptyConfigBytes), size: emptyConfigBytes.byteLength };

/** A manifest exactly as received: its digest is over these bytes, and they are never re-serialised. */
export interface RawManifest {
  readonly bytes: Uint8Array;
  readonly mediaType: MediaType;
  readonly digest: Digest;
}

export interface ImageManifest {
  readonly kind: "manifest";
  readonly mediaType: MediaType;
  /** Whether the document names its own mediaType (Docker's formats require it, OCI's do not). */
  readonly namesMediaType: boolean;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly kind: "index";
  readonly mediaType: MediaType;
  /** Whether the document names its own mediaType (Docker's formats require it, OCI's do not). */
  readonly namesMediaType: boolean;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest = ImageManifest | ImageIndex;

/** Registries (distribution, zot) cap manifests at 4 MiB; so do we, before parsing. */
export const maxManifestBytes = 4 * 1024 * 1024;

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseJsonObject(bytes: Uint8Array, where: string): Record<string, unknown> {
  if (bytes.byteLength > maxManifestBytes) {
    throw new IntegrityError(`${where}: manifest is ${bytes.byteLength} bytes, over the ${maxManifestBytes}-byte limit`);
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new IntegrityError(`${where}: manifest is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new IntegrityError(`${where}: manifest is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The media type a manifest's bytes declare, falling back to `declared` (a Content-Type or a
 * descriptor) and then to the shape of the document; an index that also has layers is refused.
 */
export function detectManifestType(bytes: Uint8Array, declared: string | undefined, where: string): MediaType {
  const json = parseJsonObject(bytes, where);
  if (json.schemaVersion === 1) refuseSchema1(MediaTypes.dockerSchema1, where);
  if (declared) refuseSchema1(declared, where);
  const hasManifests = "manifests" in json;
  const hasImageParts = "config" in json || "layers" in json;
  if (hasManifests && hasImageParts) {
    throw new IntegrityError(`${where}: ambiguous manifest: it has both "manifests" and "config"/"layers"`);
  }
  const inner = typeof json.mediaType === "string" ? json.mediaType : undefined;
  if (inner) refuseSchema1(inner, where);
  const type = inner ?? declared ?? (hasManifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (!isImageManifestType(type) && !isIndexType(type)) {
    throw new UnsupportedError(`${where}: unsupported manifest media type ${type}`);
  }
  if (declared && inner && declared !== inner && (isImageManifestType(declared) || isIndexType(declared))) {
    throw new IntegrityError(`${where}: manifest declares ${inner} but was served as ${declared}`);
  }
  return type;
}

/** Wraps bytes as a RawManifest, digesting them as they are. */
export function toRawManifest(bytes: Uint8Array, declared: string | undefined, where: string): RawManifest {
  return { bytes, mediaType: detectManifestType(bytes, declared, where), digest: digestOf(bytes) };
}

function optionalDescriptor(value: unknown, where: string): Descriptor | undefined {
  return value === undefined ? undefined : parseDescriptor(value, where);
}

function descriptorList(value: unknown, field: string, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw new IntegrityError(`${where}: manifest has no "${field}" array`);
  return value.map((d, i) => parseDescriptor(d, `${where} ${field}[${i}]`));
}

/** Parses and validates a raw manifest; the bytes stay the source of truth. */
export function parseManifest(raw: RawManifest, where = `manifest ${shortDigest(raw.digest)}`): Manifest {
  const json = parseJsonObject(raw.bytes, where);
  if (json.schemaVersion !== 2) throw new IntegrityError(`${where}: schemaVersion must be 2`);
  const common = {
    mediaType: raw.mediaType,
    namesMediaType: typeof json.mediaType === "string",
    subject: optionalDescriptor(json.subject, `${where} subject`),
    artifactType: typeof json.artifactType === "string" ? json.artifactType : undefined,
    annotations: parseAnnotations(json.annotations, where),
  };
  if (isIndexType(raw.mediaType)) {
    return { kind: "index", ...common, manifests: descriptorList(json.manifests, "manifests", where) };
  }
  if (isImageManifestType(raw.mediaType)) {
    return {
      kind: "manifest",
      ...common,
      config: parseDescriptor(json.config, `${where} config`),
      layers: descriptorList(json.layers ?? [], "layers", where),
    };
  }
  throw new UnsupportedError(`${where}: unsupported manifest media type ${raw.mediaType}`);
}

/** Every descriptor a manifest points at: config and layers, or child manifests. */
export function childDescriptors(m: Manifest): readonly Descriptor[] {
  return m.kind === "index" ? m.manifests : [m.config, ...m.layers];
}

/** Serialises a manifest we create ourselves (never one we received): stable two-space-free JSON. */
export function encodeManifest(value: object, mediaType: MediaType): RawManifest {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { bytes, mediaType, digest: digestOf(bytes) };
}

/** How an index of referrers lists a manifest: artifactType (else the config's media type) and annotations. */
export function referrerDescriptor(m: RawManifest): Descriptor {
  const parsed = parseManifest(m);
  const artifactType = parsed.artifactType ?? (parsed.kind === "manifest" ? parsed.config.mediaType : undefined);
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.byteLength,
    ...(artifactType ? { artifactType } : {}),
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
  };
}
