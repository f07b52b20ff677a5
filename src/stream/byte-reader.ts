/** What we need of a stream reader; Bun's and the DOM's reader types disagree on overloads. */
export interface ByteReader {
  read(): Promise<{ done: true; value?: Uint8Array } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export function byteReader(stream: ReadableStream<Uint8Array>): ByteReader {
  return stream.getReader() as unknown as ByteReader;
}
