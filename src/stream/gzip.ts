import { IntegrityError, StevedoreError } from "../core/errors.ts";
import { type ByteReader, byteReader } from "./byte-reader.ts";

/** gzip's magic bytes. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Decompresses with Bun's native zlib (DecompressionStream: ~345 MiB/s here, fflate ~30 MiB/s; see
 * scripts/bench/gzip.ts). Corrupt input is an IntegrityError; output past `maxBytes` fails the
 * stream, so a decompression bomb stops early.
 */
export function gunzip(body: ReadableStream<Uint8Array>, options: { maxBytes?: number } = {}): ReadableStream<Uint8Array> {
  const reader = body.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>).getReader();
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result;
      try {
        result = await reader.read();
      } catch (err) {
        throw err instanceof StevedoreError ? err : new IntegrityError(`gzip: corrupt data (${(err as Error).message})`);
      }
      if (result.done) return controller.close();
      total += result.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new IntegrityError(`gzip: decompresses to more than ${maxBytes} bytes`);
      }
      controller.enqueue(result.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Decompresses a body that may or may not be gzip, judged by its first chunk (put back, never tee'd). */
export function gunzipIfCompressed(body: ReadableStream<Uint8Array>, options: { maxBytes?: number } = {}): ReadableStream<Uint8Array> {
  const reader = byteReader(body);
  let inner: ByteReader | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!inner) {
        const head = await reader.read();
        if (head.done) return controller.close();
        const first = head.value;
        const whole = new ReadableStream<Uint8Array>({
          start: (c) => c.enqueue(first),
          async pull(c) {
            const next = await reader.read();
            if (next.done) c.close();
            else c.enqueue(next.value);
          },
          cancel: (reason) => reader.cancel(reason),
        });
        inner = byteReader(isGzip(first) ? gunzip(whole, options) : whole);
      }
      const next = await inner.read();
      if (next.done) return controller.close();
      controller.enqueue(next.value);
    },
    cancel: (reason) => (inner ?? reader).cancel(reason),
  });
}
