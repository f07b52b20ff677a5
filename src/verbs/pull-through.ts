/**
 * A pull-through cache (distribution's `proxy` mode, a Docker Hub mirror): a store that answers
 * from its own content and fetches what it lacks from an upstream registry, keeping it. Manifests
 * by digest and blobs are immutable, so once cached they are served without asking upstream; a tag
 * is looked up upstream on every request (HEAD, then GET only when its digest is new) and falls
 * back to the cached tag when upstream cannot be reached, or has not answered within
 * `checkTimeoutMs` (the look-up goes on and updates the tag when it ends; requests for one tag share
 * it); referrers are listed as upstream has them (its API or its fallback tag), the cache's own only
 * when upstream is away or slow. A blob's first request gets its bytes as they arrive while the
 * store keeps them (the last chunk only once the copy matched its digest: a client never gets a
 * whole wrong blob); requests for one blob, from any repository, share one download.
 */
import { type Digest, isDigest, parseDigest } from "../core/digest.ts";
import { AuthError, NotFoundError, StevedoreError, UpstreamError } from "../core/errors.ts";
import { isValidTag } from "../core/reference.ts";
import { getBlob, headBlob } from "../registry/blobs.ts";
import { RegistryClient, type RegistryOptions } from "../registry/client.ts";
import { RegistryError } from "../registry/errors.ts";
import { listTags } from "../registry/listing.ts";
import { listReferrers } from "../registry/referrers.ts";
import { getManifest, headManifest } from "../registry/manifests.ts";
import type { Store, StoredManifest } from "../store/types.ts";
import { lastChunkAfter, teeInStep } from "../stream/tee.ts";

