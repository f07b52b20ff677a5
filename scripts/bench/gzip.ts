#!/usr/bin/env bun
/**
 * gunzip and gzip throughput of Bun's native zlib (DecompressionStream, node:zlib, Bun.gzipSync)
 * against fflate on 64 MiB of half-compressible data, in one run: why src/stream/gzip.ts is native.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { gunzipSync as fflateGunzip, gzipSync as fflateGzip } from "fflate";

const size = 64 << 20;
const data = new Uint8Array(size);
for (let i = 0; i < size; i += 1 << 16) data.set(i % (1 << 17) === 0 ? randomBytes(1 << 16) : new Uint8Array(1 << 16).fill(i & 0xff), i);
const compressed = Bun.gzipSync(data, { level: 6 });

async function time(label: string, fn: () => Promise<unknown> | unknown): Promise<void> {
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  console.log(`${label.padEnd(40)} ${(size / (1 << 20) / seconds).toFixed(0).padStart(6)} MiB/s`);
}

const chunked = () => new Blob([compressed]).stream();
await time("gunzip DecompressionStream (native)", () => new Response(chunked().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
await time("gunzip node:zlib stream (native)", async () => {
  for await (const _ of Readable.from([compressed]).pipe(createGunzip())) {
    // drain
  }
});
await time("gunzip fflate", () => fflateGunzip(compressed));
await time("gzip level 1 Bun.gzipSync (libdeflate)", () => Bun.gzipSync(data, { level: 1 }));
await time("gzip level 1 fflate", () => fflateGzip(data, { level: 1 }));
