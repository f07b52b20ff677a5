import type { TarHeader } from "../archive/tar-header.ts";
import { TarWriter } from "../archive/tar-writer.ts";
import type { Descriptor } from "../core/descriptor.ts";
import { NotFoundError } from "../core/errors.ts";
import type { RawManifest } from "../core/manifest.ts";
import type { Platform } from "../core/platform.ts";
import { type FsNode, MergedView } from "../fs/merged-view.ts";
import { layerEntries } from "../fs/layers.ts";
import type { RegistryOptions } from "../registry/client.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";
import { chooseImage } from "./inspect.ts";

export interface FilesOptions {
  readonly platform?: Platform;
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
}

export interface FileEntry {
  readonly path: string;
  readonly type: TarHeader["type"];
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname?: string;
}

/** An image's merged view (the host's platform of an index, or `platform`), for `use` while the source is open. */
export async function withView<T>(
  ref: ImageRef,
  options: FilesOptions,
  use: (view: MergedView, source: ImageSource, layers: readonly Descriptor[], top: RawManifest) => Promise<T>,
): Promise<T> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    const { top, image } = await chooseImage(source, options.platform);
    const view = await MergedView.build(source, image.layers);
    return await use(view, source, image.layers, top);
  } finally {
    await source.close();
  }
}

const toEntry = ([path, node]: [string, FsNode]): FileEntry => ({
  path: `/${path}`,
  type: node.header.type,
  mode: node.header.mode,
  uid: node.header.uid,
  gid: node.header.gid,
  size: node.header.size,
  mtime: node.header.mtime,
  ...(node.header.linkname !== undefined ? { linkname: node.header.linkname } : {}),
});

/** What `ls` shows: the children of `path` (or everything under it, `recursive`), or the file itself. */
export async function listFiles(ref: ImageRef, path: string, options: FilesOptions & { recursive?: boolean } = {}): Promise<FileEntry[]> {
  return withView(ref, options, async (view) => {
    const { path: real, node } = view.resolve(path);
    if (real !== "" && !node) throw new NotFoundError(`${path}: no such file or directory in ${ref}`);
    if (node && node.header.type !== "directory") return [toEntry([real, node])];
    return view.list(real, options.recursive).map(toEntry);
  });
}

/** The bytes of one file of the image, symlinks followed inside the image, streamed to `write`. */
export async function catFile(ref: ImageRef, path: string, write: (chunk: Uint8Array) => unknown, options: FilesOptions = {}): Promise<void> {
  await withView(ref, options, async (view) => {
    for await (const chunk of view.readFile(path)) await write(chunk);
  });
}

/** The flattened filesystem as one tar: each path once, as the top layer holding it has it. */
export async function exportFilesystem(ref: ImageRef, sink: { write(chunk: Uint8Array): unknown }, options: FilesOptions = {}): Promise<number> {
  return withView(ref, options, async (view, source, layers) => {
    const writer = new TarWriter(sink);
    let written = 0;
    for (const [index, layer] of layers.entries()) {
      const seen = new Map<string, number>();
      for await (const entry of layerEntries(source, layer, `layer ${index + 1}`)) {
        const occurrence = (seen.get(entry.header.path) ?? -1) + 1;
        seen.set(entry.header.path, occurrence);
        const node = view.nodes.get(entry.header.path);
        if (!node || node.layer !== index || node.occurrence !== occurrence) continue;
        await writer.add(entry.header, entry.header.type === "file" ? entry.body : undefined);
        written++;
      }
    }
    await writer.finish();
    return written;
  });
}
