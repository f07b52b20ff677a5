import { type IncomingMessage, type Server, type ServerResponse, createServer as createHttpServer } from "node:http";
import type { Socket } from "node:net";
import { createServer as createHttpsServer } from "node:https";
import { scanFile } from "../stream/file.ts";
import { bytesOf, fileRangeOf } from "./known-body.ts";

/**
 * Serves a fetch-style handler over node:http(s), which Bun implements natively. Not Bun.serve,
 * for blob bodies: Bun.serve sends a file only by sendfile, and on a loopback (a CI job pulling
 * from its own registry; scripts/bench/serve.ts) sendfile's pages reach the receiver cold: four
 * concurrent 256 MiB GETs ran at ~2.8 GiB/s, the same file copied through two reused 1 MiB buffers at
 * ~4.5 GiB/s (the receivers' CPU halved; nginx with sendfile on and off splits the same way).
 * Bun.serve drops a handler's Content-Length from a streamed body (oven-sh/bun#10507), and a blob
 * answer without one is no registry's; node:http keeps it. The price: a lower rate of small
 * requests than Bun.serve's (~35k/s against ~55k/s here; over 10× distribution's) and pushes ~5% slower.
 */

export interface ListenOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM text of the certificate chain and its key: HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Told of every answer once its body has gone out (or the connection was cut): an access log's line. */
  readonly onSent?: (sent: SentAnswer) => void;
  /** How long a connection may sit without a byte either way (default idleMs, 120 s). */
  readonly idleMs?: number;
}

/** An answer as it went out. */
export interface SentAnswer {
  /** What the handler was given; undefined for a request target no URL can hold (a 400). */
  readonly request?: Request;
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  readonly status: number;
  /** Body bytes written. */
  readonly bytes: number;
  /** From the request head to the body's last byte. */
  readonly ms: number;
  /** The client's address. */
  readonly remote: string;
  readonly userAgent?: string;
  /** The body did not go out whole: the client went away, or the body failed part-way. */
  readonly cut: boolean;
  /** Why the body failed (then the answer is cut, or a 500 when nothing had gone out). */
  readonly failure?: string;
}

export interface Listener {
  readonly port: number;
  /** Stops accepting; requests in flight finish (a stalled one at the idle timeout), then idle connections close. */
  stop(): Promise<void>;
}

type Handler = (request: Request) => Promise<Response>;

/**
 * File bodies are copied in blocks of 1 MiB (two per download) for the first 32 downloads in
 * flight and of 64 KiB beyond them, so a crowd of slow readers holds 64 MiB plus 128 KiB each,
 * not 2 MiB each.
 */
const smallBlock = 64 << 10;
const bigBlockStreams = 32;
let fileStreams = 0;

/** A connection may sit this long without a byte either way, between requests or within one (uploads run as long as they move; a handler working on a bodiless request is not the client idling). */
const idleMs = 120_000;
/**
 * A request body the handler refused unread is read and dropped for at most this long (nginx's
 * lingering_time), so a client that writes its whole body before it reads gets the answer: closing
 * with its bytes unread would reset the connection and lose the answer with it.
 */
const lingerMs = 30_000;
/** At stop, a connection told it is closing gets this long to take its last bytes and hang up. */
const closeGraceMs = 5_000;

export async function listen(handler: Handler, options: ListenOptions): Promise<Listener> {
  let stopping = false;
  const connections = new Set<Socket>();
  /** Connections with a request being answered, and its response. */
  const answering = new Map<Socket, ServerResponse>();
  /**
   * Closes a connection no answer is using, its last bytes sent first: Bun's closeIdleConnections
   * also destroyed connections whose answer had ended but not yet gone out (a large one was cut at
   * stop), and left those still sending a head (held a stop for the ~10 s Bun gives a head).
   */
  const closeAfterFlush = (socket: Socket) => {
    socket.end();
    setTimeout(() => socket.destroy(), closeGraceMs).unref();
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (stopping) res.shouldKeepAlive = false;
    answering.set(req.socket, res);
    void respond(handler, req, res, idle, options.onSent)
      .catch(() => {}) // respond answers its own failures; a throwing onSent must not end the process
      .finally(() => {
        // a pipelined request on the same connection may have taken the connection over: it closes after that one
        if (answering.get(req.socket) !== res) return;
        answering.delete(req.socket);
        if (stopping) closeAfterFlush(req.socket);
      });
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  // no limit on a whole request (Node's 300 s default would cut long uploads; Bun ignores it today,
  // and its headersTimeout too: it drops a request whose head has not arrived whole within ~10 s)
  server.requestTimeout = 0;
  const idle = options.idleMs ?? idleMs;
  server.timeout = idle;
  server.keepAliveTimeout = idle;
  // a client that half-closes after its request (nc -N, some proxies) still gets the answer, then
  // the connection closes (a half-closed connection delimits no request, RFC 9112 §9.6); Bun's own
  // switch, off by default, without which an answer not ready at the FIN was lost (a tag deleted
  // with no 202 to say so)
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // once listening, a failed accept (out of file descriptors) is the kernel's to retry, never a crash
  server.on("error", () => {});
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        server.close(() => resolve());
        // answers not begun say Connection: close; connections not answering anything close now
        for (const res of answering.values()) if (!res.headersSent) res.shouldKeepAlive = false;
        for (const socket of connections) if (!answering.has(socket)) closeAfterFlush(socket);
      }),
  };
}

