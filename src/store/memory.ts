import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, DigestHasher, digestAlgorithm } from "../core/digest.ts";
import { NotFoundError } from "../core/errors.ts";
import { type RawManifest, referrerDescriptor } from "../core/manifest.ts";
import { BlobVerifier, verifyOnly } from "../stream/verify.ts";
import { storedManifest } from "./manifest-record.ts";
import { checkUploadDigest } from "./upload-digest.ts";
import { checkRepoName, checkTag, isUploadId, newUploadId } from "./names.ts";
import { type ByteRange, type Store, type StoredManifest, type UploadSession, UploadRangeError } from "./types.ts";

interface MemoryRepo {
  readonly manifests: Map<Digest, StoredManifest>;
  readonly tags: Map<string, Digest>;
  readonly blobs: Set<Digest>;
}

/**
 * A blob as the chunks it arrived in, never joined: joining copied every byte again into memory
 * the process had not touched yet, which on a VM costs the kernel more than the copy (a 1 GiB push
 * took 5.5–8 s, 4.5–6.8 s of it the server's system time; kept as chunks, ~2 s).
 */
interface MemoryBlob {
  readonly chunks: readonly Uint8Array[];
  readonly size: number;
}

interface MemoryUpload {
  session: UploadSession;
  readonly chunks: Uint8Array[];
  /** The hash of the chunks so far, fed as they land; gone once a finish used it (a retry hashes the chunks again). */
  hasher?: DigestHasher;
}

/** Reads a body whole, each chunk seen by `onChunk` first (to verify it as it arrives); a caller's array is copied (it may reuse it). */
async function collect(body: ReadableStream<Uint8Array> | Uint8Array, onChunk: (c: Uint8Array) => void): Promise<Uint8Array[]> {
  if (body instanceof Uint8Array) {
    onChunk(body);
    return [body.slice()];
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) {
    onChunk(chunk);
    chunks.push(chunk);
  }
  return chunks;
}

const sizeOf = (chunks: readonly Uint8Array[]) => chunks.reduce((total, c) => total + c.byteLength, 0);

/** Bytes [start, end) of a chunked blob as a stream of views (nothing copied). */
function streamRange(blob: MemoryBlob, { start, end }: ByteRange): ReadableStream<Uint8Array> {
  const views: Uint8Array[] = [];
  let at = 0;
  for (const chunk of blob.chunks) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + chunk.byteLength);
    if (from < to) views.push(chunk.subarray(from - at, to - at));
    at += chunk.byteLength;
  }
  let next = 0;
  return new ReadableStream({
    pull: (controller) => {
      if (next < views.length) controller.enqueue(views[next++]!);
      else controller.close();
    },
  });
}

