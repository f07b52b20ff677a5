import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { IntegrityError } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

export interface TransportUnderTest {
  /** A fresh reference string inside `dir`, named `name`. */
  readonly make: (dir: string, name: string) => string;
  /** Keeps manifest bytes as they are (false: docker-archive). */
  readonly keepsDigests: boolean;
  readonly manyImages: boolean;
}

/** The behaviour every transport owes the seam, run once per transport. */
export function describeTransport(name: string, t: TransportUnderTest): void {
  describe(`transport contract: ${name}`, () => {
    const dir = tmpDir();

    test("writes an image and reads back the same digests, every blob verified", async () => {
      const image = randomImage({ layers: 3, seed: 11 });
      const ref = t.make(dir, "single");
      await writeImage(parseImageRef(ref), image);
      const back = await readBack(ref);
      if (t.keepsDigests) expect(back.digest).toBe(image.top.digest);
      expect(back.configs).toEqual([...image.blobs.values()].filter((b) => b.desc.mediaType.includes("config")).map((b) => b.desc.digest));
    });

    test("round-trips its own reference syntax", () => {
      const ref = t.make(dir, "syntax");
      expect(String(parseImageRef(String(parseImageRef(ref))))).toBe(String(parseImageRef(ref)));
    });

    if (t.manyImages) {
      test("holds a multi-platform index and its children", async () => {
        const image = randomImage({ seed: 12, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
        const ref = t.make(dir, "multi");
        await writeImage(parseImageRef(ref), image);
        const back = await readBack(ref);
        expect(back.digest).toBe(image.top.digest);
        expect(back.children).toEqual(image.images.map((m) => m.digest));
      });
    }

    test("refuses a blob whose bytes do not match its digest, and keeps what was there", async () => {
      const ref = t.make(dir, "corrupt");
      const before = randomImage({ seed: 15 });
      await writeImage(parseImageRef(ref), before);
      const expected = await readBack(ref);
      const image = randomImage({ seed: 13 });
      const dest = await parseImageRef(ref).openDestination({ fsync: false });
      const [first] = image.blobs.values();
      const wrong = new Uint8Array(first!.bytes);
      wrong[0]! ^= 0xff;
      await expect(dest.putBlob(first!.desc, new Blob([wrong]).stream())).rejects.toBeInstanceOf(IntegrityError);
      await dest.close();
      expect(await readBack(ref)).toEqual(expected);
    });

    test("a destination closed without commit leaves no temporary files", async () => {
      const sub = `${dir}/abandoned`;
      const ref = t.make(sub, "x");
      const image = randomImage({ seed: 14 });
      const dest = await parseImageRef(ref).openDestination({ fsync: false });
      for (const { desc, bytes } of image.blobs.values()) await dest.putBlob(desc, new Blob([bytes]).stream());
      await dest.close();
      const leftovers = listFiles(sub).filter((f) => f.includes(".tmp-"));
      expect(leftovers).toEqual([]);
    });
  });
}

function listFiles(root: string): string[] {
  try {
    return readdirSync(root, { recursive: true }).map(String);
  } catch {
    return [];
  }
}
