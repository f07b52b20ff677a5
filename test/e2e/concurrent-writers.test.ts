/** Several stevedore processes writing one local destination at once: each keeps what the others wrote. */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { copy } from "../../src/verbs/copy.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const writers = 6;

/** The images to copy, written one after another: the source layout is not under test. */
async function sources(): Promise<string[]> {
  const refs: string[] = [];
  for (let i = 0; i < writers; i++) {
    refs.push(`oci:${join(dir, "sources")}:img${i}`);
    await writeImage(parseImageRef(refs[i]!), randomImage({ seed: 100 + i }));
  }
  return refs;
}

test("copies into one new oci: layout at once: every tag is in index.json afterwards", async () => {
  const refs = await sources();
  const layout = join(dir, "shared");
  const results = await Promise.all(refs.map((ref, i) => stevedore(["copy", "-q", ref, `oci:${layout}:tag${i}`])));
  for (const r of results) expect(r.stderr).toBe("");
  const tags = await stevedore(["tags", `oci:${layout}`]);
  expect(tags.stdout.trim().split("\n").sort()).toEqual(Array.from({ length: writers }, (_, i) => `tag${i}`).sort());
  expect(existsSync(join(layout, ".index.json.lock"))).toBe(false);
});

test("a copy interrupted before its index.json leaves a layout that the next copy completes", async () => {
  const layout = join(dir, "retry");
  // what an interrupted first copy leaves: the marker and some blobs, no index.json
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  await Bun.write(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const source = `oci:${join(dir, "sources")}:img0`;
  const result = await stevedore(["copy", "-q", source!, `oci:${layout}:v1`]);
  expect(result.exitCode).toBe(0);
  expect((await stevedore(["tags", `oci:${layout}`])).stdout.trim()).toBe("v1");
});

test("copies into one static: repository at once: its tags/list names every tag afterwards", async () => {
  const refs = await sources();
  const site = join(dir, "site");
  const results = await Promise.all(refs.map((ref, i) => stevedore(["copy", "-q", ref, `static:${site}//team/app:tag${i}`])));
  for (const r of results) expect(r.stderr).toBe("");
  const list = (await Bun.file(join(site, "v2/team/app/tags/list")).json()) as { tags: string[] };
  expect(list.tags.sort()).toEqual(Array.from({ length: writers }, (_, i) => `tag${i}`).sort());
});

test("the same image copied into one new static: tree under three tags at once, forty times: every copy succeeds", async () => {
  // each writer renames the same blob into place while another hard-links it into the repository
  const source = `oci:${join(dir, "same")}:x`;
  await writeImage(parseImageRef(source), randomImage({ seed: 1103 }));
  for (let round = 0; round < 40; round++) {
    const tree = join(dir, `same-${round}`);
    const copies = ["a", "b", "c"].map((tag) => copy(parseImageRef(source), parseImageRef(`static:${tree}//team/app:${tag}`), { fsync: false }));
    for (const outcome of await Promise.allSettled(copies)) expect(outcome.status === "rejected" ? String(outcome.reason) : "copied").toBe("copied");
  }
});
