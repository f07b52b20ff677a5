import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, shortDigest } from "../core/digest.ts";
import { NotFoundError, StevedoreError } from "../core/errors.ts";
import { type ByteReader, byteReader } from "../stream/byte-reader.ts";
import { noteAllocated } from "../stream/gc-pacer.ts";
import type { RegistryClient } from "./client.ts";
import { RegistryError, registryErrorFrom } from "./errors.ts";

/** A download cut mid-blob resumes with Range this many times before giving up. */
const maxResumes = 5;

export async function hasBlob(client: RegistryClient, desc: Descriptor): Promise<boolean> {
  return (await headBlob(client, desc.digest)) !== null;
}

/** HEAD a blob: its Content-Length (undefined when the registry sends none), or null when absent. */
export async function headBlob(client: RegistryClient, digest: Digest): Promise<number | undefined | null> {
  const response = await client.request("HEAD", `/v2/${client.repository}/blobs/${digest}`);
  await response.body?.cancel();
  if (response.status === 404) return null;
  if (!response.ok) throw await registryErrorFrom(response, `blob ${shortDigest(digest)}`);
  const size = Number(response.headers.get("content-length") ?? Number.NaN);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/**
 * GET a blob as a stream, from byte `from` on. Raw: the consumer verifies. A connection cut
 * part-way resumes with `Range: bytes=N-` rather than starting over; a registry that ignores
 * Range has its first N bytes skipped.
 */
export async function getBlob(client: RegistryClient, desc: Descriptor, from = 0): Promise<ReadableStream<Uint8Array>> {
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
  let { reader, skip } = await open(from);
  let received = from;
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
