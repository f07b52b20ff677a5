import { existsSync } from "node:fs";
import { join } from "node:path";

/** The compiled binary under test: `npm test` builds it first; its absence is a failure, never a skip. */
export const binary = join(import.meta.dir, "../../dist/stevedore");

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the binary without blocking this process: servers the test itself runs must keep answering. */
export async function stevedore(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build (npm test does it)`);
  const proc = Bun.spawn([binary, ...args], {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

/** Fails (never skips) when a peer the test needs is not installed. */
export function requirePeer(name: string): string {
  const path = Bun.which(name) ?? Bun.which(name, { PATH: "/usr/sbin:/sbin:/usr/bin" });
  if (!path) throw new Error(`${name} is not installed: .ci/run installs it (apt-get install -y ${name})`);
  return path;
}

export async function run(cmd: readonly string[]): Promise<CliResult> {
  const proc = Bun.spawn([...cmd], { stdout: "pipe", stderr: "pipe", env: process.env });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}
