import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IntegrityError } from "../../src/core/errors.ts";
import { safeEntryPath } from "../../src/archive/safe-path.ts";
import { type TarHeader, decodeHeader, encodeHeader } from "../../src/archive/tar-header.ts";
import { indexTarFile, readTar, readTarMember } from "../../src/archive/tar-reader.ts";
import { TarFileWriter, TarWriter } from "../../src/archive/tar-writer.ts";
import { decompress } from "../../src/stream/gzip.ts";
import { run } from "../helpers/cli.ts";
import { seededBytes } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const base = { mode: 0o644, uid: 1000, gid: 1000, mtime: 1_700_000_000, uname: "u", gname: "g" } as const;
const longPath = `${"deep/".repeat(40)}file.txt`;
const entries: { header: TarHeader; body?: Uint8Array }[] = [
  { header: { ...base, path: "dir", type: "directory", size: 0, mode: 0o755 } },
  { header: { ...base, path: "dir/file.bin", type: "file", size: 70_000 }, body: seededBytes(70_000, 1) },
  { header: { ...base, path: "empty", type: "file", size: 0 }, body: new Uint8Array() },
  { header: { ...base, path: "link", type: "symlink", size: 0, linkname: `../${"x".repeat(150)}` } },
  { header: { ...base, path: "hard", type: "hardlink", size: 0, linkname: "dir/file.bin" } },
  { header: { ...base, path: "dev/null", type: "char-device", size: 0, devmajor: 1, devminor: 3 } },
  { header: { ...base, path: "dev/sda", type: "block-device", size: 0, devmajor: 8, devminor: 0 } },
  { header: { ...base, path: "pipe", type: "fifo", size: 0 } },
  { header: { ...base, path: longPath, type: "file", size: 5 }, body: new TextEncoder().encode("hello") },
  { header: { ...base, path: "ünïcødé/名前.txt", type: "file", size: 3, uid: 3_000_000 }, body: new TextEncoder().encode("abc") },
];

async function writeArchive(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
  for (const e of entries) await writer.add(e.header, e.body);
  await writer.finish();
  return Buffer.concat(chunks);
}

async function readAll(bytes: Uint8Array, options = {}) {
  const out: { header: TarHeader; body: Uint8Array }[] = [];
  for await (const e of readTar(new Blob([bytes]).stream(), options)) out.push({ header: e.header, body: new Uint8Array(await new Response(e.body).arrayBuffer()) });
  return out;
}

