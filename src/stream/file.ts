import { randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { NotFoundError } from "../core/errors.ts";
import { noteAllocated } from "./gc-pacer.ts";
import { BlobVerifier } from "./verify.ts";

/** 1 MiB reads: the size at which reading and hashing overlap best here (PERFORMANCE-NOTES). */
const chunkSize = 1 << 20;

/** A fresh chunk buffer, counted so young garbage is collected before RSS climbs. */
function allocateChunk(size: number): Buffer {
  noteAllocated(size);
  return Buffer.allocUnsafe(size);
}

/** Streams a file (or a byte range of it) in 1 MiB chunks; a missing file is a NotFoundError. */
export function readFileStream(path: string, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let position = range?.start ?? 0;
  const end = range?.end ?? Number.POSITIVE_INFINITY;
  return new ReadableStream<Uint8Array>({
    async start() {
      try {
        handle = await open(path, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${path}: no such file`);
        throw err;
      }
    },
    async pull(controller) {
      const want = Math.min(chunkSize, end - position);
      const buffer = allocateChunk(Math.max(want, 0));
      const { bytesRead } = want > 0 ? await handle!.read(buffer, 0, want, position) : { bytesRead: 0 };
      if (bytesRead === 0) {
        await handle!.close();
        controller.close();
        return;
      }
      position += bytesRead;
      controller.enqueue(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
    },
    async cancel() {
      await handle?.close();
    },
  });
}

/** A unique temporary name beside `path`, so the final rename stays on one filesystem. */
export function temporaryPath(path: string): string {
  return `${path}.tmp-${randomBytes(6).toString("hex")}`;
}

export interface AtomicWriteOptions {
  /** Check size and digest while writing; a mismatch leaves nothing behind. */
  readonly verify?: { desc: Pick<Descriptor, "digest"> & { size?: number }; where: string };
  /** fsync before the rename, so a crash never leaves a renamed but empty file. */
  readonly fsync?: boolean;
}

/**
 * Writes a stream to `path` through a temporary file renamed at the end: a reader never sees
 * half a file, and any error (even at the last byte) removes the temporary.
 */
export async function writeFileAtomic(
  path: string,
  body: ReadableStream<Uint8Array> | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = temporaryPath(path);
  const handle = await open(temp, "wx");
  try {
    await writeAll(handle, body, options.verify && new BlobVerifier(options.verify.desc, options.verify.where));
    if (options.fsync) await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
}

/** Hashes each chunk as it arrives and writes it. */
async function writeAll(handle: FileHandle, body: ReadableStream<Uint8Array> | Uint8Array, verifier?: BlobVerifier): Promise<void> {
  if (body instanceof Uint8Array) {
    verifier?.update(body);
    verifier?.finish();
    await handle.write(body);
    return;
  }
  await pipeToHandle(handle, body, 0, verifier && ((chunk) => verifier.update(chunk)));
  verifier?.finish();
}

/**
 * Streams a body into a file from `position` on, `onChunk` seeing each chunk first (to hash it).
 * Writes are synchronous, through one reused 1 MiB staging buffer: in Bun, awaiting fs/promises
 * writes cost twice the time and CPU of writeSync into the page cache, and concatenating the
 * ~64 KiB pieces a network body arrives in cost more than the hashing (profiled on an upload).
 * Returns the bytes written.
 */
export async function pipeToHandle(
  handle: FileHandle,
  body: ReadableStream<Uint8Array>,
  position: number,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<number> {
  const reader = body.getReader();
  const staging = Buffer.allocUnsafe(chunkSize);
  let filled = 0;
  let offset = position;
  const write = (data: Uint8Array) => {
    for (let done = 0; done < data.byteLength; ) done += writeSync(handle.fd, data, done, data.byteLength - done, offset + done);
    offset += data.byteLength;
  };
  const flush = () => {
    if (filled > 0) write(staging.subarray(0, filled));
    filled = 0;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk?.(value);
      if (filled === 0 && value.byteLength >= chunkSize) {
        write(value);
        continue;
      }
      for (let used = 0; used < value.byteLength; ) {
        const take = Math.min(chunkSize - filled, value.byteLength - used);
        staging.set(value.subarray(used, used + take), filled);
        filled += take;
        used += take;
        if (filled === chunkSize) flush();
      }
    }
    flush();
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
  return offset - position;
}
