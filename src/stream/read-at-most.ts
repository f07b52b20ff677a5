import { noteAllocated } from "./gc-pacer.ts";

/**
 * A message body read whole, for the small ones kept in memory (a manifest, a referrers index, a
 * token form): undefined once it proves longer than `limit`, by its declared length before reading
 * or by its bytes while reading (a chunked body declares none), and the rest is not read. No peer
 * makes this process hold more than `limit`.
 */
export async function readAtMost(message: { readonly headers: Headers; readonly body: ReadableStream<Uint8Array> | null }, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(message.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await message.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // leaving the loop early cancels the body
  for await (const chunk of message.body ?? []) {
    total += chunk.byteLength;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  noteAllocated(total);
  return Buffer.concat(chunks);
}
