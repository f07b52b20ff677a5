/**
 * The filesystem Store behind `serve --root`. Layout under the root:
 *
 *   blobs/<alg>/<hex>                                    every blob and manifest, once for all repositories
 *   repositories/<repo>/_manifests/<alg>-<hex>.json      a manifest link: {"mediaType", "subject"?}
 *   repositories/<repo>/_tags/<tag>                      the digest the tag points at (replaced by rename)
 *   repositories/<repo>/_blobs/<alg>-<hex>               a blob link (empty)
 *   repositories/<repo>/_referrers/<alg>-<subject hex>/<alg>-<hex>.json
 *                                                        a referrer's descriptor (artifactType, annotations)
 *   uploads/<id>/data, uploads/<id>/info.json            upload sessions ({"repo", "startedAt"}): they survive a restart
 *
 * Repository path components cannot start with "_" (distribution-spec grammar), so the metadata
 * directories never collide with a nested repository. Every file is written under a temporary
 * name (`.<name>.tmp-<random>`, which no tag or digest can be) and renamed; blobs are verified before their rename, and an upload's
 * data becomes its blob by rename. The filesystem is the truth across restarts, for one process at
 * a time: tags, links, blob sizes and recent manifests are cached in memory, loaded lazily and kept
 * in step with every write made through this instance, so reads answer without touching the disk.
 */
import { statSync } from "node:fs";
import { type FileHandle, mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, DigestHasher, digestAlgorithm, digestHex, isDigest, isDigestAlgorithm } from "../core/digest.ts";
import { NotFoundError } from "../core/errors.ts";
import { type RawManifest, referrerDescriptor } from "../core/manifest.ts";
import { isValidTag } from "../core/reference.ts";
import { openDirect } from "../stream/direct-io.ts";
import { noteAllocated } from "../stream/gc-pacer.ts";
import { digestFile, pathExists, pipeToHandle, readFileStream, temporaryPath, writeFileAtomic } from "../stream/file.ts";
import { verifyOnly } from "../stream/verify.ts";
import { storedManifest } from "./manifest-record.ts";
import { checkUploadDigest } from "./upload-digest.ts";
import { checkRepoName, checkTag, isUploadId, newUploadId } from "./names.ts";
import { type ByteRange, type Store, type StoredManifest, type UploadSession, UploadRangeError } from "./types.ts";

export interface FsStoreOptions {
  /** fsync every blob, link, tag and upload chunk before it counts (default true): a crash then loses nothing acknowledged. */
  readonly fsync?: boolean;
}

interface ManifestLink {
  readonly mediaType: string;
  readonly subject?: Digest;
}

interface RepoState {
  readonly tags: Map<string, Digest>;
  readonly manifests: Map<Digest, ManifestLink>;
  readonly blobs: Set<Digest>;
  /** Referrers by subject, read on first ask and dropped whenever one of them changes. */
  readonly referrers: Map<Digest, Promise<Descriptor[]>>;
}

interface UploadState {
  readonly repo: string;
  readonly startedAt: number;
  size: number;
  updatedAt: number;
  /** The hash of bytes [0, size), fed as chunks land so finishing needs no second read; gone after a restart or a failed chunk. */
  hasher?: DigestHasher;
}

/** Manifest bytes kept in memory, at most this many in total. */
const manifestCacheBytes = 64 << 20;
/** A temporary upload directory this old belongs to no live `start` (one that crashed). */
const staleTemporaryMs = 3600_000;

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const linkName = (d: Digest) => `${digestAlgorithm(d)}-${digestHex(d)}`;

function fromLinkName(name: string): Digest | undefined {
  const text = name.replace(/\.json$/, "").replace("-", ":");
  return isDigest(text) ? (text as Digest) : undefined;
}

async function listDir(path: string): Promise<string[]> {
  return readdir(path).catch(() => [] as string[]);
}

/** A JSON file, or undefined when it is missing or unreadable (a crash without fsync can leave it empty). */
async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Runs tasks one at a time per key: a repository's metadata, or an upload session, has one writer at a time. */
function keyedQueue(): <T>(key: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const result = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}

