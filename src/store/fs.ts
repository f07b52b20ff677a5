/**
 * The filesystem Store behind `serve --root`. Layout under the root:
 *
 *   blobs/<alg>/<hex>                                   every blob and manifest, once for all repositories
 *   repositories/<repo>/_manifests/<alg>-<hex>.json      a manifest link: {"mediaType", "subject"?}
 *   repositories/<repo>/_tags/<tag>                      the digest the tag points at (replaced by rename)
 *   repositories/<repo>/_blobs/<alg>-<hex>               a blob link (empty)
 *   uploads/<id>/data, uploads/<id>/info.json            upload sessions: they survive a restart
 *
 * Repository path components cannot start with "_" (distribution-spec grammar), so the metadata
 * directories never collide with a nested repository. Every file is written under a temporary
 * name and renamed; blobs are verified before their rename. The filesystem is the truth across
 * restarts; tags, links, blob sizes and recent manifests are cached in memory so reads answer
 * without touching the disk.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, DigestHasher, digestAlgorithm, digestHex, isDigest, parseDigest } from "../core/digest.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { type RawManifest, referrerDescriptor } from "../core/manifest.ts";
import { pipeToHandle, readFileStream, writeFileAtomic } from "../stream/file.ts";
import { storedManifest } from "./manifest-record.ts";
import { type ByteRange, type Store, type StoredManifest, type UploadSession, UploadRangeError } from "./types.ts";

interface ManifestLink {
  readonly mediaType: string;
  readonly subject?: Digest;
}

interface RepoState {
  readonly tags: Map<string, Digest>;
  readonly manifests: Map<Digest, ManifestLink>;
  readonly blobs: Set<Digest>;
}

const linkName = (d: Digest) => `${digestAlgorithm(d)}-${digestHex(d)}`;
const fromLinkName = (name: string): Digest | undefined => {
  const text = name.replace(/\.json$/, "").replace("-", ":");
  return isDigest(text) ? parseDigest(text) : undefined;
};
const uploadId = /^[0-9a-f]{32}$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
/** Manifest bytes kept in memory, at most this many in total. */
const manifestCacheBytes = 64 << 20;

function safeRepo(repo: string): string {
  if (repo.split("/").some((part) => part === "" || part === "." || part === ".." || part.startsWith("_"))) {
    throw new IntegrityError(`invalid repository name "${repo}"`);
  }
  return repo;
}

