import { lstat, mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { TarHeader } from "../archive/tar-header.ts";
import { TarWriter } from "../archive/tar-writer.ts";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, DigestHasher, digestOf } from "../core/digest.ts";
import { encodeManifest } from "../core/manifest.ts";
import { NotFoundError } from "../core/errors.ts";
import { MediaTypes, isDockerType } from "../core/media-type.ts";
import { readFileStream } from "../stream/file.ts";
import { decompressIfCompressed, compressToFile, isGzip } from "../stream/gzip.ts";
import { streamFrom } from "../stream/produce.ts";
import type { Platform } from "../core/platform.ts";
import { parseImageRef } from "../transport/index.ts";
import type { ImageRef } from "../transport/types.ts";
import type { CopyResult } from "./copy.ts";
import { type EditOptions, editImage } from "./mutate.ts";
import type { AddedBlob } from "./overlay.ts";

export interface AppendOptions extends EditOptions {
  /** Keep files' modification times (default: 0, so the same directory gives the same layer). */
  readonly keepMtime?: boolean;
}

interface BuiltLayer {
  readonly path: string;
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly size: number;
}

/** Every entry under `root`, sorted, as tar headers relative to it: the same tree gives the same bytes. */
async function directoryEntries(root: string, keepMtime: boolean): Promise<{ header: TarHeader; file?: string }[]> {
  const names = (await readdir(root, { recursive: true })).map(String).sort();
  const entries: { header: TarHeader; file?: string }[] = [];
  for (const name of names) {
    const full = join(root, name);
    const info = await lstat(full);
    const base = { path: relative(root, full), mode: info.mode & 0o7777, uid: 0, gid: 0, mtime: keepMtime ? Math.floor(info.mtimeMs / 1000) : 0, size: 0 };
    if (info.isDirectory()) entries.push({ header: { ...base, type: "directory" } });
    else if (info.isSymbolicLink()) entries.push({ header: { ...base, type: "symlink", linkname: await readlink(full) } });
    else if (info.isFile()) entries.push({ header: { ...base, type: "file", size: info.size }, file: full });
  }
  return entries;
}

/** A directory as a tar stream, written as gzip reads it: no tar is staged on disk. */
function directoryTar(root: string, keepMtime: boolean): ReadableStream<Uint8Array> {
  return streamFrom(async (sink) => {
    const writer = new TarWriter(sink);
    for (const e of await directoryEntries(root, keepMtime)) await writer.add(e.header, e.file ? readFileStream(e.file) : undefined);
    await writer.finish();
  });
}

/** A directory becomes a reproducible gzip tar layer; a tar (gzip or not) is taken as the layer. */
async function buildLayer(input: string, work: string, index: number, keepMtime: boolean): Promise<BuiltLayer> {
  const info = await lstat(input).catch(() => undefined);
  if (!info) throw new NotFoundError(`${input}: no such file or directory`);
  const out = join(work, `layer-${index}.tar.gz`);
  if (info.isDirectory()) return { path: out, ...(await compressToFile(directoryTar(input, keepMtime), out)) };
  const head = await Bun.file(input).slice(0, 2).bytes();
  if (isGzip(head)) {
    // already compressed: the file is the layer as it is; its diff_id is the hash of what it inflates to
    // one read: the compressed bytes are hashed on their way into the decompressor
    const digest = new DigestHasher();
    const hashed = readFileStream(input).pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (c, out) => (digest.update(c), out.enqueue(c)) }));
    const diff = new DigestHasher();
    for await (const c of decompressIfCompressed(hashed)) diff.update(c);
    return { path: input, digest: digest.digest(), diffId: diff.digest(), size: info.size };
  }
  return { path: out, ...(await compressToFile(readFileStream(input), out)) };
}

/**
 * An empty image for `platform` (no layers; a config with only the platform and an empty rootfs),
 * held in memory: the base of an image built from scratch, as crane append without a base. Its
 * config is the same bytes every time, so the same layers give the same image.
 */
export async function scratchImage(platform: Platform): Promise<ImageRef> {
  const ref = parseImageRef(`memory:stevedore/scratch-${randomUUID()}:base`);
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}), config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] }),
  );
  const configDesc = { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength };
  const destination = await ref.openDestination();
  try {
    await destination.putBlob(configDesc, new Blob([config]).stream());
    await destination.commit(encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: [] }, MediaTypes.ociManifest));
  } finally {
    await destination.close();
  }
  return ref;
}

/** crane append: the base image plus new layers (directories or tars), config history and diff_ids kept consistent. */
export async function append(base: ImageRef, dst: ImageRef, inputs: readonly string[], options: AppendOptions = {}): Promise<CopyResult> {
  const work = await mkdtemp(join(tmpdir(), "stevedore-append-"));
  try {
    const built: BuiltLayer[] = [];
    for (const [i, input] of inputs.entries()) built.push(await buildLayer(input, work, i, options.keepMtime ?? false));
    return await editImage(
      base,
      dst,
      {
        config: (config) => {
          const rootfs = (config.rootfs as { diff_ids?: string[] } | undefined) ?? {};
          const history = (config.history as object[] | undefined) ?? [];
          return {
            ...config,
            rootfs: { type: "layers", diff_ids: [...(rootfs.diff_ids ?? []), ...built.map((l) => l.diffId)] },
            history: [...history, ...built.map(() => ({ created: "1970-01-01T00:00:00Z", created_by: "stevedore append", comment: "appended layer" }))],
          };
        },
        layers: (image) => {
          const mediaType = isDockerType(image.mediaType) ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip;
          const added = new Map<Digest, AddedBlob>(built.map((l) => [l.digest, { path: l.path }]));
          const layers: Descriptor[] = [...image.layers, ...built.map((l) => ({ mediaType, digest: l.digest, size: l.size }))];
          return { layers, added };
        },
      },
      options,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
