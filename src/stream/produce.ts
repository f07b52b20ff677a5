/**
 * A stream of what `produce` writes to its sink, for a consumer that reads it as it comes (a tar
 * written as gzip compresses it). The producer waits whenever the stream's small queue is full,
 * so memory stays bounded whatever it writes; a producer's error fails the stream.
 */
export function streamFrom(produce: (sink: { write(chunk: Uint8Array): Promise<void> }) => Promise<void>): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: 4 }, { highWaterMark: 4 });
  const writer = writable.getWriter();
  produce({ write: (chunk) => writer.ready.then(() => writer.write(chunk)) })
    .then(() => writer.close())
    .catch((err) => writer.abort(err).catch(() => {}));
  return readable;
}
