import { describe, expect, test } from "bun:test";
import { parsePlatform } from "../../src/core/platform.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { copy } from "../../src/verbs/copy.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

/** Each transport: how to name a fresh image, and whether it keeps manifest bytes and indexes. */
const transports: Record<string, { make: (dir: string, name: string) => string; keepsDigests: boolean; manyImages: boolean }> = {
  oci: { make: (d, n) => `oci:${d}/oci-layout:${n}`, keepsDigests: true, manyImages: true },
  dir: { make: (d, n) => `dir:${d}/dir-${n}`, keepsDigests: true, manyImages: true },
  "oci-archive": { make: (d, n) => `oci-archive:${d}/${n}.oci.tar:${n}`, keepsDigests: true, manyImages: true },
  "docker-archive": { make: (d, n) => `docker-archive:${d}/${n}.docker.tar:app:${n}`, keepsDigests: false, manyImages: false },
  memory: { make: (d, n) => `memory:${d.split("/").pop()!.toLowerCase()}-${n}:t`, keepsDigests: true, manyImages: true },
};

const platforms = [parsePlatform("linux/amd64"), parsePlatform("linux/arm64"), parsePlatform("linux/arm/v7")];

describe("copy matrix", () => {
  const dir = tmpDir();
  let n = 0;
  for (const [srcName, src] of Object.entries(transports)) {
    for (const [dstName, dst] of Object.entries(transports)) {
      test(`${srcName} → ${dstName}: single image keeps every digest`, async () => {
        const image = randomImage({ layers: 2, seed: ++n });
        const from = src.make(dir, `s${n}`);
        const to = dst.make(dir, `d${n}`);
        await writeImage(parseImageRef(from), image);
        const result = await copy(parseImageRef(from), parseImageRef(to), { fsync: false });
        const [a, b] = [await readBack(from), await readBack(to)];
        expect(b.configs).toEqual(a.configs);
        if (src.keepsDigests && dst.keepsDigests) {
          expect(result.digest).toBe(image.top.digest);
          expect(b).toEqual(a);
        }
      });

      if (src.manyImages) {
        test(`${srcName} → ${dstName}: multi-platform index, --all and --platform`, async () => {
          const image = randomImage({ layers: 1, seed: ++n, platforms });
          const from = src.make(dir, `s${n}`);
          await writeImage(parseImageRef(from), image);
          if (dst.manyImages) {
            const all = dst.make(dir, `all${n}`);
            const result = await copy(parseImageRef(from), parseImageRef(all), { all: true, fsync: false });
            expect(result.digest).toBe(image.top.digest);
            expect((await readBack(all)).children).toEqual(image.images.map((m) => m.digest));
          }
          const one = dst.make(dir, `arm${n}`);
          const picked = await copy(parseImageRef(from), parseImageRef(one), { platforms: [parsePlatform("linux/arm64")], fsync: false });
          expect(picked.sourceDigest).toBe(image.top.digest);
          if (dst.keepsDigests) expect(picked.digest).toBe(image.images[1]!.digest);
        });
      }
    }
  }

  test("two platforms of three make a smaller index holding just those", async () => {
    const image = randomImage({ layers: 1, seed: 99, platforms });
    await writeImage(parseImageRef(`oci:${dir}/pick:src`), image);
    const result = await copy(parseImageRef(`oci:${dir}/pick:src`), parseImageRef(`oci:${dir}/pick:two`), {
      platforms: [parsePlatform("linux/amd64"), parsePlatform("linux/arm/v7")],
      fsync: false,
    });
    expect(result.digest).not.toBe(image.top.digest);
    expect((await readBack(`oci:${dir}/pick:two`)).children).toEqual([image.images[0]!.digest, image.images[2]!.digest]);
  });

  test("a second copy skips every blob already at the destination", async () => {
    const image = randomImage({ layers: 3, seed: 100 });
    await writeImage(parseImageRef(`oci:${dir}/again:a`), image);
    await copy(parseImageRef(`oci:${dir}/again:a`), parseImageRef(`oci:${dir}/again2:a`), { fsync: false });
    const second = await copy(parseImageRef(`oci:${dir}/again:a`), parseImageRef(`oci:${dir}/again2:b`), { fsync: false });
    expect(second.blobs).toEqual({ copied: 0, skipped: 4, mounted: 0, bytes: 0 });
  });

  test("without --platform an index yields the host's image, and says so", async () => {
    const image = randomImage({ layers: 1, seed: 101, platforms: [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")] });
    await writeImage(parseImageRef(`oci:${dir}/host:a`), image);
    const events: string[] = [];
    const result = await copy(parseImageRef(`oci:${dir}/host:a`), parseImageRef(`oci:${dir}/host:b`), {
      fsync: false,
      onProgress: (e) => e.type === "platform" && events.push(e.platform),
    });
    const host = process.arch === "arm64" ? 1 : 0;
    expect(events).toEqual([host ? "linux/arm64" : "linux/amd64"]);
    expect(result.digest).toBe(image.images[host]!.digest);
  });
});
