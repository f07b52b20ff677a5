import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { startRegistry } from "../helpers/registry.ts";
import { startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const targets: [string, () => Promise<{ prefix: string; stop(): unknown }>][] = [
  ["stevedore serve (Referrers API)", async () => {
    const s = await startServe(["--memory"]);
    return { prefix: `docker://${s.host}/art/app:`, stop: s.stop };
  }],
  ["docker-registry 2.8 (fallback tag)", async () => {
    const r = await startRegistry("none");
    return { prefix: `docker://${r.host}/art/app:`, stop: r.stop };
  }],
  ["an oci: layout", async () => ({ prefix: `oci:${join(dir, "layout")}:`, stop: () => {} })],
];

for (const [name, start] of targets) {
  describe(`attach and referrers against ${name}`, () => {
    let target: { prefix: string; stop(): unknown };
    beforeAll(async () => {
      target = await start();
    });
    afterAll(() => target?.stop());

    test("an attached SBOM and report are listed, filtered by artifact type, and readable", async () => {
      const image = randomImage({ seed: 1201 });
      const ref = `${target.prefix}v1`;
      await writeImage(parseImageRef(ref), image);
      writeFileSync(join(dir, "sbom.spdx.json"), '{"spdxVersion":"SPDX-2.3"}');
      writeFileSync(join(dir, "report.txt"), "all good");
      const sbom = await stevedore(["attach", "--artifact-type", "application/spdx+json", ref, join(dir, "sbom.spdx.json")]);
      expect(sbom.exitCode).toBe(0);
      expect((await stevedore(["attach", "--artifact-type", "application/vnd.example.report", "-a", "team=qa", ref, join(dir, "report.txt")])).exitCode).toBe(0);
      const all = (await stevedore(["referrers", ref])).stdout.trim().split("\n");
      expect(all.map((l) => l.split(" ")[1]).sort()).toEqual(["application/spdx+json", "application/vnd.example.report"]);
      const only = JSON.parse((await stevedore(["referrers", "--json", "--artifact-type", "application/spdx+json", ref])).stdout);
      expect(only.map((d: { digest: string }) => d.digest)).toEqual([sbom.stdout.trim()]);
      const sep = ref.startsWith("oci:") ? ":@" : "@";
      const back = await readBack(`${ref.slice(0, ref.lastIndexOf(":"))}${sep}${sbom.stdout.trim()}`);
      expect(back.configs).toHaveLength(1);
      expect((await stevedore(["digest", ref])).stdout.trim()).toBe(image.top.digest);
      expect(JSON.parse((await stevedore(["config", ref])).stdout).architecture).toBe("amd64");
    });
  });
}
