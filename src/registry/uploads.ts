import type { Descriptor } from "../core/descriptor.ts";
import { shortDigest } from "../core/digest.ts";
import { IntegrityError } from "../core/errors.ts";
import { type BlobReopener, byteReader } from "../stream/byte-reader.ts";
import { scanFile } from "../stream/file.ts";
import { BlobVerifier, readVerified } from "../stream/verify.ts";
import { type RegistryClient, TokenRefusedError } from "./client.ts";
import { RegistryError, registryErrorFrom } from "./errors.ts";
import { isRetryableStatus } from "./retry.ts";
import { UploadBody } from "./upload-body.ts";

/** Blobs up to this size go in one PUT with a Content-Length; larger ones stream in a PATCH. */
export const monolithicLimit = 8 << 20;
/** When a single PATCH is refused as too large (413), bytes that can be read again are uploaded again in chunks of these sizes, in turn. */
const fallbackChunkSizes = [64 << 20, 16 << 20, 4 << 20, 1 << 20];
/** An upload cut this many times resumes from what the registry holds (or starts again where it dropped the session); then it fails. */
const maxUploadResumes = 5;

/**
 * Uploads a blob, verifying it against `desc` on the way: POST then one PUT for small blobs
 * (read whole, they are at most monolithicLimit; in PATCHes when the PUT is refused as too large
 * or a chunk size smaller than the blob is set), POST + PATCH + PUT for large ones, never
 * buffered: one streamed PATCH, or chunks of `uploadChunkSize` (raised to the registry's
 * OCI-Chunk-Min-Length) when it is set. The registry only makes the blob visible on the final PUT,
 * sent after the last byte has passed our digest check. With `reopen` (a source that can read
 * the blob from an offset, as a registry can), the upload survives what a file's does: a cut, a
 * dropped session, a body refused whole.
 */
export async function uploadBlob(client: RegistryClient, desc: Descriptor, body: ReadableStream<Uint8Array>, reopen?: BlobReopener): Promise<void> {
  const where = `reading for ${uploadWhat(client, desc)}`;
  if (desc.size <= monolithicLimit) {
    const bytes = await readVerified(body, desc, where);
    const inMemory = { body: (start: number, end: number) => new Blob([bytes.subarray(start, end)]) };
    // a chunk size set smaller than the blob: PATCHes of it, as for a large blob
    if (client.uploadChunkSize !== undefined && client.uploadChunkSize < desc.size) return uploadRereadable(client, desc, inMemory, async () => {});
    try {
      return await withUploadSession(client, desc, (session) => finish(client, session.location, desc, session.what, bytes));
    } catch (err) {
      // a proxy's body limit (nginx's is 1m by default) refused it whole: the same bytes again, in the smaller chunks the ladder takes
      if (!(err instanceof RegistryError && err.status === 413)) throw err;
      return uploadRereadable(client, desc, inMemory, async () => {}, 0);
    }
  }
  const source = new UploadBody(byteReader(body), new BlobVerifier(desc, where), desc.size, reopen);
  const slice = (start: number, end: number) => source.slice(start, end);
  const verified = async () => {
    if (source.failure) throw source.failure;
  };
  const complete = () => source.complete;
  try {
    if (reopen) await uploadRereadable(client, desc, { body: slice, failure: () => source.failure, complete }, verified);
    else await withUploadSession(client, desc, (session) => patchAndFinish(client, session, desc, { chunkSize: session.chunkSize(client.uploadChunkSize), body: slice, complete }, verified));
  } finally {
    await source.close();
  }
}

/**
 * Uploads a blob from a local file: PATCH bodies are the file itself (known length, sent by Bun
 * without a stream in between: a third of the CPU of a streamed body on both sides), while the
 * same file is hashed here in parallel. The closing PUT goes only when our digest matched.
 */
export async function uploadBlobFile(client: RegistryClient, desc: Descriptor, path: string): Promise<void> {
  const verified = verifyFile(path, desc, `reading ${path}`);
  verified.catch(() => {}); // awaited below; a failure must not go unhandled while uploads run
  await uploadRereadable(client, desc, { body: (start, end) => Bun.file(path).slice(start, end) }, () => verified);
}

