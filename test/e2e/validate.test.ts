import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

describe("validate: every manifest and blob read and checked, nothing written", () => {
  const dir = tmpDir();
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const image = randomImage({ layers: 2, seed: 1501, platforms });
  const layout = join(dir, "layout");
  let registry: TestRegistry;
  beforeAll(async () => {
    await writeImage(parseImageRef(`oci:${layout}:multi`), image);
    registry = await startRegistry("none");
    await writeImage(parseImageRef(`docker://${registry.host}/team/app:1.0`), image);
  });
  afterAll(() => registry?.stop());

  test("an intact index: every platform's blobs are checked; --platform checks one", async () => {
    const all = await stevedore(["validate", "--json", `oci:${layout}:multi`]);
    expect(all.exitCode).toBe(0);
    const result = JSON.parse(all.stdout);
    expect(result.digest).toBe(image.top.digest);
    expect(result.blobs.copied).toBe(image.blobs.size);
    const one = await stevedore(["validate", "--json", "--platform", "linux/arm64", `docker://${registry.host}/team/app:1.0`]);
    expect(JSON.parse(one.stdout).blobs.copied).toBe(3);
  });

  test("--referrers checks its signature too", async () => {
    const key = join(dir, "cosign");
    expect((await stevedore(["generate-key-pair", "--output-key-prefix", key], { env: { COSIGN_PASSWORD: "" } })).exitCode).toBe(0);
    expect((await stevedore(["sign", "-q", "--key", `${key}.key`, `docker://${registry.host}/team/app:1.0`], { env: { COSIGN_PASSWORD: "" } })).exitCode).toBe(0);
    const result = await stevedore(["validate", "--json", "--referrers", `docker://${registry.host}/team/app:1.0`]);
    expect(JSON.parse(result.stdout).referrers).toBe(1);
  });

  test("tags --omit-digest-tags leaves out the signature's sha256-<hex>.sig tag; --full-ref prints references", async () => {
    const all = (await stevedore(["tags", `docker://${registry.host}/team/app`])).stdout.trim().split("\n");
    expect(all).toContain(`${image.top.digest.replace(":", "-")}.sig`);
    const plain = await stevedore(["tags", "--omit-digest-tags", "--full-ref", `docker://${registry.host}/team/app`]);
    expect(plain.stdout.trim().split("\n")).toEqual([`docker://${registry.host}/team/app:1.0`]);
  });

  test("one changed byte in a layer: exit 5, naming the blob and the image", async () => {
    const [first] = JSON.parse(new TextDecoder().decode(image.images[0]!.bytes)).layers as { digest: string }[];
    const path = join(layout, "blobs/sha256", first!.digest.slice("sha256:".length));
    const bytes = readFileSync(path);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(path, bytes);
    const result = await stevedore(["validate", `oci:${layout}:multi`]);
    expect(result.exitCode).toBe(Exit.integrity);
    expect(result.stderr.trim().split("\n").at(-1)).toBe(`stevedore: blob ${first!.digest.slice(0, 19)}: digest mismatch (got ${result.stderr.match(/got (sha256:[0-9a-f]{12})/)![1]}) validating oci:${layout}:multi`);
  });
});