/** A Store in maps: for tests, `serve` without `--root`, and embedding. Nothing survives the process. */
export function memoryStore(): Store {
  const blobs = new Map<Digest, MemoryBlob>();
  const repos = new Map<string, MemoryRepo>();
  const uploads = new Map<string, MemoryUpload>();

  const repoForWrite = (name: string): MemoryRepo => {
    checkRepoName(name);
    let r = repos.get(name);
    if (!r) {
      r = { manifests: new Map(), tags: new Map(), blobs: new Set() };
      repos.set(name, r);
    }
    return r;
  };
  // bytes already held stay as they are: the new copy was only read to check it
  const keep = (digest: Digest, chunks: readonly Uint8Array[]) => {
    if (!blobs.has(digest)) blobs.set(digest, { chunks, size: sizeOf(chunks) });
  };
  const putBlob = async (digest: Digest, body: ReadableStream<Uint8Array> | Uint8Array, size?: number) => {
    if (blobs.has(digest)) return verifyOnly(body, { digest, size }, "storing it in memory");
    const verifier = new BlobVerifier({ digest, size }, "storing it in memory");
    const chunks = await collect(body, (c) => verifier.update(c));
    verifier.finish();
    keep(digest, chunks);
  };
  const upload = (id: string): MemoryUpload => {
    const found = uploads.get(id);
    if (!found) throw new NotFoundError(`upload ${id}: unknown`);
    return found;
  };

  return {
    blobs: {
      stat: async (d) => blobs.get(d)?.size ?? null,
      get: async (d, range?: ByteRange) => {
        const blob = blobs.get(d);
        return blob ? streamRange(blob, range ?? { start: 0, end: blob.size }) : null;
      },
      put: putBlob,
      delete: async (d) => void blobs.delete(d),
      list: async function* () {
        yield* [...blobs.keys()];
      },
    },
    repos: {
      getManifest: async (name, reference) => {
        const r = repos.get(name);
        const digest = r?.tags.get(reference) ?? (reference as Digest);
        return r?.manifests.get(digest) ?? null;
      },
      putManifest: async (name, m: RawManifest, tag?: string) => {
        if (tag !== undefined) checkTag(tag);
        checkRepoName(name);
        const record = storedManifest(m);
        await putBlob(m.digest, m.bytes, m.bytes.byteLength);
        const r = repoForWrite(name);
        r.manifests.set(m.digest, record);
        if (tag !== undefined) r.tags.set(tag, m.digest);
      },
      deleteManifest: async (name, digest) => {
        const r = repos.get(name);
        if (!r?.manifests.delete(digest)) return false;
        for (const [tag, d] of r.tags) if (d === digest) r.tags.delete(tag);
        return true;
      },
      deleteTag: async (name, tag) => repos.get(name)?.tags.delete(tag) ?? false,
      listTags: async (name) => [...(repos.get(name)?.tags.keys() ?? [])].sort(),
      listRepos: async () => [...repos].filter(([, r]) => r.manifests.size + r.blobs.size > 0).map(([name]) => name).sort(),
      referrers: async (name, subject) => {
        const found: Descriptor[] = [];
        for (const m of repos.get(name)?.manifests.values() ?? []) if (m.subject === subject) found.push(referrerDescriptor(m));
        return found.sort((a, b) => (a.digest < b.digest ? -1 : 1));
      },
      linkBlob: async (name, digest) => void repoForWrite(name).blobs.add(digest),
      hasBlobLink: async (name, digest) => repos.get(name)?.blobs.has(digest) ?? false,
      unlinkBlob: async (name, digest) => repos.get(name)?.blobs.delete(digest) ?? false,
      manifestLinks: async (name) => [...(repos.get(name)?.manifests.keys() ?? [])],
    },
    uploads: {
      start: async (name) => {
        checkRepoName(name);
        const startedAt = Date.now();
        const session = { id: newUploadId(), repo: name, size: 0, startedAt, updatedAt: startedAt };
        uploads.set(session.id, { session, chunks: [], hasher: new DigestHasher() });
        return session;
      },
      get: async (id) => (isUploadId(id) ? (uploads.get(id)?.session ?? null) : null),
      append: async (id, offset, body) => {
        const u = upload(id);
        if (offset !== u.session.size) throw new UploadRangeError(u.session.size);
        const chunks = await collect(body, () => {});
        // again after the read: a concurrent chunk for the same offset may have landed meanwhile
        if (uploads.get(id) !== u) throw new NotFoundError(`upload ${id}: unknown`);
        if (offset !== u.session.size) throw new UploadRangeError(u.session.size);
        for (const chunk of chunks) u.hasher?.update(chunk);
        u.chunks.push(...chunks);
        u.session = { ...u.session, size: u.session.size + sizeOf(chunks), updatedAt: Date.now() };
        return u.session.size;
      },
      finish: async (id, digest) => {
        const u = upload(id);
        const hasher = u.hasher;
        // digest() ends a hasher: a failed finish hashes the chunks again; the session stays as it was
        u.hasher = undefined;
        const rehash = async () => {
          const again = new DigestHasher(digestAlgorithm(digest));
          for (const chunk of u.chunks) again.update(chunk);
          return again.digest();
        };
        await checkUploadDigest(hasher, digest, rehash, `${id} in memory`);
        keep(digest, u.chunks);
        uploads.delete(id);
      },
      cancel: async (id) => void uploads.delete(id),
      list: async function* () {
        yield* [...uploads.values()].map((u) => u.session);
      },
    },
  };
}
