import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { AuthError, NotFoundError, UsageError } from "../core/errors.ts";
import { type RawManifest, parseManifest, referrerDescriptor } from "../core/manifest.ts";
import { acceptedManifestTypes } from "../core/media-type.ts";
import { type Reference, formatReference, parseReference } from "../core/reference.ts";
import { getBlob, hasBlob, mountBlob } from "../registry/blobs.ts";
import { monolithicLimit, uploadBlob, uploadBlobFile } from "../registry/uploads.ts";
import { readFileStream } from "../stream/file.ts";
import { RegistryClient } from "../registry/client.ts";
import { RegistryError } from "../registry/errors.ts";
import { listTags } from "../registry/listing.ts";
import { deleteManifest, getManifest, headManifest, putManifest } from "../registry/manifests.ts";
import { addToReferrersTag, listReferrers } from "../registry/referrers.ts";
import { manifestDescriptor } from "./layout-files.ts";
import type { BlobReopener } from "../stream/byte-reader.ts";
import type { ImageDestination, ImageRef, ImageSource, OpenOptions, Transport } from "./types.ts";

/** `docker://[HOST/]NAME[:TAG|@DIGEST]`: an image in a registry, named as docker names it. */
export const dockerTransport: Transport = {
  name: "docker",
  parse(rest) {
    if (!rest.startsWith("//")) throw new UsageError(`docker:${rest}: expected docker://NAME[:TAG|@DIGEST]`);
    return new DockerRef(parseReference(rest.slice(2)));
  },
};

export class DockerRef implements ImageRef {
  readonly transport = dockerTransport;
  constructor(readonly reference: Reference) {}

  get registry(): string {
    return this.reference.registry;
  }

  get repository(): string {
    return this.reference.repository;
  }

  get tag(): string | undefined {
    return this.reference.tag;
  }

  toString(): string {
    return `docker://${formatReference(this.reference)}`;
  }

  client(opts: OpenOptions = {}): RegistryClient {
    return new RegistryClient(this.registry, this.repository, { ...opts.registry, signal: opts.signal });
  }

  /** The tag or digest the registry API addresses (a digest wins when both are given). */
  get apiReference(): string {
    return this.reference.digest ?? this.reference.tag ?? "latest";
  }

  async openSource(opts: OpenOptions = {}): Promise<ImageSource> {
    const client = this.client(opts);
    let top: RawManifest | undefined;
    const topManifest = async () => (top ??= await getManifest(client, this.apiReference));
    return {
      resolve: async () => manifestDescriptor(await topManifest()),
      getManifest: async (digest?: Digest) => (digest && digest !== (await topManifest()).digest ? getManifest(client, digest) : topManifest()),
      getBlob: (desc) => getBlob(client, desc),
      getBlobFrom: (desc, offset) => getBlob(client, desc, offset),
      listReferrers: (subject, artifactType) => listReferrers(client, subject, artifactType),
      knownTags: () => this.repositoryTags(client),
      close: async () => {},
    };
  }

  /**
   * skopeo inspect's RepoTags: every tag of the repository. A registry that refuses to list them
   * while it serves the image (some do) leaves the one tag this reference names, as skopeo goes on
   * without tags there.
   */
  private async repositoryTags(client: RegistryClient): Promise<string[]> {
    try {
      return await Array.fromAsync(listTags(client));
    } catch (err) {
      const refused = err instanceof AuthError || err instanceof NotFoundError || (err instanceof RegistryError && err.status === 403);
      if (!refused) throw err;
      return this.reference.tag ? [this.reference.tag] : [];
    }
  }

  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    return new DockerDestination(this, this.client(opts));
  }

  withReference(reference: { readonly tag: string } | { readonly digest: Digest }): DockerRef {
    const { tag: _tag, digest: _digest, ...name } = this.reference;
    return new DockerRef({ ...name, ...reference });
  }

  listTags(opts: OpenOptions = {}): AsyncIterable<string> {
    return listTags(this.client(opts));
  }

  /** Deletes the manifest the reference names; a tag is resolved to its digest first. */
  async delete(opts: OpenOptions = {}): Promise<void> {
    const client = this.client(opts);
    const digest = this.reference.digest ?? (await headManifest(client, this.apiReference))?.digest;
    if (!digest) throw new NotFoundError(`${this}: manifest not found`);
    await deleteManifest(client, digest);
  }
}

class DockerDestination implements ImageDestination {
  readonly caps = { manifestTypes: acceptedManifestTypes, manyImages: true };

  constructor(
    private readonly ref: DockerRef,
    private readonly client: RegistryClient,
  ) {}

  hasBlob(desc: Descriptor): Promise<boolean> {
    return hasBlob(this.client, desc);
  }

  putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>, reopen?: BlobReopener): Promise<void> {
    return uploadBlob(this.client, desc, body, reopen);
  }

  /** Small blobs gain nothing from a file body; large ones go out without a stream in between. */
  async putBlobFile(desc: Descriptor, path: string): Promise<void> {
    if (desc.size <= monolithicLimit) return uploadBlob(this.client, desc, readFileStream(path));
    return uploadBlobFile(this.client, desc, path);
  }

  /** Same registry, another repository: link the blob there instead of moving its bytes. */
  async mountBlob(desc: Descriptor, source: ImageRef): Promise<boolean> {
    if (!(source instanceof DockerRef) || source.registry !== this.ref.registry || source.repository === this.ref.repository) return false;
    return mountBlob(this.client, desc, source.repository);
  }

  async putManifest(m: RawManifest): Promise<void> {
    await this.put(m, m.digest);
  }

  /** The top manifest goes last, under the tag: until then no reader sees the new image. */
  async commit(top: RawManifest): Promise<RawManifest> {
    await this.put(top, this.ref.reference.tag ?? top.digest);
    return top;
  }

  /** A manifest with a subject is listed under the fallback tag when the registry has no Referrers API. */
  private async put(m: RawManifest, reference: string): Promise<void> {
    const { subjectRecorded } = await putManifest(this.client, m, reference);
    const subject = parseManifest(m).subject;
    if (subject && !subjectRecorded) await addToReferrersTag(this.client, subject.digest, referrerDescriptor(m));
  }

  async close(): Promise<void> {}
}
