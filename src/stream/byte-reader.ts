/** What we need of a stream reader; Bun's and the DOM's reader types disagree on overloads. */
export interface ByteReader {
  read(): Promise<{ done: true; value?: Uint8Array } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export function byteReader(stream: ReadableStream<Uint8Array>): ByteReader {
  return stream.getReader() as unknown as ByteReader;
}

/** A blob's bytes again, from `offset` on (a source that can start part-way). */
export type BlobReopener = (offset: number) => Promise<ReadableStream<Uint8Array>>;
