#!/usr/bin/env bun
/**
 * The Quick start's main job, on a machine with nothing but this checkout: starts
 * `stevedore serve` on its default store (a free port), builds a small two-platform image in an
 * OCI layout, pushes it with `stevedore copy --all`, pulls it back, and shows both digests agree.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseImageRef } from "../src/transport/index.ts";
import { randomImage, writeImage } from "../test/helpers/random-image.ts";
import { startServe } from "../test/helpers/serve.ts";

const work = mkdtempSync(join(tmpdir(), "stevedore-demo-"));
const binary = join(import.meta.dir, "../dist/stevedore");
const run = async (args: string[]) => {
  console.log(`$ stevedore ${args.join(" ")}`);
  const proc = Bun.spawn([binary, ...args], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`stevedore ${args[0]} failed`);
  process.stdout.write(out);
  return out.trim();
};

const server = await startServe([]);
try {
  const image = randomImage({ layers: 2, size: 64 << 10, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
  await writeImage(parseImageRef(`oci:${join(work, "built")}:demo`), image);
  console.log(`registry listening on ${server.host} (store: ~/.local/share/stevedore/registry)`);
  const pushed = await run(["copy", "-q", "--all", `oci:${join(work, "built")}:demo`, `docker://${server.host}/demo/app:1.0`]);
  await run(["tags", `docker://${server.host}/demo/app`]);
  const pulled = await run(["copy", "-q", "--all", `docker://${server.host}/demo/app:1.0`, `oci:${join(work, "pulled")}:demo`]);
  await run(["inspect", "--platform", "linux/arm64", `docker://${server.host}/demo/app:1.0`]);
  console.log(pushed === pulled ? `pushed and pulled ${pushed}: identical` : "digests differ!");
  if (pushed !== pulled) process.exitCode = 1;
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
