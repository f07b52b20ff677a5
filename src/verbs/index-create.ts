import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { UsageError } from "../core/errors.ts";
import { type ImageManifest, type RawManifest, encodeManifest, parseManifest } from "../core/manifest.ts";
import { MediaTypes, isDockerType } from "../core/media-type.ts";
import { type Platform, formatPlatform } from "../core/platform.ts";
import { readImageConfig } from "./inspect.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { type AddedBlob, overlayRef } from "./overlay.ts";

export interface IndexOptions extends CopyOptions {
  /** Annotations of the new index. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * A multi-platform index of `images` (docker buildx imagetools create, crane index append): each
 * single-platform image becomes an entry with the platform its config names, an index brings its
 * entries; everything is copied to `dst` and the index written last. Two entries for one platform
 * are refused: a client could not choose between them. All Docker images give a Docker manifest
 * list; anything else an OCI index.
 */
export async function createIndex(images: readonly ImageRef[], dst: ImageRef, options: IndexOptions = {}): Promise<CopyResult> {
  if (images.length === 0) throw new UsageError("name at least one image for the index");
  const sources: ImageSource[] = [];
  try {
    const entries: Descriptor[] = [];
    const routes = new Map<Digest, AddedBlob>();
    for (const ref of images) {
      const source = await ref.openSource({ signal: options.signal, registry: options.sourceRegistry });
      sources.push(source);
      entries.push(...(await entriesOf(source, await source.getManifest(), String(ref), routes)));
    }
    const seen = new Map<string, string>();
    for (const entry of entries) {
      const key = entry.platform ? formatPlatform(entry.platform) : `unnamed ${entry.digest}`;
      if (seen.has(key) && seen.get(key) !== entry.digest) throw new UsageError(`two images for ${key}: ${seen.get(key)} and ${entry.digest}`);
      seen.set(key, entry.digest);
    }
    const unique = entries.filter((e, i) => entries.findIndex((o) => o.digest === e.digest) === i);
    const mediaType = unique.every((e) => isDockerType(e.mediaType)) ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
    const annotations = options.annotations && Object.keys(options.annotations).length > 0 ? { annotations: options.annotations } : {};
    const top = encodeManifest({ schemaVersion: 2, mediaType, manifests: unique, ...annotations }, mediaType);
    return await copy(overlayRef(images[0]!, sources[0]!, top, routes), dst, { ...options, all: true, platforms: undefined });
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

/** The index entries an input gives (with platforms), routing every manifest and blob under it to its source. */
async function entriesOf(source: ImageSource, top: RawManifest, where: string, routes: Map<Digest, AddedBlob>): Promise<Descriptor[]> {
  const parsed = parseManifest(top);
  await route(source, top, routes);
  if (parsed.kind === "index") return [...parsed.manifests];
  const platform = await platformOf(source, parsed, where);
  return [{ mediaType: top.mediaType, digest: top.digest, size: top.bytes.byteLength, platform }];
}

/** Routes a manifest, its blobs and (for an index) its children to `source`. */
async function route(source: ImageSource, m: RawManifest, routes: Map<Digest, AddedBlob>): Promise<void> {
  routes.set(m.digest, { source });
  const parsed = parseManifest(m);
  if (parsed.kind === "manifest") {
    for (const blob of [parsed.config, ...parsed.layers]) routes.set(blob.digest, { source });
    return;
  }
  for (const child of parsed.manifests) await route(source, await source.getManifest(child.digest), routes);
}

async function platformOf(source: ImageSource, image: ImageManifest, where: string): Promise<Platform> {
  const config = await readImageConfig(source, image, where);
  if (!config.os || !config.architecture) throw new UsageError(`${where}: its config names no platform (os and architecture), so it cannot go in an index`);
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}
