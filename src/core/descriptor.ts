import { type Digest, parseDigest } from "./digest.ts";
import { IntegrityError } from "./errors.ts";
import type { MediaType } from "./media-type.ts";
import type { Platform } from "./platform.ts";

/** The OCI descriptor: a typed, sized, digest-addressed pointer to content. */
export interface Descriptor {
  readonly mediaType: MediaType;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** Annotations as the specs define them, a map of strings to strings (undefined when absent). */
export function parseAnnotations(value: unknown, where: string): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw new IntegrityError(`${where}: annotations must map strings to strings`);
  }
  return value as Record<string, string>;
}

/** Validates a descriptor found in JSON; digests are checked before anything can use them in a path. */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== "object" || value === null) throw new IntegrityError(`${where}: descriptor is not an object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || d.mediaType === "") {
    throw new IntegrityError(`${where}: descriptor has no mediaType`);
  }
  if (typeof d.digest !== "string") throw new IntegrityError(`${where}: descriptor has no digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new IntegrityError(`${where}: descriptor ${d.digest} has an invalid size`);
  }
  let digest: Digest;
  try {
    digest = parseDigest(d.digest);
  } catch (err) {
    throw new IntegrityError(`${where}: ${(err as Error).message}`);
  }
  parseAnnotations(d.annotations, `${where} ${d.digest}`);
  return { ...(d as object), mediaType: d.mediaType, digest, size: d.size } as Descriptor;
}
