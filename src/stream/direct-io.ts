import { ptr } from "bun:ffi";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/**
 * Direct I/O (O_DIRECT) for durable bulk writes. A blob that is fsynced goes to the disk anyway;
 * through the page cache it is copied twice, and on a VM whose memory is touched for the first
 * time that copy ran at ~335 MiB/s (half of a pull's CPU, in the kernel). Written directly from
 * reused aligned buffers, 1 GiB took 0.5 s here, fsync included, every time; a pull went from
 * ~3.4 s to ~1.6 s (scripts/bench/copy-registry.ts). Where direct I/O is unavailable (macOS,
 * Windows, tmpfs) callers fall back to buffered writes.
 */

/** Offsets, lengths and buffer addresses of direct writes are multiples of this (covers 512-byte and 4 KiB sectors). */
export const directAlignment = 4096;

/** A buffer whose first byte sits on a `directAlignment` boundary, as direct writes require. */
export function alignedBuffer(size: number): Buffer {
  const raw = Buffer.allocUnsafe(size + directAlignment);
  const skip = (directAlignment - (Number(ptr(raw)) % directAlignment)) % directAlignment;
  return raw.subarray(skip, skip + size);
}

/**
 * A second, O_DIRECT handle on an existing file, for its aligned bulk; undefined where the
 * platform or the filesystem has no direct I/O.
 */
export async function openDirect(path: string): Promise<FileHandle | undefined> {
  const flag = constants.O_DIRECT;
  if (!flag) return undefined;
  try {
    return await open(path, constants.O_WRONLY | flag);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EINVAL") return undefined;
    throw err;
  }
}