export async function fsStore(root: string, options: { fsync?: boolean } = {}): Promise<Store> {
  const fsync = options.fsync ?? true;
  await mkdir(join(root, "blobs"), { recursive: true });
  await mkdir(join(root, "repositories"), { recursive: true });
  await mkdir(join(root, "uploads"), { recursive: true });

  const blobPath = (d: Digest) => join(root, "blobs", digestAlgorithm(d), digestHex(d));
  const repoDir = (repo: string) => join(root, "repositories", safeRepo(repo));
  const sizes = new Map<Digest, number>();
  const states = new Map<string, Promise<RepoState>>();
  const manifestBytes = new Map<Digest, Uint8Array>();
  let cachedBytes = 0;
  let repoNames: Promise<Set<string>> | undefined;
  /** sha256 of each upload so far, fed as chunks arrive: finishing needs no second read of the data. */
  const uploadHashers = new Map<string, { hasher: DigestHasher; size: number }>();

  async function statBlob(d: Digest): Promise<number | null> {
    const known = sizes.get(d);
    if (known !== undefined) return known;
    try {
      const size = (await stat(blobPath(d))).size;
      sizes.set(d, size);
      return size;
    } catch {
      return null;
    }
  }

  async function listDir(path: string): Promise<string[]> {
    return readdir(path).catch(() => [] as string[]);
  }

  async function loadRepo(repo: string): Promise<RepoState> {
    const dir = repoDir(repo);
    const state: RepoState = { tags: new Map(), manifests: new Map(), blobs: new Set() };
    for (const name of await listDir(join(dir, "_manifests"))) {
      const digest = fromLinkName(name);
      if (!digest || !name.endsWith(".json")) continue;
      state.manifests.set(digest, JSON.parse(await readFile(join(dir, "_manifests", name), "utf8")) as ManifestLink);
    }
    for (const tag of await listDir(join(dir, "_tags"))) {
      if (!tagPattern.test(tag)) continue;
      const text = (await readFile(join(dir, "_tags", tag), "utf8")).trim();
      if (isDigest(text)) state.tags.set(tag, parseDigest(text));
    }
    for (const name of await listDir(join(dir, "_blobs"))) {
      const digest = fromLinkName(name);
      if (digest) state.blobs.add(digest);
    }
    return state;
  }

  function repoState(repo: string): Promise<RepoState> {
    let state = states.get(repo);
    if (!state) {
      state = loadRepo(repo);
      states.set(repo, state);
    }
    return state;
  }

  async function walkRepos(dir: string, prefix: string, found: Set<string>): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      if (entry.name.startsWith("_")) {
        if (prefix) found.add(prefix);
        continue;
      }
      await walkRepos(join(dir, entry.name), prefix ? `${prefix}/${entry.name}` : entry.name, found);
    }
  }

  function allRepos(): Promise<Set<string>> {
    repoNames ??= (async () => {
      const found = new Set<string>();
      await walkRepos(join(root, "repositories"), "", found);
      return found;
    })();
    return repoNames;
  }

  function rememberManifest(d: Digest, bytes: Uint8Array): void {
    if (manifestBytes.has(d) || bytes.byteLength > manifestCacheBytes / 4) return;
    manifestBytes.set(d, bytes);
    cachedBytes += bytes.byteLength;
    for (const [old, b] of manifestBytes) {
      if (cachedBytes <= manifestCacheBytes) break;
      manifestBytes.delete(old);
      cachedBytes -= b.byteLength;
    }
  }

  async function readManifestBytes(d: Digest): Promise<Uint8Array | null> {
    const cached = manifestBytes.get(d);
    if (cached) return cached;
    try {
      const bytes = new Uint8Array(await readFile(blobPath(d)));
      rememberManifest(d, bytes);
      return bytes;
    } catch {
      return null;
    }
  }

  async function putBlob(digest: Digest, body: ReadableStream<Uint8Array> | Uint8Array, size?: number): Promise<void> {
    await writeFileAtomic(blobPath(digest), body, { verify: { desc: { digest, size }, where: "storing it" }, fsync });
    sizes.delete(digest);
  }

  async function markRepo(repo: string): Promise<void> {
    (await allRepos()).add(repo);
  }

  const uploadDir = (id: string) => {
    if (!uploadId.test(id)) throw new NotFoundError(`upload ${id}: unknown`);
    return join(root, "uploads", id);
  };

  async function uploadSession(id: string): Promise<UploadSession | null> {
    try {
      const dir = uploadDir(id);
      const info = JSON.parse(await readFile(join(dir, "info.json"), "utf8")) as { repo: string; startedAt: number };
      return { id, repo: info.repo, startedAt: info.startedAt, size: (await stat(join(dir, "data"))).size };
    } catch {
      return null;
    }
  }

  return {
    blobs: {
      stat: statBlob,
      async get(d, range?: ByteRange) {
        if ((await statBlob(d)) === null) return null;
        return readFileStream(blobPath(d), range);
      },
      filePath: (d) => (sizes.has(d) ? blobPath(d) : existsSync(blobPath(d)) ? blobPath(d) : undefined),
      put: putBlob,
      async delete(d) {
        await rm(blobPath(d), { force: true });
        sizes.delete(d);
        if (manifestBytes.has(d)) {
          cachedBytes -= manifestBytes.get(d)!.byteLength;
          manifestBytes.delete(d);
        }
      },
      async *list() {
        for (const algorithm of await listDir(join(root, "blobs"))) {
          for (const hex of await listDir(join(root, "blobs", algorithm))) {
            const text = `${algorithm}:${hex}`;
            if (isDigest(text)) yield parseDigest(text);
          }
        }
      },
    },
    repos: {
      async getManifest(repo, reference): Promise<StoredManifest | null> {
        const state = await repoState(repo);
        const digest = isDigest(reference) ? parseDigest(reference) : state.tags.get(reference);
        const link = digest && state.manifests.get(digest);
        if (!digest || !link) return null;
        const bytes = await readManifestBytes(digest);
        return bytes ? { bytes, digest, mediaType: link.mediaType, ...(link.subject ? { subject: link.subject } : {}) } : null;
      },
      async putManifest(repo, m: RawManifest, tag?: string) {
        if (tag !== undefined && !tagPattern.test(tag)) throw new IntegrityError(`invalid tag "${tag}"`);
        const state = await repoState(repo);
        const record = storedManifest(m);
        const link: ManifestLink = { mediaType: record.mediaType, ...(record.subject ? { subject: record.subject } : {}) };
        await putBlob(m.digest, m.bytes, m.bytes.byteLength);
        rememberManifest(m.digest, m.bytes);
        const dir = repoDir(repo);
        await writeFileAtomic(join(dir, "_manifests", `${linkName(m.digest)}.json`), new TextEncoder().encode(JSON.stringify(link)), { fsync });
        state.manifests.set(m.digest, link);
        if (record.subject) {
          const entry = referrerDescriptor(m);
          await writeFileAtomic(join(dir, "_referrers", linkName(record.subject), `${linkName(m.digest)}.json`), new TextEncoder().encode(JSON.stringify(entry)), { fsync });
        }
        if (tag !== undefined) {
          // the tag last, by rename: a reader sees the old image or the new one, never a missing manifest
          await writeFileAtomic(join(dir, "_tags", tag), new TextEncoder().encode(m.digest), { fsync });
          state.tags.set(tag, m.digest);
        }
        await markRepo(repo);
      },
      async deleteManifest(repo, digest) {
        const state = await repoState(repo);
        const link = state.manifests.get(digest);
        if (!link) return false;
        const dir = repoDir(repo);
        for (const [tag, d] of state.tags) {
          if (d !== digest) continue;
          await rm(join(dir, "_tags", tag), { force: true });
          state.tags.delete(tag);
        }
        if (link.subject) await rm(join(dir, "_referrers", linkName(link.subject), `${linkName(digest)}.json`), { force: true });
        await rm(join(dir, "_manifests", `${linkName(digest)}.json`), { force: true });
        state.manifests.delete(digest);
        return true;
      },
      async deleteTag(repo, tag) {
        const state = await repoState(repo);
        if (!tagPattern.test(tag) || !state.tags.has(tag)) return false;
        await rm(join(repoDir(repo), "_tags", tag), { force: true });
        state.tags.delete(tag);
        return true;
      },
      async listTags(repo) {
        return [...(await repoState(repo)).tags.keys()].sort();
      },
      async listRepos() {
        return [...(await allRepos())].sort();
      },
      async referrers(repo, subject): Promise<Descriptor[]> {
        const dir = join(repoDir(repo), "_referrers", linkName(subject));
        const found: Descriptor[] = [];
        for (const name of (await listDir(dir)).sort()) {
          if (name.endsWith(".json")) found.push(JSON.parse(await readFile(join(dir, name), "utf8")) as Descriptor);
        }
        return found;
      },
      async linkBlob(repo, digest) {
        const state = await repoState(repo);
        if (state.blobs.has(digest)) return;
        await writeFileAtomic(join(repoDir(repo), "_blobs", linkName(digest)), new Uint8Array(0), { fsync });
        state.blobs.add(digest);
        await markRepo(repo);
      },
      async hasBlobLink(repo, digest) {
        return (await repoState(repo)).blobs.has(digest);
      },
      async unlinkBlob(repo, digest) {
        const state = await repoState(repo);
        if (!state.blobs.delete(digest)) return false;
        await rm(join(repoDir(repo), "_blobs", linkName(digest)), { force: true });
        return true;
      },
      async manifestLinks(repo) {
        return [...(await repoState(repo)).manifests.keys()];
      },
    },
    uploads: {
      async start(repo) {
        const id = crypto.randomUUID().replace(/-/g, "");
        const dir = uploadDir(id);
        await mkdir(dir, { recursive: true });
        const info = { repo: safeRepo(repo), startedAt: Date.now() };
        await writeFileAtomic(join(dir, "info.json"), new TextEncoder().encode(JSON.stringify(info)), { fsync });
        await (await open(join(dir, "data"), "w")).close();
        return { id, size: 0, ...info };
      },
      get: uploadSession,
      async append(id, offset, body) {
        const session = await uploadSession(id);
        if (!session) throw new NotFoundError(`upload ${id}: unknown`);
        if (offset !== session.size) throw new UploadRangeError(session.size);
        const running = offset === 0 ? { hasher: new DigestHasher(), size: 0 } : uploadHashers.get(id);
        const hashing = running && running.size === offset ? running : undefined;
        uploadHashers.delete(id);
        const handle = await open(join(uploadDir(id), "data"), "r+");
        try {
          const feed = (chunk: Uint8Array) => hashing?.hasher.update(chunk);
          let written: number;
          if (body instanceof Uint8Array) {
            feed(body);
            written = (await handle.write(body, 0, body.byteLength, offset)).bytesWritten;
          } else written = await pipeToHandle(handle, body, offset, feed);
          if (fsync) await handle.sync();
          if (hashing) uploadHashers.set(id, { hasher: hashing.hasher, size: offset + written });
          return offset + written;
        } finally {
          await handle.close();
        }
      },
      async finish(id, digest) {
        const dir = uploadDir(id);
        const size = (await stat(join(dir, "data"))).size;
        const running = uploadHashers.get(id);
        uploadHashers.delete(id);
        let actual: Digest;
        if (running && running.size === size && digestAlgorithm(digest) === "sha256") actual = running.hasher.digest();
        else {
          // after a restart (or for sha512) the running hash is gone: read the data once more
          const hasher = new DigestHasher(digestAlgorithm(digest));
          for await (const chunk of readFileStream(join(dir, "data"))) hasher.update(chunk);
          actual = hasher.digest();
        }
        if (actual !== digest) throw new IntegrityError(`upload ${id}: digest mismatch (got ${actual}, expected ${digest})`);
        await mkdir(join(root, "blobs", digestAlgorithm(digest)), { recursive: true });
        // same filesystem: the verified data becomes the blob by rename, never copied
        await rename(join(dir, "data"), blobPath(digest));
        sizes.delete(digest);
        await rm(dir, { recursive: true, force: true });
      },
      async cancel(id) {
        uploadHashers.delete(id);
        await rm(uploadDir(id), { recursive: true, force: true });
      },
      async *list() {
        for (const id of await listDir(join(root, "uploads"))) {
          const session = uploadId.test(id) ? await uploadSession(id) : null;
          if (session) yield session;
        }
      },
    },
  };
}
