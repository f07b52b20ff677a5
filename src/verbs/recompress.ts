import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, shortDigest } from "../core/digest.ts";
import { IntegrityError, UnsupportedError } from "../core/errors.ts";
import { type ImageManifest, type RawManifest, encodeManifest, parseManifest } from "../core/manifest.ts";
import { MediaTypes, isDockerType, isGzipLayerType, isNondistributableType, isZstdLayerType } from "../core/media-type.ts";
import { type Compression, compressToFile, decompressIfCompressed } from "../stream/gzip.ts";
import { mapLimit } from "../stream/limit.ts";
import { verifyStream } from "../stream/verify.ts";
import { manifestDescriptor } from "../transport/layout-files.ts";
import type { ImageRef } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { readImageConfig } from "./inspect.ts";
import { type AddedBlob, overlayRef } from "./overlay.ts";

const compressionOf = (mediaType: string): Compression | "none" => (isGzipLayerType(mediaType) ? "gzip" : isZstdLayerType(mediaType) ? "zstd" : "none");

/** The layer media type for `format` in the manifest's family (Docker's has no zstd). */
function layerType(manifest: ImageManifest, format: Compression, where: string): string {
  if (!isDockerType(manifest.mediaType)) return format === "zstd" ? MediaTypes.ociLayerZstd : MediaTypes.ociLayerGzip;
  if (format === "zstd") throw new UnsupportedError(`${where}: Docker v2s2 images have no zstd layers (add --format oci)`);
  return MediaTypes.dockerLayerGzip;
}

/**
 * Copies an image with its layers recompressed to `format` (skopeo copy --dest-compress-format):
 * each layer not already in it is decompressed, checked against the config's diff_id, compressed
 * again into a temporary file, and copied from there; layer digests change, so do the manifests,
 * while the configs (whose diff_ids are of the uncompressed layers) keep their bytes.
 * Non-distributable layers stay as they are.
 */
export async function copyRecompressed(src: ImageRef, dst: ImageRef, format: Compression, options: CopyOptions = {}): Promise<CopyResult> {
  const work = await mkdtemp(join(tmpdir(), "stevedore-recompress-"));
  const source = await src.openSource({ signal: options.signal, registry: options.sourceRegistry });
  try {
    const made = new Map<Digest, RawManifest>();
    const files = new Map<Digest, string>();
    const convert = async (raw: RawManifest): Promise<RawManifest> => {
      const m = parseManifest(raw);
      const where = `manifest ${shortDigest(raw.digest)}`;
      let value: object;
      let changed: boolean;
      if (m.kind === "index") {
        const manifests: Descriptor[] = [];
        // one image at a time: each one's layers already go --jobs at once
        for (const d of m.manifests) manifests.push({ ...d, ...manifestDescriptor(await convert(await source.getManifest(d.digest))) });
        changed = manifests.some((d, i) => d.digest !== m.manifests[i]!.digest);
        value = { ...JSON.parse(new TextDecoder().decode(raw.bytes)), manifests };
      } else {
        const config = await readImageConfig(source, m, where);
        const diffIds = config.rootfs?.diff_ids ?? [];
        const mediaType = layerType(m, format, where); // before any work: a Docker image cannot take zstd
        const layers = await mapLimit(m.layers, options.jobs ?? 4, async (layer, i) => {
          if (compressionOf(layer.mediaType) === format || isNondistributableType(layer.mediaType)) return layer;
          const path = join(work, `${i}-${layer.digest.replace(":", "-")}`);
          const body = decompressIfCompressed(verifyStream(await source.getBlob(layer), layer, `reading ${where} layer ${i + 1}`));
          const out = await compressToFile(body, path, format);
          if (diffIds[i] && out.diffId !== diffIds[i]) {
            throw new IntegrityError(`${where} layer ${i + 1}: uncompressed it is ${shortDigest(out.diffId)}, but the config says ${shortDigest(diffIds[i]!)}`);
          }
          files.set(out.digest, path);
          return { ...layer, mediaType, digest: out.digest, size: out.size } satisfies Descriptor;
        });
        changed = layers.some((l, i) => l !== m.layers[i]);
        value = { ...JSON.parse(new TextDecoder().decode(raw.bytes)), layers };
      }
      // nothing recompressed under it: the manifest keeps its bytes and digest
      const result = changed ? encodeManifest(value, raw.mediaType) : raw;
      made.set(result.digest, result);
      return result;
    };
    const top = await convert(await source.getManifest());
    const added = new Map<Digest, AddedBlob>([...[...made].map(([digest, manifest]) => [digest, { manifest }] as const), ...[...files].map(([digest, path]) => [digest, { path }] as const)]);
    return await copy(overlayRef(src, source, top, added, `recompressed to ${format}`), dst, options);
  } finally {
    await source.close();
    await rm(work, { recursive: true, force: true });
  }
}