async function respond(handler: Handler, req: IncomingMessage, res: ServerResponse, idle: number, onSent?: (sent: SentAnswer) => void): Promise<void> {
  const started = performance.now();
  const remote = req.socket.remoteAddress ?? ""; // gone once the socket is destroyed
  const length = req.headers["content-length"];
  const hasBody = (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
  let response: Response;
  let request: Request | undefined;
  try {
    // a GET or HEAD body is no part of the request; it is dropped below
    request = toRequest(req, hasBody && req.method !== "GET" && req.method !== "HEAD");
  } catch {
    response = new Response(null, { status: 400 }); // a request target no URL can hold
  }
  if (request) {
    // a request without a body waits on the server alone (a pull-through cache fetching a layer
    // from a slow upstream): no idle timeout cuts it; one with a body still times out a client that stalls
    if (!hasBody) req.socket.setTimeout(0);
    try {
      response = await handler(request);
    } catch {
      response = new Response(null, { status: 500 }); // the handler answers its own errors: a throw is a bug in it
    } finally {
      if (!hasBody) req.socket.setTimeout(idle);
    }
  }
  // a body the handler did not read to its end (it refused the request): read and dropped before the answer ends
  const beforeEnd = hasBody && !req.complete ? () => dropRest(req) : undefined;
  const body = { bytes: 0 };
  let cut = false;
  let status = response!.status;
  let failure: string | undefined;
  try {
    await send(res, response!, req.method === "HEAD", body, beforeEnd);
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
    if (!res.headersSent && !res.destroyed) {
      // the body failed before anything went out: a 500 says so (Bun answers a response destroyed this early with an empty 200)
      status = 500;
      res.writeHead(500, { "Content-Length": "0", Connection: "close" });
      res.end();
    } else {
      cut = true;
      res.destroy(); // the client went away, or the body failed part-way: the connection cannot carry on
    }
  }
  const userAgent = req.headers["user-agent"];
  onSent?.({
    request,
    method: req.method ?? "",
    path: (req.url ?? "").replace(/\?.*$/s, ""),
    status,
    bytes: body.bytes,
    ms: performance.now() - started,
    remote,
    ...(userAgent ? { userAgent } : {}),
    cut,
    ...(failure ? { failure } : {}),
  });
}

/**
 * Reads and drops what is left of a request body, for at most `lingerMs` (then the connection is
 * cut). The answer is written first and ended after this: a client that writes its whole body
 * before reading finds the answer waiting, and a connection closed with its bytes unread would be
 * reset and lose the answer with it; a kept connection's next request starts after this body.
 */
function dropRest(req: IncomingMessage): Promise<void> {
  if (req.destroyed || req.socket.destroyed) return Promise.resolve(); // the client cut the connection already
  req.removeAllListeners("data"); // the handler's body stream, which would pause the socket again
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(cut);
      resolve();
    };
    const cut = setTimeout(() => {
      req.destroy();
      done();
    }, lingerMs);
    cut.unref(); // never what keeps a stopping server alive
    req.once("end", done);
    req.once("close", done);
    req.socket.once("close", done);
    req.on("data", () => {});
    req.resume();
  });
}

/** Only the path and query matter to the handler: the origin is a fixed placeholder (an address like fe80::1%eth0 is no URL's). */
const placeholderOrigin = "http://localhost";

function toRequest(req: IncomingMessage, hasBody: boolean): Request {
  const target = req.url ?? "/";
  const length = req.headers["content-length"];
  // origin-form (the usual "/v2/…") is joined as is; anything else is left to URL to resolve or refuse
  return new Request(target.startsWith("/") ? placeholderOrigin + target : new URL(target, placeholderOrigin).href, {
    method: req.method,
    headers: req.headers as Record<string, string>,
    ...(hasBody ? { body: bodyOf(req, length === undefined ? undefined : Number(length)), duplex: "half" } : {}),
  } as RequestInit);
}

