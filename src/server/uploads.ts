import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { type UploadSession, UploadRangeError } from "../store/types.ts";
import { parseDigestParam } from "./blobs.ts";
import { type RequestContext, apiVersionHeader } from "./context.ts";
import { isValidRepositoryName } from "../core/reference.ts";
import { ApiError } from "./errors.ts";
import { isUploadId } from "../store/names.ts";

const uploadPath = (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`;

function sessionHeaders(name: string, session: UploadSession): Record<string, string> {
  return {
    ...apiVersionHeader,
    Location: uploadPath(name, session.id),
    "Docker-Upload-UUID": session.id,
    // distribution-spec: the inclusive range received so far; "0-0" before the first byte, as distribution says
    Range: `0-${Math.max(0, session.size - 1)}`,
    "Content-Length": "0",
  };
}

function blobCreated(name: string, digest: string): Response {
  return new Response(null, { status: 201, headers: { ...apiVersionHeader, Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest, "Content-Length": "0" } });
}

/** A session cancelled while this request used it (by the client, or expired): BLOB_UPLOAD_UNKNOWN, as for any unknown session. */
function sessionGone(err: unknown, id: string): unknown {
  return err instanceof NotFoundError ? new ApiError("BLOB_UPLOAD_UNKNOWN", `upload ${id} is gone`) : err;
}

async function session(ctx: RequestContext, name: string, id: string): Promise<UploadSession> {
  const found = isUploadId(id) ? await ctx.options.store.uploads.get(id) : null;
  if (!found || found.repo !== name) throw new ApiError("BLOB_UPLOAD_UNKNOWN", `upload ${id} is unknown to ${name}`);
  return found;
}

/** The chunk's body, or undefined for an empty one (a PUT that only closes the upload). */
function bodyOf(request: Request): ReadableStream<Uint8Array> | undefined {
  return request.body && request.headers.get("content-length") !== "0" ? (request.body as ReadableStream<Uint8Array>) : undefined;
}

/** A 416 that tells the client how much the session holds and where to send the rest. */
function rangeRefused(upload: UploadSession, size: number, message: string): ApiError {
  return new ApiError("BLOB_UPLOAD_INVALID", message, 416, { Range: `0-${Math.max(0, size - 1)}`, "Docker-Upload-UUID": upload.id, Location: uploadPath(upload.repo, upload.id) });
}

/** The body, failing once it proves longer or shorter than `length` (the store then keeps nothing of the chunk). */
function exactly(body: ReadableStream<Uint8Array>, length: number, refuse: (got: string) => ApiError): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > length) throw refuse(`more than ${length}`);
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== length) throw refuse(String(seen));
      },
    }),
  );
}

/**
 * Appends a body at the session's end and returns the session's size. A Content-Range (`start-end`,
 * inclusive, optionally as `bytes start-end/total`) must start there and span exactly the body's
 * bytes, an empty body included; otherwise a 416.
 */
async function appendChunk(ctx: RequestContext, upload: UploadSession, chunk: ReadableStream<Uint8Array> | undefined): Promise<number> {
  const range = ctx.request.headers.get("content-range");
  if (!chunk && !range) return upload.size;
  let body = chunk ?? new Blob([]).stream();
  let start = upload.size;
  if (range) {
    const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(range.trim());
    if (!match || Number(match[2]) < Number(match[1])) throw new ApiError("BLOB_UPLOAD_INVALID", `invalid Content-Range "${range}"`);
    start = Number(match[1]);
    const length = Number(match[2]) - start + 1;
    const refuse = (got: string) => rangeRefused(upload, upload.size, `Content-Range ${range} spans ${length} bytes, the chunk has ${got}`);
    const declared = ctx.request.headers.get("content-length");
    if (declared !== null && Number(declared) !== length) throw refuse(declared);
    body = exactly(body, length, refuse);
  }
  try {
    return await ctx.options.store.uploads.append(upload.id, start, body);
  } catch (err) {
    if (err instanceof UploadRangeError) throw rangeRefused(upload, err.size, err.message);
    throw sessionGone(err, upload.id);
  }
}

/** Verifies and publishes the upload; a digest mismatch leaves nothing visible. */
async function finishUpload(ctx: RequestContext, name: string, id: string, digestText: string | null): Promise<Response> {
  const digest = parseDigestParam(digestText);
  try {
    await ctx.options.store.uploads.finish(id, digest);
  } catch (err) {
    if (err instanceof IntegrityError) throw new ApiError("DIGEST_INVALID", `upload does not match ${digest}`);
    throw sessionGone(err, id);
  }
  await ctx.options.store.repos.linkBlob(name, digest);
  return blobCreated(name, digest);
}

/** POST: a cross-repository mount, a monolithic upload (`?digest=`), or a new session. */
export async function startUpload(ctx: RequestContext, name: string): Promise<Response> {
  await ctx.require("push", name);
  const { store } = ctx.options;
  const mount = ctx.url.searchParams.get("mount");
  // a source no repository can be named is no mount: a session, as distribution falls back
  const from = ctx.url.searchParams.get("from");
  if (mount && from && isValidRepositoryName(from)) {
    const digest = parseDigestParam(mount);
    // a mount needs read access to the source: otherwise it would leak blobs across repositories
    await ctx.require("pull", from);
    if ((await store.repos.hasBlobLink(from, digest)) && (await store.blobs.stat(digest)) !== null) {
      await store.repos.linkBlob(name, digest);
      return blobCreated(name, digest);
    }
  }
  const monolithic = ctx.url.searchParams.get("digest");
  const upload = await store.uploads.start(name);
  if (monolithic) {
    await appendChunk(ctx, upload, bodyOf(ctx.request));
    return finishUpload(ctx, name, upload.id, monolithic);
  }
  return new Response(null, { status: 202, headers: { ...sessionHeaders(name, upload), "OCI-Chunk-Min-Length": "1" } });
}

/** PATCH: one streamed chunk. */
export async function patchUpload(ctx: RequestContext, name: string, id: string): Promise<Response> {
  await ctx.require("push", name);
  const upload = await session(ctx, name, id);
  const size = await appendChunk(ctx, upload, bodyOf(ctx.request));
  return new Response(null, { status: 202, headers: sessionHeaders(name, { ...upload, size }) });
}

/** PUT `?digest=`: an optional last chunk, then verify and publish. */
export async function putUpload(ctx: RequestContext, name: string, id: string): Promise<Response> {
  await ctx.require("push", name);
  const upload = await session(ctx, name, id);
  await appendChunk(ctx, upload, bodyOf(ctx.request));
  return finishUpload(ctx, name, id, ctx.url.searchParams.get("digest"));
}

/** GET: how much the session holds. */
export async function uploadStatus(ctx: RequestContext, name: string, id: string): Promise<Response> {
  await ctx.require("push", name);
  return new Response(null, { status: 204, headers: sessionHeaders(name, await session(ctx, name, id)) });
}

/** DELETE: cancel the session. */
export async function cancelUpload(ctx: RequestContext, name: string, id: string): Promise<Response> {
  await ctx.require("push", name);
  await session(ctx, name, id);
  await ctx.options.store.uploads.cancel(id);
  return new Response(null, { status: 204, headers: { ...apiVersionHeader } });
}
