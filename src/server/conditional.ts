import type { Digest } from "../core/digest.ts";
import type { ByteRange } from "../store/types.ts";
import { ApiError } from "./errors.ts";

/**
 * Conditional and range requests (RFC 9110) for content named by its digest: the ETag is the
 * digest, and the bytes behind it never change, so a strong ETag comparison is all there is.
 */

export const etagOf = (digest: Digest) => `"${digest}"`;

/** The entity-tags of an If-None-Match or If-Range value (`*` kept as is). */
function entityTags(header: string): string[] {
  return header.split(",").map((tag) => tag.trim());
}

/**
 * A GET or HEAD whose If-None-Match names this ETag (weakly, or `*`): the client's copy is
 * current, so the answer is a 304 with the validators and no body (RFC 9110 §13.1.2).
 */
export function notModified(request: Request, etag: string, headers: Record<string, string>): Response | undefined {
  const header = request.headers.get("if-none-match");
  if (!header || (request.method !== "GET" && request.method !== "HEAD")) return undefined;
  if (!entityTags(header).some((tag) => tag === "*" || tag.replace(/^W\//, "") === etag)) return undefined;
  const { "Content-Length": _length, "Content-Type": _type, ...validators } = headers;
  return new Response(null, { status: 304, headers: validators });
}

/** `bytes=first-last`, `bytes=first-` or the suffix `bytes=-length`, as a half-open range clipped to `size`. */
function rangeOf(first: string, last: string, size: number): ByteRange | undefined {
  if (first === "") return last === "" ? undefined : { start: Math.max(0, size - Number(last)), end: size };
  return { start: Number(first), end: last === "" ? size : Math.min(Number(last) + 1, size) };
}

/**
 * The byte range a GET asks for within `size`: undefined for the whole (no Range; a unit other
 * than bytes, several ranges or a Range whose If-Range names other content, all of which RFC 9110
 * lets a server answer with the whole); a 416 when the one range is unsatisfiable or reversed.
 */
export function requestedRange(request: Request, etag: string, size: number): ByteRange | undefined {
  const header = request.headers.get("range")?.trim();
  if (!header?.startsWith("bytes=") || header.includes(",")) return undefined;
  // If-Range holds an ETag or a date; with no Last-Modified here, only our own strong ETag matches
  const ifRange = request.headers.get("if-range");
  if (ifRange !== null && ifRange.trim() !== etag) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header);
  const range = match ? rangeOf(match[1]!, match[2]!, size) : undefined;
  if (!range || range.start >= size || range.end <= range.start) {
    throw new ApiError("BLOB_UNKNOWN", `range ${header} is not satisfiable`, 416, { "Content-Range": `bytes */${size}` });
  }
  return range;
}
