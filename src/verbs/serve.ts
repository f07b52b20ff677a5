import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../core/errors.ts";
import { type AccessPolicy, type Authorize, htpasswdPolicy, openPolicy } from "../server/access.ts";
import { type AccessLogEntry, createHandler } from "../server/handler.ts";
import { Htpasswd } from "../server/htpasswd.ts";
import { type SentAnswer, listen } from "../server/listen.ts";
import { fsStore } from "../store/fs.ts";
import { memoryStore } from "../store/memory.ts";
import { markServing, servingProcess } from "../store/serving.ts";
import { openForReading, writeFileAtomic } from "../stream/file.ts";
import { raiseRssCeiling } from "../stream/gc-pacer.ts";
import { staleUploads, uploadMaxAgeMs } from "../store/stale-uploads.ts";
import type { Store } from "../store/types.ts";
import { type Upstream, pullThrough } from "./pull-through.ts";

export interface ServeOptions {
  /** `host:port` (default 127.0.0.1:5000; port 0 picks a free one). */
  readonly addr?: string;
  /** Filesystem store root; ignored with `memory`. */
  readonly root?: string;
  readonly memory?: boolean;
  /** fsync each blob before it becomes visible (default true): a crash then never serves half a blob. */
  readonly fsync?: boolean;
  readonly htpasswd?: string;
  readonly anonymousRead?: boolean;
  /** With anonymousRead: the token URL clients are sent to (default <scheme>://<Host>/token), for a server behind a proxy. */
  readonly tokenRealm?: string;
  readonly readOnly?: boolean;
  readonly allowDelete?: boolean;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** A custom policy, in place of the htpasswd one. */
  readonly authorize?: Authorize;
  /** Told what the operator should fix (a proxy that hides the client's Host from the token realm). */
  readonly onWarning?: (message: string) => void;
  /** An access log line per answer, once its body has gone out. */
  readonly onLog?: (entry: ServeLogEntry) => void;
  /** A pull-through cache of this upstream registry: what clients pull is fetched and kept; pushes are refused. */
  readonly proxy?: Upstream;
  /** Upload sessions idle for longer than this are cancelled (default 24 h), looked for this often (default hourly). */
  readonly uploadExpiry?: { readonly maxAgeMs: number; readonly everyMs: number };
  /** At stop, how long requests waiting on a pull-through cache's upstream get before it is given up (default 10 s). */
  readonly upstreamGraceMs?: number;
}

/** The handler's view of an answer (who asked, what failed) joined with the listener's (how much went out, to whom, how long it took). */
export type ServeLogEntry = Omit<SentAnswer, "request" | "failure"> & Pick<AccessLogEntry, "user" | "error">;

/** Joins each handler entry to the listener's account of its answer, for one log line per request. */
function accessLog(onLog: (entry: ServeLogEntry) => void) {
  const asked = new WeakMap<Request, AccessLogEntry>();
  return {
    onAnswer: (entry: AccessLogEntry, request: Request) => void asked.set(request, entry),
    onSent: ({ request, ...sent }: SentAnswer) => {
      const entry = request && asked.get(request);
      const { failure, ...answer } = sent;
      const error = entry?.error ?? failure;
      onLog({ ...answer, ...(entry?.user ? { user: entry.user } : {}), ...(error ? { error } : {}) });
    },
  };
}

export interface RunningServer {
  readonly url: URL;
  readonly root?: string;
  readonly store: Store;
  /** Stops accepting, lets in-flight requests finish. */
  stop(): Promise<void>;
}

/** Resident size above which the server forces a collection (stream/gc-pacer.ts). */
const serverRssCeiling = 256 << 20;

/** Where `serve` keeps images without --root: `$XDG_DATA_HOME/stevedore/registry`. */
export function defaultRoot(): string {
  return join(process.env.XDG_DATA_HOME ?? join(process.env.HOME ?? homedir(), ".local/share"), "stevedore/registry");
}

function parseAddr(addr: string): { hostname: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(addr);
  if (!match || Number(match[2]) > 65535) throw new UsageError(`--addr "${addr}": expected host:port`);
  return { hostname: match[1]!.replace(/^\[|\]$/g, "") || "0.0.0.0", port: Number(match[2]) };
}

