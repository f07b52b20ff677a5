import { type FileHandle, open } from "node:fs/promises";
import { IntegrityError } from "../core/errors.ts";
import { type WriteOptions, pipeToHandle } from "../stream/file.ts";
import { type TarHeader, blockSize, encodeHeader, padded } from "./tar-header.ts";

const endOfArchive = new Uint8Array(blockSize * 2);
const zeros = new Uint8Array(blockSize);

function sizeError(path: string, expected: number, got: number): IntegrityError {
  return new IntegrityError(`tar entry "${path}": body is ${got} bytes, header says ${expected}`);
}

/** Writes a tar stream to any sink (stdout, a FileSink); entries must have known sizes. */
export class TarWriter {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly sink: { write(chunk: Uint8Array): unknown }) {}

  /** Appends an entry; calls are serialised, so concurrent callers each get a whole entry. */
  add(header: TarHeader, body?: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    const next = this.queue.then(() => this.write(header, body));
    this.queue = next.catch(() => {});
    return next;
  }

  async finish(): Promise<void> {
    await this.queue;
    await this.sink.write(endOfArchive);
  }

  private async write(header: TarHeader, body?: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    await this.sink.write(encodeHeader(header));
    let written = 0;
    if (body instanceof Uint8Array) {
      await this.sink.write(body);
      written = body.byteLength;
    } else if (body) {
      for await (const chunk of body) {
        written += chunk.byteLength;
        if (written > header.size) throw sizeError(header.path, header.size, written);
        await this.sink.write(chunk);
      }
    }
    if (written !== header.size) throw sizeError(header.path, header.size, written);
    const pad = padded(written) - written;
    if (pad > 0) await this.sink.write(zeros.subarray(0, pad));
  }
}

/** A header whose size may be unknown until its body has streamed. */
export type TarFileHeader = Omit<TarHeader, "size"> & { readonly size?: number };

/**
 * Writes a tar file with positional writes. An entry may have an unknown size: a placeholder
 * header is written, the body streamed, and the header rewritten in place (sizes never need pax,
 * so its length does not change).
 */
export class TarFileWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private position = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly options: WriteOptions,
  ) {}

  static async open(path: string, options: WriteOptions = {}): Promise<TarFileWriter> {
    return new TarFileWriter(await open(path, "wx"), options);
  }

  /** Appends an entry; calls are serialised. Returns the entry's size. */
  add(header: TarFileHeader, body?: ReadableStream<Uint8Array> | Uint8Array): Promise<number> {
    const next = this.queue.then(() => this.write(header, body));
    this.queue = next.catch(() => {});
    return next;
  }

  /** Ends the archive, fsyncs if asked, closes the file. */
  async close(): Promise<void> {
    await this.queue;
    await this.handle.write(endOfArchive, 0, endOfArchive.byteLength, this.position);
    if (this.options.fsync) await this.handle.sync();
    await this.handle.close();
  }

  /** Closes without finishing; the caller removes the file. */
  async abort(): Promise<void> {
    await this.queue.catch(() => {});
    await this.handle.close().catch(() => {});
  }

  private async write(header: TarFileHeader, body?: ReadableStream<Uint8Array> | Uint8Array): Promise<number> {
    const start = this.position;
    const placeholder = encodeHeader({ ...header, size: header.size ?? 0 });
    await this.handle.write(placeholder, 0, placeholder.byteLength, start);
    const dataStart = start + placeholder.byteLength;
    let written = 0;
    if (body instanceof Uint8Array) {
      await this.handle.write(body, 0, body.byteLength, dataStart);
      written = body.byteLength;
    } else if (body) {
      const limit = header.size;
      written = await pipeToHandle(this.handle, body, dataStart, (chunk) => {
        this.options.signal?.throwIfAborted();
        if (limit !== undefined && (written += chunk.byteLength) > limit) throw sizeError(header.path, limit, written);
      });
    }
    if (header.size !== undefined && written !== header.size) throw sizeError(header.path, header.size, written);
    if (header.size === undefined) {
      const final = encodeHeader({ ...header, size: written });
      await this.handle.write(final, 0, final.byteLength, start);
    }
    const pad = padded(written) - written;
    if (pad > 0) await this.handle.write(zeros, 0, pad, dataStart + written);
    this.position = dataStart + padded(written);
    return written;
  }
}
