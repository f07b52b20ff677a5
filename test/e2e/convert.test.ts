import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { artifactFor } from "../helpers/artifact.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");

describe("copy --format: manifests converted between OCI and Docker v2s2, blobs untouched", () => {
  const dir = tmpDir();
  let registry: TestRegistry;
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const image = randomImage({ layers: 2, seed: 1701, platforms });
  const layout = `oci:${join(dir, "layout")}:multi`;
  const raw = async (ref: string) => JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", ref])).stdout);
  const layersOf = (m: { layers: { digest: string }[] }) => m.layers.map((l) => l.digest);

  beforeAll(async () => {
    registry = await startRegistry("none");
    await writeImage(parseImageRef(layout), image);
  });
  afterAll(() => registry?.stop());

  test("OCI → v2s2 into docker-registry: a Docker manifest list of Docker manifests, the same layers, readable by skopeo", async () => {
    const to = `docker://${registry.host}/conv/app:docker`;
    expect((await stevedore(["copy", "-q", "--all", "--format", "v2s2", layout, to])).exitCode).toBe(0);
    const list = await raw(to);
    expect(list.mediaType).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    expect(list.manifests.map((m: { platform: object }) => m.platform)).toEqual(platforms);
    const amd64 = await raw(`docker://${registry.host}/conv/app@${list.manifests[0].digest}`);
    expect(amd64.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(amd64.config.mediaType).toBe("application/vnd.docker.container.image.v1+json");
    expect(amd64.layers.every((l: { mediaType: string }) => l.mediaType === "application/vnd.docker.image.rootfs.diff.tar.gzip")).toBe(true);
    expect(layersOf(amd64)).toEqual(layersOf(JSON.parse(new TextDecoder().decode(image.images[0]!.bytes))));
    const pulled = await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false", to, `oci:${join(dir, "skopeo")}:x`]);
    expect(pulled.stderr).toBe("");
  });

  test("and back to OCI: OCI media types again, same layers; an image already in the format keeps its bytes and digest", async () => {
    const back = `oci:${join(dir, "back")}:oci`;
    expect((await stevedore(["copy", "-q", "--all", "--format", "oci", `docker://${registry.host}/conv/app:docker`, back])).exitCode).toBe(0);
    const index = JSON.parse((await stevedore(["inspect", "--raw", back])).stdout);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(index.manifests.every((m: { mediaType: string }) => m.mediaType === "application/vnd.oci.image.manifest.v1+json")).toBe(true);
    const same = await stevedore(["copy", "-q", "--all", "--format", "oci", layout, `oci:${join(dir, "same")}:x`]);
    expect(same.stdout.trim()).toBe(image.top.digest);
  });

  test("an artifact has no Docker form: refused by name, nothing pushed; a bad --format is a usage error", async () => {
    const artifact = artifactFor(image.images[0]!, "application/vnd.example.sbom", "{}");
    await writeImage(parseImageRef(`oci:${join(dir, "art")}:sbom`), artifact);
    const refused = await stevedore(["copy", "--format", "v2s2", `oci:${join(dir, "art")}:sbom`, `docker://${registry.host}/conv/art:x`]);
    expect(refused.exitCode).toBe(Exit.failed);
    expect(refused.stderr).toContain("has no Docker v2s2 image form");
    expect((await fetch(`http://${registry.host}/v2/conv/art/manifests/x`)).status).toBe(404);
    const bad = await stevedore(["copy", "--format", "v2s1", layout, `oci:${join(dir, "never")}:x`]);
    expect(bad.exitCode).toBe(Exit.usage);
  });
});
