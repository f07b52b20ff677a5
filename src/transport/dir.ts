import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestHex } from "../core/digest.ts";
import { UsageError } from "../core/errors.ts";
import type { RawManifest } from "../core/manifest.ts";
import { acceptedManifestTypes } from "../core/media-type.ts";
import { type WriteOptions, writeFileAtomic, writeOptions } from "../stream/file.ts";
import { assertLayoutOrEmpty, directoryTree, localBlobFile, manifestDescriptor, readManifestBlob } from "./layout-files.ts";
import type { ImageDestination, ImageRef, ImageSource, OpenOptions, Transport } from "./types.ts";

/** skopeo's marker file; its content is checked byte for byte before we write into a directory. */
const versionFile = "version";
const versionBytes = new TextEncoder().encode("Directory Transport Version: 1.1\n");
const ownFileName = /^[0-9a-f]{64}(?:[0-9a-f]{64})?(?:\.manifest\.json)?$/;

const blobName = (digest: Digest): string => digestHex(digest);
const instanceManifestName = (digest: Digest): string => `${digestHex(digest)}.manifest.json`;

/** `dir:PATH`: skopeo's flat directory of one image (or one index with its instances). */
export const dirTransport: Transport = {
  name: "dir",
  parse(rest) {
    if (rest === "") throw new UsageError("dir: missing the directory's path");
    return new DirRef(rest);
  },
};

class DirRef implements ImageRef {
  readonly transport = dirTransport;
  constructor(readonly path: string) {}

  toString(): string {
    return `dir:${this.path}`;
  }

  async openSource(): Promise<ImageSource> {
    return new DirSource(this.path);
  }

  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    await assertLayoutOrEmpty(this.path, this.toString(), [versionFile]);
    const version = Bun.file(join(this.path, versionFile));
    if ((await version.exists()) && !Buffer.from(await version.bytes()).equals(versionBytes)) {
      throw new UsageError(`${this}: refusing to write: its version file is not skopeo's "Directory Transport Version: 1.1"`);
    }
    return new DirDestination(this.path, writeOptions(opts));
  }
}

class DirSource implements ImageSource {
  private readonly tree;
  private top?: RawManifest;

  constructor(path: string) {
    this.tree = directoryTree(path);
  }

  private async topManifest(): Promise<RawManifest> {
    this.top ??= await readManifestBlob(this.tree, "manifest.json", undefined, undefined);
    return this.top;
  }

  async resolve(): Promise<Descriptor> {
    return manifestDescriptor(await this.topManifest());
  }

  async getManifest(digest?: Digest): Promise<RawManifest> {
    const top = await this.topManifest();
    if (!digest || digest === top.digest) return top;
    return readManifestBlob(this.tree, instanceManifestName(digest), digest, undefined);
  }

  getBlob(desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
    return this.tree.stream(blobName(desc.digest));
  }

  async blobFile(desc: Descriptor): Promise<string | undefined> {
    return localBlobFile(this.tree, blobName(desc.digest), desc.size);
  }

  async close(): Promise<void> {}
}

class DirDestination implements ImageDestination {
  readonly caps = { manifestTypes: acceptedManifestTypes, manyImages: true };
  /** Files the new image uses; anything else of ours is removed after the commit. */
  private readonly kept = new Set<string>([versionFile, "manifest.json"]);

  constructor(
    private readonly root: string,
    private readonly write: WriteOptions,
  ) {}

  async hasBlob(desc: Descriptor): Promise<boolean> {
    try {
      const present = (await stat(join(this.root, blobName(desc.digest)))).size === desc.size;
      if (present) this.kept.add(blobName(desc.digest));
      return present;
    } catch {
      return false;
    }
  }

  async putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
    await writeFileAtomic(join(this.root, blobName(desc.digest)), body, {
      ...this.write,
      verify: { desc, where: `writing ${this.root}` },
    });
    this.kept.add(blobName(desc.digest));
  }

  async putManifest(m: RawManifest): Promise<void> {
    await writeFileAtomic(join(this.root, instanceManifestName(m.digest)), m.bytes, this.write);
    this.kept.add(instanceManifestName(m.digest));
  }

  async commit(top: RawManifest): Promise<RawManifest> {
    await writeFileAtomic(join(this.root, versionFile), versionBytes, this.write);
    // manifest.json last: until this rename, the directory still holds the previous image whole
    await writeFileAtomic(join(this.root, "manifest.json"), top.bytes, this.write);
    for (const name of await readdir(this.root)) {
      if (ownFileName.test(name) && !this.kept.has(name)) await rm(join(this.root, name), { force: true });
    }
    return top;
  }

  async close(): Promise<void> {}
}
