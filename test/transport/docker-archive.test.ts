import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseManifest } from "../../src/core/manifest.ts";
import { parsePlatform } from "../../src/core/platform.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { copy } from "../../src/verbs/copy.ts";
import { run } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();

/** What Docker 25+ `docker save` writes: an OCI layout plus the legacy manifest.json, in one tar. */
async function hybridArchive(name: string, platforms = [parsePlatform("linux/amd64")]) {
  const layout = join(dir, name);
  const image = randomImage({ layers: 2, seed: name.length, platforms, oci: false });
  await writeImage(parseImageRef(`oci:${layout}:latest`), image);
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  index.manifests[0].annotations = { "io.containerd.image.name": "docker.io/library/busybox:latest", "org.opencontainers.image.ref.name": "latest" };
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
  const first = parseManifest(image.images[0]!);
  if (first.kind !== "manifest") throw new Error("fixture");
  const legacy = [{ Config: `blobs/sha256/${first.config.digest.slice(7)}`, RepoTags: ["busybox:latest"], Layers: first.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }];
  writeFileSync(join(layout, "manifest.json"), JSON.stringify(legacy));
  const archive = join(dir, `${name}.tar`);
  expect((await run(["tar", "-C", layout, "-cf", archive, "."])).exitCode).toBe(0);
  return { archive, image };
}

test("a Docker 25+ archive is read through its OCI layout: manifest bytes and digests intact", async () => {
  const { archive, image } = await hybridArchive("hybrid");
  for (const ref of [`docker-archive:${archive}`, `docker-archive:${archive}:busybox:latest`, `docker-archive:${archive}:@0`]) {
    expect((await readBack(ref)).digest).toBe(image.top.digest);
  }
});

test("a containerd-store archive with a nested index yields the host's platform", async () => {
  const { archive, image } = await hybridArchive("nested", [parsePlatform("linux/amd64"), parsePlatform("linux/arm64")]);
  const result = await copy(parseImageRef(`docker-archive:${archive}:busybox:latest`), parseImageRef(`oci:${dir}/out:x`), {
    platforms: [parsePlatform("linux/arm64")],
    fsync: false,
  });
  expect(result.digest).toBe(image.images[1]!.digest);
});

test("a gzip-compressed legacy archive is read, and an unknown name is not found", async () => {
  const image = randomImage({ layers: 1, seed: 77 });
  await writeImage(parseImageRef(`oci:${dir}/plain:x`), image);
  const archive = join(dir, "legacy.tar");
  await copy(parseImageRef(`oci:${dir}/plain:x`), parseImageRef(`docker-archive:${archive}:app:v1`), { fsync: false });
  writeFileSync(`${archive}.gz`, Bun.gzipSync(readFileSync(archive)));
  expect((await readBack(`docker-archive:${archive}.gz:app:v1`)).configs).toEqual((await readBack(`oci:${dir}/plain:x`)).configs);
  await expect(readBack(`docker-archive:${archive}:other:v1`)).rejects.toThrow("no such image in the archive");
});
