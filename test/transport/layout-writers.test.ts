import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const blobsOf = (layout: string) => readdirSync(join(layout, "blobs/sha256")).sort();

test("deleting from an oci: layout while a copy into it runs keeps unreferenced blobs; once it is done they go", async () => {
  const layout = join(dir, "layout");
  const [a, b] = [randomImage({ seed: 71 }), randomImage({ seed: 72 })];
  await writeImage(parseImageRef(`oci:${layout}:a`), a);
  await writeImage(parseImageRef(`oci:${layout}:b`), b);
  const before = blobsOf(layout);
  // a copy in progress: its destination is open, its image not yet in index.json
  const writing = await parseImageRef(`oci:${layout}:c`).openDestination({ fsync: false });
  await parseImageRef(`oci:${layout}:a`).delete!();
  expect(blobsOf(layout)).toEqual(before);
  await writing.close();
  expect(existsSync(join(layout, ".stevedore-writers"))).toBe(false);
  await parseImageRef(`oci:${layout}:b`).delete!();
  expect(blobsOf(layout)).toEqual([]);
});

test("a writer's mark left by a process that died does not stop garbage collection", async () => {
  const layout = join(dir, "stale");
  await writeImage(parseImageRef(`oci:${layout}:a`), randomImage({ seed: 73 }));
  const { mkdirSync, writeFileSync } = await import("node:fs");
  mkdirSync(join(layout, ".stevedore-writers"), { recursive: true });
  writeFileSync(join(layout, ".stevedore-writers", "999999999-dead"), ""); // no such process
  await parseImageRef(`oci:${layout}:a`).delete!();
  expect(blobsOf(layout)).toEqual([]);
  expect(readdirSync(join(layout, ".stevedore-writers"))).toEqual([]);
});
