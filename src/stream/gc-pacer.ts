/**
 * Chunk buffers die young, but JSC collects them lazily: a 1 GiB pull's RSS climbed to ~145 MiB
 * with four blobs in flight. Collecting synchronously every 8 MiB of chunks kept it at 88 MiB but
 * cost a pull a fifth of its CPU and wall time; so every 8 MiB the resident size is looked at, and
 * a collection runs only above the ceiling: peaks of 117 MiB (pull) and 121 MiB (local copy),
 * under the 128 MiB target (A/B runs of scripts/bench/copy-registry.ts's pull, interleaved, and
 * scripts/bench/copy-local.ts; a 100 MiB ceiling cost the pull 12%).
 */
const checkEvery = 8 << 20;
const rssCeiling = 112 << 20;
let allocatedSinceCheck = 0;
/** Ceilings raised by processes' long-running parts (serve) while they run. */
const raised = new Set<{ readonly bytes: number }>();

/** Every producer of large chunks (file reads, downloads) reports what it allocated. */
export function noteAllocated(bytes: number): void {
  allocatedSinceCheck += bytes;
  if (allocatedSinceCheck < checkEvery) return;
  allocatedSinceCheck = 0;
  let ceiling = rssCeiling;
  for (const raise of raised) ceiling = Math.max(ceiling, raise.bytes);
  if (process.memoryUsage.rss() > ceiling) Bun.gc(true);
}

/**
 * For a part of the process that holds many streams at once and stays up (serve: 256 MiB), until
 * the returned function is called. Each forced collection frees chunk memory the allocator hands
 * back to the kernel, and the next chunks fault it in again: at 112 MiB a server taking four
 * 256 MiB uploads ran twice the page faults and 8% more CPU per push (scripts/bench/serve.ts's
 * push, interleaved A/B), with JSC's own collections keeping it near 170 MiB.
 */
export function raiseRssCeiling(bytes: number): () => void {
  const raise = { bytes };
  raised.add(raise);
  return () => void raised.delete(raise);
}
