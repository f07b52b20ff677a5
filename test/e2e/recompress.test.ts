import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");

describe("copy --dest-compress-format: layers recompressed, configs and filesystems unchanged", () => {
  const dir = tmpDir();
  let registry: TestRegistry;
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const image = randomImage({ layers: 2, seed: 1901, platforms, size: 64 * 1024 });
  const layout = `oci:${join(dir, "layout")}:multi`;
  const raw = async (ref: string) => JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", ref])).stdout);

  beforeAll(async () => {
    registry = await startRegistry("none");
    await writeImage(parseImageRef(layout), image);
  });
  afterAll(() => registry?.stop());

  test("gzip → zstd into docker-registry: +zstd layers, the same configs, the same files; skopeo pulls it", async () => {
    const to = `docker://${registry.host}/zstd/app:1.0`;
    expect((await stevedore(["copy", "-q", "--all", "--dest-compress-format", "zstd", layout, to])).exitCode).toBe(0);
    const index = await raw(to);
    const amd64 = await raw(`docker://${registry.host}/zstd/app@${index.manifests[0].digest}`);
    expect(amd64.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar+zstd"]);
    expect(amd64.config.digest).toBe(JSON.parse(new TextDecoder().decode(image.images[0]!.bytes)).config.digest);
    const files = async (ref: string) => (await stevedore(["ls", "-l", "-R", "--platform", "linux/amd64", ref, "/"])).stdout;
    expect(await files(to)).toBe(await files(layout));
    const pulled = await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false", to, `oci:${join(dir, "skopeo")}:x`]);
    expect(pulled.stderr).toBe("");
  });

  test("and back to gzip: the original layer digests do not come back (a new compression), but the files do; nothing to do keeps the digest", async () => {
    const back = `oci:${join(dir, "back")}:gz`;
    expect((await stevedore(["copy", "-q", "--all", "--dest-compress-format", "gzip", `docker://${registry.host}/zstd/app:1.0`, back])).exitCode).toBe(0);
    const listing = (await stevedore(["ls", "-R", "--platform", "linux/arm64", back, "/"])).stdout;
    expect(listing).toBe((await stevedore(["ls", "-R", "--platform", "linux/arm64", layout, "/"])).stdout);
    const same = await stevedore(["copy", "-q", "--all", "--dest-compress-format", "gzip", layout, `oci:${join(dir, "same")}:x`]);
    expect(same.stdout.trim()).toBe(image.top.digest);
  });

  test("Docker images cannot hold zstd layers; a bad format is a usage error", async () => {
    const docker = randomImage({ seed: 1902, oci: false });
    await writeImage(parseImageRef(`oci:${join(dir, "docker")}:x`), docker);
    const refused = await stevedore(["copy", "--dest-compress-format", "zstd", `oci:${join(dir, "docker")}:x`, `oci:${join(dir, "never")}:x`]);
    expect(refused.exitCode).toBe(Exit.failed);
    expect(refused.stderr).toContain("Docker v2s2 images have no zstd layers");
    expect((await stevedore(["copy", "--dest-compress-format", "lz4", layout, `oci:${join(dir, "never")}:y`])).exitCode).toBe(Exit.usage);
  });

  test("a layer that does not match its config's diff_id is refused while recompressing, and nothing is written", async () => {
    const { encodeManifest } = await import("../../src/core/manifest.ts");
    const { digestOf } = await import("../../src/core/digest.ts");
    const single = randomImage({ seed: 1903 });
    const manifest = JSON.parse(new TextDecoder().decode(single.top.bytes));
    const config = JSON.parse(new TextDecoder().decode(single.blobs.get(manifest.config.digest)!.bytes));
    config.rootfs.diff_ids[0] = digestOf("not this layer");
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const configDesc = { ...manifest.config, digest: digestOf(configBytes), size: configBytes.byteLength };
    const lying = encodeManifest({ ...manifest, config: configDesc }, single.top.mediaType);
    const blobs = new Map(single.blobs);
    blobs.set(configDesc.digest, { desc: configDesc, bytes: configBytes });
    await writeImage(parseImageRef(`oci:${join(dir, "lying")}:x`), { top: lying, images: [lying], blobs });
    const result = await stevedore(["copy", "--dest-compress-format", "zstd", `oci:${join(dir, "lying")}:x`, `oci:${join(dir, "lied")}:x`]);
    expect(result.exitCode).toBe(Exit.integrity);
    expect(result.stderr).toContain("but the config says");
    expect((await stevedore(["tags", `oci:${join(dir, "lied")}`])).stdout).toBe("");
  });
});

