import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");

describe("mutate and append, read back by skopeo from docker-registry", () => {
  const dir = tmpDir();
  let registry: TestRegistry;
  const base = randomImage({ layers: 2, seed: 1301 });
  const config = async (ref: string) => JSON.parse((await run([skopeo, "inspect", "--config", "--tls-verify=false", ref])).stdout);
  beforeAll(async () => {
    registry = await startRegistry("none");
    await writeImage(parseImageRef(`docker://${registry.host}/build/base:1`), base);
  });
  afterAll(() => registry?.stop());

  test("mutate sets env, labels, entrypoint, cmd, workdir and user; layers are reused, not re-uploaded", async () => {
    const result = await stevedore(["mutate", "--json", `docker://${registry.host}/build/base:1`, "-t", `docker://${registry.host}/build/app:debug`, "--env", "DEBUG=1", "--env", "PATH=/bin", "--label", "stage=debug", "--entrypoint", "/app", "--cmd", "--port", "--cmd", "80", "--workdir", "/srv", "--user", "app", "-a", "org.example.note=hi"]);
    expect(result.exitCode).toBe(0);
    const c = await config(`docker://${registry.host}/build/app:debug`);
    expect(c.config.Env).toEqual(["PATH=/bin", "SEED=1301", "DEBUG=1"]);
    expect(c.config.Labels).toEqual({ "org.example.seed": "1301", stage: "debug" });
    expect([c.config.Entrypoint, c.config.Cmd, c.config.WorkingDir, c.config.User]).toEqual([["/app"], ["--port", "80"], "/srv", "app"]);
    expect(c.rootfs.diff_ids).toHaveLength(2);
    const manifest = JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/build/app:debug`])).stdout);
    expect(manifest.annotations).toEqual({ "org.example.note": "hi" });
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(JSON.parse(new TextDecoder().decode(base.top.bytes)).layers.map((l: { digest: string }) => l.digest));
  });

  test("append adds a directory as a reproducible layer with consistent diff_ids and history", async () => {
    const content = join(dir, "content");
    mkdirSync(join(content, "bin"), { recursive: true });
    writeFileSync(join(content, "bin", "tool"), "#!/bin/sh\necho tool\n", { mode: 0o755 });
    writeFileSync(join(content, "README"), "hello");
    symlinkSync("bin/tool", join(content, "run"));
    const args = (tag: string) => ["append", "-q", "--base", `docker://${registry.host}/build/base:1`, "--layer", content, "-t", `docker://${registry.host}/build/app:${tag}`];
    const first = await stevedore(args("a1"));
    const second = await stevedore(args("a2"));
    expect(first.exitCode).toBe(0);
    expect(first.stdout.trim()).toBe(second.stdout.trim());
    const c = await config(`docker://${registry.host}/build/app:a1`);
    expect(c.rootfs.diff_ids).toHaveLength(3);
    expect(c.history.at(-1).created_by).toBe("stevedore append");
    expect((await stevedore(["cat", `docker://${registry.host}/build/app:a1`, "/run"])).stdout).toBe("#!/bin/sh\necho tool\n");
    const listing = (await stevedore(["ls", "-l", `docker://${registry.host}/build/app:a1`, "/bin"])).stdout;
    expect(listing).toMatch(/^-rwxr-xr-x +0\/0 +20 1970-01-01T00:00:00Z \/bin\/tool$/m);
  });

  test("append takes a tar file as a layer as it is", async () => {
    const tarPath = join(dir, "extra.tar");
    writeFileSync(join(dir, "extra.txt"), "extra");
    Bun.spawnSync(["tar", "-C", dir, "-cf", tarPath, "extra.txt"]);
    const result = await stevedore(["append", "-q", "--base", `docker://${registry.host}/build/base:1`, "--layer", tarPath, "-t", `oci:${join(dir, "out")}:x`]);
    expect(result.exitCode).toBe(0);
    expect((await stevedore(["cat", `oci:${join(dir, "out")}:x`, "/extra.txt"])).stdout).toBe("extra");
  });

  test("append without --base builds from scratch: the platform asked, the same bytes every time, then an entrypoint", async () => {
    const app = join(dir, "scratch-app");
    mkdirSync(join(app, "bin"), { recursive: true });
    writeFileSync(join(app, "bin/tool"), "#!/bin/sh\necho tool\n", { mode: 0o755 });
    const build = (tag: string) => stevedore(["append", "-q", "--platform", "linux/arm/v7", "--layer", app, "-t", `docker://${registry.host}/build/scratch:${tag}`]);
    const [first, second] = [await build("a"), await build("b")];
    expect(first.exitCode).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const c = await config(`docker://${registry.host}/build/scratch:a`);
    expect([c.os, c.architecture, c.variant]).toEqual(["linux", "arm", "v7"]);
    expect(c.rootfs.diff_ids).toHaveLength(1);
    expect(c.history).toEqual([{ created: "1970-01-01T00:00:00Z", created_by: "stevedore append", comment: "appended layer" }]);
    expect((await stevedore(["ls", "-R", `docker://${registry.host}/build/scratch:a`, "/"])).stdout.trim().split("\n")).toEqual(["/bin", "/bin/tool"]);
    const withEntrypoint = await stevedore(["mutate", "-q", `docker://${registry.host}/build/scratch:a`, "-t", `docker://${registry.host}/build/scratch:run`, "--entrypoint", "/bin/tool"]);
    expect(withEntrypoint.exitCode).toBe(0);
    expect((await config(`docker://${registry.host}/build/scratch:run`)).config.Entrypoint).toEqual(["/bin/tool"]);
  });

  test("append --platform with a --base is a usage error: the base has its own", async () => {
    const result = await stevedore(["append", "--base", `docker://${registry.host}/build/base:1`, "--platform", "linux/arm64", "--layer", dir, "-t", `oci:${join(dir, "never")}:x`]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--platform is for an image built from scratch");
  });

  test("rebase moves the appended layer from the old base onto a new one; diff_ids and history follow", async () => {
    const newBase = randomImage({ layers: 1, seed: 1302 });
    await writeImage(parseImageRef(`docker://${registry.host}/build/base:2`), newBase);
    const result = await stevedore(["rebase", "-q", `docker://${registry.host}/build/app:a1`, "--old-base", `docker://${registry.host}/build/base:1`, "--new-base", `docker://${registry.host}/build/base:2`, "-t", `docker://${registry.host}/build/app:rebased`]);
    expect(result.exitCode).toBe(0);
    const c = await config(`docker://${registry.host}/build/app:rebased`);
    const newBaseConfig = await config(`docker://${registry.host}/build/base:2`);
    const appConfig = await config(`docker://${registry.host}/build/app:a1`);
    expect(c.rootfs.diff_ids).toEqual([...newBaseConfig.rootfs.diff_ids, appConfig.rootfs.diff_ids.at(-1)]);
    expect(c.history).toHaveLength(newBaseConfig.history.length + 1);
    expect((await stevedore(["cat", `docker://${registry.host}/build/app:rebased`, "/README"])).stdout).toBe("hello");
    const wrongBase = await stevedore(["rebase", `docker://${registry.host}/build/app:a1`, "--old-base", `docker://${registry.host}/build/base:2`, "--new-base", `docker://${registry.host}/build/base:1`, "-t", `docker://${registry.host}/build/app:bad`]);
    expect(wrongBase.exitCode).toBe(2);
    expect(wrongBase.stderr).toContain("is not built on");
  });
});
