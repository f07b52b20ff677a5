import { type IncomingMessage, type Server, type ServerResponse, createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { scanFile } from "../stream/file.ts";
import { fileRangeOf } from "./file-body.ts";

/**
 * Serves a fetch-style handler over node:http(s), which Bun implements natively. Not Bun.serve,
 * for blob bodies: Bun.serve sends a file only by sendfile, and on a loopback (a CI job pulling
 * from its own registry; scripts/bench/serve.ts) sendfile's pages reach the receiver cold: four
 * concurrent 256 MiB GETs ran at ~2.8 GiB/s, the same file copied through small reused buffers at
 * ~4.5 GiB/s (the receivers' CPU halved; nginx with sendfile on and off splits the same way).
 * Bun.serve drops a handler's Content-Length from a streamed body (oven-sh/bun#10507), and a blob
 * answer without one is no registry's; node:http keeps it. The price: about half Bun.serve's rate
 * of small requests (still over 10× distribution's) and pushes ~5% slower.
 */

export interface ListenOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM text of the certificate chain and its key: HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Seconds a connection may sit idle between requests (default 120). */
  readonly idleTimeout?: number;
}

export interface Listener {
  readonly port: number;
  /** Stops accepting; requests in flight finish, then idle connections close. */
  stop(): Promise<void>;
}

type Handler = (request: Request) => Promise<Response>;

/**
 * File bodies are copied in blocks of 1 MiB (two per download) for the first 32 downloads in
 * flight and of 64 KiB beyond them, so a crowd of slow readers holds 64 MiB plus 128 KiB each,
 * not 2 MiB each.
 */
const bigBlock = 1 << 20;
const smallBlock = 64 << 10;
const bigBlockStreams = 32;
let fileStreams = 0;

/** A response body up to this size is read whole and sent with its length. */
const wholeBodyLimit = 4 << 20;

export async function listen(handler: Handler, options: ListenOptions): Promise<Listener> {
  let stopping = false;
  const origin = `${options.tls ? "https" : "http"}://${options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname}`;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (stopping) res.shouldKeepAlive = false;
    void respond(handler, req, res, origin).finally(() => {
      if (stopping) server.closeIdleConnections();
    });
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  // uploads stream for as long as they take; only a connection idle that long (no byte either way) is closed
  const idle = (options.idleTimeout ?? 120) * 1000;
  server.requestTimeout = 0;
  server.timeout = idle;
  server.keepAliveTimeout = idle;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function respond(handler: Handler, req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
  let response: Response;
  try {
    response = await handler(toRequest(req, origin));
  } catch {
    // the handler answers its own errors; this is a request it could not even be given (a bad URL)
    response = new Response(null, { status: 400 });
  }
  try {
    await send(res, response, req.method === "HEAD");
  } catch {
    res.destroy(); // the client went away, or the body failed part-way: the connection cannot carry on
  }
}

function toRequest(req: IncomingMessage, origin: string): Request {
  const length = req.headers["content-length"];
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && (length !== undefined ? length !== "0" : req.headers["transfer-encoding"] !== undefined);
  const target = req.url ?? "/";
  // origin-form (the usual "/v2/…") is joined as is; anything else is left to URL to resolve or refuse
  return new Request(target.startsWith("/") ? origin + target : new URL(target, origin).href, {
    method: req.method,
    headers: req.headers as Record<string, string>,
    ...(hasBody ? { body: bodyOf(req, length === undefined ? undefined : Number(length)), duplex: "half" } : {}),
  } as RequestInit);
}

/**
 * The request body as a stream, a chunk at a time: the socket pauses until the reader asks for
 * more (read while still in the cache; buffering ahead measured slower). A body that ends short
 * of its Content-Length, or whose client goes away, is an error, never a shorter body.
 */
function bodyOf(req: IncomingMessage, length: number | undefined): ReadableStream<Uint8Array> {
  let received = 0;
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const settle = (err?: Error) => {
          if (settled) return;
          settled = true;
          if (err) controller.error(err);
          else controller.close();
        };
        req.on("data", (chunk: Uint8Array) => {
          received += chunk.byteLength;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on("end", () => settle(length !== undefined && received !== length ? new Error(`request body ended after ${received} of ${length} bytes`) : undefined));
        req.on("error", (err) => settle(err));
        req.on("close", () => settle(new Error(`the client went away after ${received} bytes of the request body`)));
      },
      pull() {
        req.resume();
      },
      cancel() {
        settled = true;
        req.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

async function send(res: ServerResponse, response: Response, head: boolean): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[canonicalName(name)] = value;
  });
  const file = fileRangeOf(response);
  if (head || !response.body) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  if (file) {
    res.writeHead(response.status, headers);
    // two reused buffers: each write is flushed or copied by the socket before its buffer is read into again
    const blockSize = fileStreams < bigBlockStreams ? bigBlock : smallBlock;
    fileStreams++;
    try {
      await scanFile(file.path, (chunk) => write(res, chunk), { start: file.start, end: file.end, blockSize });
    } finally {
      fileStreams--;
    }
    res.end();
    return;
  }
  const length = Number(headers["Content-Length"] ?? 0);
  if (length <= wholeBodyLimit) {
    // a body in one piece (JSON, a manifest) goes out with its length; the handler gives every large body one
    const bytes = await response.bytes();
    res.writeHead(response.status, { ...headers, "Content-Length": String(bytes.byteLength) });
    res.end(bytes);
    return;
  }
  res.writeHead(response.status, headers);
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) await write(res, chunk);
  res.end();
}

const canonicalNames = new Map<string, string>();

/** `docker-content-digest` → `Docker-Content-Digest`: header names as distribution (Go) writes them (Headers lowercases). */
function canonicalName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    canonical = name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
    if (canonicalNames.size < 256) canonicalNames.set(name, canonical);
  }
  return canonical;
}

/** Writes a chunk, waiting for the socket to drain when it is full; fails once the client has gone. */
async function write(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  if (res.destroyed) throw new Error("the client closed the connection");
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
  if (res.destroyed) throw new Error("the client closed the connection");
}