/**
 * The request body as a stream, a chunk at a time: the socket pauses until the reader asks for
 * more (read while still in the cache; buffering ahead measured slower). A body that ends short
 * of its Content-Length, or whose client goes away, is an error, never a shorter body. A reader
 * that gives up leaves the rest to `respond` (the connection must carry its answer first).
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
          if (settled) return;
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
        req.pause();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Statuses that carry no body, and so no Content-Length of one. */
const bodiless = (status: number) => status < 200 || status === 204 || status === 304;

/**
 * Writes the response. A body goes out with exactly its declared length (one that turns out
 * longer or shorter cuts the connection rather than desynchronise it); a body without one goes out
 * with its length when it comes in one piece (a JSON answer), chunked otherwise, never buffered
 * whole. A HEAD gets the headers the GET would.
 */
async function send(res: ServerResponse, response: Response, head: boolean, body: { bytes: number }, beforeEnd?: () => Promise<void>): Promise<void> {
  // counted once the socket took them: a cut answer says how much went out before it
  const put = async (chunk: Uint8Array) => {
    await write(res, chunk);
    body.bytes += chunk.byteLength;
  };
  const end = async (last?: Uint8Array) => {
    body.bytes += last?.byteLength ?? 0;
    if (!beforeEnd) return void res.end(last);
    if (last) res.write(last);
    await beforeEnd();
    res.end();
  };
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[canonicalName(name)] = value;
  });
  const declared = headers["Content-Length"] === undefined ? undefined : Number(headers["Content-Length"]);
  // a body in one piece goes out with its length, which must be the declared one
  const sendWhole = (bytes: Uint8Array) => {
    if (declared !== undefined && bytes.byteLength !== declared) throw new Error(`a ${bytes.byteLength}-byte body declared ${declared}`);
    res.writeHead(response.status, { ...headers, "Content-Length": String(bytes.byteLength) });
    return end(head ? undefined : bytes);
  };
  // bytes in memory and file ranges go out before anything asks for the response's stream (asking makes one)
  const bytes = bytesOf(response);
  if (bytes && !bodiless(response.status)) return sendWhole(bytes);
  const file = head || bodiless(response.status) ? undefined : fileRangeOf(response);
  if (file) {
    if (declared !== file.end - file.start) throw new Error(`a ${file.end - file.start}-byte file range declared ${declared}`);
    res.writeHead(response.status, headers);
    // two reused buffers: each write is flushed or copied by the socket before its buffer is read into again
    const blockSize = fileStreams < bigBlockStreams ? undefined : smallBlock; // undefined: scanFile's 1 MiB
    fileStreams++;
    try {
      await scanFile(file.path, put, { start: file.start, end: file.end, blockSize });
    } finally {
      fileStreams--;
    }
    return end();
  }
  // nothing to send, or (a HEAD) nothing to read when the length is declared
  if (!response.body || bodiless(response.status) || (head && declared !== undefined)) {
    await response.body?.cancel();
    if (declared === undefined && !bodiless(response.status)) headers["Content-Length"] = "0";
    res.writeHead(response.status, headers);
    return end();
  }
  const reader = response.body.getReader();
  try {
    const first = await reader.read();
    const second = first.done ? first : await reader.read();
    if (second.done) {
      return sendWhole(first.value ?? new Uint8Array(0)); // in one piece (a JSON answer)
    }
    res.writeHead(response.status, headers);
    if (head) return end();
    const next = async (chunk: Uint8Array) => {
      if (declared !== undefined && body.bytes + chunk.byteLength > declared) throw new Error(`the body is longer than its Content-Length ${declared}`);
      await put(chunk);
    };
    await next(first.value!);
    await next(second.value);
    for (let more = await reader.read(); !more.done; more = await reader.read()) await next(more.value);
    if (declared !== undefined && body.bytes !== declared) throw new Error(`the body ended at ${body.bytes} of its Content-Length ${declared}`);
    await end();
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Canonical forms of the header names seen, a handful: worked out once each, not per response. */
const canonicalNames = new Map<string, string>();

/** `docker-content-digest` → `Docker-Content-Digest`: header names as distribution (Go) writes them (Headers lowercases). */
function canonicalName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    canonical = name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
    if (canonicalNames.size < 1000) canonicalNames.set(name, canonical);
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
