import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, parseDigest } from "../core/digest.ts";
import { UsageError } from "../core/errors.ts";
import { type RawManifest, childDescriptors, maxManifestBytes, parseManifest } from "../core/manifest.ts";
import { acceptedManifestTypes, isManifestType } from "../core/media-type.ts";
import { type WriteOptions, writeFileAtomic, writeOptions } from "../stream/file.ts";
import { withFileLock } from "../stream/file-lock.ts";
import { announceWriter, writersActive } from "./layout-writers.ts";
import { assertLayoutOrEmpty, blobPath, directoryTree, manifestDescriptor } from "./layout-files.ts";
import {
  type IndexJson,
  type LayoutSelector,
  OciLayoutSource,
  formatLayoutSelector,
  indexJsonWith,
  indexJsonWithout,
  ociLayoutBytes,
  ociLayoutFile,
  parseLayoutReference,
  readIndexJson,
  refNameAnnotation,
  selectEntry,
} from "./oci-layout.ts";
import type { ImageDestination, ImageRef, OpenOptions, Transport } from "./types.ts";

/** `oci:PATH[:TAG|@DIGEST|@N]`: an OCI image layout directory holding any number of images. */
export const ociTransport: Transport = {
  name: "oci",
  parse(rest) {
    const { path, selector } = parseLayoutReference(rest, "oci", "layout");
    return new OciRef(path, selector);
  },
};

class OciRef implements ImageRef {
  readonly transport = ociTransport;
  constructor(
    readonly path: string,
    readonly selector: LayoutSelector,
  ) {}

  toString(): string {
    return `oci:${this.path}${formatLayoutSelector(this.selector)}`;
  }

  get tag(): string | undefined {
    return this.selector.kind === "tag" ? this.selector.tag : undefined;
  }

  async openSource() {
    return new OciLayoutSource(directoryTree(this.path), this.selector, `oci:${this.path}`);
  }

  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    if (this.selector.kind === "position") throw new UsageError(`${this}: a destination is named by a tag, not a position`);
    await assertLayoutOrEmpty(this.path, `oci:${this.path}`, [ociLayoutFile, "index.json"]);
    const write = writeOptions(opts);
    // the marker first: a copy interrupted before its index.json, or one running beside this, leaves a layout
    if (!(await Bun.file(join(this.path, ociLayoutFile)).exists())) await writeFileAtomic(join(this.path, ociLayoutFile), ociLayoutBytes, write);
    return new OciDirectoryDestination(this.path, this.selector.kind === "tag" ? this.selector.tag : undefined, write, await announceWriter(this.path));
  }

  /** By digest, as a destination: an untagged index.json entry (how referrers are kept in a layout). */
  withReference(reference: { readonly tag: string } | { readonly digest: Digest }): OciRef {
    return new OciRef(this.path, "tag" in reference ? { kind: "tag", tag: reference.tag } : { kind: "digest", digest: reference.digest });
  }

  async *listTags(): AsyncIterable<string> {
    const index = await readIndexJson(directoryTree(this.path));
    for (const m of index.manifests) {
      const tag = m.annotations?.[refNameAnnotation];
      if (tag) yield tag;
    }
  }

  /**
   * Drops the index.json entry, then every blob no remaining entry reaches (like skopeo delete oci:)
   * unless a copy into the layout is running: its blobs are not in index.json yet, so they stay.
   */
  async delete(opts: OpenOptions = {}): Promise<void> {
    const tree = directoryTree(this.path);
    await updateIndexJson(this.path, async () => {
      const index = await readIndexJson(tree);
      const entry = selectEntry(index, this.selector, `oci:${this.path}`);
      const remaining = indexJsonWithout(index, (m) => m === entry || (this.selector.kind === "digest" && m.digest === entry.digest));
      await writeFileAtomic(join(this.path, "index.json"), remaining, writeOptions(opts));
      if (!(await writersActive(this.path))) await collectGarbage(this.path, await readIndexJson(tree));
    });
  }
}

/** index.json is read, changed and written back under a lock: several copies may write one layout at once. */
function updateIndexJson(root: string, update: () => Promise<void>): Promise<void> {
  return withFileLock(join(root, ".index.json.lock"), update);
}

class OciDirectoryDestination implements ImageDestination {
  readonly caps = { manifestTypes: acceptedManifestTypes, manyImages: true };

  constructor(
    private readonly root: string,
    private readonly tag: string | undefined,
    private readonly write: WriteOptions,
    private readonly finished: () => Promise<void>,
  ) {}

  async hasBlob(desc: Descriptor): Promise<boolean> {
    try {
      return (await stat(join(this.root, blobPath(desc.digest)))).size === desc.size;
    } catch {
      return false;
    }
  }

  putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
    return writeFileAtomic(join(this.root, blobPath(desc.digest)), body, {
      ...this.write,
      verify: { desc, where: `writing oci:${this.root}` },
    });
  }

  async putManifest(m: RawManifest): Promise<void> {
    await writeFileAtomic(join(this.root, blobPath(m.digest)), m.bytes, this.write);
  }

  async commit(top: RawManifest): Promise<RawManifest> {
    await this.putManifest(top);
    await updateIndexJson(this.root, async () => {
      const tree = directoryTree(this.root);
      const existing = (await tree.size("index.json")) === null ? undefined : await readIndexJson(tree);
      // index.json last, by rename: readers see the old layout or the new one, never a mix
      await writeFileAtomic(join(this.root, "index.json"), indexJsonWith(existing, manifestDescriptor(top), this.tag), this.write);
    });
    return top;
  }

  async close(): Promise<void> {
    await this.finished();
  }
}

/**
 * Removes blobs that no index.json entry reaches. A manifest that cannot be read or parsed stops
 * the collection: deleting without knowing what it references could break another image.
 */
async function collectGarbage(root: string, index: IndexJson): Promise<void> {
  const tree = directoryTree(root);
  const reachable = new Set<Digest>();
  const walk = async (desc: Descriptor): Promise<void> => {
    if (reachable.has(desc.digest)) return;
    reachable.add(desc.digest);
    if (!isManifestType(desc.mediaType)) return;
    const bytes = await tree.read(blobPath(desc.digest), maxManifestBytes);
    const manifest = parseManifest({ bytes, mediaType: desc.mediaType, digest: desc.digest });
    for (const child of childDescriptors(manifest)) await walk(child);
  };
  try {
    for (const entry of index.manifests) await walk(entry);
  } catch {
    return;
  }
  for (const algorithm of await readdir(join(root, "blobs")).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, "blobs", algorithm)).catch(() => [] as string[])) {
      let digest: Digest;
      try {
        digest = parseDigest(`${algorithm}:${hex}`);
      } catch {
        continue; // not a blob of ours (a temporary, or a stray file): leave it alone
      }
      if (!reachable.has(digest)) await rm(join(root, "blobs", algorithm, hex), { force: true });
    }
  }
}
