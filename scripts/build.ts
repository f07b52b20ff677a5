#!/usr/bin/env bun
/**
 * Compiles stevedore into one executable. `bun scripts/build.ts` builds dist/stevedore for this
 * machine; `--all` builds every release target as dist/stevedore-<os>-<arch>[.exe]. Cross
 * targets fetch that platform's Bun runtime from the npm registry on first use (then cached).
 */
import { mkdirSync } from "node:fs";

const targets = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "windows-x64"] as const;

async function compile(outfile: string, target?: string): Promise<void> {
  const args = ["build", "--compile", "--minify", "--sourcemap=none", "src/main.ts", "--outfile", outfile];
  if (target) args.push(`--target=bun-${target}`);
  const proc = Bun.spawn([process.execPath, ...args], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`build failed for ${target ?? "host"}`);
}

mkdirSync("dist", { recursive: true });
if (process.argv.includes("--all")) {
  for (const target of targets) {
    await compile(`dist/stevedore-${target}${target.startsWith("windows") ? ".exe" : ""}`, target);
  }
} else {
  await compile("dist/stevedore");
}
