/**
 * Chunk buffers die young, but JSC collects them lazily: a fast copy's RSS climbed to ~200 MiB
 * with four blobs in flight. A synchronous collection every 8 MiB of chunks allocated (cheap:
 * the live heap is small) kept it near 65 MiB at no measurable cost (scripts/bench/copy-local.ts).
 */
const collectEvery = 8 << 20;
let allocatedSinceCollect = 0;

/** Every producer of large chunks (file reads, downloads) reports what it allocated. */
export function noteAllocated(bytes: number): void {
  allocatedSinceCollect += bytes;
  if (allocatedSinceCollect >= collectEvery) {
    allocatedSinceCollect = 0;
    Bun.gc(true);
  }
}
