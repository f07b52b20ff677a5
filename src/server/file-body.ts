/**
 * A response whose body is a byte range of a file on disk. Mounted in Bun.serve it goes out by
 * sendfile (a Bun.file body); `listen` (server/listen.ts) sees the range and copies it through a
 * reused buffer instead, which it measured faster here (see there).
 */
export interface FileRange {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

const ranges = new WeakMap<Response, FileRange>();

/** `[start, end)` of the file at `path` as the response body; `init` carries the status and headers. */
export function fileResponse(range: FileRange, init: ResponseInit): Response {
  const response = new Response(Bun.file(range.path).slice(range.start, range.end), init);
  ranges.set(response, range);
  return response;
}

/** The file range a response was made from by `fileResponse`, if it was. */
export function fileRangeOf(response: Response): FileRange | undefined {
  return ranges.get(response);
}
