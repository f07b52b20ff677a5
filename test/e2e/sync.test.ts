import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { parseSyncSpec, sync } from "../../src/verbs/sync.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

describe("sync", () => {
  const dir = tmpDir();
  const a = randomImage({ seed: 1001 });
  const b = randomImage({ seed: 1002, layers: 3 });
  const spec = (out: string) => `# nightly mirror
oci:${join(dir, "src")}:a oci:${join(dir, out)}:a

oci:${join(dir, "src")}:b   dir:${join(dir, out)}-b   # trailing comment
foo:bar oci:${join(dir, out)}:bad
oci:${join(dir, "src")}:missing oci:${join(dir, out)}:missing
just-one-field
`;

  test("good lines land; bad ones are reported by line number; the exit code is non-zero", async () => {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:a`), a);
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:b`), b);
    await Bun.write(join(dir, "spec.txt"), spec("out"));
    const result = await stevedore(["sync", "--json", join(dir, "spec.txt")]);
    expect(result.exitCode).toBe(1);
    const lines = JSON.parse(result.stdout) as { line: number; digest?: string; error?: string; blobs?: { copied: number } }[];
    expect(lines.map((l) => l.line)).toEqual([2, 4, 5, 6, 7]);
    expect(lines[0]).toMatchObject({ digest: a.top.digest, blobs: { copied: 3 } });
    expect(lines[1]!.digest).toBe(b.top.digest);
    expect(lines[2]!.error).toMatch(/^line 5: unknown transport "foo"/);
    expect(lines[3]!.error).toMatch(/^line 6: .*no such image/);
    expect(lines[4]!.error).toMatch(/^line 7: expected "SRC DST"/);
    expect((await readBack(`oci:${join(dir, "out")}:a`)).digest).toBe(a.top.digest);
    expect((await readBack(`dir:${join(dir, "out")}-b`)).digest).toBe(b.top.digest);
    expect(result.stderr).toContain("2 of 5 lines copied, 3 failed");
  });

  test("--dry-run resolves and prints, and changes nothing; - reads the spec from stdin", async () => {
    const result = await stevedore(["sync", "--dry-run", "-"], { stdin: spec("dry") });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`would copy oci:${join(dir, "src")}:a oci:${join(dir, "dry")}:a ${a.top.digest}`);
    expect(existsSync(join(dir, "dry"))).toBe(false);
    expect(existsSync(join(dir, "dry-b"))).toBe(false);
  });

  test("a clean spec exits 0", async () => {
    const result = await stevedore(["sync", "-q", "-"], { stdin: `oci:${join(dir, "src")}:a oci:${join(dir, "clean")}:a\n` });
    expect(result.exitCode).toBe(0);
  });

  test("images sharing layers, synced at once to one destination, move each shared blob once", async () => {
    const base = randomImage({ seed: 1003, layers: 3 });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:shared`), base);
    const lines = ["x", "y", "z"].map((t) => ({ line: 1, source: `oci:${join(dir, "src")}:shared`, destination: `oci:${join(dir, "one-dest")}:${t}` }));
    const results = await sync(lines, { parallel: 3, fsync: false });
    const copied = results.reduce((n, r) => n + (r.blobs?.copied ?? 0), 0);
    expect(copied).toBe(4);
    expect(results.every((r) => r.digest === base.top.digest)).toBe(true);
    const tags: string[] = [];
    for await (const tag of parseImageRef(`oci:${join(dir, "one-dest")}`).listTags!()) tags.push(tag);
    expect(tags.sort()).toEqual(["x", "y", "z"]);
  });

  test("parseSyncSpec keeps line numbers and strips comments", () => {
    expect(parseSyncSpec("# c\n\n a  b # x\n").jobs).toEqual([{ line: 3, source: "a", destination: "b" }]);
  });

  test("a tag pattern copies every matching tag of a repository to the same tags; no match and a tagged destination are line errors", async () => {
    const registry = await startRegistry("none");
    try {
      const images = { "1.0": randomImage({ seed: 1101 }), "1.1": randomImage({ seed: 1102 }), "2.0": randomImage({ seed: 1103 }), latest: randomImage({ seed: 1103 }) };
      for (const [tag, image] of Object.entries(images)) await writeImage(parseImageRef(`docker://${registry.host}/team/app:${tag}`), image);
      const layout = join(dir, "patterns");
      const specText = [
        `docker://${registry.host}/team/app:1.* oci:${layout}`,
        `docker://${registry.host}/team/app:* static:${join(dir, "site")}//mirror/app`,
        `docker://${registry.host}/team/app:9.? oci:${layout}`,
        `docker://${registry.host}/team/app:2.* docker://${registry.host}/copy/app:fixed`,
      ].join("\n");
      const result = await stevedore(["sync", "--json", "-"], { stdin: specText });
      expect(result.exitCode).toBe(1);
      const lines = JSON.parse(result.stdout) as { line: number; source: string; destination: string; digest?: string; error?: string }[];
      const copied = lines.filter((l) => !l.error).map((l) => [l.line, l.source.split(":").at(-1), l.destination.split(":").at(-1)]);
      expect(copied).toEqual([
        [1, "1.0", "1.0"],
        [1, "1.1", "1.1"],
        [2, "1.0", "1.0"],
        [2, "1.1", "1.1"],
        [2, "2.0", "2.0"],
        [2, "latest", "latest"],
      ]);
      expect((await stevedore(["tags", `oci:${layout}`])).stdout.trim().split("\n").sort()).toEqual(["1.0", "1.1"]);
      expect((await readBack(`static:${join(dir, "site")}//mirror/app:2.0`)).digest).toBe(images["2.0"].top.digest);
      expect(lines.find((l) => l.line === 3)?.error).toContain(`no tag of docker://${registry.host}/team/app matches "9.?"`);
      expect(lines.find((l) => l.line === 4)?.error).toContain("a tag pattern's destination is a repository");
    } finally {
      registry.stop();
    }
  });
});
