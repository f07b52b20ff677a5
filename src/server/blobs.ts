import { type Digest, parseDigest } from "../core/digest.ts";
import { ApiError } from "./errors.ts";
import type { RequestContext } from "./context.ts";
import { apiVersionHeader } from "./context.ts";
import { etagOf, notModified, requestedRange } from "./conditional.ts";
import { fileResponse } from "./known-body.ts";

export function parseDigestParam(text: string | null): Digest {
  try {
    return parseDigest(text ?? "");
  } catch {
    throw new ApiError("DIGEST_INVALID", `invalid digest "${text ?? ""}"`);
  }
}

/** GET/HEAD a blob the repository links: files go out as file bodies (known-body.ts), ranges answer 206, a current copy 304. */
export async function getBlob(ctx: RequestContext, name: string, digestText: string): Promise<Response> {
  await ctx.require("pull", name);
  const digest = parseDigestParam(digestText);
  const { blobs, repos } = ctx.options.store;
  const head = ctx.request.method === "HEAD";
  const etag = etagOf(digest);
  const headers: Record<string, string> = { ...apiVersionHeader, "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", ETag: etag };
  // a pull-through cache gives a blob it lacks as it arrives (a range or a revalidation waits for the copy)
  if (!head && repos.streamMissingBlob && !ctx.request.headers.has("range") && !ctx.request.headers.has("if-none-match")) {
    const fetching = await repos.streamMissingBlob(name, digest);
    if (fetching === null) throw new ApiError("BLOB_UNKNOWN", `blob ${digest} is unknown to ${name}`);
    if (fetching) return new Response(fetching.body, { headers: { ...headers, "Content-Length": String(fetching.size) } });
  }
  const linked = async () => ((await repos.hasBlobLink(name, digest)) || (await repos.getManifest(name, digest)) ? blobs.stat(digest) : null);
  const size = head && repos.blobSize ? await repos.blobSize(name, digest) : await linked();
  if (size === null) throw new ApiError("BLOB_UNKNOWN", `blob ${digest} is unknown to ${name}`);
  const unchanged = notModified(ctx.request, etag, headers);
  if (unchanged) return unchanged;
  if (head) return new Response(null, { headers: { ...headers, "Content-Length": String(size) } });
  const range = requestedRange(ctx.request, etag, size);
  const { start, end } = range ?? { start: 0, end: size };
  const init = range
    ? { status: 206, headers: { ...headers, "Content-Range": `bytes ${start}-${end - 1}/${size}`, "Content-Length": String(end - start) } }
    : { headers: { ...headers, "Content-Length": String(size) } };
  const gone = () => new ApiError("BLOB_UNKNOWN", `blob ${digest} is gone from the store`);
  if (blobs.filePath) {
    // a store of files looks on disk: a blob removed behind the server's back (gc --force) is gone
    const path = blobs.filePath(digest);
    if (!path) throw gone();
    return fileResponse({ path, start, end }, init);
  }
  const body = await blobs.get(digest, range);
  if (!body) throw gone();
  return new Response(body, init);
}

/** Unlinks a blob from the repository (its bytes go at the next gc). */
export async function deleteBlob(ctx: RequestContext, name: string, digestText: string): Promise<Response> {
  await ctx.require("delete", name);
  const digest = parseDigestParam(digestText);
  if (!(await ctx.options.store.repos.unlinkBlob(name, digest))) throw new ApiError("BLOB_UNKNOWN", `blob ${digest} is unknown to ${name}`);
  return new Response(null, { status: 202, headers: { ...apiVersionHeader, "Docker-Content-Digest": digest } });
}
