import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { IntegrityError } from "../../src/core/errors.ts";
import { alignedBuffer, directAlignment, openDirect } from "../../src/stream/direct-io.ts";
import { pipeToHandle, scanFile, writeFileAtomic } from "../../src/stream/file.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
let counter = 0;
const fresh = () => join(dir, `file-${counter++}`);

/** `bytes` as a stream of pieces of the given sizes, cycling: network bodies arrive in odd pieces. */
function piecewise(bytes: Uint8Array, sizes: readonly number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      const size = sizes[i++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

describe("direct I/O", () => {
  test("aligned buffers start on the alignment boundary", async () => {
    const { ptr } = await import("bun:ffi");
    for (const size of [4096, 1 << 20, 12345]) {
      const buffer = alignedBuffer(size);
      expect(buffer.byteLength).toBe(size);
      expect(Number(ptr(buffer)) % directAlignment).toBe(0);
    }
  });

  test("openDirect gives a handle that takes aligned writes, or nothing where the filesystem has no direct I/O; never an error", async () => {
    const places = [dir, ...(existsSync("/dev/shm") ? [tmpDir("stevedore-shm-", "/dev/shm")] : [])];
    for (const place of places) {
      const path = join(place, `probe-${counter++}`);
      writeFileSync(path, "");
      const direct = await openDirect(path);
      if (direct) {
        const block = alignedBuffer(directAlignment).fill(7);
        expect((await direct.write(block, 0, block.byteLength, 0)).bytesWritten).toBe(directAlignment);
        await direct.close();
        expect(readFileSync(path)).toEqual(Buffer.from(block));
      }
    }
  });
});

describe("pipeToHandle", () => {
  // sizes around the 1 MiB staging buffer and the 4 KiB direct block, in odd pieces and in one piece
  const cases: [string, number, number[]][] = [
    ["empty", 0, [1]],
    ["under a block", 1000, [7]],
    ["exactly one staging buffer", 1 << 20, [65536]],
    ["staging buffers plus an unaligned tail", 3 * (1 << 20) + 12345, [65536, 1, 777_777]],
    ["pieces larger than a staging buffer", 5 * (1 << 20) + 4096, [(1 << 20) + 5, 3]],
  ];
  for (const [name, size, pieces] of cases) {
    for (const withDirect of [false, true]) {
      test(`${name}${withDirect ? ", direct" : ""}: the file holds exactly the bytes`, async () => {
        const bytes = randomBytes(size);
        const path = fresh();
        writeFileSync(path, "");
        const handle = await open(path, "r+");
        const direct = withDirect ? await openDirect(path) : undefined;
        let seen = 0;
        const written = await pipeToHandle(handle, piecewise(bytes, pieces), 0, (c) => (seen += c.byteLength), direct);
        await direct?.close();
        await handle.close();
        expect(written).toBe(size);
        expect(seen).toBe(size);
        expect(digestOf(readFileSync(path))).toBe(digestOf(bytes));
      });
    }
  }

  test("appending at an unaligned position falls back to buffered writes and keeps what was there", async () => {
    const head = randomBytes(5000);
    const tail = randomBytes(2 * (1 << 20) + 3);
    const path = fresh();
    writeFileSync(path, head);
    const handle = await open(path, "r+");
    const direct = await openDirect(path);
    expect(await pipeToHandle(handle, piecewise(tail, [65536]), head.byteLength, undefined, direct)).toBe(tail.byteLength);
    await direct?.close();
    await handle.close();
    expect(digestOf(readFileSync(path))).toBe(digestOf(Buffer.concat([head, tail])));
  });
});

describe("writeFileAtomic", () => {
  test("a durable stream lands whole under its name, nothing else left", async () => {
    const bytes = randomBytes(2 * (1 << 20) + 99);
    const sub = join(dir, "atomic-ok");
    await writeFileAtomic(join(sub, "blob"), piecewise(bytes, [65536]), { fsync: true, verify: { desc: { digest: digestOf(bytes), size: bytes.byteLength }, where: "test" } });
    expect(digestOf(readFileSync(join(sub, "blob")))).toBe(digestOf(bytes));
    expect(readdirSync(sub)).toEqual(["blob"]);
  });

  test("a digest mismatch at the last byte leaves no file and no temporary", async () => {
    const bytes = randomBytes(3 * (1 << 20) + 1);
    const sub = join(dir, "atomic-bad");
    const write = writeFileAtomic(join(sub, "blob"), piecewise(bytes, [65536]), { fsync: true, verify: { desc: { digest: digestOf("other"), size: bytes.byteLength }, where: "test" } });
    await expect(write).rejects.toBeInstanceOf(IntegrityError);
    expect(readdirSync(sub)).toEqual([]);
  });

  test("a stream it cannot begin to write (its directory cannot be made) is cancelled, so its producer hears of it", async () => {
    const notADirectory = fresh();
    writeFileSync(notADirectory, "a file");
    let cancelled: unknown;
    const body = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}), cancel: (reason) => void (cancelled = reason) });
    const write = writeFileAtomic(join(notADirectory, "sub", "blob"), body);
    await expect(write).rejects.toThrow();
    expect((cancelled as NodeJS.ErrnoException | undefined)?.code).toBe("ENOTDIR");
  });
});

describe("scanFile", () => {
  test("sees every byte once, in order, and counts them", async () => {
    const bytes = randomBytes(3 * (1 << 20) + 17);
    const path = fresh();
    writeFileSync(path, bytes);
    const hasher = new Bun.CryptoHasher("sha256");
    expect(await scanFile(path, (c) => hasher.update(c))).toBe(bytes.byteLength);
    expect(`sha256:${hasher.digest("hex")}`).toBe(digestOf(bytes));
  });

  test("a missing file is a not-found error", async () => {
    await expect(scanFile(join(dir, "missing"), () => {})).rejects.toThrow("no such file");
  });

  test("a range gives exactly its bytes, to a slow asynchronous callback; a range past the end is an error", async () => {
    const bytes = randomBytes(3 * (1 << 20) + 17);
    const path = fresh();
    writeFileSync(path, bytes);
    const seen: Buffer[] = [];
    const start = (1 << 20) - 5;
    const end = bytes.byteLength - 3;
    const count = await scanFile(
      path,
      async (chunk) => {
        await Bun.sleep(5); // the next read is in flight meanwhile: it must not land in this chunk's buffer
        seen.push(Buffer.from(chunk));
      },
      { start, end },
    );
    expect(count).toBe(end - start);
    expect(Buffer.concat(seen).equals(bytes.subarray(start, end))).toBe(true);
    expect(await scanFile(path, () => {}, { start: 7, end: 7 })).toBe(0);
    const small: number[] = [];
    const hasher = new Bun.CryptoHasher("sha256");
    await scanFile(path, (chunk) => (small.push(chunk.byteLength), hasher.update(chunk)), { blockSize: 4096 });
    expect(Math.max(...small)).toBe(4096);
    expect(`sha256:${hasher.digest("hex")}`).toBe(digestOf(bytes));
    await expect(scanFile(path, () => {}, { start: 0, end: bytes.byteLength + 1 })).rejects.toThrow(`ended at byte ${bytes.byteLength}`);
  });
});
