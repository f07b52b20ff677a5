import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { binary, requirePeer, stevedore } from "../helpers/cli.ts";
import { rawExchange } from "../helpers/raw-http.ts";
import { tmpDir } from "../helpers/tmp.ts";

/**
 * The edges of `stevedore serve` as an operator meets them: the root's serve.pid mark that gc
 * respects, the kept token key, the start-up warnings, -q, requests the listener must refuse or
 * tidy, and what SIGTERM does to idle keep-alive connections.
 */

interface Served {
  /** `host:port` as serve printed it on stdout (the port it picked for port 0). */
  readonly host: string;
  /** 127.0.0.1 and the port: where a client on this machine reaches it. */
  readonly local: string;
  readonly pid: number;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** SIGTERM, then the exit code and everything serve wrote on stderr. */
  stop(): Promise<{ exitCode: number; stderr: string }>;
}

/** Every serve this file started, killed after it should a test fail before stopping its own. */
const started: Subprocess[] = [];
afterAll(async () => {
  for (const proc of started) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
});

/**
 * `stevedore serve ARGS` (with `--addr 127.0.0.1:0` unless ARGS give one), ready once it has
 * printed its address on stdout: no request is made to find out, so the access log holds only
 * the test's own. stderr is gathered as it comes (a pipe left unread could stall the server).
 */
