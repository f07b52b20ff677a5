/**
 * A request body read whole, for the small ones a handler needs in memory (a manifest, a token
 * form): `tooLarge` is thrown before reading when the declared length is over `limit`, and while
 * reading once the bytes are (a chunked body declares none), so no client makes the server hold
 * more than `limit`.
 */
export async function readBodyAtMost(request: Request, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of (request.body ?? []) as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
