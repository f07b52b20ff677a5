import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();

async function script(shell: string): Promise<string> {
  const result = await stevedore(["completion", shell]);
  expect(result.exitCode).toBe(0);
  const path = join(dir, `stevedore.${shell}`);
  writeFileSync(path, result.stdout);
  return path;
}

describe("shell completion", () => {
  test("bash completes commands, a command's flags, and transport prefixes", async () => {
    const path = await script("bash");
    const complete = async (...words: string[]) => {
      const line = `source ${path}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _stevedore; echo "\${COMPREPLY[*]}"`;
      return (await run([requirePeer("bash"), "-c", line])).stdout.trim().split(" ");
    };
    expect(await complete("stevedore", "co")).toEqual(["copy", "config", "completion"]);
    expect(await complete("stevedore", "copy", "--jo")).toEqual(["--jobs"]);
    expect(await complete("stevedore", "sign", "--fo")).toEqual(["--format"]);
    expect(await complete("stevedore", "copy", "docker")).toEqual(["docker://", "docker-archive:"]);
  });

  test("zsh loads it through bashcompinit", async () => {
    const path = await script("zsh");
    const result = await run([requirePeer("zsh"), "-c", `source ${path} && whence -w _stevedore`]);
    expect(result.stdout.trim()).toBe("_stevedore: function");
  });

  test("fish completes commands with their descriptions, and flags", async () => {
    const path = await script("fish");
    const result = await run([requirePeer("fish"), "-c", `source ${path}; complete -C 'stevedore verif'; complete -C 'stevedore copy --ref'`]);
    expect(result.stdout).toContain("verify\tVerify an image's cosign signatures");
    expect(result.stdout).toContain("--referrers");
  });

  test("an unknown shell is a usage error", async () => {
    const result = await stevedore(["completion", "tcsh"]);
    expect(result.exitCode).toBe(Exit.usage);
    expect(result.stderr).toContain('no completion for "tcsh"');
  });
});
