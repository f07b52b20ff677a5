/**
 * Responses whose body the listener (server/listen.ts) can send without reading a stream: a byte
 * range of a file, or bytes already in memory. To any other fetch-style server they are ordinary
 * responses (a file range goes out of Bun.serve by sendfile).
 */

export interface FileRange {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

const ranges = new WeakMap<Response, FileRange>();
const inMemory = new WeakMap<Response, Uint8Array>();

/**
 * `[start, end)` of the file at `path` as the response body; `init` carries the status and
 * headers. `listen` copies the range through a reused buffer, which it measured faster than
 * sendfile here (see there).
 */
export function fileResponse(range: FileRange, init: ResponseInit): Response {
  const response = new Response(Bun.file(range.path).slice(range.start, range.end), init);
  ranges.set(response, range);
  return response;
}

/** The file range a response was made from by `fileResponse`, if it was. */
export function fileRangeOf(response: Response): FileRange | undefined {
  return ranges.get(response);
}

/**
 * Bytes in memory as the response body (a manifest): `listen` writes them as they are, where
 * reading them back through the response's stream cost a manifest GET a good part of its time.
 */
export function bytesResponse(bytes: Uint8Array, init: ResponseInit): Response {
  const response = new Response(bytes, init);
  inMemory.set(response, bytes);
  return response;
}

/** The bytes a response was made from by `bytesResponse`, if it was. */
export function bytesOf(response: Response): Uint8Array | undefined {
  return inMemory.get(response);
}
