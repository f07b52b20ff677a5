import { binary } from "./cli.ts";
import { freePort } from "./registry.ts";

export interface RunningServe {
  readonly host: string;
  readonly pid: number;
  readonly stderr: () => Promise<string>;
  /** SIGTERM, then wait for the process to end. */
  stop(): Promise<number>;
}

/** The compiled `stevedore serve` on a free loopback port, waited for until /v2/ answers. */
export async function startServe(args: readonly string[] = [], port = freePort()): Promise<RunningServe> {
  const proc = Bun.spawn([binary, "serve", "--addr", `127.0.0.1:${port}`, ...args], { stdout: "pipe", stderr: "pipe" });
  const scheme = args.includes("--tls-cert") ? "https" : "http";
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`stevedore serve exited: ${await new Response(proc.stderr).text()}`);
    try {
      await fetch(`${scheme}://127.0.0.1:${port}/v2/`, { tls: { rejectUnauthorized: false } });
      break;
    } catch {
      if (i > 200) throw new Error("stevedore serve did not start");
      await Bun.sleep(25);
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    pid: proc.pid,
    stderr: () => new Response(proc.stderr).text(),
    async stop() {
      proc.kill("SIGTERM");
      return proc.exited;
    },
  };
}
