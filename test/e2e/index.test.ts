import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");

describe("index: a multi-platform index from single-platform images (per-arch CI builds)", () => {
  const dir = tmpDir();
  let registry: TestRegistry;
  const amd64 = randomImage({ seed: 1401, platforms: [{ os: "linux", architecture: "amd64" }] });
  const arm64 = randomImage({ seed: 1402, platforms: [{ os: "linux", architecture: "arm64" }] });
  const armv7 = randomImage({ seed: 1403, platforms: [{ os: "linux", architecture: "arm", variant: "v7" }] });
  const otherAmd64 = randomImage({ seed: 1404, platforms: [{ os: "linux", architecture: "amd64" }] });
  const at = (path: string) => `docker://${registry?.host}/${path}`;

  beforeAll(async () => {
    registry = await startRegistry("none");
    await writeImage(parseImageRef(at("build/app:amd64")), amd64);
    await writeImage(parseImageRef(at("build-arm/app:arm64")), arm64);
    await writeImage(parseImageRef(`oci:${join(dir, "layout")}:armv7`), armv7);
    await writeImage(parseImageRef(at("build/app:other-amd64")), otherAmd64);
  });
  afterAll(() => registry?.stop());

  test("images from two repositories become one index with their platforms; skopeo reads it; --platform picks each back", async () => {
    const result = await stevedore(["index", "-q", "-t", at("team/app:1.0"), at("build/app:amd64"), at("build-arm/app:arm64"), "-a", "org.opencontainers.image.version=1.0"]);
    expect(result.exitCode).toBe(0);
    const index = JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", at("team/app:1.0")])).stdout);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(index.manifests.map((m: { digest: string; platform: object }) => [m.digest, m.platform])).toEqual([
      [amd64.top.digest, { os: "linux", architecture: "amd64" }],
      [arm64.top.digest, { os: "linux", architecture: "arm64" }],
    ]);
    expect(index.annotations).toEqual({ "org.opencontainers.image.version": "1.0" });
    expect(result.stdout.trim()).toBe((await readBack(at("team/app:1.0"))).digest);
    const picked = await stevedore(["copy", "-q", "--platform", "linux/arm64", at("team/app:1.0"), `oci:${join(dir, "picked")}:arm64`]);
    expect(picked.stdout.trim()).toBe(arm64.top.digest);
  });

  test("an index given as an input brings its entries; an image from a local layout is copied up with it", async () => {
    const result = await stevedore(["index", "-q", "-t", at("team/app:1.1"), at("team/app:1.0"), `oci:${join(dir, "layout")}:armv7`]);
    expect(result.exitCode).toBe(0);
    const index = JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", at("team/app:1.1")])).stdout);
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([amd64.top.digest, arm64.top.digest, armv7.top.digest]);
    expect((await readBack(`${at("team/app")}@${armv7.top.digest}`)).digest).toBe(armv7.top.digest);
  });

  test("two different images for one platform are refused, and nothing is written", async () => {
    const result = await stevedore(["index", "-t", at("team/app:bad"), at("build/app:amd64"), at("build/app:other-amd64")]);
    expect(result.exitCode).toBe(Exit.usage);
    expect(result.stderr).toContain(`two images for linux/amd64: ${amd64.top.digest} and ${otherAmd64.top.digest}`);
    expect((await fetch(`http://${registry.host}/v2/team/app/manifests/bad`)).status).toBe(404);
  });

  test("Docker images make a Docker manifest list", async () => {
    const [x, y] = [
      randomImage({ seed: 1411, oci: false, platforms: [{ os: "linux", architecture: "amd64" }] }),
      randomImage({ seed: 1412, oci: false, platforms: [{ os: "linux", architecture: "arm64" }] }),
    ];
    await writeImage(parseImageRef(at("docker/app:amd64")), x);
    await writeImage(parseImageRef(at("docker/app:arm64")), y);
    expect((await stevedore(["index", "-q", "-t", at("docker/app:1.0"), at("docker/app:amd64"), at("docker/app:arm64")])).exitCode).toBe(0);
    const list = JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", at("docker/app:1.0")])).stdout);
    expect(list.mediaType).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    expect(list.manifests.map((m: { mediaType: string }) => m.mediaType)).toEqual(["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.v2+json"]);
  });
});
