/** `stevedore sync --src docker|yaml --dest docker|dir`: skopeo sync's form, checked against skopeo itself. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");
const dir = tmpDir();
const images = { "1.0": randomImage({ seed: 1301 }), "1.1": randomImage({ seed: 1302 }), "2.0": randomImage({ seed: 1303 }), tool: randomImage({ seed: 1304 }) };
let source: TestRegistry;
let destination: TestRegistry;

beforeAll(async () => {
  [source, destination] = await Promise.all([startRegistry("none"), startRegistry("none")]);
  for (const tag of ["1.0", "1.1", "2.0"] as const) {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:${tag}`), images[tag]);
    expect((await stevedore(["copy", "-q", `oci:${join(dir, "src")}:${tag}`, `docker://${source.host}/team/app:${tag}`])).exitCode).toBe(0);
  }
  await writeImage(parseImageRef(`oci:${join(dir, "src")}:tool`), images.tool);
  expect((await stevedore(["copy", "-q", `oci:${join(dir, "src")}:tool`, `docker://${source.host}/team/tool:latest`])).exitCode).toBe(0);
});
afterAll(() => {
  source?.stop();
  destination?.stop();
});

const sk = (args: string[]) => run([skopeo, "--insecure-policy", ...args]);

/** Tag → digest of every tag of a destination repository. */
async function tagged(repository: string): Promise<Record<string, string>> {
  const tags = (await stevedore(["tags", `docker://${destination.host}/${repository}`])).stdout.trim().split("\n").filter(Boolean);
  const out: Record<string, string> = {};
  for (const tag of tags) out[tag] = (await readBack(`docker://${destination.host}/${repository}:${tag}`)).digest;
  return out;
}

describe("sync in skopeo's form", () => {
  test("a YAML file of registries lands as skopeo sync lands it: tags, a digest, a tag pattern, every tag", async () => {
    const yaml = join(dir, "sync.yml");
    await Bun.write(
      yaml,
      `${source.host}:
  tls-verify: false
  images:
    team/app:
      - "2.0"
      - "${images["1.0"].top.digest}"
    team/tool: []
  images-by-tag-regex:
    team/app: ^1\\.1$
`,
    );
    const theirs = await sk(["sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", yaml, `${destination.host}/skopeo`]);
    expect(theirs.exitCode).toBe(0);
    const ours = await stevedore(["sync", "--json", "--src", "yaml", "--dest", "docker", yaml, `${destination.host}/ours`]);
    expect(ours.stderr).not.toContain("[error]");
    expect(ours.exitCode).toBe(0);
    expect(await tagged("ours/app")).toEqual(await tagged("skopeo/app"));
    expect(await tagged("ours/app")).toEqual({ "1.1": images["1.1"].top.digest, "2.0": images["2.0"].top.digest });
    expect(await tagged("ours/tool")).toEqual({ latest: images.tool.top.digest });
    // the digest entry is pushed by digest, untagged, as skopeo pushes it
    for (const prefix of ["skopeo", "ours"]) {
      expect((await fetch(`http://${destination.host}/v2/${prefix}/app/manifests/${images["1.0"].top.digest}`, { method: "HEAD", headers: { Accept: images["1.0"].top.mediaType } })).status).toBe(200);
    }
    const lines = JSON.parse(ours.stdout) as { source: string; destination: string }[];
    expect(lines.map((l) => l.destination)).toContain(`docker://${destination.host}/ours/tool:latest`);
  });

  test("images-by-semver (newer skopeo's key) picks the tags in a version range", async () => {
    const yaml = join(dir, "semver.yml");
    await Bun.write(yaml, `${source.host}:\n  images-by-semver:\n    team/app: ">= 1.1, < 2"\n`);
    const ours = await stevedore(["sync", "-q", "--src", "yaml", "--dest", "docker", yaml, `${destination.host}/semver`]);
    expect(ours.stderr).toBe("");
    // Masterminds' comma (skopeo's syntax): both bounds hold
    expect(await tagged("semver/app")).toEqual({ "1.1": images["1.1"].top.digest });
  });

  test("a repository into a directory, scoped: the same directories skopeo makes, each a dir: image", async () => {
    const theirs = await sk(["sync", "--src", "docker", "--dest", "dir", "--scoped", "--src-tls-verify=false", `${source.host}/team/app`, join(dir, "skopeo-dir")]);
    expect(theirs.exitCode).toBe(0);
    const ours = await stevedore(["sync", "-q", "--src", "docker", "--dest", "dir", "--scoped", `${source.host}/team/app`, join(dir, "our-dir")]);
    expect(ours.stderr).toBe("");
    const listing = (root: string) => readdirSync(root, { recursive: true, encoding: "utf8" }).filter((p) => /:[\w.-]+$/.test(p)).sort();
    expect(listing(join(dir, "our-dir"))).toEqual(listing(join(dir, "skopeo-dir")));
    expect((await readBack(`dir:${join(dir, "our-dir", source.host, "team/app:1.1")}`)).digest).toBe(images["1.1"].top.digest);
  });

  test("dir: images back into a registry (--src dir), as skopeo imports them", async () => {
    const usb = join(dir, "usb");
    expect((await sk(["sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", `${source.host}/team/app`, usb])).exitCode).toBe(0);
    expect((await sk(["sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false", usb, `${destination.host}/skopeo-import`])).exitCode).toBe(0);
    const ours = await stevedore(["sync", "-q", "--src", "dir", "--dest", "docker", usb, `${destination.host}/ours-import`]);
    expect(ours.stderr).toBe("");
    expect(await tagged("ours-import/app")).toEqual(await tagged("skopeo-import/app"));
    expect(Object.keys(await tagged("ours-import/app")).sort()).toEqual(["1.0", "1.1", "2.0"]);
    const single = await stevedore(["sync", "-q", "--src", "dir", "--dest", "docker", join(usb, "app:2.0"), `${destination.host}/single`]);
    expect(single.stderr).toBe("");
    expect(await tagged("single/app")).toEqual({ "2.0": images["2.0"].top.digest });
    expect((await stevedore(["sync", "--src", "dir", "--dest", "dir", usb, join(dir, "elsewhere")])).exitCode).toBe(Exit.usage);
  });

  test("one tag of a repository, unscoped: its last path component and tag under the destination", async () => {
    const ours = await stevedore(["sync", "-q", "--src", "docker", "--dest", "docker", `${source.host}/team/app:2.0`, `${destination.host}/one/`]);
    expect(ours.stderr).toBe("");
    expect(await tagged("one/app")).toEqual({ "2.0": images["2.0"].top.digest });
  });

  test("bad YAML is a usage error that says where: a number for a tag, an unknown key, broken syntax", async () => {
    for (const [text, message] of [
      [`${source.host}:\n  images:\n    team/app:\n      - 1.0\n`, "quote it"],
      [`${source.host}:\n  image:\n    team/app: []\n`, 'unknown key "image"'],
      [`${source.host}:\n  images: [\n`, "sync YAML"],
    ] as const) {
      const yaml = join(dir, "bad.yml");
      await Bun.write(yaml, text);
      const result = await stevedore(["sync", "--src", "yaml", "--dest", "docker", yaml, `${destination.host}/bad`]);
      expect(result.exitCode).toBe(Exit.usage);
      expect(result.stderr).toContain(message);
    }
    expect((await stevedore(["sync", "--src", "yaml", join(dir, "bad.yml"), `${destination.host}/bad`])).exitCode).toBe(Exit.usage);
    expect((await stevedore(["sync", join(dir, "bad.yml"), `${destination.host}/bad`])).exitCode).toBe(Exit.usage);
  });
});
