import { type RawManifest, parseManifest } from "../core/manifest.ts";
import type { StoredManifest } from "./types.ts";

/** A manifest with its subject read out once, at push time. */
export function storedManifest(m: RawManifest): StoredManifest {
  const subject = parseManifest(m).subject?.digest;
  return { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest, ...(subject ? { subject } : {}) };
}
