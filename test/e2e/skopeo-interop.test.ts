import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");
const skopeoOk = async (args: string[]) => {
  const result = await run([skopeo, "--insecure-policy", ...args]);
  if (result.exitCode !== 0) throw new Error(`skopeo ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
};

/** The transports both tools write, with a name in `dir` and whether manifest bytes survive. */
const formats = [
  { name: "oci", ref: (d: string, n: string) => `oci:${join(d, "oci")}:${n}` },
  { name: "dir", ref: (d: string, n: string) => `dir:${join(d, `dir-${n}`)}` },
  { name: "oci-archive", ref: (d: string, n: string) => `oci-archive:${join(d, `${n}.oci.tar`)}:${n}` },
] as const;

describe("interoperability with skopeo", () => {
  const dir = tmpDir();
  let seed = 300;

  for (const format of formats) {
    test(`what skopeo writes to ${format.name}:, stevedore reads with the same digests`, async () => {
      const image = randomImage({ layers: 2, seed: ++seed });
      const origin = `oci:${join(dir, `origin-${seed}`)}:src`;
      await writeImage(parseImageRef(origin), image);
      const written = format.ref(dir, `by-skopeo-${seed}`);
      await skopeoOk(["copy", "-q", origin, written]);
      const back = await readBack(written);
      expect(back.digest).toBe(image.top.digest);
      const summary = JSON.parse((await stevedore(["inspect", written])).stdout);
      expect(summary.Digest).toBe(image.top.digest);
      expect(summary.Layers).toEqual(back.layers);
    });

    test(`what stevedore writes to ${format.name}:, skopeo inspects and copies with the same digests`, async () => {
      const image = randomImage({ layers: 2, seed: ++seed });
      const origin = `oci:${join(dir, `origin-${seed}`)}:src`;
      await writeImage(parseImageRef(origin), image);
      const written = format.ref(dir, `by-stevedore-${seed}`);
      expect((await stevedore(["copy", "-q", origin, written])).exitCode).toBe(0);
      const inspected = JSON.parse(await skopeoOk(["inspect", written]));
      expect(inspected.Digest).toBe(image.top.digest);
      const raw = await skopeoOk(["inspect", "--raw", written]);
      expect(raw).toBe(new TextDecoder().decode(image.top.bytes));
      const again = `oci:${join(dir, `skopeo-copy-${seed}`)}:x`;
      await skopeoOk(["copy", "-q", written, again]);
      expect((await readBack(again)).digest).toBe(image.top.digest);
    });
  }

  test("a multi-platform index written by stevedore with --all is copied whole by skopeo --all", async () => {
    const image = randomImage({ seed: ++seed, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
    const origin = `oci:${join(dir, "multi-origin")}:src`;
    await writeImage(parseImageRef(origin), image);
    for (const format of formats) {
      const written = format.ref(dir, "multi");
      expect((await stevedore(["copy", "-q", "--all", origin, written])).exitCode).toBe(0);
      const copied = `oci:${join(dir, `multi-skopeo-${format.name}`)}:x`;
      await skopeoOk(["copy", "-q", "--all", written, copied]);
      const back = await readBack(copied);
      expect(back.digest).toBe(image.top.digest);
      expect(back.children).toEqual(image.images.map((m) => m.digest));
    }
  });

  test("docker-archive: each reads what the other writes; config and diff_ids agree, and so does the implied manifest", async () => {
    const image = randomImage({ layers: 2, seed: ++seed });
    const origin = `oci:${join(dir, "docker-origin")}:src`;
    await writeImage(parseImageRef(origin), image);
    const config = JSON.parse(new TextDecoder().decode([...image.blobs.values()].find((b) => b.desc.mediaType.includes("config"))!.bytes));
    const ours = `docker-archive:${join(dir, "ours.docker.tar")}:example.com/app:v1`;
    const theirs = `docker-archive:${join(dir, "theirs.docker.tar")}:example.com/app:v1`;
    expect((await stevedore(["copy", "-q", origin, ours])).exitCode).toBe(0);
    await skopeoOk(["copy", "-q", origin, theirs]);
    for (const archive of [ours, theirs]) {
      const bySkopeo = JSON.parse(await skopeoOk(["inspect", "--config", archive]));
      expect(bySkopeo.rootfs.diff_ids).toEqual(config.rootfs.diff_ids);
      const byUs = JSON.parse((await stevedore(["inspect", archive])).stdout);
      expect(byUs.Layers).toEqual(config.rootfs.diff_ids);
      expect(byUs.RepoTags).toEqual(["example.com/app:v1"]);
      const copied = `oci:${join(dir, "from-docker-archive")}:${archive === ours ? "ours" : "theirs"}`;
      expect((await stevedore(["copy", "-q", archive, copied])).exitCode).toBe(0);
      expect((await readBack(copied)).configs).toEqual(await readBack(origin).then((b) => b.configs));
    }
    const raw = async (archive: string) => JSON.parse(await skopeoOk(["inspect", "--raw", archive]));
    expect((await raw(ours)).config).toEqual((await raw(theirs)).config);
  });
});
