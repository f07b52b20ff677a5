import { digestAlgorithm, digestOf, isDigest, parseDigest } from "../core/digest.ts";
import { StevedoreError } from "../core/errors.ts";
import { type RawManifest, childDescriptors, maxManifestBytes, parseManifest, toRawManifest } from "../core/manifest.ts";
import { isDockerType, isManifestType, isNondistributableType } from "../core/media-type.ts";
import { readAtMost } from "../stream/read-at-most.ts";
import { etagOf, notModified } from "./conditional.ts";
import { bytesResponse } from "./known-body.ts";
import { type RequestContext, apiVersionHeader } from "./context.ts";
import { ApiError } from "./errors.ts";
import { isValidTag } from "../core/reference.ts";

function manifestHeaders(m: RawManifest): Record<string, string> {
  return { ...apiVersionHeader, "Content-Type": m.mediaType, "Docker-Content-Digest": m.digest, "Content-Length": String(m.bytes.byteLength), ETag: etagOf(m.digest) };
}

function checkReference(reference: string): void {
  if (isDigest(reference) || isValidTag(reference)) return;
  throw new ApiError(reference.includes(":") ? "DIGEST_INVALID" : "MANIFEST_INVALID", `invalid tag or digest "${reference}"`);
}

/**
 * GET/HEAD by tag or digest: the bytes as they were pushed, with their media type. A name no tag can
 * have names no manifest, so it is a 404 like any manifest not found (the conformance suite asks for
 * `.INVALID_MANIFEST_NAME`); a malformed digest stays a 400 DIGEST_INVALID. An If-None-Match naming
 * the manifest's digest is a 304.
 */
export async function getManifest(ctx: RequestContext, name: string, reference: string): Promise<Response> {
  await ctx.require("pull", name);
  if (reference.includes(":")) checkReference(reference);
  const m = isDigest(reference) || isValidTag(reference) ? await ctx.options.store.repos.getManifest(name, reference) : null;
  if (!m) throw new ApiError("MANIFEST_UNKNOWN", `manifest ${reference} is unknown to ${name}`);
  const headers = manifestHeaders(m);
  return notModified(ctx.request, headers.ETag!, headers) ?? (ctx.request.method === "HEAD" ? new Response(null, { headers }) : bytesResponse(m.bytes, { headers }));
}

/**
 * PUT: validated before anything is stored — JSON, a media type that agrees with Content-Type,
 * not both an index and an image, a digest reference that matches, and every blob and child
 * manifest it references already in the repository (non-distributable layers excepted). The
 * subject need not exist (OCI 1.1).
 */
export async function putManifest(ctx: RequestContext, name: string, reference: string): Promise<Response> {
  await ctx.require("push", name);
  checkReference(reference);
  const bytes = await readAtMost(ctx.request, maxManifestBytes);
  if (!bytes) throw new ApiError("SIZE_INVALID", `manifest over the ${maxManifestBytes}-byte limit`, 413);
  const contentType = ctx.request.headers.get("content-type")?.split(";")[0]?.trim();
  let raw: RawManifest;
  let parsed;
  try {
    raw = toRawManifest(bytes, contentType && isManifestType(contentType) ? contentType : undefined, `manifest for ${name}:${reference}`);
    parsed = parseManifest(raw);
  } catch (err) {
    if (err instanceof StevedoreError) throw new ApiError("MANIFEST_INVALID", err.message);
    throw err;
  }
  if (contentType && isManifestType(contentType) && contentType !== raw.mediaType) {
    throw new ApiError("MANIFEST_INVALID", `Content-Type ${contentType} does not match the manifest's ${raw.mediaType}`);
  }
  // Docker's formats require the field (OCI's make it optional): without it one body could be
  // stored under two media types, and a second push would change what the first one's tags serve
  if (isDockerType(raw.mediaType) && !parsed.namesMediaType) {
    throw new ApiError("MANIFEST_INVALID", `a ${raw.mediaType} must name its mediaType`);
  }
  // pushed by a sha512 digest, the manifest is stored and served under that digest, not its sha256
  const digest = digestOf(bytes, isDigest(reference) ? digestAlgorithm(parseDigest(reference)) : "sha256");
  if (isDigest(reference) && digest !== reference) throw new ApiError("DIGEST_INVALID", `manifest does not match ${reference}`);
  raw = { ...raw, digest };
  const { repos, blobs } = ctx.options.store;
  for (const child of childDescriptors(parsed)) {
    // like distribution: a non-distributable layer lives at its URLs, so it need not be here
    if (parsed.kind === "manifest" && isNondistributableType(child.mediaType)) continue;
    const present = parsed.kind === "index" ? (await repos.getManifest(name, child.digest)) !== null : (await repos.hasBlobLink(name, child.digest)) && (await blobs.stat(child.digest)) !== null;
    if (!present) throw new ApiError("MANIFEST_BLOB_UNKNOWN", `${parsed.kind === "index" ? "manifest" : "blob"} ${child.digest} is unknown to ${name}`);
  }
  await repos.putManifest(name, raw, isDigest(reference) ? undefined : reference);
  return new Response(null, {
    status: 201,
    headers: {
      ...apiVersionHeader,
      Location: `/v2/${name}/manifests/${raw.digest}`,
      "Docker-Content-Digest": raw.digest,
      "Content-Length": "0",
      ...(parsed.subject ? { "OCI-Subject": parsed.subject.digest } : {}),
    },
  });
}

/** DELETE by digest (the manifest and its tags) or by tag (just the tag). */
export async function deleteManifest(ctx: RequestContext, name: string, reference: string): Promise<Response> {
  await ctx.require("delete", name);
  checkReference(reference);
  const { repos } = ctx.options.store;
  const deleted = isDigest(reference) ? await repos.deleteManifest(name, parseDigest(reference)) : await repos.deleteTag(name, reference);
  if (!deleted) throw new ApiError("MANIFEST_UNKNOWN", `manifest ${reference} is unknown to ${name}`);
  return new Response(null, { status: 202, headers: { ...apiVersionHeader, "Content-Length": "0" } });
}
