import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

describe("blob: one blob of an image or an artifact, digest-checked", () => {
  const dir = tmpDir();
  const image = randomImage({ layers: 2, seed: 1601 });
  const ref = `oci:${join(dir, "layout")}:app`;

  test("a layer by digest to -o FILE, byte for byte; the config to stdout", async () => {
    await writeImage(parseImageRef(ref), image);
    const manifest = JSON.parse(new TextDecoder().decode(image.top.bytes));
    const layer = image.blobs.get(manifest.layers[1].digest)!;
    const out = join(dir, "layer.tar.gz");
    const result = await stevedore(["blob", ref, layer.desc.digest, "-o", out]);
    expect(result.exitCode).toBe(0);
    expect(digestOf(readFileSync(out))).toBe(layer.desc.digest);
    const config = await stevedore(["blob", ref, manifest.config.digest]);
    expect(config.stdout).toBe(new TextDecoder().decode(image.blobs.get(manifest.config.digest)!.bytes));
  });

  test("an attached SBOM comes back from its artifact without naming a digest", async () => {
    const sbom = join(dir, "sbom.spdx.json");
    writeFileSync(sbom, '{"spdxVersion":"SPDX-2.3","name":"app"}');
    const attached = await stevedore(["attach", "--artifact-type", "application/spdx+json", ref, sbom]);
    expect(attached.exitCode).toBe(0);
    const artifact = attached.stdout.trim();
    const result = await stevedore(["blob", `oci:${join(dir, "layout")}:@${artifact}`]);
    expect(JSON.parse(result.stdout).name).toBe("app");
  });

  test("a digest the image does not name is not found; several layers and no digest is a usage error listing them; no file is left", async () => {
    const missing = await stevedore(["blob", ref, `sha256:${"0".repeat(64)}`, "-o", join(dir, "never")]);
    expect(missing.exitCode).toBe(Exit.notFound);
    expect(readdirSync(dir).some((f) => f.startsWith("never"))).toBe(false);
    const ambiguous = await stevedore(["blob", ref]);
    expect(ambiguous.exitCode).toBe(Exit.usage);
    expect(ambiguous.stderr).toContain("has 2 layers: name one");
  });
});