async function serveWith(args: readonly string[]): Promise<Served> {
  const addr = args.includes("--addr") ? [] : ["--addr", "127.0.0.1:0"];
  const proc = Bun.spawn([binary, "serve", ...addr, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  started.push(proc);
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stevedore serve ${args.join(" ")} exited (${await proc.exited}) before it served: ${await stderr}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const host = out.trim();
  return {
    host,
    local: `127.0.0.1:${host.slice(host.lastIndexOf(":") + 1)}`,
    pid: proc.pid,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      const exitCode = await proc.exited;
      return { exitCode, stderr: await stderr };
    },
  };
}

/** A bcrypt htpasswd file with alice:wonderland (cost 4: the cheapest, this is no test of bcrypt). */
function htpasswdFile(dir: string): string {
  const file = join(dir, "htpasswd");
  const made = Bun.spawnSync([requirePeer("htpasswd"), "-Bbn", "-C", "4", "alice", "wonderland"]);
  if (made.exitCode !== 0) throw new Error(`htpasswd failed: ${made.stderr.toString()}`);
  writeFileSync(file, made.stdout);
  return file;
}

/**
 * A pid no process has: the kernel hands out pids below pid_max, so pid_max itself is never one
 * (a dead child's pid could be reused by the time gc looks; this one cannot).
 */
function deadPid(): number {
  return Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
}

describe("gc and the serve.pid mark", () => {
  const dir = tmpDir();
  const refusal = (root: string, pid: number, host: string) =>
    `stevedore: ${root} is being served (stevedore serve, pid ${pid} on ${host}): stop it first, or pass --force and restart it afterwards (its caches would go on answering for what gc removes)\n`;

  test("gc refuses (exit 1, one line) while a serve uses the root; --dry-run still lists; once the serve stops its mark is gone and gc runs", async () => {
    const root = join(dir, "live");
    const server = await serveWith(["--root", root]);
    try {
      // the mark as src/store/serving.ts writes it: the serve's pid and this host
      expect(readFileSync(join(root, "serve.pid"), "utf8")).toBe(`${server.pid} ${hostname()}\n`);
      const refused = await stevedore(["gc", "--root", root]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toBe(refusal(root, server.pid, hostname()));
      expect(refused.stdout).toBe("");
      // a dry run removes nothing: it may look under a running server
      const dry = await stevedore(["gc", "--root", root, "--dry-run"]);
      expect(dry.exitCode).toBe(0);
      expect(dry.stderr).toContain("would remove 0 manifests");
    } finally {
      expect((await server.stop()).exitCode).toBe(0);
    }
    expect(existsSync(join(root, "serve.pid"))).toBe(false);
    const swept = await stevedore(["gc", "--root", root]);
    expect(swept.exitCode).toBe(0);
    expect(swept.stderr).not.toContain("being served");
  });

  test("a mark left by a process that is gone (this host) is ignored: gc sweeps", async () => {
    const root = join(dir, "dead");
    const pid = deadPid();
    expect(() => process.kill(pid, 0)).toThrow(); // ESRCH: nothing to signal
    await Bun.write(join(root, "serve.pid"), `${pid} ${hostname()}\n`);
    const swept = await stevedore(["gc", "--root", root]);
    expect(swept.exitCode).toBe(0);
    expect(swept.stderr).not.toContain("being served");
    expect(swept.stderr).toContain("removed 0 manifests, 0 blobs, 0 upload sessions");
  });

  test("a mark from another host counts as live (its process cannot be checked): gc refuses; --force sweeps and says to restart it", async () => {
    const root = join(dir, "elsewhere");
    // a pid that is dead here: only the host makes the mark live
    const pid = deadPid();
    const other = `not-${hostname()}.invalid`;
    await Bun.write(join(root, "serve.pid"), `${pid} ${other}\n`);
    const refused = await stevedore(["gc", "--root", root]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(refusal(root, pid, other));
    const forced = await stevedore(["gc", "--root", root, "--force"]);
    expect(forced.exitCode).toBe(0);
    expect(forced.stderr).toContain(`restart the stevedore serve using ${root} (pid ${pid} on ${other})`);
    // gc leaves the mark: it is the server's to remove
    expect(readFileSync(join(root, "serve.pid"), "utf8")).toBe(`${pid} ${other}\n`);
  });
});

describe("serve's token signing key (<root>/token.key)", () => {
  const dir = tmpDir();

  test("a key of the wrong length is replaced at start by 32 bytes, mode 0600; a token issued before a restart still works after it", async () => {
    const root = join(dir, "root");
    const keyPath = join(root, "token.key");
    const shortKey = new TextEncoder().encode("too-short");
    await Bun.write(keyPath, shortKey);
    chmodSync(keyPath, 0o644);
    const args = ["--root", root, "--htpasswd", htpasswdFile(dir), "--anonymous-read", "--no-fsync"];
    const first = await serveWith(args);
    let token: string;
    let key: Uint8Array;
    try {
      // replaced before serve says it serves: the policy is made at start
      key = new Uint8Array(readFileSync(keyPath));
      expect(key.byteLength).toBe(32);
      expect(Buffer.from(key).equals(Buffer.from(shortKey))).toBe(false);
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const issued = await fetch(`http://${first.local}/token`, { headers: { Authorization: `Basic ${btoa("alice:wonderland")}` } });
      expect(issued.status).toBe(200);
      token = ((await issued.json()) as { token: string }).token;
      // a push needs a user: the token names alice
      expect((await fetch(`http://${first.local}/v2/tk/app/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status).toBe(202);
      expect((await fetch(`http://${first.local}/v2/tk/app/blobs/uploads/`, { method: "POST" })).status).toBe(401);
    } finally {
      expect((await first.stop()).exitCode).toBe(0);
    }
    const second = await serveWith(args);
    try {
      // a key of the right length is kept as it is
      expect(Buffer.from(readFileSync(keyPath)).equals(Buffer.from(key))).toBe(true);
      // a key drawn afresh would make this a 401: the token was signed by the first process
      expect((await fetch(`http://${second.local}/v2/tk/app/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status).toBe(202);
      // and a token is not accepted merely for being well-formed
      const forged = `${token.split(".")[0]}.${"A".repeat(43)}`;
      expect((await fetch(`http://${second.local}/v2/tk/app/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${forged}` } })).status).toBe(401);
    } finally {
      expect((await second.stop()).exitCode).toBe(0);
    }
  });
});

describe("serve's warnings on stderr", () => {
  const dir = tmpDir();
  const pushWarning = "no --htpasswd: anyone who can reach";
  const cacheWarning = "[warn] a cache in memory grows with every image pulled through it, until the server stops: give --root for a lasting one";

  test("bound to a non-loopback address without --htpasswd: anyone may push (and delete, with --delete); not on loopback, read-only, or with users", async () => {
    const servers = await Promise.all([
      serveWith(["--memory", "--addr", "0.0.0.0:0"]),
      serveWith(["--memory", "--addr", "0.0.0.0:0", "--delete"]),
      serveWith(["--memory"]),
      serveWith(["--memory", "--addr", "0.0.0.0:0", "--read-only"]),
      serveWith(["--memory", "--addr", "0.0.0.0:0", "--htpasswd", htpasswdFile(dir)]),
    ]);
    const [open, openDelete, loopback, readOnly, withUsers] = servers;
    // it does listen beyond loopback (reached here through 127.0.0.1, which 0.0.0.0 includes)
    expect(open!.host).toMatch(/^0\.0\.0\.0:\d+$/);
    expect((await fetch(`http://${open!.local}/v2/`)).status).toBe(200);
    const stderr = await Promise.all(servers.map(async (s) => (await s.stop()).stderr));
    expect(stderr[0]!.split("\n")).toContain(`[warn] ${pushWarning} ${open!.host} may push`);
    expect(stderr[1]!.split("\n")).toContain(`[warn] ${pushWarning} ${openDelete!.host} may push and delete`);
    expect(loopback!.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stderr[2]).not.toContain(pushWarning);
    expect(readOnly!.host).toMatch(/^0\.0\.0\.0:/);
    expect(stderr[3]).not.toContain(pushWarning);
    expect(withUsers!.host).toMatch(/^0\.0\.0\.0:/);
    expect(stderr[4]).not.toContain(pushWarning);
    // none of them warns about a cache
    for (const text of stderr) expect(text).not.toContain("cache in memory");
  });

  test("--proxy with --memory warns that the cache grows until the server stops; with --root it does not (and a cache, refusing pushes, gets no push warning)", async () => {
    // the upstream is never asked at start: a port nothing listens on will do
    const [inMemory, onDisk] = await Promise.all([
      serveWith(["--memory", "--proxy", "127.0.0.1:9", "--addr", "0.0.0.0:0"]),
      serveWith(["--root", join(dir, "cache"), "--proxy", "127.0.0.1:9"]),
    ]);
    const [memoryErr, diskErr] = await Promise.all([inMemory.stop(), onDisk.stop()]);
    expect(memoryErr.exitCode).toBe(0);
    expect(memoryErr.stderr.split("\n")).toContain(cacheWarning);
    expect(memoryErr.stderr).not.toContain(pushWarning);
    expect(diskErr.exitCode).toBe(0);
    expect(diskErr.stderr).not.toContain("cache in memory");
    expect(diskErr.stderr).toContain("a pull-through cache of 127.0.0.1:9");
  });
});

describe("serve's access log and -q", () => {
  const requests = async (host: string) => {
    expect((await fetch(`http://${host}/v2/`, { headers: { "User-Agent": "edge-probe" } })).status).toBe(200);
    expect((await fetch(`http://${host}/v2/nope/app/tags/list?n=1`, { headers: { "User-Agent": "edge-probe" } })).status).toBe(404);
  };

  test("without -q each request makes one line: client, user, method, path, status, bytes, time, user agent", async () => {
    const server = await serveWith(["--memory"]);
    await requests(server.local);
    const { exitCode, stderr } = await server.stop();
    expect(exitCode).toBe(0);
    const lines = stderr.split("\n").filter((l) => l.includes('"edge-probe"'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[info\] 127\.0\.0\.1 - GET \/v2\/ 200 2B \d+\.\dms "edge-probe"$/);
    expect(lines[1]).toMatch(/^\[info\] 127\.0\.0\.1 - GET \/v2\/nope\/app\/tags\/list 404 \d+B \d+\.\dms "edge-probe"$/);
  });

  test("-q writes no access log line (nor anything else on stderr); stdout still names the address", async () => {
    const server = await serveWith(["--memory", "-q"]);
    expect(server.host).toMatch(/^127\.0\.0\.1:\d+$/);
    await requests(server.local);
    await Bun.sleep(50); // past the turn of the event loop in which lines are flushed
    const { exitCode, stderr } = await server.stop();
    expect(exitCode).toBe(0);
    expect(stderr).not.toContain("/v2/");
    expect(stderr).toBe("");
  });
});

describe("the listener and requests it must refuse or tidy", () => {
  test("a request target no URL can hold is answered 400 (by the listener, logged), a relative one 400; the server goes on", async () => {
    const server = await serveWith(["--memory"]);
    try {
      // absolute-form that the parser passes and URL refuses: the listener's own 400 (src/server/listen.ts)
      const garbage = await rawExchange(server.local, "GET http://[bad/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      expect(garbage).toStartWith("HTTP/1.1 400 ");
      expect(garbage).toContain("\r\nContent-Length: 0\r\n");
      expect(garbage).toEndWith("\r\n\r\n");
      const badPort = await rawExchange(server.local, "GET http://:99999/v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      expect(badPort).toStartWith("HTTP/1.1 400 ");
      // neither origin- nor absolute-form: refused before any handler sees it
      const relative = await rawExchange(server.local, "GET v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(relative).toStartWith("HTTP/1.1 400 ");
      expect(relative).not.toContain("{}");
      // still serving
      expect((await fetch(`http://${server.local}/v2/`)).status).toBe(200);
    } finally {
      const { exitCode, stderr } = await server.stop();
      expect(exitCode).toBe(0);
      // the listener's 400s are logged with the target as sent, no body bytes
      expect(stderr).toMatch(/^\[info\] 127\.0\.0\.1 - GET http:\/\/\[bad\/ 400 0B /m);
      expect(stderr).toMatch(/^\[info\] 127\.0\.0\.1 - GET http:\/\/:99999\/v2\/ 400 0B /m);
    }
  });

  test("a GET carrying a body is answered as without one; the body is dropped and the next request on the socket is answered", async () => {
    const server = await serveWith(["--memory"]);
    try {
      // a few bytes (read with the head) and 1 MiB (left unread by the handler, drained by the listener)
      for (const size of [5, 1 << 20]) {
        const body = new Uint8Array(size).fill(0x47); // "GGGG…": were any of it parsed as the next request, that would be a 400
        const next = new TextEncoder().encode("GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const rest = new Uint8Array(size + next.byteLength);
        rest.set(body);
        rest.set(next, size);
        const answer = await rawExchange(server.local, `GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`, { body: rest });
        const answers = answer.split(/(?=HTTP\/1\.1 )/);
        expect(answers).toHaveLength(2);
        for (const one of answers) {
          expect(one).toStartWith("HTTP/1.1 200 ");
          expect(one).toEndWith("\r\n\r\n{}");
        }
        expect(answers[0]).toContain("\r\nConnection: keep-alive\r\n");
        expect(answer).not.toContain("[no close within 10 s]");
      }
    } finally {
      expect((await server.stop()).exitCode).toBe(0);
    }
  });
});

describe("stopping with keep-alive connections open", () => {
  test("SIGTERM closes idle keep-alive connections and serve exits 0 at once (not at the 120 s idle timeout)", async () => {
    const server = await serveWith(["--memory"]);
    const [hostname, port] = server.local.split(":");
    const idle = async () => {
      let received = "";
      const answered = Promise.withResolvers<void>();
      const closed = Promise.withResolvers<number>();
      const socket = await Bun.connect({
        hostname: hostname!,
        port: Number(port),
        socket: {
          data(_, data) {
            received += new TextDecoder().decode(data);
            if (received.endsWith("\r\n\r\n{}")) answered.resolve();
          },
          close: () => closed.resolve(performance.now()),
          error: () => closed.resolve(performance.now()),
        },
      });
      socket.write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
      await answered.promise;
      return { received: () => received, closed: closed.promise };
    };
    const sockets = [await idle(), await idle()];
    for (const s of sockets) expect(s.received()).toContain("\r\nConnection: keep-alive\r\n");
    // kept open while the server runs
    const early = await Promise.race([...sockets.map((s) => s.closed.then(() => "closed")), Bun.sleep(150).then(() => "open")]);
    expect(early).toBe("open");
    const signalled = performance.now();
    const timeout = Bun.sleep(3000).then(() => "timeout" as const);
    const stopping = server.stop();
    const outcome = await Promise.race([Promise.all([stopping, ...sockets.map((s) => s.closed)]), timeout]);
    expect(outcome).not.toBe("timeout");
    const [{ exitCode, stderr }, ...closedAt] = outcome as [{ exitCode: number; stderr: string }, ...number[]];
    expect(exitCode).toBe(0);
    for (const at of closedAt) expect(at - signalled).toBeLessThan(3000);
    expect(stderr).toContain("[info] stopping: letting requests in flight finish");
    // nothing more came on the idle connections: they were closed, not answered
    for (const s of sockets) expect(s.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
  }, 10_000);
});