/** Runs an upstream exchange; what fails is an UpstreamError naming the upstream (not found stays NotFoundError). */
async function upstreamCall<T>(registry: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof UpstreamError) throw err;
    throw new UpstreamError(`upstream ${registry}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export interface Upstream {
  /** The upstream registry's host (`registry-1.docker.io`, `registry.example.com:5000`). */
  readonly registry: string;
  readonly options?: RegistryOptions;
  /** How long a request for what the cache holds (a tag, its referrers, a tag list) waits for upstream before the cache answers; default 5 s. */
  readonly checkTimeoutMs?: number;
}

export const defaultCheckTimeoutMs = 5000;

/**
 * `check`'s result, or `fallback()`'s once `ms` have passed (at once when none are left): an
 * upstream that accepts and never answers delays a pull of what the cache holds by that much, not
 * for ever.
 */
async function withinDeadline<T>(check: Promise<T>, ms: number, fallback: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = Symbol("late");
  const deadline = new Promise<typeof late>((resolve) => {
    timer = setTimeout(() => resolve(late), Math.max(0, ms));
  });
  try {
    const first = await Promise.race([check, deadline]);
    return first === late ? await fallback() : first;
  } finally {
    clearTimeout(timer);
  }
}

/** An upstream exchange that requests for one thing share, and when it began. */
interface SharedCall<T> {
  readonly call: Promise<T>;
  readonly startedAt: number;
}

/**
 * Calls in flight by key (one kind of result per key): requests for one thing share one upstream
 * exchange. One running for longer than `staleMs` (an upstream that hung, and came back) is left
 * to end alone and a new one begins, so the next requests hear upstream as it is now.
 */
function sharedCalls(staleMs: number): <T>(key: string, start: () => Promise<T>) => SharedCall<T> {
  const inFlight = new Map<string, SharedCall<unknown>>();
  return <T>(key: string, start: () => Promise<T>) => {
    const found = inFlight.get(key) as SharedCall<T> | undefined;
    if (found && performance.now() - found.startedAt <= staleMs) return found;
    const fresh: SharedCall<T> = {
      call: start().finally(() => {
        if (inFlight.get(key) === fresh) inFlight.delete(key);
      }),
      startedAt: performance.now(),
    };
    inFlight.set(key, fresh);
    return fresh;
  };
}

/** A request for a blob the cache is fetching that takes no bytes for this long is dropped from the download (its answer is cut), which goes on for the store and for everyone waiting on it. */
const readerPatienceMs = 10_000;

/** Upstream clients kept (each holds its repository's tokens); the least recently used goes first. */
const maxClients = 256;

export function pullThrough(local: Store, upstream: Upstream): Store {
  const clients = new Map<string, RegistryClient>();
  // a client waits for the cache: few, short retries, then the cached copy or an error
  // aborted by settle(): look-ups that outlived their deadline must not keep a stopping server up
  const stopping = new AbortController();
  const signal = upstream.options?.signal ? AbortSignal.any([stopping.signal, upstream.options.signal]) : stopping.signal;
  const options: RegistryOptions = { retry: { attempts: 2, baseMs: 100, maxMs: 500 }, ...upstream.options, signal };
  const checkTimeoutMs = upstream.checkTimeoutMs ?? defaultCheckTimeoutMs;
  const shared = sharedCalls(3 * checkTimeoutMs);
  /**
   * Upstream's answer, else (upstream away, or slower than checkTimeoutMs since the shared exchange
   * began: a request joining a late one gets the cache's at once) the cache's own.
   */
  const upstreamOrCached = async <T>(key: string, ask: () => Promise<T>, cached: () => Promise<T>): Promise<T> => {
    try {
      const { call, startedAt } = shared(key, ask);
      return await withinDeadline(call, checkTimeoutMs - (performance.now() - startedAt), cached);
    } catch (err) {
      if (isUnreachable(err)) return cached();
      throw err;
    }
  };
  const client = (repo: string) => {
    const found = clients.get(repo) ?? new RegistryClient(upstream.registry, repo, options);
    clients.delete(repo);
    clients.set(repo, found); // most recent last
    if (clients.size > maxClients) clients.delete(clients.keys().next().value!);
    return found;
  };
  /** Blob downloads in flight, by digest: requests for one blob, from any repository, share one. */
  const downloads = new Map<Digest, Promise<void>>();

  /** Fetches a manifest into the cache, under `tag` when one is given; null when upstream has none. */
  const fetchManifest = async (repo: string, reference: string, tag?: string): Promise<StoredManifest | null> => {
    try {
      const raw = await upstreamCall(upstream.registry, () => getManifest(client(repo), reference));
      await local.repos.putManifest(repo, raw, tag);
      return local.repos.getManifest(repo, raw.digest);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  };

  /**
   * Starts downloading a blob into the cache, shared by every request for it while it runs; with
   * `give`, the bytes go to it too as they arrive, in step with the store's write (a slow reader
   * paces the download, memory stays flat; one that takes nothing for readerPatienceMs is dropped).
   */
  const startDownload = (repo: string, digest: Digest, size: number, give?: (body: ReadableStream<Uint8Array>) => void): Promise<void> => {
    const desc = { mediaType: "application/octet-stream", digest, size };
    const download: Promise<void> = upstreamCall(upstream.registry, async () => {
      let body = await getBlob(client(repo), desc);
      if (give) {
        const [toStore, toReader] = teeInStep(body, readerPatienceMs);
        give(toReader);
        body = toStore;
      }
      await local.blobs.put(digest, body, size);
    }).finally(() => {
      if (downloads.get(digest) === download) downloads.delete(digest);
    });
    downloads.set(digest, download);
    return download;
  };

  /** Downloads a blob into the cache (once, whoever asks) and links it into `repo`; false when upstream has no such blob there. */
  const fetchBlob = async (repo: string, digest: Digest, options: { size?: number; ownDownload?: boolean } = {}): Promise<boolean> => {
    // asked upstream even when the bytes are here (another repository's): this repository must have them there
    const size = options.size ?? (await upstreamBlobSize(repo, digest));
    if (size === null) return false;
    if ((await local.blobs.stat(digest)) === null) {
      const joined = options.ownDownload ? undefined : downloads.get(digest);
      try {
        await (joined ?? startDownload(repo, digest, size));
      } catch (err) {
        // another repository's download was refused (its access, its copy): this one tries with its own;
        // any other failure (upstream down, a cut) is every waiter's, not a reason for one download each
        const refused = err instanceof NotFoundError || (err instanceof UpstreamError && err.cause instanceof AuthError);
        if (joined && refused) return fetchBlob(repo, digest, { size, ownDownload: true });
        if (err instanceof NotFoundError) return false; // listed by HEAD, gone by GET
        throw err;
      }
    }
    await local.repos.linkBlob(repo, digest);
    return true;
  };

  /**
   * A blob the cache has yet to fetch, for a GET of all of it: its bytes as they arrive from
   * upstream while the cache keeps them, the last chunk only once the copy checked against its
   * digest and was linked. null: upstream has no such blob there; undefined: the store has it now.
   */
  const streamMissingBlob = async (repo: string, digest: Digest): Promise<{ size: number; body: ReadableStream<Uint8Array> } | null | undefined> => {
    if (await local.repos.hasBlobLink(repo, digest)) return undefined;
    const size = await upstreamBlobSize(repo, digest);
    if (size === null) return null;
    // here already (another repository's) or on its way: served from the store once linked
    if ((await local.blobs.stat(digest)) !== null || downloads.has(digest)) return (await fetchBlob(repo, digest, { size })) ? undefined : null;
    const given = Promise.withResolvers<ReadableStream<Uint8Array>>();
    const keptAndLinked = startDownload(repo, digest, size, given.resolve).then(() => local.repos.linkBlob(repo, digest));
    keptAndLinked.catch(given.reject); // before the bytes began: this request's error; after: the stream's
    try {
      return { size, body: lastChunkAfter(await given.promise, keptAndLinked) };
    } catch (err) {
      if (err instanceof NotFoundError) return null; // listed by HEAD, gone by GET
      throw err;
    }
  };

  const upstreamBlobSize = (repo: string, digest: Digest): Promise<number | null> =>
    upstreamCall(upstream.registry, async () => {
      const size = await headBlob(client(repo), digest);
      if (size === undefined) throw new StevedoreError(`${repo}: blob ${digest} has no length`);
      return size;
    });

  /** The tag as upstream has it now: HEAD, then the manifest only when its digest is new here. */
  const refreshTag = async (repo: string, tag: string): Promise<StoredManifest | null> => {
    const cached = await local.repos.getManifest(repo, tag);
    const current = await upstreamCall(upstream.registry, () => headManifest(client(repo), tag));
    // no answer to HEAD (or one without Docker-Content-Digest): a GET says which
    if (!current) {
      const fetched = await fetchManifest(repo, tag, tag);
      // gone upstream: gone here too, or it would come back whenever upstream is away
      if (!fetched && cached) await local.repos.deleteTag(repo, tag);
      return fetched;
    }
    if (cached?.digest === current.digest) return cached;
    const known = await local.repos.getManifest(repo, current.digest);
    if (!known) return fetchManifest(repo, tag, tag);
    await local.repos.putManifest(repo, known, tag);
    return known;
  };

  return {
    ...local,
    async settle() {
      stopping.abort(new UpstreamError(`upstream ${upstream.registry}: the cache stopped`));
      await local.settle?.();
    },
    repos: {
      ...local.repos,
      async getManifest(repo, reference) {
        if (isDigest(reference)) return (await local.repos.getManifest(repo, reference)) ?? fetchManifest(repo, reference);
        if (!isValidTag(reference)) return null;
        const cached = await local.repos.getManifest(repo, reference);
        const key = `tag ${repo}:${reference}`;
        const refresh = () => refreshTag(repo, reference);
        // a tag the cache holds: upstream's, or (away, rate-limiting, slow) the cached one
        return cached ? upstreamOrCached(key, refresh, async () => cached) : shared(key, refresh).call;
      },
      async hasBlobLink(repo, digest) {
        return (await local.repos.hasBlobLink(repo, digest)) || fetchBlob(repo, parseDigest(digest));
      },
      streamMissingBlob: (repo, digest) => streamMissingBlob(repo, parseDigest(digest)),
      // a HEAD: what is here, else what upstream says, without fetching the bytes
      async blobSize(repo, digest) {
        if (await local.repos.hasBlobLink(repo, digest)) return local.blobs.stat(digest);
        return upstreamBlobSize(repo, parseDigest(digest));
      },
      // upstream knows every signature and SBOM, the cache only those pulled through it
      referrers(repo, subject) {
        return upstreamOrCached(
          `referrers ${repo}@${subject}`,
          () => upstreamCall(upstream.registry, () => listReferrers(client(repo), subject)),
          () => local.repos.referrers(repo, subject),
        );
      },
      async listTags(repo) {
        try {
          return await upstreamOrCached(
            `tags ${repo}`,
            async () => (await upstreamCall(upstream.registry, () => Array.fromAsync(listTags(client(repo))))).sort(),
            () => local.repos.listTags(repo),
          );
        } catch (err) {
          if (err instanceof NotFoundError) return [];
          throw err;
        }
      },
    },
  };
}

/**
 * A connection that failed, an upstream 5xx or 429 (a rate limit), or upstream refusing the
 * cache's credentials (rotated, expired): serve what the cache has, as distribution's proxy does;
 * what it has was fetched while they worked.
 */
function isUnreachable(err: unknown): boolean {
  const cause = err instanceof UpstreamError ? err.cause : err;
  return cause instanceof AuthError || (cause instanceof RegistryError && (cause.status === 0 || cause.status === 429 || cause.status >= 500));
}
