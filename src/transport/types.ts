import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import type { RawManifest } from "../core/manifest.ts";
import type { MediaType } from "../core/media-type.ts";
import type { RegistryOptions } from "../registry/client.ts";
import type { BlobReopener } from "../stream/byte-reader.ts";

export type { RawManifest };

/** A transport turns the text after its prefix (`oci:` → `./a:tag`) into a reference. */
export interface Transport {
  /** The prefix before ":", e.g. `oci`, `docker-archive`. */
  readonly name: string;
  parse(rest: string): ImageRef;
}

export interface OpenOptions {
  readonly signal?: AbortSignal;
  /** docker:// only: credentials, TLS and retry settings. */
  readonly registry?: RegistryOptions;
  /** Destination: fsync every file before it is renamed into place (default true). */
  readonly fsync?: boolean;
}

export interface ImageRef {
  readonly transport: Transport;
  /** `parseImageRef(String(ref))` gives an equal reference. */
  toString(): string;
  /** The repository path the image is known by, where the transport has one (`team/app`). */
  readonly repository?: string;
  /** The registry host, for docker:// references. */
  readonly registry?: string;
  /** The tag the reference names, where it names one. */
  readonly tag?: string;
  openSource(opts?: OpenOptions): Promise<ImageSource>;
  openDestination(opts?: OpenOptions): Promise<ImageDestination>;
  /** The same repository or layout under another tag, or one of its manifests by digest (untagged as a destination). */
  withReference?(reference: { readonly tag: string } | { readonly digest: Digest }): ImageRef;
  /** Absent where meaningless (dir:). */
  listTags?(opts?: OpenOptions): AsyncIterable<string>;
  /** Removes the reference (tag or image); blobs no longer used may stay until garbage collection. */
  delete?(opts?: OpenOptions): Promise<void>;
}

export interface ImageSource {
  /** The top manifest this reference names: digest, size, mediaType. */
  resolve(): Promise<Descriptor>;
  /** Exact bytes of the top manifest, or of a child by digest; capped at 4 MiB and digest-checked. */
  getManifest(digest?: Digest): Promise<RawManifest>;
  /** Raw blob bytes; the consumer verifies them against `desc`. */
  getBlob(desc: Descriptor): Promise<ReadableStream<Uint8Array>>;
  /** Raw blob bytes from `offset` on, where the source can start part-way (an upload cut mid-blob resumes with them). */
  getBlobFrom?(desc: Descriptor, offset: number): Promise<ReadableStream<Uint8Array>>;
  /** A local file holding exactly the blob (unverified), where the source keeps one. */
  blobFile?(desc: Descriptor): Promise<string | undefined>;
  /** Manifests whose `subject` is `subject` (signatures, SBOMs, attestations), where the source can list them. */
  listReferrers?(subject: Digest, artifactType?: string): Promise<Descriptor[]>;
  /** inspect's RepoTags: a registry's every tag of the repository (as skopeo lists them), elsewhere the tags naming this image. */
  knownTags?(): Promise<readonly string[]>;
  close(): Promise<void>;
}

export interface DestinationCaps {
  /** Manifest media types the format can store as they are. */
  readonly manifestTypes: readonly MediaType[];
  /** Can hold an index and several images (else one image is chosen from an index). */
  readonly manyImages: boolean;
  /** Stores layers uncompressed: manifest and layer digests change (docker-archive). */
  readonly rewritesManifest?: boolean;
}

export interface ImageDestination {
  readonly caps: DestinationCaps;
  /** True when the blob is already there and need not be written. */
  hasBlob(desc: Descriptor): Promise<boolean>;
  /**
   * Verifies the body against `desc` while writing to a temporary name; renamed only when it
   * matches. `reopen`, where the source offers it, reads the blob again from an offset: a
   * destination whose write was cut part-way may carry on with it instead of failing.
   */
  putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>, reopen?: BlobReopener): Promise<void>;
  /** Like putBlob, from a local file: a registry upload can then send it with a known length. */
  putBlobFile?(desc: Descriptor, path: string): Promise<void>;
  /** Links a blob from the source's repository on the same registry; false when it cannot. */
  mountBlob?(desc: Descriptor, source: ImageRef): Promise<boolean>;
  /** A child manifest, stored by digest; called after all of its blobs. */
  putManifest(m: RawManifest): Promise<void>;
  /** Writes the top manifest and the reference to it (tag, index.json entry, archive rename), last. */
  commit(top: RawManifest): Promise<RawManifest>;
  /** Without commit: every temporary is removed and the destination is as it was. */
  close(): Promise<void>;
}