/**
 * An upload whose bytes can be read again from any offset: a PATCH cut part-way (a dropped
 * connection, a 5xx) resumes from what the registry holds, an upload whose session the registry
 * dropped starts again in a new one, and a registry that refuses one large PATCH (413, a proxy's
 * body limit) gets the bytes again in chunks.
 */
async function uploadRereadable(client: RegistryClient, desc: Descriptor, bytes: Pick<PatchPlan, "body" | "failure" | "complete">, verified: () => Promise<void>, firstFallback = -1): Promise<void> {
  const fallbacks = fallbackChunkSizes.filter((size) => size < desc.size);
  // fallback -1: the configured chunk size, or one PATCH; a body already refused whole starts at 0
  for (let fallback = firstFallback, restarts = 0; ; ) {
    const wanted = fallback < 0 ? client.uploadChunkSize : fallbacks[fallback];
    try {
      await withUploadSession(client, desc, (session) => patchAndFinish(client, session, desc, { ...bytes, chunkSize: session.chunkSize(wanted), resumable: true }, verified));
      return;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 413 && fallback < fallbacks.length - 1) fallback++;
      else if (!(err instanceof UploadSessionLost) || ++restarts > maxUploadResumes) throw err;
    }
  }
}

/** The registry dropped an upload session after a cut (distribution does): the upload starts again. */
class UploadSessionLost extends RegistryError {}

/** An upload session: where to send the bytes, and the smallest chunk the registry takes. */
interface UploadSession {
  readonly location: URL;
  readonly what: string;
  /** The PATCH size for `wanted` bytes a chunk (raised to the registry's minimum); undefined: one PATCH. */
  chunkSize(wanted: number | undefined): number | undefined;
}

function uploadWhat(client: RegistryClient, desc: Descriptor): string {
  return `upload ${shortDigest(desc.digest)} to ${client.registry}/${client.repository}`;
}

/** POST a session, run the upload, and cancel the session (DELETE) if anything fails. */
async function withUploadSession(client: RegistryClient, desc: Descriptor, upload: (session: UploadSession) => Promise<void>): Promise<void> {
  const what = uploadWhat(client, desc);
  const start = await client.expect("POST", `/v2/${client.repository}/blobs/uploads/`, [202], what, { scopes: [client.pushScope] });
  await start.body?.cancel();
  const location = await locationOf(client, start, what);
  const minimum = Number(start.headers.get("oci-chunk-min-length"));
  const chunkSize = (wanted: number | undefined) => (wanted === undefined || wanted >= desc.size ? undefined : Math.max(wanted, Number.isSafeInteger(minimum) ? minimum : 0));
  try {
    await upload({ location, what, chunkSize });
  } catch (err) {
    await client.request("DELETE", location, { scopes: [client.pushScope] }).then((r) => r.body?.cancel()).catch(() => {});
    throw err;
  }
}

/** How a blob's bytes go up in PATCHes. */
interface PatchPlan {
  /** Bytes a PATCH carries; undefined: the whole blob in one. */
  readonly chunkSize: number | undefined;
  /** The blob's bytes [start, end), asked for in order (a stream is cut as it goes). */
  body(start: number, end: number): ReadableStream<Uint8Array> | Blob;
  /** The bytes can be read again from any offset (a file), so a cut PATCH resumes instead of failing. */
  readonly resumable?: boolean;
  /** Why reading the bytes failed, if it did: then a failed PATCH is that failure, not a cut. */
  failure?(): unknown;
  /** Whether every byte was read and checked here (a stream's); the closing PUT waits for it. */
  complete?(): boolean;
}

/**
 * The blob in PATCHes (one, or `chunkSize` bytes each, with their Content-Range), then the closing
 * PUT; `verified` settles our own digest check first. When a resumable PATCH is cut, answered
 * 5xx/429, or refused its token (expired, a key rotated: the status is asked with a new one), the
 * upload's status says how much the registry holds (a part of a chunk, or nothing of it) and the
 * bytes are sent on from there. A stream is never resent: it was consumed.
 */
