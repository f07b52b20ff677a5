import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { digestOf } from "../../src/core/digest.ts";
import { IntegrityError, StevedoreError } from "../../src/core/errors.ts";
import { UploadBody } from "../../src/registry/upload-body.ts";
import { byteReader } from "../../src/stream/byte-reader.ts";
import { BlobVerifier } from "../../src/stream/verify.ts";

const bytes = new Uint8Array(randomBytes(300_000));
const desc = { digest: digestOf(bytes), size: bytes.byteLength };

/** `data` from `from` on, in 64 KiB chunks, as a network body arrives. */
function source(data: Uint8Array, from = 0): ReadableStream<Uint8Array> {
  let at = from;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(at, at + 65536));
      at += 65536;
    },
  });
}

function body(data: Uint8Array, reopens?: number[]): UploadBody {
  const reopen = reopens && (async (offset: number) => (reopens.push(offset), source(data, offset)));
  return new UploadBody(byteReader(source(data)), new BlobVerifier(desc, "in a test"), desc.size, reopen);
}

const read = (stream: ReadableStream<Uint8Array>) => new Response(stream).bytes();

describe("UploadBody", () => {
  test("consecutive slices give exactly the bytes; the whole passes the check", async () => {
    const upload = body(bytes);
    const parts = [await read(upload.slice(0, 100_000)), await read(upload.slice(100_000, 250_001)), await read(upload.slice(250_001, bytes.byteLength))];
    expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes));
    expect(upload.failure).toBeUndefined();
  });

  test("a slice from an earlier offset reads the source again from there, and bytes read twice are hashed once", async () => {
    const reopens: number[] = [];
    const upload = body(bytes, reopens);
    await read(upload.slice(0, 200_000)); // sent, but the registry kept only 123,456 of them
    const rest = await read(upload.slice(123_456, bytes.byteLength));
    expect(reopens).toEqual([123_456]);
    expect(Buffer.from(rest)).toEqual(Buffer.from(bytes.subarray(123_456)));
    expect(upload.failure).toBeUndefined(); // the digest matched: nothing was hashed twice
  });

  test("without a way to read again, a slice out of order is refused", async () => {
    const upload = body(bytes);
    await read(upload.slice(0, 100_000));
    await expect(read(upload.slice(50_000, 60_000))).rejects.toThrow("cannot be read again from byte 50000");
  });

  test("a source that ends early fails the check with the sizes, and records it as the failure", async () => {
    const upload = new UploadBody(byteReader(source(bytes.subarray(0, 200_000))), new BlobVerifier(desc, "in a test"), desc.size);
    await expect(read(upload.slice(0, bytes.byteLength))).rejects.toThrow("size mismatch (got 200000 of 300000 bytes)");
    expect(upload.failure).toBeInstanceOf(IntegrityError);
  });

  test("changed bytes fail the digest when the last byte is read", async () => {
    const changed = bytes.slice();
    changed[150_000]! ^= 0xff;
    const upload = new UploadBody(byteReader(source(changed)), new BlobVerifier(desc, "in a test"), desc.size);
    await expect(read(upload.slice(0, bytes.byteLength))).rejects.toThrow("digest mismatch");
    expect(upload.failure).toBeInstanceOf(IntegrityError);
  });

  test("an older slice cancelled late (its request gave up after a newer one began) leaves the newer one reading", async () => {
    const reopens: number[] = [];
    const upload = body(bytes, reopens);
    const older = upload.slice(0, bytes.byteLength); // fills its queue with one chunk, then waits
    await Bun.sleep(1);
    const newer = upload.slice(0, bytes.byteLength).getReader();
    const head = await newer.read();
    await older.cancel(); // late: must not drop the reader the newer slice uses
    const parts = [head.value!];
    for (;;) {
      const next = await newer.read();
      if (next.done) break;
      parts.push(next.value);
    }
    expect(Buffer.from(Buffer.concat(parts))).toEqual(Buffer.from(bytes));
    expect(upload.failure).toBeUndefined();
    expect(reopens).toEqual([0]);
  });

  test("a registry claiming more than was sent is refused, not believed", async () => {
    const upload = body(bytes, []);
    await read(upload.slice(0, 100_000));
    await expect(read(upload.slice(200_000, bytes.byteLength))).rejects.toThrow("holds 200000 bytes, but only");
  });

  test("a newer slice supersedes an older one still being read: the older fails without being the upload's failure", async () => {
    const reopens: number[] = [];
    const upload = body(bytes, reopens);
    const older = upload.slice(0, bytes.byteLength).getReader();
    await older.read(); // a request that read one chunk, then gave up without cancelling its body
    const newer = await read(upload.slice(0, bytes.byteLength));
    expect(Buffer.from(newer)).toEqual(Buffer.from(bytes));
    await expect(older.read()).rejects.toBeInstanceOf(StevedoreError); // superseded, or given up mid-read
    expect(upload.failure).toBeUndefined();
  });
});