/** A certificate or key file's text; a missing one is a NotFoundError that names it. */
async function readPem(path: string): Promise<string> {
  const handle = await openForReading(path);
  try {
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Cancels abandoned upload sessions every `everyMs` while the server runs, as distribution purges
 * them: a client that starts sessions and never finishes them would otherwise fill the disk (or,
 * with --memory, the memory) until the next `gc`. Returns the function that stops it.
 */
function expireUploads(store: Store, expiry: { readonly maxAgeMs: number; readonly everyMs: number }): () => Promise<void> {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= (async () => {
      // a session that cannot be cancelled now (its directory busy) is tried again next round; the others go on
      for (const id of await staleUploads(store, expiry.maxAgeMs).catch(() => [])) await store.uploads.cancel(id).catch(() => {});
    })().finally(() => (running = undefined));
  }, expiry.everyMs);
  timer.unref();
  // stopping waits for a round in flight: nothing is cancelled behind a stopped server
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * The key serve signs tokens with, kept in the root so that tokens outlive a restart (clients
 * hold theirs for minutes); made on first use, readable by its owner only.
 */
async function tokenKeyUnder(root: string): Promise<Uint8Array> {
  const path = join(root, "token.key");
  const kept = await readFile(path).catch(() => undefined);
  if (kept?.byteLength === tokenKeyBytes) return kept;
  const key = randomBytes(tokenKeyBytes);
  await writeFileAtomic(path, key, { mode: 0o600 });
  return key;
}

const tokenKeyBytes = 32;

/** Who may do what: htpasswd users (with tokens for anonymous reads), a custom hook, or everyone. */
async function accessPolicy(options: ServeOptions, scheme: "http" | "https", root: string | undefined): Promise<AccessPolicy> {
  if (!options.htpasswd) return options.authorize ? { ...openPolicy, authorize: options.authorize } : openPolicy;
  return htpasswdPolicy(await Htpasswd.load(options.htpasswd), {
    ...options,
    scheme,
    ...(options.tokenRealm ? { realm: options.tokenRealm } : {}),
    ...(root && options.anonymousRead ? { tokenKey: await tokenKeyUnder(root) } : {}),
  });
}

/** Starts the registry server (server/listen.ts). */
export async function serve(options: ServeOptions = {}): Promise<RunningServer> {
  // without users, "anyone may read" would silently be "anyone may do anything"
  if (options.anonymousRead && !options.htpasswd) throw new UsageError("--anonymous-read needs --htpasswd: without users everyone may push");
  if (options.tokenRealm !== undefined && !options.anonymousRead) throw new UsageError("--token-realm goes with --anonymous-read, which issues tokens");
  if (options.tokenRealm !== undefined && !/^https?:\/\/[^\s"]+$/.test(options.tokenRealm)) throw new UsageError(`--token-realm "${options.tokenRealm}": expected an http(s) URL`);
  const root = options.memory ? undefined : (options.root ?? defaultRoot());
  if (root) {
    // two servers on one root would each answer from caches the other's writes make stale
    const other = await servingProcess(root);
    if (other) throw new UsageError(`${root} is served already (stevedore serve, pid ${other.pid} on ${other.host}): give this one another --root`);
  }
  const own = root ? await fsStore(root, { fsync: options.fsync ?? true }) : memoryStore();
  const store = options.proxy ? pullThrough(own, options.proxy) : own;
  const scheme = options.tls ? "https" : "http";
  const policy = await accessPolicy(options, scheme, root);
  const log = options.onLog && accessLog(options.onLog);
  // a cache holds upstream's images only: nothing may be pushed into it or deleted from it
  let stopping = false;
  const handler = createHandler(
    { store, policy, readOnly: options.readOnly || options.proxy !== undefined, allowDelete: options.allowDelete && !options.proxy, stopping: () => stopping },
    log?.onAnswer,
  );
  const { hostname, port } = parseAddr(options.addr ?? "127.0.0.1:5000");
  const tls = options.tls ? { cert: await readPem(options.tls.cert), key: await readPem(options.tls.key) } : undefined;
  const server = await listen(handler, { hostname, port, tls, onSent: log?.onSent });
  // marked once it serves: a start that failed (an address in use) leaves no mark
  const unmark = root ? await markServing(root) : async () => {};
  const lowerRssCeiling = raiseRssCeiling(serverRssCeiling);
  const stopExpiring = expireUploads(own, options.uploadExpiry ?? { maxAgeMs: uploadMaxAgeMs, everyMs: 3600_000 });
  return {
    url: new URL(`${scheme}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`),
    root,
    store,
    stop: async () => {
      stopping = true;
      await stopExpiring();
      // requests waiting on an upstream that does not answer would hold the stop: after a grace, the store gives up on it
      const stopped = server.stop();
      const grace = setTimeout(() => void store.settle?.(), options.upstreamGraceMs ?? 10_000);
      await stopped;
      clearTimeout(grace);
      lowerRssCeiling();
      await store.settle?.();
      await unmark();
    },
  };
}
