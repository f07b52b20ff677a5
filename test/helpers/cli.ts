import { existsSync } from "node:fs";
import { join } from "node:path";

/** The compiled binary under test: `npm test` builds it first; its absence is a failure, never a skip. */
export const binary = join(import.meta.dir, "../../dist/stevedore");

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function stevedore(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): CliResult {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build (npm test does it)`);
  const proc = Bun.spawnSync([binary, ...args], {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  return { exitCode: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

/** Fails (never skips) when a peer the test needs is not installed. */
export function requirePeer(name: string): string {
  const path = Bun.which(name) ?? Bun.which(name, { PATH: "/usr/sbin:/sbin:/usr/bin" });
  if (!path) throw new Error(`${name} is not installed: .ci/run installs it (apt-get install -y ${name})`);
  return path;
}

export function run(cmd: readonly string[]): CliResult {
  const proc = Bun.spawnSync([...cmd], { env: process.env });
  return { exitCode: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}
