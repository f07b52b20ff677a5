import type { Descriptor } from "../core/descriptor.ts";
import { shortDigest } from "../core/digest.ts";
import { NotFoundError, StevedoreError } from "../core/errors.ts";
import { type ByteReader, byteReader } from "../stream/byte-reader.ts";
import { scanFile } from "../stream/file.ts";
import { noteAllocated } from "../stream/gc-pacer.ts";
import { BlobVerifier, verifyStream } from "../stream/verify.ts";
import type { RegistryClient } from "./client.ts";
import { RegistryError, registryErrorFrom } from "./errors.ts";

/** Blobs up to this size go in one PUT with a Content-Length; larger ones stream in a PATCH. */
export const monolithicLimit = 8 << 20;
/** A download cut mid-blob resumes with Range this many times before giving up. */
const maxResumes = 5;

export async function hasBlob(client: RegistryClient, desc: Descriptor): Promise<boolean> {
  const response = await client.request("HEAD", `/v2/${client.repository}/blobs/${desc.digest}`);
  await response.body?.cancel();
  if (response.status === 404) return false;
  if (!response.ok) throw await registryErrorFrom(response, `blob ${shortDigest(desc.digest)}`);
  return true;
}

/**
 * GET a blob as a stream. Raw: the consumer verifies. A connection cut part-way resumes with
 * `Range: bytes=N-` rather than starting over; a registry that ignores Range has its first N bytes
 * skipped.
 */
export async function getBlob(client: RegistryClient, desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
  const path = `/v2/${client.repository}/blobs/${desc.digest}`;
  const open = async (from: number): Promise<{ reader: ByteReader; skip: number }> => {
    const response = await client.request("GET", path, { headers: from > 0 ? { Range: `bytes=${from}-` } : {} });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new NotFoundError(`blob ${shortDigest(desc.digest)}: not found in ${client.registry}/${client.repository}`);
    }
    if (!response.ok || !response.body) throw await registryErrorFrom(response, `blob ${shortDigest(desc.digest)}`);
    return { reader: byteReader(response.body as ReadableStream<Uint8Array>), skip: from > 0 && response.status !== 206 ? from : 0 };
  };
  let { reader, skip } = await open(0);
  let received = 0;
  let resumes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let result: Awaited<ReturnType<ByteReader["read"]>>;
        try {
          result = await reader.read();
        } catch (err) {
          if (err instanceof StevedoreError || received >= desc.size || ++resumes > maxResumes) throw err;
          ({ reader, skip } = await open(received));
          continue;
        }
        if (result.done) {
          // a body that ends short without an error is a cut too (proxies close connections cleanly)
          if (received >= desc.size || ++resumes > maxResumes) return controller.close();
          ({ reader, skip } = await open(received));
          continue;
        }
        let chunk = result.value;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.byteLength);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.byteLength === 0) continue;
        }
        received += chunk.byteLength;
        noteAllocated(chunk.byteLength);
        return controller.enqueue(chunk);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Cross-repository mount: true when the registry linked the blob without an upload. */
export async function mountBlob(client: RegistryClient, desc: Descriptor, fromRepository: string): Promise<boolean> {
  const query = new URLSearchParams({ mount: desc.digest, from: fromRepository });
  const response = await client.request("POST", `/v2/${client.repository}/blobs/uploads/?${query}`, {
    scopes: [client.pushScope, `repository:${fromRepository}:pull`],
  });
  await response.body?.cancel().catch(() => {});
  if (response.status === 201) return true;
  if (response.status === 202) {
    // the registry opened an upload session instead: close it, the caller uploads normally
    const location = response.headers.get("location");
    if (location) await client.request("DELETE", await client.url(location), { scopes: [client.pushScope] }).then((r) => r.body?.cancel());
    return false;
  }
  if (response.status === 401 || response.status === 403 || response.status === 404) return false;
  throw new RegistryError(`mount ${shortDigest(desc.digest)} from ${fromRepository}: ${response.status}`, response.status);
}

/**
 * Uploads a blob, verifying it against `desc` on the way: POST then one PUT for small blobs
 * (read whole, they are at most monolithicLimit), POST + one streamed PATCH + PUT for large ones,
 * never buffered. The registry only makes the blob visible on the final PUT, sent after the last
 * byte has passed our digest check.
 */
export async function uploadBlob(client: RegistryClient, desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
  await withUploadSession(client, desc, async (location, what) => {
    if (desc.size <= monolithicLimit) {
      const bytes = new Uint8Array(await new Response(verifyStream(body, desc, `reading for ${what}`)).arrayBuffer());
      return finish(client, location, desc, what, bytes);
    }
    const verifier = new BlobVerifier(desc, `reading for ${what}`);
    let failure: unknown;
    const guard = (step: () => void) => {
      try {
        step();
      } catch (err) {
        failure = err;
        throw err;
      }
    };
    const checked = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          guard(() => verifier.update(chunk));
          controller.enqueue(chunk);
        },
        flush: () => guard(() => verifier.finish()),
      }),
    );
    await patchAndFinish(client, location, desc, what, checked, async () => {
      if (failure) throw failure;
    });
  });
}

/**
 * Uploads a blob from a local file: one PATCH whose body is the file itself (known length, sent
 * by Bun without a stream in between: a third of the CPU of a streamed body on both sides), while
 * the same file is hashed here in parallel. The closing PUT goes only when our digest matched.
 */
export async function uploadBlobFile(client: RegistryClient, desc: Descriptor, path: string): Promise<void> {
  await withUploadSession(client, desc, async (location, what) => {
    const verified = verifyFile(path, desc, `reading for ${what}`);
    await patchAndFinish(client, location, desc, what, Bun.file(path), () => verified);
  });
}

/** POST a session, run the upload, and cancel the session (DELETE) if anything fails. */
async function withUploadSession(client: RegistryClient, desc: Descriptor, upload: (location: URL, what: string) => Promise<void>): Promise<void> {
  const what = `upload ${shortDigest(desc.digest)} to ${client.registry}/${client.repository}`;
  const start = await client.expect("POST", `/v2/${client.repository}/blobs/uploads/`, [202], what, { scopes: [client.pushScope] });
  await start.body?.cancel();
  const location = await locationOf(client, start, what);
  try {
    await upload(location, what);
  } catch (err) {
    await client.request("DELETE", location, { scopes: [client.pushScope] }).then((r) => r.body?.cancel()).catch(() => {});
    throw err;
  }
}

/** One PATCH with the whole body, then the closing PUT; `verified` settles our own digest check first. */
async function patchAndFinish(client: RegistryClient, location: URL, desc: Descriptor, what: string, body: ReadableStream<Uint8Array> | Blob, verified: () => Promise<void>): Promise<void> {
  let patched: Response;
  try {
    patched = await client.request("PATCH", location, { headers: { "Content-Type": "application/octet-stream" }, body, scopes: [client.pushScope] });
  } catch (err) {
    await verified(); // a failed digest check explains a failed request better than the request does
    throw err;
  }
  await verified();
  if (patched.status !== 202) throw await registryErrorFrom(patched, what);
  await patched.body?.cancel();
  await finish(client, await locationOf(client, patched, what), desc, what);
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
