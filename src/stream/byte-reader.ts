import { StevedoreError } from "../core/errors.ts";

/** What we need of a stream reader; Bun's and the DOM's reader types disagree on overloads. */
export interface ByteReader {
  read(): Promise<{ done: true; value?: Uint8Array } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export function byteReader(stream: ReadableStream<Uint8Array>): ByteReader {
  return stream.getReader() as unknown as ByteReader;
}

/** Cuts a reader into consecutive bodies of exactly the sizes asked for, in order. */
export function exactSlices(reader: ByteReader): (size: number) => ReadableStream<Uint8Array> {
  let leftover: Uint8Array | undefined;
  return (size) => {
    let remaining = size;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (remaining === 0) return controller.close();
        let chunk = leftover;
        leftover = undefined;
        if (!chunk) {
          const next = await reader.read();
          if (next.done) return controller.error(new StevedoreError(`the blob ended ${remaining} bytes before this chunk's end`));
          chunk = next.value;
        }
        if (chunk.byteLength > remaining) {
          leftover = chunk.subarray(remaining);
          chunk = chunk.subarray(0, remaining);
        }
        remaining -= chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  };
}
