import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { UsageError } from "../core/errors.ts";
import type { RawManifest } from "../core/manifest.ts";
import { acceptedManifestTypes } from "../core/media-type.ts";
import { verifyStream } from "../stream/verify.ts";
import { writeOptions } from "../stream/file.ts";
import { ArchiveWriter, openArchive } from "./archive-files.ts";
import { blobPath, manifestDescriptor } from "./layout-files.ts";
import {
  type LayoutSelector,
  OciLayoutSource,
  formatLayoutSelector,
  indexJsonWith,
  ociLayoutBytes,
  ociLayoutFile,
  parseLayoutReference,
  readIndexJson,
  refNameAnnotation,
} from "./oci-layout.ts";
import type { ImageDestination, ImageRef, ImageSource, OpenOptions, Transport } from "./types.ts";

/** `oci-archive:PATH[:TAG]`: an OCI image layout inside a tar file. */
export const ociArchiveTransport: Transport = {
  name: "oci-archive",
  parse(rest) {
    const { path, selector } = parseLayoutReference(rest, "oci-archive", "archive");
    return new OciArchiveRef(path, selector);
  },
};

const fixedMtime = 0;
const member = (path: string, size: number) => ({ path, type: "file" as const, size, mode: 0o644, uid: 0, gid: 0, mtime: fixedMtime });
const directory = (path: string) => ({ path, type: "directory" as const, size: 0, mode: 0o755, uid: 0, gid: 0, mtime: fixedMtime });

class OciArchiveRef implements ImageRef {
  readonly transport = ociArchiveTransport;
  constructor(
    readonly path: string,
    readonly selector: LayoutSelector,
  ) {}

  toString(): string {
    return `oci-archive:${this.path}${formatLayoutSelector(this.selector)}`;
  }

  async openSource(): Promise<ImageSource> {
    const archive = await openArchive(this.path, `oci-archive:${this.path}`);
    return new OciLayoutSource(archive.tree, this.selector, `oci-archive:${this.path}`, archive.close);
  }

  /** Like skopeo, a destination archive is written anew, holding this one image. */
  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    if (this.selector.kind === "digest" || this.selector.kind === "position") {
      throw new UsageError(`${this}: a destination is named by a tag`);
    }
    const writer = new ArchiveWriter(this.path, writeOptions(opts));
    await writer.start();
    await writer.add(member(ociLayoutFile, ociLayoutBytes.byteLength), ociLayoutBytes);
    await writer.add(directory("blobs/"));
    return new OciArchiveDestination(writer, this.selector.kind === "tag" ? this.selector.tag : undefined, this.toString());
  }

  async *listTags(): AsyncIterable<string> {
    const archive = await openArchive(this.path, `oci-archive:${this.path}`);
    try {
      for (const m of (await readIndexJson(archive.tree)).manifests) {
        const tag = m.annotations?.[refNameAnnotation];
        if (tag) yield tag;
      }
    } finally {
      await archive.close();
    }
  }
}

class OciArchiveDestination implements ImageDestination {
  readonly caps = { manifestTypes: acceptedManifestTypes, manyImages: true };
  private readonly written = new Set<Digest>();
  private readonly directories = new Set<string>();

  constructor(
    private readonly writer: ArchiveWriter,
    private readonly tag: string | undefined,
    private readonly where: string,
  ) {}

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.written.has(desc.digest);
  }

  async putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
    await this.addBlob(desc.digest, desc.size, verifyStream(body, desc, `writing ${this.where}`));
  }

  async putManifest(m: RawManifest): Promise<void> {
    await this.addBlob(m.digest, m.bytes.byteLength, m.bytes);
  }

  async commit(top: RawManifest): Promise<RawManifest> {
    await this.putManifest(top);
    const index = indexJsonWith(undefined, manifestDescriptor(top), this.tag);
    await this.writer.add(member("index.json", index.byteLength), index);
    await this.writer.commit();
    return top;
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  private async addBlob(digest: Digest, size: number, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    if (this.written.has(digest)) return;
    const path = blobPath(digest);
    const parent = path.slice(0, path.lastIndexOf("/") + 1);
    if (!this.directories.has(parent)) {
      this.directories.add(parent);
      await this.writer.add(directory(parent));
    }
    await this.writer.add(member(path, size), body);
    this.written.add(digest);
  }
}
