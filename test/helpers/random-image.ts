import type { Descriptor } from "../../src/core/descriptor.ts";
import { type Digest, digestOf } from "../../src/core/digest.ts";
import { type RawManifest, encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { type Platform, formatPlatform } from "../../src/core/platform.ts";
import type { ImageRef } from "../../src/transport/types.ts";

/** Deterministic bytes: xorshift32, so fixtures are the same on every run. */
export function seededBytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) & 0xff;
  return out;
}

/** A minimal ustar archive with one regular file: enough to be a valid layer for every peer. */
export function tarWithFile(name: string, content: Uint8Array, mtime = 0): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(512);
  const enc = new TextEncoder();
  const field = (offset: number, length: number, value: string) => header.set(enc.encode(value).subarray(0, length), offset);
  const octal = (offset: number, length: number, value: number) => field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, content.byteLength);
  octal(136, 12, mtime);
  field(148, 8, "        ");
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  const sum = header.reduce((a, b) => a + b, 0);
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  const padded = Math.ceil(content.byteLength / 512) * 512;
  const out = new Uint8Array(512 + padded + 1024);
  out.set(header, 0);
  out.set(content, 512);
  return out;
}

export interface FixtureImage {
  /** The top manifest (an index when several platforms were asked for). */
  readonly top: RawManifest;
  /** Image manifests by platform, in order. */
  readonly images: readonly RawManifest[];
  readonly blobs: ReadonlyMap<Digest, { desc: Descriptor; bytes: Uint8Array }>;
}

export interface RandomImageOptions {
  readonly layers?: number;
  /** Uncompressed size of each layer's single file. */
  readonly size?: number;
  readonly platforms?: readonly Platform[];
  readonly seed?: number;
  readonly oci?: boolean;
  readonly gzip?: boolean;
}

/** A seeded image (or index) held in memory: real gzip tar layers, config with diff_ids. */
export function randomImage(options: RandomImageOptions = {}): FixtureImage {
  const { layers = 2, size = 4096, platforms = [{ os: "linux", architecture: "amd64" }], seed = 1, oci = true, gzip = true } = options;
  const blobs = new Map<Digest, { desc: Descriptor; bytes: Uint8Array }>();
  const add = (mediaType: string, bytes: Uint8Array): Descriptor => {
    const desc = { mediaType, digest: digestOf(bytes), size: bytes.byteLength };
    blobs.set(desc.digest, { desc, bytes });
    return desc;
  };
  const types = oci
    ? { manifest: MediaTypes.ociManifest, index: MediaTypes.ociIndex, config: MediaTypes.ociConfig, layer: gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer }
    : { manifest: MediaTypes.dockerManifest, index: MediaTypes.dockerManifestList, config: MediaTypes.dockerConfig, layer: gzip ? MediaTypes.dockerLayerGzip : MediaTypes.dockerLayer };
  const images = platforms.map((platform, p) => {
    const tars = Array.from({ length: layers }, (_, i) => tarWithFile(`layer-${i}.bin`, seededBytes(size, seed * 1000 + i + (p > 0 ? p * 100 : 0))));
    const layerDescs = tars.map((t) => add(types.layer, gzip ? Bun.gzipSync(t, { level: 1 }) : t));
    const config = new TextEncoder().encode(
      JSON.stringify({
        created: "2024-01-02T03:04:05Z",
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        config: { Env: ["PATH=/usr/bin", `SEED=${seed}`], Labels: { "org.example.seed": String(seed) } },
        rootfs: { type: "layers", diff_ids: tars.map((t) => digestOf(t)) },
        history: tars.map((_, i) => ({ created: "2024-01-02T03:04:05Z", created_by: `layer ${i}` })),
      }),
    );
    const configDesc = add(types.config, config);
    return encodeManifest({ schemaVersion: 2, mediaType: types.manifest, config: configDesc, layers: layerDescs }, types.manifest);
  });
  if (platforms.length === 1) return { top: images[0]!, images, blobs };
  const index = encodeManifest(
    {
      schemaVersion: 2,
      mediaType: types.index,
      manifests: images.map((m, i) => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength, platform: platforms[i] })),
    },
    types.index,
  );
  return { top: index, images, blobs };
}

/** Writes a fixture through a transport's destination, as a copy would. */
export async function writeImage(ref: ImageRef, image: FixtureImage): Promise<void> {
  const dest = await ref.openDestination({ fsync: false });
  try {
    for (const { desc, bytes } of image.blobs.values()) {
      if (!(await dest.hasBlob(desc))) await dest.putBlob(desc, new Blob([bytes]).stream());
    }
    if (image.images.length > 1) for (const m of image.images) await dest.putManifest(m);
    await dest.commit(image.top);
  } finally {
    await dest.close();
  }
}

export const platformNames = (image: FixtureImage): string[] =>
  image.images.map((m) => {
    const cfg = JSON.parse(new TextDecoder().decode([...image.blobs.values()].find((b) => b.desc.digest === JSON.parse(new TextDecoder().decode(m.bytes)).config.digest)!.bytes));
    return formatPlatform({ os: cfg.os, architecture: cfg.architecture, variant: cfg.variant });
  });
