import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import type { RawManifest } from "../core/manifest.ts";

/** What `serve` persists: content-addressed blobs, repository metadata, and upload sessions. */
export interface Store {
  readonly blobs: BlobStore;
  readonly repos: RepoStore;
  readonly uploads: UploadStore;
  /**
   * Ends the work the store carries on after answering: waits for what finishes (removing an
   * upload's redundant copy), gives up on what may never (a cache's upstream exchanges, whose
   * waiters then fail). Called at stop, more than once.
   */
  settle?(): Promise<void>;
}

/** A byte range, `start` inclusive, `end` exclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Blobs by digest, shared by every repository; manifests are stored here too. */
export interface BlobStore {
  /** Size in bytes, or null when absent. Answered from memory where the store can. */
  stat(digest: Digest): Promise<number | null>;
  /** The bytes (or a range of them), or null when absent; the chunks may be the store's own memory: read them, never write them. */
  get(digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array> | null>;
  /** A file that holds exactly the blob, when the store keeps files: served by the kernel. */
  filePath?(digest: Digest): string | undefined;
  /**
   * Stores a blob, checking size and digest as it streams; visible only once verified. Idempotent.
   * A stream's chunks are the store's from then on (the memory store keeps them, uncopied): a
   * producer must hand over fresh chunks, not one buffer refilled (a Uint8Array body is copied).
   */
  put(digest: Digest, body: ReadableStream<Uint8Array> | Uint8Array, size?: number): Promise<void>;
  delete(digest: Digest): Promise<void>;
  list(): AsyncIterable<Digest>;
}

/** A manifest as a repository holds it: exact bytes, media type, and the subject it refers to. */
export interface StoredManifest extends RawManifest {
  readonly subject?: Digest;
}

/** Per-repository metadata: which manifests and blobs a repository links, and its tags. */
export interface RepoStore {
  /** By tag or digest; null when the repository does not link it. */
  getManifest(repo: string, reference: string): Promise<StoredManifest | null>;
  /** Stores the bytes as a blob, links the digest into `repo`, and (atomically) points `tag` at it. */
  putManifest(repo: string, manifest: RawManifest, tag?: string): Promise<void>;
  /** Unlinks a manifest and every tag pointing at it; false when it was not linked. */
  deleteManifest(repo: string, digest: Digest): Promise<boolean>;
  /** Removes one tag; false when absent. */
  deleteTag(repo: string, tag: string): Promise<boolean>;
  /** Tags in lexical order. */
  listTags(repo: string): Promise<string[]>;
  /** Repositories (those with at least one manifest or blob link) in lexical order. */
  listRepos(): Promise<string[]>;
  /** Descriptors of the manifests in `repo` whose subject is `subject`, with artifactType and annotations. */
  referrers(repo: string, subject: Digest): Promise<Descriptor[]>;
  /** Records that `repo` holds the blob (after an upload or a mount). */
  linkBlob(repo: string, digest: Digest): Promise<void>;
  hasBlobLink(repo: string, digest: Digest): Promise<boolean>;
  /**
   * The size of a blob `repo` can serve, or null, for a HEAD: where it differs from hasBlobLink
   * then blobs.stat (a pull-through cache answers from upstream without fetching the bytes).
   */
  blobSize?(repo: string, digest: Digest): Promise<number | null>;
  /**
   * For a GET of a whole blob `repo` does not hold yet but can fetch (a pull-through cache): its
   * size and its bytes as they arrive, kept meanwhile, the last chunk only once the whole checked
   * against its digest. null: no such blob; undefined: held (now), to be served from `blobs`.
   */
  streamMissingBlob?(repo: string, digest: Digest): Promise<{ size: number; body: ReadableStream<Uint8Array> } | null | undefined>;
  unlinkBlob(repo: string, digest: Digest): Promise<boolean>;
  /** Every manifest digest linked in `repo` (for garbage collection). */
  manifestLinks(repo: string): Promise<Digest[]>;
}

export interface UploadSession {
  readonly id: string;
  readonly repo: string;
  /** Bytes received so far. */
  readonly size: number;
  readonly startedAt: number;
  /** When its last chunk landed (when it started, before the first): how long it has been idle. */
  readonly updatedAt: number;
}

/** Blob upload sessions; a filesystem store keeps them across restarts. */
export interface UploadStore {
  start(repo: string): Promise<UploadSession>;
  get(id: string): Promise<UploadSession | null>;
  /** Appends a chunk that must start at `offset` (the current size), else UploadRangeError. Returns the new size. Chunks are handed over as to `put`. */
  append(id: string, offset: number, body: ReadableStream<Uint8Array> | Uint8Array): Promise<number>;
  /** Verifies the whole upload against `digest`, moves it into the blob store, ends the session. */
  finish(id: string, digest: Digest): Promise<void>;
  cancel(id: string): Promise<void>;
  list(): AsyncIterable<UploadSession>;
}

/** A chunk that does not start where the upload ends (distribution-spec: 416). */
export class UploadRangeError extends Error {
  constructor(readonly size: number) {
    super(`chunk does not start at the upload's current size ${size}`);
    this.name = "UploadRangeError";
  }
}