/** Manifest bytes by digest; the least recently used go first once the total passes `limit`. */
class ManifestCache {
  private readonly entries = new Map<Digest, Uint8Array>();
  private total = 0;

  constructor(private readonly limit: number) {}

  get(digest: Digest): Uint8Array | undefined {
    const bytes = this.entries.get(digest);
    if (bytes) {
      // re-inserted: a Map iterates in insertion order, so the oldest entry is the least recently used
      this.entries.delete(digest);
      this.entries.set(digest, bytes);
    }
    return bytes;
  }

  set(digest: Digest, bytes: Uint8Array): void {
    this.delete(digest);
    if (bytes.byteLength > this.limit) return;
    this.entries.set(digest, bytes);
    this.total += bytes.byteLength;
    for (const [old, b] of this.entries) {
      if (this.total <= this.limit) break;
      this.entries.delete(old);
      this.total -= b.byteLength;
    }
  }

  delete(digest: Digest): void {
    const bytes = this.entries.get(digest);
    if (!bytes) return;
    this.entries.delete(digest);
    this.total -= bytes.byteLength;
  }
}

/** Checks a body against a blob already stored, writing nothing. */
/** Directories under `dir` that hold metadata (`_…`) are repositories; others may nest them. */
async function findRepos(dir: string, prefix: string, found: Set<string>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    if (entry.name.startsWith("_")) {
      if (prefix) found.add(prefix);
    } else {
      await findRepos(join(dir, entry.name), prefix ? `${prefix}/${entry.name}` : entry.name, found);
    }
  }
}

/**
 * Removes what a crash left in uploads/: a session directory is renamed into place whole, so one
 * missing a file was being finished or cancelled. Temporaries are left alone while young: another
 * process (a `gc` beside `serve`) may be starting a session in one.
 */
async function sweepUploads(dir: string, now: number): Promise<void> {
  for (const name of await listDir(dir)) {
    const path = join(dir, name);
    const broken = isUploadId(name)
      ? !(await pathExists(join(path, "info.json"))) || !(await pathExists(join(path, "data")))
      : now - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) > staleTemporaryMs;
    if (broken) await rm(path, { recursive: true, force: true });
  }
}

