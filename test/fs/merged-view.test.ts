import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { run, stevedore } from "../helpers/cli.ts";
import { layeredImage } from "../helpers/layered-image.ts";
import { writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const ref = `oci:${join(dir, "layout")}:fs`;

beforeAll(async () => {
  const image = await layeredImage([
    [
      { path: "etc" },
      { path: "etc/os-release", text: "ID=test\n" },
      { path: "etc/removed", text: "gone soon" },
      { path: "opt" },
      { path: "opt/old-a", text: "a" },
      { path: "opt/old-b", text: "b" },
      { path: "data" },
      { path: "data/original", text: "shared bytes" },
      { path: "loop-a", type: "symlink", linkname: "loop-b" },
      { path: "loop-b", type: "symlink", linkname: "loop-a" },
      { path: "swap" },
      { path: "swap/child", text: "under a directory that becomes a file" },
      // no entries for var/lib and var/lib/deep: directories implied by a deeper path
      { path: "var/lib/deep/file", text: "implied parents" },
      { path: "var/keep", text: "stays" },
      { path: "srv/lower/a", text: "lower" },
      { path: "srv/lower/b", text: "lower" },
    ],
    [
      { path: "etc/.wh.removed", text: "" },
      { path: "opt/.wh..wh..opq", text: "" },
      { path: "opt/new", text: "fresh" },
      { path: "data/hardlink", type: "hardlink", linkname: "data/original" },
      { path: "release", type: "symlink", linkname: "/etc/os-release" },
      { path: "etc/os-release", text: "ID=test\nVERSION=2\n" },
      { path: "swap", text: "now a file" },
      { path: "var/.wh.lib", text: "" },
      // this layer's own file sits under a directory the opaque marker (listed after it) hides below
      { path: "srv/lower/c", text: "this layer" },
      { path: "srv/.wh..wh..opq", text: "" },
    ],
    [{ path: "var/lib/again", text: "re-added over a whiteout" }],
  ]);
  await writeImage(parseImageRef(ref), image);
});

describe("merged filesystem view", () => {
  test("whiteouts hide lower files; an opaque directory hides lower contents but keeps its own", async () => {
    const listed = (await stevedore(["ls", "-R", ref, "/"])).stdout.trim().split("\n");
    expect(listed).toContain("/etc/os-release");
    expect(listed).not.toContain("/etc/removed");
    expect(listed).toContain("/opt");
    expect(listed.filter((p) => p.startsWith("/opt/"))).toEqual(["/opt/new"]);
    expect(listed.some((p) => p.includes(".wh."))).toBe(false);
    expect(listed).toContain("/swap");
    expect(listed).not.toContain("/swap/child");
  });

  test("a whiteout removes a tree of implied directories; an opaque marker keeps this layer's files at any depth", async () => {
    const listed = (await stevedore(["ls", "-R", ref, "/"])).stdout.trim().split("\n");
    expect(listed).toContain("/var/lib/again");
    expect(listed).toContain("/var/keep");
    expect(listed.some((p) => p.startsWith("/var/lib/deep"))).toBe(false);
    expect(listed.filter((p) => p.startsWith("/srv/lower/"))).toEqual(["/srv/lower/c"]);
  });

  test("cat reads the top layer's version, through symlinks and hardlinks across layers", async () => {
    expect((await stevedore(["cat", ref, "/etc/os-release"])).stdout).toBe("ID=test\nVERSION=2\n");
    expect((await stevedore(["cat", ref, "/release"])).stdout).toBe("ID=test\nVERSION=2\n");
    expect((await stevedore(["cat", ref, "data/hardlink"])).stdout).toBe("shared bytes");
  });

  test("a symlink loop is refused, not followed forever; a missing file is not found", async () => {
    const loop = await stevedore(["cat", ref, "/loop-a"]);
    expect(loop.exitCode).toBe(Exit.integrity);
    expect(loop.stderr).toContain("too many levels of symbolic links");
    expect((await stevedore(["cat", ref, "/etc/removed"])).exitCode).toBe(Exit.notFound);
  });

  test("ls -l shows mode, owner, size, mtime and link target; --json has the fields", async () => {
    const long = (await stevedore(["ls", "-l", ref, "/"])).stdout;
    expect(long).toMatch(/^lrwxrwxrwx +0\/0 +0 2023-11-14T22:13:20Z \/release -> \/etc\/os-release$/m);
    expect(long).toMatch(/^drwxr-xr-x +0\/0 +0 .* \/etc$/m);
    const json = JSON.parse((await stevedore(["ls", "--json", ref, "/etc"])).stdout);
    expect(json).toEqual([{ path: "/etc/os-release", type: "file", mode: 0o644, uid: 0, gid: 0, size: 18, mtime: 1_700_000_000 }]);
  });

  test("export writes the flattened filesystem as one tar that GNU tar lists", async () => {
    const out = join(dir, "rootfs.tar");
    expect((await stevedore(["export", "-q", ref, "-o", out])).exitCode).toBe(0);
    const listing = (await run(["tar", "-tf", out])).stdout.trim().split("\n").sort();
    expect(listing).toContain("etc/os-release");
    expect(listing).not.toContain("etc/removed");
    expect(listing).not.toContain("opt/old-a");
    expect(Bun.spawnSync(["tar", "-xOf", out, "etc/os-release"]).stdout.toString()).toBe("ID=test\nVERSION=2\n");
    const piped = await stevedore(["export", ref, "-o", "-"]);
    expect(piped.stdout.length).toBeGreaterThan(1024);
  });

  test("an entry that escapes the root is refused", async () => {
    const evil = await layeredImage([[{ path: "../../etc/passwd", text: "x" }]]);
    await writeImage(parseImageRef(`oci:${join(dir, "layout")}:evil`), evil);
    const result = await stevedore(["ls", `oci:${join(dir, "layout")}:evil`]);
    expect(result.exitCode).toBe(Exit.integrity);
    expect(result.stderr).toContain("path escapes the root");
  });

  test("diff names what was added, removed and changed, content included when metadata agrees", async () => {
    const other = await layeredImage([
      [
        { path: "etc" },
        { path: "etc/os-release", text: "ID=other\nVERSION=2\n" },
        { path: "opt" },
        { path: "opt/new", text: "fresh" },
        { path: "extra", text: "x" },
      ],
    ]);
    await writeImage(parseImageRef(`oci:${join(dir, "layout")}:other`), other);
    const result = JSON.parse((await stevedore(["diff", "--json", ref, `oci:${join(dir, "layout")}:other`])).stdout);
    expect(result.added).toEqual(["/extra"]);
    expect(result.removed).toContain("/release");
    expect(result.removed).toContain("/data/hardlink");
    expect(result.changed).toContain("/etc/os-release");
    expect(result.changed).not.toContain("/opt/new");
  });

  test("flatten squashes the layers into one with the same merged filesystem; diff finds nothing", async () => {
    const flat = `oci:${join(dir, "layout")}:flat`;
    const result = await stevedore(["flatten", "-q", ref, "-t", flat]);
    expect(result.exitCode).toBe(0);
    const manifest = JSON.parse((await stevedore(["inspect", "--raw", flat])).stdout);
    expect(manifest.layers).toHaveLength(1);
    const config = JSON.parse((await stevedore(["config", flat])).stdout);
    expect(config.rootfs.diff_ids).toHaveLength(1);
    expect(config.history).toEqual([{ created: expect.any(String), created_by: "stevedore flatten", comment: "3 layers flattened into one" }]);
    expect((await stevedore(["ls", "-R", flat, "/"])).stdout).toBe((await stevedore(["ls", "-R", ref, "/"])).stdout);
    expect((await stevedore(["cat", flat, "/release"])).stdout).toBe("ID=test\nVERSION=2\n");
    const diff = JSON.parse((await stevedore(["diff", "--json", ref, flat])).stdout);
    expect([diff.added, diff.removed, diff.changed]).toEqual([[], [], []]);
  });

  test("zstd layers are read like gzip ones: ls, cat, and a docker-archive (which stores them decompressed)", async () => {
    const zstd = await layeredImage([[{ path: "etc" }, { path: "etc/os-release", text: "ID=zstd\n" }], [{ path: "etc/.wh.os-release", text: "" }, { path: "etc/motd", text: "hi" }]], "zstd");
    const zref = `oci:${join(dir, "layout")}:zstd`;
    await writeImage(parseImageRef(zref), zstd);
    expect((await stevedore(["ls", "-R", zref, "/"])).stdout.trim().split("\n")).toEqual(["/etc", "/etc/motd"]);
    expect((await stevedore(["cat", zref, "/etc/motd"])).stdout).toBe("hi");
    const archive = join(dir, "zstd.tar");
    expect((await stevedore(["copy", "-q", zref, `docker-archive:${archive}:zstd:1`])).exitCode).toBe(0);
    expect((await stevedore(["cat", `docker-archive:${archive}`, "/etc/motd"])).stdout).toBe("hi");
  });
});