async function patchAndFinish(client: RegistryClient, session: UploadSession, desc: Descriptor, plan: PatchPlan, verified: () => Promise<void>): Promise<void> {
  const { chunkSize, resumable = false } = plan;
  let location = session.location;
  let resumes = 0;
  // a token refused twice with no byte landing in between is no expiry: the refusal stands
  let refusedAt: number | undefined;
  for (let start = 0; start < desc.size; ) {
    const end = chunkSize === undefined ? desc.size : Math.min(start + chunkSize, desc.size);
    // a whole blob from its start goes as a plain streamed PATCH, as skopeo sends it; every other says where it starts
    const range: Record<string, string> = chunkSize === undefined && start === 0 ? {} : { "Content-Range": `${start}-${end - 1}`, "Content-Length": String(end - start) };
    const patched = await client
      .request("PATCH", location, { headers: { "Content-Type": "application/octet-stream", ...range }, body: plan.body(start, end), scopes: [client.pushScope] })
      .catch(async (err: unknown) => {
        if (resumable && err instanceof RegistryError && err.status === 0 && !plan.failure?.()) return undefined; // cut: resume below
        if (resumable && err instanceof TokenRefusedError && refusedAt !== start) {
          refusedAt = start;
          return undefined; // resumed below, with a new token
        }
        await verified(); // a failed digest check explains a failed request better than the request does
        throw err;
      });
    if (patched?.status === 202) {
      await patched.body?.cancel();
      location = await locationOf(client, patched, session.what);
      start = end;
      continue;
    }
    if (patched && !(resumable && isRetryableStatus(patched.status))) {
      await verified(); // a failed digest check explains a refused upload better than the refusal does
      if (patched.status === 413 && !resumable && chunkSize === undefined) {
        await patched.body?.cancel();
        throw new RegistryError(`${session.what}: the registry refuses a ${desc.size}-byte body (413); push it in chunks under the proxy's body limit with --upload-chunk-size (nginx's default limit is 1M)`, 413);
      }
      throw await registryErrorFrom(patched, `${session.what} (bytes ${start}-${end - 1})`);
    }
    await patched?.body?.cancel();
    if (++resumes > maxUploadResumes) throw new RegistryError(`${session.what}: cut ${maxUploadResumes} times, at byte ${start}; giving up`, patched?.status ?? 0);
    ({ location, received: start } = await uploadStatus(client, location, session.what));
  }
  await verified();
  // a registry that claims the whole upload early (after a cut) must not get the closing PUT before our check did
  if (plan.complete && !plan.complete()) throw new IntegrityError(`blob ${shortDigest(desc.digest)}: ${session.what} says it holds every byte, but not all were sent`);
  await finish(client, location, desc, session.what);
}

/** How much of an upload the registry holds (GET on the session: `Range: 0-<last byte>`), and where to send more. */
async function uploadStatus(client: RegistryClient, location: URL, what: string): Promise<{ location: URL; received: number }> {
  const status = await client.request("GET", location, { scopes: [client.pushScope] });
  if (status.status === 404) {
    await status.body?.cancel();
    throw new UploadSessionLost(`${what}: the registry dropped the upload after the connection was cut`, 404);
  }
  if (status.status !== 204) throw await registryErrorFrom(status, `${what}: asking how much arrived`);
  await status.body?.cancel();
  const last = /^(?:bytes=)?0-(\d+)$/.exec(status.headers.get("range") ?? "");
  // "0-0" is what registries say before the first byte (a one-byte upload is then sent again whole)
  const received = last && last[1] !== "0" ? Number(last[1]) + 1 : 0;
  return { location: status.headers.get("location") ? await locationOf(client, status, what) : location, received };
}

async function locationOf(client: RegistryClient, response: Response, what: string): Promise<URL> {
  const location = response.headers.get("location");
  if (!location) throw new RegistryError(`${what}: the registry sent no upload location`, response.status);
  return client.url(location);
}

/** The closing PUT `?digest=`, with the small blob's bytes or empty after a PATCH. */
async function finish(client: RegistryClient, location: URL, desc: Descriptor, what: string, bytes?: Uint8Array): Promise<void> {
  const url = new URL(location);
  url.searchParams.set("digest", desc.digest);
  const response = await client.expect("PUT", url, [201, 204], what, {
    headers: { "Content-Type": "application/octet-stream" },
    body: bytes ?? new Uint8Array(0),
    scopes: [client.pushScope],
  });
  await response.body?.cancel();
}

async function verifyFile(path: string, desc: Descriptor, where: string): Promise<void> {
  const verifier = new BlobVerifier(desc, where);
  await scanFile(path, (chunk) => verifier.update(chunk));
  verifier.finish();
}