describe("tar", () => {
  const dir = tmpDir();

  test("round-trips files, dirs, links, devices, fifos, long and non-ASCII names", async () => {
    const back = await readAll(await writeArchive());
    expect(back.map((e) => e.header.path)).toEqual(entries.map((e) => e.header.path));
    for (const [i, e] of entries.entries()) {
      expect(back[i]!.header).toMatchObject({ type: e.header.type, mode: e.header.mode, uid: e.header.uid, gid: e.header.gid, mtime: e.header.mtime, size: e.header.size });
      if (e.header.linkname) expect(back[i]!.header.linkname).toBe(e.header.linkname);
      if (e.header.devmajor !== undefined) expect([back[i]!.header.devmajor, back[i]!.header.devminor]).toEqual([e.header.devmajor, e.header.devminor!]);
      expect(back[i]!.body).toEqual(e.body ?? new Uint8Array());
    }
  });

  test("entries left unread are skipped, and arrive in small chunks", async () => {
    const bytes = await writeArchive();
    const paths: string[] = [];
    for await (const e of readTar(new Blob([bytes]).stream())) paths.push(e.header.path);
    expect(paths).toHaveLength(entries.length);
  });

  test("GNU tar reads what TarWriter writes, byte for byte", async () => {
    const archive = join(dir, "ours.tar");
    writeFileSync(archive, await writeArchive());
    const listing = await run(["tar", "-tvf", archive]);
    expect(listing.exitCode).toBe(0);
    expect(listing.stdout).toContain(longPath);
    expect((await run(["tar", "-xOf", archive, "dir/file.bin"])).stdout.length).toBeGreaterThan(0);
    const extracted = Bun.spawnSync(["tar", "-xOf", archive, "dir/file.bin"]).stdout;
    expect(new Uint8Array(extracted)).toEqual(seededBytes(70_000, 1));
  });

  test.each(["gnu", "pax", "ustar"])("reads what GNU tar writes in %s format", async (format) => {
    const src = join(dir, `src-${format}`);
    mkdirSync(join(src, "a".repeat(60), "b".repeat(60)), { recursive: true });
    writeFileSync(join(src, "a".repeat(60), "b".repeat(60), "c".repeat(40)), "long");
    symlinkSync("target", join(src, "sym"));
    const archive = join(dir, `${format}.tar`);
    expect((await run(["tar", `--format=${format}`, "-C", src, "-cf", archive, "."])).exitCode).toBe(0);
    const back = await readAll(readFileSync(archive));
    const long = back.find((e) => e.header.path.endsWith("c".repeat(40)))!;
    expect(long.header.path).toBe(`${"a".repeat(60)}/${"b".repeat(60)}/${"c".repeat(40)}`);
    expect(new TextDecoder().decode(long.body)).toBe("long");
    expect(back.find((e) => e.header.path === "sym")!.header).toMatchObject({ type: "symlink", linkname: "target" });
  });

  test("sizes of 8 GiB and more are encoded and decoded (base-256)", async () => {
    const header = { ...base, path: "huge", type: "file" as const, size: 9 * 2 ** 30 };
    const decoded = decodeHeader(encodeHeader(header));
    expect(decoded.kind === "entry" && decoded.header.size).toBe(9 * 2 ** 30);
  });

  test.each([["../etc/passwd"], ["/etc/passwd"], ["a/../../x"], ["..\\x"], ["a\0b"], ["C:/x"]])("refuses the entry %p", async (path) => {
    expect(() => safeEntryPath(path)).toThrow(IntegrityError);
    const chunks: Uint8Array[] = [];
    const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
    await writer.add({ ...base, path, type: "file", size: 1 }, new Uint8Array([1]));
    await writer.finish();
    await expect(readAll(Buffer.concat(chunks))).rejects.toBeInstanceOf(IntegrityError);
  });

  test("a hardlink to ../x is refused", async () => {
    const chunks: Uint8Array[] = [];
    const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
    await writer.add({ ...base, path: "h", type: "hardlink", size: 0, linkname: "../x" });
    await writer.finish();
    await expect(readAll(Buffer.concat(chunks))).rejects.toThrow("escapes the root");
  });

  test("safe paths are normalised", async () => {
    expect(safeEntryPath("./a//b/./c/")).toBe("a/b/c");
    expect(safeEntryPath("a/b/../c")).toBe("a/c");
  });

  test("a truncated archive and a corrupt checksum are integrity errors", async () => {
    const bytes = await writeArchive();
    await expect(readAll(bytes.subarray(0, 2000))).rejects.toThrow("unexpected end of archive");
    const corrupt = new Uint8Array(bytes);
    corrupt[10]! ^= 0xff;
    await expect(readAll(corrupt)).rejects.toBeInstanceOf(IntegrityError);
  });

  test("entry and byte caps stop an archive bomb", async () => {
    const bytes = await writeArchive();
    await expect(readAll(bytes, { maxEntries: 3 })).rejects.toThrow("more than 3 entries");
    await expect(readAll(bytes, { maxBytes: 1000 })).rejects.toThrow("more than 1000 bytes");
  });

  test("indexTarFile gives random access to members without extraction", async () => {
    const archive = join(dir, "indexed.tar");
    writeFileSync(archive, await writeArchive());
    const index = await indexTarFile(archive);
    expect(index.entries).toHaveLength(entries.length);
    const member = index.get("dir/file.bin")!;
    expect(new Uint8Array(await new Response(readTarMember(archive, member)).arrayBuffer())).toEqual(seededBytes(70_000, 1));
    expect(index.get(longPath)?.header.size).toBe(5);
  });

  test("TarFileWriter patches the header of a body of unknown size; GNU tar extracts it", async () => {
    const archive = join(dir, "patched.tar");
    const writer = await TarFileWriter.open(archive, { fsync: true });
    const body = seededBytes(300_001, 9);
    expect(await writer.add({ ...base, path: "streamed.bin", type: "file" }, new Blob([body]).stream())).toBe(300_001);
    await writer.add({ ...base, path: "after.txt", type: "file", size: 2 }, new TextEncoder().encode("ok"));
    await writer.close();
    expect(new Uint8Array(Bun.spawnSync(["tar", "-xOf", archive, "streamed.bin"]).stdout)).toEqual(body);
    expect(Bun.spawnSync(["tar", "-xOf", archive, "after.txt"]).stdout.toString()).toBe("ok");
  });

  test("a body longer or shorter than its header is refused", async () => {
    const writer = new TarWriter({ write: () => {} });
    await expect(writer.add({ ...base, path: "x", type: "file", size: 2 }, new Uint8Array(3))).rejects.toThrow("header says 2");
  });
});

describe("decompress (gzip)", () => {
  test("round-trips and caps the output of a decompression bomb", async () => {
    const zeros = new Uint8Array(50 << 20);
    const bomb = Bun.gzipSync(zeros);
    expect(bomb.byteLength).toBeLessThan(100_000);
    await expect(new Response(decompress(new Blob([bomb]).stream(), "gzip", { maxBytes: 1 << 20 })).arrayBuffer()).rejects.toThrow("more than 1048576 bytes");
    const data = seededBytes(100_000, 3);
    expect(new Uint8Array(await new Response(decompress(new Blob([Bun.gzipSync(data)]).stream(), "gzip")).arrayBuffer())).toEqual(data);
  });

  test("corrupt input is an integrity error", async () => {
    const bytes = Bun.gzipSync(seededBytes(10_000, 4));
    bytes[20]! ^= 0xff;
    await expect(new Response(decompress(new Blob([bytes]).stream(), "gzip")).arrayBuffer()).rejects.toBeInstanceOf(IntegrityError);
  });
});
