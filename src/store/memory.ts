import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, isDigest } from "../core/digest.ts";
import { IntegrityError } from "../core/errors.ts";
import { type RawManifest, referrerDescriptor } from "../core/manifest.ts";
import { BlobVerifier } from "../stream/verify.ts";
import { storedManifest } from "./manifest-record.ts";
import { type ByteRange, type Store, type StoredManifest, type UploadSession, UploadRangeError } from "./types.ts";

interface MemoryRepo {
  readonly manifests: Map<Digest, StoredManifest>;
  readonly tags: Map<string, Digest>;
  readonly blobs: Set<Digest>;
}

async function collect(body: ReadableStream<Uint8Array> | Uint8Array, onChunk: (c: Uint8Array) => void): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    onChunk(body);
    return body;
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) {
    onChunk(chunk);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A Store in maps: for tests, `serve --memory`, and embedding. */
export function memoryStore(): Store {
  const blobs = new Map<Digest, Uint8Array>();
  const repos = new Map<string, MemoryRepo>();
  const uploads = new Map<string, { session: UploadSession; chunks: Uint8Array[] }>();
  const repo = (name: string): MemoryRepo => {
    let r = repos.get(name);
    if (!r) {
      r = { manifests: new Map(), tags: new Map(), blobs: new Set() };
      repos.set(name, r);
    }
    return r;
  };
  const putBlob = async (digest: Digest, body: ReadableStream<Uint8Array> | Uint8Array, size?: number) => {
    const verifier = new BlobVerifier({ digest, size }, "storing it");
    const bytes = await collect(body, (c) => verifier.update(c));
    verifier.finish();
    blobs.set(digest, bytes);
  };
  return {
    blobs: {
      stat: async (d) => blobs.get(d)?.byteLength ?? null,
      get: async (d, range?: ByteRange) => {
        const bytes = blobs.get(d);
        return bytes ? new Blob([range ? bytes.subarray(range.start, range.end) : bytes]).stream() : null;
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
        const digest = isDigest(reference) ? (reference as Digest) : r?.tags.get(reference);
        return (digest && r?.manifests.get(digest)) || null;
      },
      putManifest: async (name, m: RawManifest, tag?: string) => {
        blobs.set(m.digest, m.bytes);
        const r = repo(name);
        r.manifests.set(m.digest, storedManifest(m));
        if (tag) r.tags.set(tag, m.digest);
      },
      deleteManifest: async (name, digest) => {
        const r = repos.get(name);
        if (!r?.manifests.delete(digest)) return false;
        for (const [tag, d] of r.tags) if (d === digest) r.tags.delete(tag);
        return true;
      },
      deleteTag: async (name, tag) => repos.get(name)?.tags.delete(tag) ?? false,
      listTags: async (name) => [...(repos.get(name)?.tags.keys() ?? [])].sort(),
      listRepos: async () => [...repos.keys()].filter((n) => repos.get(n)!.manifests.size + repos.get(n)!.blobs.size > 0).sort(),
      referrers: async (name, subject) => {
        const found: Descriptor[] = [];
        for (const m of repos.get(name)?.manifests.values() ?? []) if (m.subject === subject) found.push(referrerDescriptor(m));
        return found;
      },
      linkBlob: async (name, digest) => void repo(name).blobs.add(digest),
      hasBlobLink: async (name, digest) => repos.get(name)?.blobs.has(digest) ?? false,
      unlinkBlob: async (name, digest) => repos.get(name)?.blobs.delete(digest) ?? false,
      manifestLinks: async (name) => [...(repos.get(name)?.manifests.keys() ?? [])],
    },
    uploads: {
      start: async (name) => {
        const session = { id: crypto.randomUUID().replace(/-/g, ""), repo: name, size: 0, startedAt: Date.now() };
        uploads.set(session.id, { session, chunks: [] });
        return session;
      },
      get: async (id) => uploads.get(id)?.session ?? null,
      append: async (id, offset, body) => {
        const upload = uploads.get(id);
        if (!upload) throw new IntegrityError(`upload ${id}: unknown`);
        if (offset !== upload.session.size) throw new UploadRangeError(upload.session.size);
        const bytes = await collect(body, () => {});
        upload.chunks.push(bytes);
        upload.session = { ...upload.session, size: upload.session.size + bytes.byteLength };
        return upload.session.size;
      },
      finish: async (id, digest) => {
        const upload = uploads.get(id);
        if (!upload) throw new IntegrityError(`upload ${id}: unknown`);
        await putBlob(digest, Buffer.concat(upload.chunks));
        uploads.delete(id);
      },
      cancel: async (id) => void uploads.delete(id),
      list: async function* () {
        yield* [...uploads.values()].map((u) => u.session);
      },
    },
  };
}
