import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../core/digest.ts";
import { MediaTypes, isDockerType } from "../core/media-type.ts";
import { compressToFile } from "../stream/gzip.ts";
import { streamFrom } from "../stream/produce.ts";
import type { ImageRef } from "../transport/types.ts";
import type { CopyResult } from "./copy.ts";
import { exportFilesystem } from "./files.ts";
import { type EditOptions, editImage } from "./mutate.ts";
import type { AddedBlob } from "./overlay.ts";

/**
 * crane flatten: the image's filesystem as one layer — every layer applied, whiteouts and what they
 * hid gone — under the same config (rootfs and history say one layer now). The tar streams into
 * gzip; nothing but the new layer is staged on disk. An index: the image `from` picks (default the
 * host's).
 */
export async function flatten(src: ImageRef, dst: ImageRef, options: EditOptions = {}): Promise<CopyResult> {
  const work = await mkdtemp(join(tmpdir(), "stevedore-flatten-"));
  try {
    const path = join(work, "layer.tar.gz");
    const tar = streamFrom(async (sink) => {
      await exportFilesystem(src, sink, { platform: options.from, registry: options.sourceRegistry, signal: options.signal });
    });
    const layer = await compressToFile(tar, path);
    return await editImage(
      src,
      dst,
      {
        config: (config) => {
          const before = ((config.rootfs as { diff_ids?: unknown[] } | undefined)?.diff_ids ?? []).length;
          return {
            ...config,
            rootfs: { type: "layers", diff_ids: [layer.diffId] },
            history: [{ created: config.created ?? "1970-01-01T00:00:00Z", created_by: "stevedore flatten", comment: `${before} layers flattened into one` }],
          };
        },
        layers: (image) => ({
          layers: [{ mediaType: isDockerType(image.mediaType) ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip, digest: layer.digest, size: layer.size }],
          added: new Map<Digest, AddedBlob>([[layer.digest, { path }]]),
        }),
      },
      options,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
