import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, type DigestAlgorithm, DigestHasher } from "../core/digest.ts";
import { NotFoundError } from "../core/errors.ts";
import { alignedBuffer, directAlignment, openDirect } from "./direct-io.ts";
import { noteAllocated } from "./gc-pacer.ts";
import { BlobVerifier } from "./verify.ts";

/** 1 MiB reads: the size at which reading and hashing overlap best here (PERFORMANCE-NOTES). */
const chunkSize = 1 << 20;

/** A fresh chunk buffer, counted so young garbage is collected before RSS climbs. */
function allocateChunk(size: number): Buffer {
  noteAllocated(size);
  return Buffer.allocUnsafe(size);
}

/** Opens a file to read; a missing file is a NotFoundError that names it. */
export async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${path}: no such file`);
    throw err;
  }
}

/** Whether a path exists (a file or a directory). */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Streams a file (or a byte range of it) in 1 MiB chunks; a missing file is a NotFoundError. */
export function readFileStream(path: string, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let position = range?.start ?? 0;
  const end = range?.end ?? Number.POSITIVE_INFINITY;
  return new ReadableStream<Uint8Array>({
    async start() {
      handle = await openForReading(path);
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

interface ScanOptions {
  /** The bytes [start, end) only (default: from 0 to the file's end). */
  readonly start?: number;
  readonly end?: number;
  /** Bytes a read (default 1 MiB); two buffers of it are held while scanning. */
  readonly blockSize?: number;
}

/**
 * Feeds a file, or its bytes [start, end), to `onChunk` (to hash it, to send it) through two
 * reused buffers (1 MiB by default): the next read runs while the current chunk is handled (awaited when
 * `onChunk` returns a promise), and no chunk is allocated, so a 1 GiB scan costs no page faults
 * and no garbage (allocating a buffer per chunk cost a push a third of its client CPU). A chunk is
 * only valid until its callback has settled. Returns the bytes read; a range the file ends inside
 * is an error.
 */
export async function scanFile(path: string, onChunk: (chunk: Uint8Array) => unknown, options: ScanOptions = {}): Promise<number> {
  const handle = await openForReading(path);
  const block = options.blockSize ?? chunkSize;
  const buffers = [Buffer.allocUnsafe(block), Buffer.allocUnsafe(block)] as const;
  const start = options.start ?? 0;
  const end = options.end ?? Number.POSITIVE_INFINITY;
  let position = start;
  let which = 0;
  const readNext = () => (position < end ? handle.read(buffers[which]!, 0, Math.min(block, end - position), position) : undefined);
  let pending = readNext();
  try {
    for (;;) {
      const bytesRead = pending ? (await pending).bytesRead : 0;
      if (bytesRead === 0) {
        if (options.end !== undefined && position < end) throw new Error(`${path} ended at byte ${position}, before ${end}`);
        return position - start;
      }
      const current = buffers[which]!;
      position += bytesRead;
      which ^= 1;
      pending = readNext();
      await onChunk(current.subarray(0, bytesRead));
    }
  } finally {
    await pending?.catch(() => {});
    await handle.close();
  }
}

/** The digest of a whole file, read as `scanFile` reads it. */
export async function digestFile(path: string, algorithm: DigestAlgorithm = "sha256"): Promise<Digest> {
  const hasher = new DigestHasher(algorithm);
  await scanFile(path, (chunk) => hasher.update(chunk));
  return hasher.digest();
}

/** A unique temporary name beside `path`, so the final rename stays on one filesystem. */
export function temporaryPath(path: string): string {
  // hidden, and a name no tag or digest can have (tags start with [A-Za-z0-9_]): a tag such as
  // "v1.tmp-0123456789ab" is content, not a write in progress
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
}

/** A name temporaryPath made: a write in progress (or a crashed one), never content. */
export const isTemporaryPath = (name: string): boolean => /^\..*\.tmp-[0-9a-f]{12}$/.test(name);

/** How a destination writes its files. */
export interface WriteOptions {
  /** fsync before the rename, so a crash never leaves a renamed but empty file. */
  readonly fsync?: boolean;
  /** Checked at every chunk: an abort stops a write mid-blob and leaves nothing behind. */
  readonly signal?: AbortSignal;
}

/** A destination's write options from what it was opened with: durable unless told otherwise. */
export function writeOptions(opened: WriteOptions): WriteOptions {
  return { fsync: opened.fsync ?? true, signal: opened.signal };
}

export interface AtomicWriteOptions extends WriteOptions {
  /** Check size and digest while writing; a mismatch leaves nothing behind. */
  readonly verify?: { desc: Pick<Descriptor, "digest"> & { size?: number }; where: string };
  /** The file's permissions from its creation on (a secret is never readable by others, not even as a temporary). */
  readonly mode?: number;
}

/**
 * Writes a stream to `path` through a temporary file renamed at the end: a reader never sees
 * half a file, and any error (even at the last byte) removes the temporary. A stream not read to
 * its end is cancelled, so its producer hears of the failure (one fed in step with another reader
 * would otherwise wait for it).
 */
export async function writeFileAtomic(
  path: string,
  body: ReadableStream<Uint8Array> | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = temporaryPath(path);
  let handle: FileHandle | undefined;
  let direct: FileHandle | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
    handle = await open(temp, "wx", options.mode);
    // durable streams skip the page cache: they go to the disk before the rename anyway
    direct = options.fsync && !(body instanceof Uint8Array) ? await openDirect(temp) : undefined;
    await writeAll(handle, body, options.verify && new BlobVerifier(options.verify.desc, options.verify.where), direct, options.signal);
    if (options.fsync) await handle.sync();
    await direct?.close();
    await handle.close();
    await rename(temp, path);
  } catch (err) {
    // unread (the failure came first) it is cancelled here; read, its reader cancelled it
    if (body instanceof ReadableStream && !body.locked) await body.cancel(err).catch(() => {});
    await direct?.close().catch(() => {});
    await handle?.close().catch(() => {});
    if (handle) await rm(temp, { force: true });
    throw err;
  }
}

/** Hashes each chunk as it arrives and writes it. */
async function writeAll(handle: FileHandle, body: ReadableStream<Uint8Array> | Uint8Array, verifier?: BlobVerifier, direct?: FileHandle, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  if (body instanceof Uint8Array) {
    verifier?.update(body);
    verifier?.finish();
    await handle.write(body);
    return;
  }
  const onChunk = (chunk: Uint8Array) => {
    signal?.throwIfAborted();
    verifier?.update(chunk);
  };
  await pipeToHandle(handle, body, 0, onChunk, direct);
  verifier?.finish();
}

/**
 * Streams a body into a file from `position` on, `onChunk` seeing each chunk first (to hash it).
 * Network bodies arrive in ~64 KiB pieces: they are gathered into 1 MiB staging buffers, and each
 * full buffer is written by the thread pool while this thread hashes the next one, so hashing and
 * the kernel's copy run on two cores (written inline with writeSync, they took turns on one). One
 * write is in flight at a time and two buffers alternate, so memory stays at 2 MiB. With `direct`
 * (an O_DIRECT handle on the same file, from openDirect) the aligned blocks bypass the page cache
 * and only an unaligned tail goes through `handle`. Returns the bytes written.
 */
export async function pipeToHandle(
  handle: FileHandle,
  body: ReadableStream<Uint8Array>,
  position: number,
  onChunk?: (chunk: Uint8Array) => void,
  direct?: FileHandle,
): Promise<number> {
  const reader = body.getReader();
  let directTarget = position % directAlignment === 0 ? direct : undefined;
  const staging = directTarget ? [alignedBuffer(chunkSize), alignedBuffer(chunkSize)] : [Buffer.allocUnsafe(chunkSize), Buffer.allocUnsafe(chunkSize)];
  let current = 0;
  let filled = 0;
  let offset = position;
  let inFlight: Promise<void> = Promise.resolve();
  const writeBlock = async (data: Uint8Array, at: number) => {
    if (directTarget && data.byteLength % directAlignment === 0) {
      try {
        return await writeAt(directTarget, data, at);
      } catch (err) {
        // a filesystem that opened O_DIRECT but refuses these writes: buffered from here on
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
        directTarget = undefined;
      }
    }
    await writeAt(handle, data, at);
  };
  // waits for the previous write (freeing its buffer) and starts this one
  const write = async (data: Uint8Array) => {
    await inFlight;
    inFlight = writeBlock(data, offset);
    offset += data.byteLength;
  };
  const flush = async () => {
    const buffer = staging[current]!;
    const aligned = directTarget ? filled - (filled % directAlignment) : filled;
    if (aligned > 0) await write(buffer.subarray(0, aligned));
    if (aligned < filled) await write(buffer.subarray(aligned, filled));
    current ^= 1;
    filled = 0;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk?.(value);
      if (!directTarget && filled === 0 && value.byteLength >= chunkSize) {
        await write(value);
        continue;
      }
      for (let used = 0; used < value.byteLength; ) {
        const take = Math.min(chunkSize - filled, value.byteLength - used);
        staging[current]!.set(value.subarray(used, used + take), filled);
        filled += take;
        used += take;
        if (filled === chunkSize) await flush();
      }
    }
    if (filled > 0) await flush();
    await inFlight;
  } catch (err) {
    await inFlight.catch(() => {});
    await reader.cancel(err).catch(() => {});
    throw err;
  }
  return offset - position;
}

/** Writes all of `data` at `position` (a write may be short). */
async function writeAt(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength; ) done += (await handle.write(data, done, data.byteLength - done, position + done)).bytesWritten;
}
