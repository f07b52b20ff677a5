import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.ts";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { IntegrityError, NotFoundError, UsageError } from "../core/errors.ts";
import { type RawManifest, maxManifestBytes, toRawManifest } from "../core/manifest.ts";
import { isTemporaryPath, readFileStream } from "../stream/file.ts";

/** Read access to a tree of files: a directory on disk or the members of a tar archive. */
export interface FileTree {
  /** Where the tree is, for messages. */
  readonly where: string;
  /** Size of a regular file, or null when absent. */
  size(path: string): Promise<number | null>;
  /** Bytes of a small file, refusing files over `max`. */
  read(path: string, max: number): Promise<Uint8Array>;
  /** Streams a file; the caller verifies it. */
  stream(path: string): Promise<ReadableStream<Uint8Array>>;
  /** The file on disk, where the tree is a directory: uploads can then send it as it is. */
  localPath?(path: string): string;
}

/** `blobs/sha256/<hex>`: the OCI image-layout path of a digest (safe: digests are validated). */
export function blobPath(digest: Digest): string {
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** Reads a manifest blob, checking its size, cap and digest before anyone parses it. */
/** The local file holding a blob, when the tree is on disk and the file has the size the descriptor says. */
export async function localBlobFile(tree: FileTree, path: string, size: number): Promise<string | undefined> {
  return (await tree.size(path)) === size ? tree.localPath?.(path) : undefined;
}

export async function readManifestBlob(
  tree: FileTree,
  path: string,
  digest: Digest | undefined,
  declaredType: string | undefined,
): Promise<RawManifest> {
  const bytes = await tree.read(path, maxManifestBytes);
  const raw = toRawManifest(bytes, declaredType, `${path} in ${tree.where}`);
  if (digest && raw.digest !== digest) {
    throw new IntegrityError(`manifest ${digest}: digest mismatch (got ${raw.digest}) reading ${tree.where}`);
  }
  return raw;
}

/** Descriptor of a manifest we are about to reference from index.json or a tag. */
export function manifestDescriptor(m: RawManifest, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength, ...extra };
}

/** Refuses a file over `max` before reading it whole. */
export function checkSmallFile(size: number | null, path: string, where: string, max: number): number {
  if (size === null) throw new NotFoundError(`${path}: not found in ${where}`);
  if (size > max) throw new IntegrityError(`${path} in ${where}: ${size} bytes, over the ${max}-byte limit`);
  return size;
}

/** A directory on disk as a FileTree; paths are relative and come from validated digests or fixed names. */
export function directoryTree(root: string): FileTree {
  const where = root;
  const size = async (path: string): Promise<number | null> => {
    try {
      const info = await stat(join(root, path));
      return info.isFile() ? info.size : null;
    } catch {
      return null;
    }
  };
  return {
    where,
    size,
    async read(path, max) {
      checkSmallFile(await size(path), path, where, max);
      return new Uint8Array(await Bun.file(join(root, path)).arrayBuffer());
    },
    async stream(path) {
      if ((await size(path)) === null) throw new NotFoundError(`${path}: not found in ${where}`);
      return readFileStream(join(root, path));
    },
    localPath: (path) => join(root, path),
  };
}

/** Refuses to write into a non-empty directory that is not already of this format. */
export async function assertLayoutOrEmpty(path: string, where: string, markers: readonly string[]): Promise<void> {
  let entries: string[];
  try {
    const info = await stat(path);
    if (!info.isDirectory()) throw new UsageError(`${where}: exists and is not a directory`);
    entries = await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  // another stevedore may be writing the layout's first files this moment: its temporaries are not content
  const content = entries.filter((name) => !isTemporaryPath(name));
  if (content.length > 0 && !markers.some((m) => content.includes(m))) {
    throw new UsageError(`${where}: refusing to write into a non-empty directory that is not an image layout`);
  }
}