export async function fsStore(root: string, options: FsStoreOptions = {}): Promise<Store> {
  const fsync = options.fsync ?? true;
  for (const dir of ["blobs", "repositories", "uploads"]) await mkdir(join(root, dir), { recursive: true });
  await sweepUploads(join(root, "uploads"), Date.now());

  const blobPath = (d: Digest) => join(root, "blobs", digestAlgorithm(d), digestHex(d));
  /** The disk, not the size cache, before a blob is kept: a gc by another process may have removed what the cache remembers. */
  const blobOnDisk = (d: Digest) => pathExists(blobPath(d));
  const repoDir = (repo: string) => join(root, "repositories", repo);
  const uploadDir = (id: string) => join(root, "uploads", id);
  const where = `in ${root}`;
  const sizes = new Map<Digest, number>();
  const manifestBytes = new ManifestCache(manifestCacheBytes);
  const states = new Map<string, Promise<RepoState>>();
  /** Upload copies being removed after their answer went out. */
  const removals = new Set<Promise<void>>();
  const sessions = new Map<string, UploadState>();
  const serially = keyedQueue();
  let repoNames: Promise<Set<string>> | undefined;
  /** For repositories not loaded: whether their link directories held anything when first looked at. */
  const linkedOnDisk = new Map<string, boolean>();

  async function statBlob(d: Digest): Promise<number | null> {
    const known = sizes.get(d);
    if (known !== undefined) return known;
    try {
      const size = (await stat(blobPath(d))).size;
      sizes.set(d, size);
      return size;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async function putBlob(digest: Digest, body: ReadableStream<Uint8Array> | Uint8Array, size?: number): Promise<void> {
    if (await blobOnDisk(digest)) {
      // already here (a shared layer): the bytes must still match, but the file stays as it is
      await verifyOnly(body, { digest, size }, where);
      return;
    }
    // two puts of one blob both write a temporary and rename it: either rename leaves the same bytes
    await writeFileAtomic(blobPath(digest), body, { verify: { desc: { digest, size }, where }, fsync });
    const written = size ?? (body instanceof Uint8Array ? body.byteLength : undefined);
    if (written !== undefined) sizes.set(digest, written);
  }

  async function readManifestBytes(d: Digest): Promise<Uint8Array | null> {
    const cached = manifestBytes.get(d);
    if (cached) return cached;
    try {
      const bytes = new Uint8Array(await readFile(blobPath(d)));
      manifestBytes.set(d, bytes);
      sizes.set(d, bytes.byteLength);
      return bytes;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** Every repository with a directory, found by one walk; then kept by the writes that add one. */
  function knownRepos(): Promise<Set<string>> {
    repoNames ??= (async () => {
      const found = new Set<string>();
      await findRepos(join(root, "repositories"), "", found);
      return found;
    })();
    return repoNames;
  }

  async function loadRepo(repo: string): Promise<RepoState> {
    const dir = repoDir(repo);
    const state: RepoState = { tags: new Map(), manifests: new Map(), blobs: new Set(), referrers: new Map() };
    const manifestNames = (await listDir(join(dir, "_manifests"))).filter((name) => name.endsWith(".json"));
    await Promise.all(
      manifestNames.map(async (name) => {
        const digest = fromLinkName(name);
        const link = digest && (await readJson(join(dir, "_manifests", name)));
        if (!digest || typeof link?.mediaType !== "string") return;
        const subject = typeof link.subject === "string" && isDigest(link.subject) ? (link.subject as Digest) : undefined;
        state.manifests.set(digest, { mediaType: link.mediaType, ...(subject ? { subject } : {}) });
      }),
    );
    // a temporary's name (a leading dot) is no valid tag
    const tagNames = (await listDir(join(dir, "_tags"))).filter((tag) => isValidTag(tag));
    await Promise.all(
      tagNames.map(async (tag) => {
        const target = (await readFile(join(dir, "_tags", tag), "utf8").catch(() => "")).trim() as Digest;
        if (state.manifests.has(target)) state.tags.set(tag, target);
      }),
    );
    for (const name of await listDir(join(dir, "_blobs"))) {
      const digest = fromLinkName(name);
      if (digest) state.blobs.add(digest);
    }
    return state;
  }

  function loadState(repo: string): Promise<RepoState> {
    let state = states.get(repo);
    if (!state) {
      const loading = loadRepo(repo);
      loading.catch(() => {
        if (states.get(repo) === loading) states.delete(repo);
      });
      states.set(repo, loading);
      state = loading;
    }
    return state;
  }

  /** A repository's state, or undefined when it does not exist: an unknown name never touches the disk. */
  async function readState(repo: string): Promise<RepoState | undefined> {
    return (await knownRepos()).has(repo) ? loadState(repo) : undefined;
  }

  /** A repository's state for a write, creating the repository. Call inside `serially(repo, …)`. */
  async function writableState(repo: string): Promise<RepoState> {
    (await knownRepos()).add(repo);
    return loadState(repo);
  }

  /**
   * Whether a repository links anything. One not loaded yet is judged by its link directories
   * alone, once: every write loads the repository first, and from then on its state answers (a
   * catalog over 5000 repositories listed 10000 directories per request before).
   */
  async function hasLinks(repo: string): Promise<boolean> {
    const loaded = states.get(repo);
    if (loaded) {
      const state = await loaded;
      return state.manifests.size + state.blobs.size > 0;
    }
    let linked = linkedOnDisk.get(repo);
    if (linked === undefined) {
      linked = false;
      for (const dir of ["_manifests", "_blobs"]) {
        linked = (await listDir(join(repoDir(repo), dir))).some((name) => fromLinkName(name));
        if (linked) break;
      }
      linkedOnDisk.set(repo, linked);
    }
    return linked;
  }

  async function readReferrers(repo: string, subject: Digest): Promise<Descriptor[]> {
    const dir = join(repoDir(repo), "_referrers", linkName(subject));
    const names = (await listDir(dir)).filter((name) => name.endsWith(".json") && fromLinkName(name)).sort();
    const found = await Promise.all(names.map((name) => readJson(join(dir, name))));
    return found.filter((d) => d !== undefined) as unknown as Descriptor[];
  }

  /** An upload session from memory, else from disk (after a restart). Call inside `serially(id, …)`. */
  async function loadSession(id: string): Promise<UploadState | undefined> {
    if (!isUploadId(id)) return undefined;
    const cached = sessions.get(id);
    if (cached) return cached;
    const info = await readJson(join(uploadDir(id), "info.json"));
    const data = await stat(join(uploadDir(id), "data")).catch(() => undefined);
    if (typeof info?.repo !== "string" || typeof info.startedAt !== "number" || !data) return undefined;
    // after a restart the data file's time says when the last chunk landed
    const session: UploadState = { repo: info.repo, startedAt: info.startedAt, size: data.size, updatedAt: Math.max(info.startedAt, data.mtimeMs) };
    sessions.set(id, session);
    return session;
  }

  async function getSession(id: string): Promise<UploadSession | null> {
    if (!isUploadId(id)) return null;
    // from memory without queueing: a status request must not wait behind a chunk still streaming
    const session = sessions.get(id) ?? (await serially(id, () => loadSession(id)));
    return session ? { id, repo: session.repo, size: session.size, startedAt: session.startedAt, updatedAt: session.updatedAt } : null;
  }

  async function requireSession(id: string): Promise<UploadState> {
    const session = await loadSession(id);
    if (!session) throw new NotFoundError(`upload ${id}: unknown`);
    return session;
  }

  return {
    async settle() {
      await Promise.all(removals);
    },
    blobs: {
      stat: statBlob,
      async get(d, range?: ByteRange) {
        if ((await statBlob(d)) === null) return null;
        return readFileStream(blobPath(d), range);
      },
      // looked at on disk every time (a stat per download): a blob removed behind the server's back
      // (gc --force) is then a 404, not a 200 whose body cannot follow
      filePath(d) {
        const path = blobPath(d);
        try {
          sizes.set(d, statSync(path).size);
          return path;
        } catch {
          sizes.delete(d);
          return undefined;
        }
      },
      put: putBlob,
      async delete(d) {
        await rm(blobPath(d), { force: true });
        sizes.delete(d);
        manifestBytes.delete(d);
      },
      async *list() {
        for (const algorithm of await listDir(join(root, "blobs"))) {
          if (!isDigestAlgorithm(algorithm)) continue;
          for (const hex of await listDir(join(root, "blobs", algorithm))) {
            const text = `${algorithm}:${hex}`;
            if (isDigest(text)) yield text as Digest;
          }
        }
      },
    },
    repos: {
      async getManifest(repo, reference): Promise<StoredManifest | null> {
        const state = await readState(repo);
        // tags cannot hold ":" and digests must, so one lookup of each never confuses them
        const digest = state?.tags.get(reference) ?? (reference as Digest);
        const link = state?.manifests.get(digest);
        if (!link) return null;
        const bytes = await readManifestBytes(digest);
        return bytes && { bytes, digest, mediaType: link.mediaType, ...(link.subject ? { subject: link.subject } : {}) };
      },
      async putManifest(repo, m: RawManifest, tag?: string) {
        checkRepoName(repo);
        if (tag !== undefined) checkTag(tag);
        const record = storedManifest(m);
        const referrer = record.subject && referrerDescriptor(m);
        await putBlob(m.digest, m.bytes, m.bytes.byteLength);
        manifestBytes.set(m.digest, m.bytes);
        await serially(repo, async () => {
          const state = await writableState(repo);
          const dir = repoDir(repo);
          const link: ManifestLink = { mediaType: record.mediaType, ...(record.subject ? { subject: record.subject } : {}) };
          if (state.manifests.get(m.digest)?.mediaType !== link.mediaType) {
            // the referrer entry before the link: a re-push of a linked manifest writes nothing
            if (record.subject && referrer) {
              await writeFileAtomic(join(dir, "_referrers", linkName(record.subject), `${linkName(m.digest)}.json`), encodeJson(referrer), { fsync });
              state.referrers.delete(record.subject);
            }
            await writeFileAtomic(join(dir, "_manifests", `${linkName(m.digest)}.json`), encodeJson(link), { fsync });
            state.manifests.set(m.digest, link);
          }
          if (tag !== undefined && state.tags.get(tag) !== m.digest) {
            // the tag last, by rename: a reader sees the old manifest or the new one, never a missing one
            await writeFileAtomic(join(dir, "_tags", tag), new TextEncoder().encode(m.digest), { fsync });
            state.tags.set(tag, m.digest);
          }
        });
      },
      async deleteManifest(repo, digest) {
        if (!(await readState(repo))?.manifests.has(digest)) return false;
        return serially(repo, async () => {
          const state = await loadState(repo);
          const link = state.manifests.get(digest);
          if (!link) return false;
          const dir = repoDir(repo);
          // tags, then the link, then the referrer entry: a crash never leaves a tag on an unlinked manifest
          for (const [tag, d] of state.tags) {
            if (d !== digest) continue;
            await rm(join(dir, "_tags", tag), { force: true });
            state.tags.delete(tag);
          }
          await rm(join(dir, "_manifests", `${linkName(digest)}.json`), { force: true });
          state.manifests.delete(digest);
          if (link.subject) {
            await rm(join(dir, "_referrers", linkName(link.subject), `${linkName(digest)}.json`), { force: true });
            state.referrers.delete(link.subject);
          }
          return true;
        });
      },
      async deleteTag(repo, tag) {
        if (!isValidTag(tag) || !(await readState(repo))?.tags.has(tag)) return false;
        return serially(repo, async () => {
          const state = await loadState(repo);
          if (!state.tags.has(tag)) return false;
          await rm(join(repoDir(repo), "_tags", tag), { force: true });
          state.tags.delete(tag);
          return true;
        });
      },
      async listTags(repo) {
        return [...((await readState(repo))?.tags.keys() ?? [])].sort();
      },
      async listRepos() {
        const names = [...(await knownRepos())];
        const linked = await Promise.all(names.map(hasLinks));
        return names.filter((_, i) => linked[i]).sort();
      },
      async referrers(repo, subject) {
        const state = await readState(repo);
        if (!state) return [];
        let found = state.referrers.get(subject);
        if (!found) {
          const loading = readReferrers(repo, subject);
          loading.catch(() => {
            if (state.referrers.get(subject) === loading) state.referrers.delete(subject);
          });
          state.referrers.set(subject, loading);
          found = loading;
        }
        // only linked manifests: a crash while deleting one can leave its entry behind
        return (await found).filter((d) => state.manifests.has(d.digest));
      },
      async linkBlob(repo, digest) {
        checkRepoName(repo);
        // every push re-links its shared layers: answered from memory when nothing changes
        if ((await readState(repo))?.blobs.has(digest)) return;
        await serially(repo, async () => {
          const state = await writableState(repo);
          if (state.blobs.has(digest)) return;
          await writeFileAtomic(join(repoDir(repo), "_blobs", linkName(digest)), new Uint8Array(0), { fsync });
          state.blobs.add(digest);
        });
      },
      async hasBlobLink(repo, digest) {
        return (await readState(repo))?.blobs.has(digest) ?? false;
      },
      async unlinkBlob(repo, digest) {
        if (!(await readState(repo))?.blobs.has(digest)) return false;
        return serially(repo, async () => {
          const state = await loadState(repo);
          if (!state.blobs.has(digest)) return false;
          await rm(join(repoDir(repo), "_blobs", linkName(digest)), { force: true });
          state.blobs.delete(digest);
          return true;
        });
      },
      async manifestLinks(repo) {
        return [...((await readState(repo))?.manifests.keys() ?? [])];
      },
    },
    uploads: {
      async start(repo) {
        checkRepoName(repo);
        const id = newUploadId();
        const startedAt = Date.now();
        // built under a temporary name and renamed: a session directory is whole or absent
        const building = temporaryPath(uploadDir(id));
        try {
          await mkdir(building);
          await (await open(join(building, "data"), "wx")).close();
          await writeFileAtomic(join(building, "info.json"), encodeJson({ repo, startedAt }), { fsync });
          await rename(building, uploadDir(id));
        } catch (err) {
          await rm(building, { recursive: true, force: true });
          throw err;
        }
        sessions.set(id, { repo, startedAt, size: 0, updatedAt: startedAt, hasher: new DigestHasher() });
        return { id, repo, size: 0, startedAt, updatedAt: startedAt };
      },
      get: getSession,
      async append(id, offset, body) {
        const known = sessions.get(id);
        // before queueing: a chunk for the wrong offset need not wait for the one streaming now
        if (known && offset !== known.size) throw new UploadRangeError(known.size);
        return serially(id, async () => {
          const session = await requireSession(id);
          if (offset !== session.size) throw new UploadRangeError(session.size);
          const hasher = session.hasher;
          session.hasher = undefined;
          const data = join(uploadDir(id), "data");
          const handle = await open(data, "r+");
          let direct: FileHandle | undefined;
          try {
            let written = 0;
            if (body instanceof Uint8Array) {
              hasher?.update(body);
              while (written < body.byteLength) written += (await handle.write(body, written, body.byteLength - written, offset + written)).bytesWritten;
            } else {
              // durable chunks skip the page cache (stream/direct-io.ts)
              direct = fsync ? await openDirect(data) : undefined;
              written = await pipeToHandle(handle, body, offset, (chunk) => (noteAllocated(chunk.byteLength), hasher?.update(chunk)), direct);
            }
            if (fsync) await handle.sync();
            session.size = offset + written;
            session.updatedAt = Date.now();
            session.hasher = hasher;
            return session.size;
          } catch (err) {
            // a chunk lands whole or not at all: the client resumes from the size it is told
            await handle.truncate(offset).catch(() => {});
            throw err;
          } finally {
            await direct?.close();
            await handle.close();
          }
        });
      },
      async finish(id, digest) {
        await serially(id, async () => {
          const session = await requireSession(id);
          const data = join(uploadDir(id), "data");
          const hasher = session.hasher;
          // digest() ends a hasher: a failed finish reads the data again next time
          session.hasher = undefined;
          await checkUploadDigest(hasher, digest, () => digestFile(data, digestAlgorithm(digest)), `${id} ${where}`);
          sessions.delete(id);
          if (!(await blobOnDisk(digest))) {
            await mkdir(dirname(blobPath(digest)), { recursive: true });
            // same filesystem: the verified data becomes the blob by rename, never copied
            await rename(data, blobPath(digest));
            sizes.set(digest, session.size);
            await rm(uploadDir(id), { recursive: true, force: true });
          } else {
            // another repository pushed these bytes already: renaming over that file would free
            // its blocks first (~40 ms for 256 MiB here) before answering. The session is ended by
            // a rename and its copy removed afterwards (a crash leaves a temporary the next start sweeps).
            const leftover = temporaryPath(uploadDir(id));
            await rename(uploadDir(id), leftover);
            const removal = rm(leftover, { recursive: true, force: true }).catch(() => {});
            removals.add(removal);
            void removal.then(() => removals.delete(removal));
          }
        });
      },
      async cancel(id) {
        if (!isUploadId(id)) return;
        await serially(id, async () => {
          sessions.delete(id);
          await rm(uploadDir(id), { recursive: true, force: true });
        });
      },
      async *list() {
        for (const id of await listDir(join(root, "uploads"))) {
          const session = await getSession(id);
          if (session) yield session;
        }
      },
    },
  };
}
