import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { copy } from "../../src/verbs/copy.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { freePort } from "../helpers/registry.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { version } from "../../src/core/version.ts";

const skopeo = requirePeer("skopeo");
const htpasswd = requirePeer("htpasswd");
const platforms = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

// open; htpasswd (Basic, credentials for everything); htpasswd with anonymous reads (Bearer tokens from /token: pushes with credentials, reads without)
for (const mode of ["open", "htpasswd", "anonymous-read"] as const) {
  const auth = mode !== "open";
  describe(`stevedore serve${auth ? ` with ${mode === "htpasswd" ? "htpasswd" : "htpasswd --anonymous-read"}` : ""} against skopeo and stevedore`, () => {
    const dir = tmpDir();
    let server: RunningServe;
    const pushCreds = auth ? ["--creds", "alice:wonderland"] : [];
    const creds = mode === "htpasswd" ? pushCreds : [];
    const sk = (args: string[]) => run([skopeo, "--insecure-policy", ...args]);
    beforeAll(async () => {
      const extra: string[] = [];
      if (auth) {
        const file = join(dir, "htpasswd");
        await Bun.write(file, Bun.spawnSync([htpasswd, "-Bbn", "alice", "wonderland"]).stdout);
        extra.push("--htpasswd", file, ...(mode === "anonymous-read" ? ["--anonymous-read"] : []));
      }
      server = await startServe(["--root", join(dir, "root"), "--delete", ...extra]);
    });
    afterAll(() => server?.stop());

    test("skopeo pushes a single image and an index; inspect, list-tags, pull back, delete", async () => {
      const single = randomImage({ layers: 2, seed: 501 });
      const multi = randomImage({ layers: 1, seed: 502, platforms });
      await writeImage(parseImageRef(`oci:${join(dir, "src")}:single`), single);
      await writeImage(parseImageRef(`oci:${join(dir, "src")}:multi`), multi);
      const dest = (tag: string) => `docker://${server.host}/team/app:${tag}`;
      const tls = ["--dest-tls-verify=false", ...(auth ? ["--dest-creds", "alice:wonderland"] : [])];
      expect((await sk(["copy", "-q", ...tls, `oci:${join(dir, "src")}:single`, dest("single")])).stderr).toBe("");
      expect((await sk(["copy", "-q", "--all", ...tls, `oci:${join(dir, "src")}:multi`, dest("multi")])).stderr).toBe("");
      const srcFlags = ["--tls-verify=false", ...creds];
      const inspected = JSON.parse((await sk(["inspect", ...srcFlags, dest("single")])).stdout);
      expect(inspected.Digest).toBe(single.top.digest);
      const raw = (await sk(["inspect", "--raw", ...srcFlags, dest("multi")])).stdout;
      expect(raw).toBe(new TextDecoder().decode(multi.top.bytes));
      expect(JSON.parse((await sk(["list-tags", ...srcFlags, `docker://${server.host}/team/app`])).stdout).Tags.sort()).toEqual(["multi", "single"]);
      const pulled = `oci:${join(dir, "pulled")}:multi`;
      expect((await sk(["copy", "-q", "--all", "--src-tls-verify=false", ...(creds.length ? ["--src-creds", "alice:wonderland"] : []), dest("multi"), pulled])).stderr).toBe("");
      expect((await readBack(pulled)).children).toEqual(multi.images.map((m) => m.digest));
      // a delete is a write: credentials whatever the reads need
      expect((await sk(["delete", "--tls-verify=false", ...pushCreds, dest("single")])).exitCode).toBe(0);
      expect((await sk(["inspect", ...srcFlags, dest("single")])).exitCode).not.toBe(0);
    });

    test("stevedore pushes and pulls through it with every digest verified, referrers through the API", async () => {
      const image = randomImage({ layers: 2, seed: 503, platforms });
      const origin = `oci:${join(dir, "ours")}:x`;
      await writeImage(parseImageRef(origin), image);
      const remote = `docker://${server.host}/ours/app:v1`;
      expect((await stevedore(["copy", "-q", "--all", ...pushCreds, origin, remote])).exitCode).toBe(0);
      expect((await stevedore(["copy", "-q", "--all", ...creds, remote, `oci:${join(dir, "ours-back")}:x`])).exitCode).toBe(0);
      expect(await readBack(`oci:${join(dir, "ours-back")}:x`)).toEqual(await readBack(origin));
      expect((await stevedore(["tags", ...creds, `docker://${server.host}/ours/app`])).stdout).toBe("v1\n");
    });

    if (auth) {
      test("a bad password is refused with exit 4; anonymous pushes are challenged", async () => {
        // with anonymous reads a client reads without asking for credentials: a bad password shows on a write
        const bad = mode === "htpasswd" ? ["inspect", "--creds", "alice:nope", `docker://${server.host}/ours/app:v1`] : ["copy", "-q", "--dest-creds", "alice:nope", `oci:${join(dir, "ours")}:x`, `docker://${server.host}/bad/app:v1`];
        expect((await stevedore(bad)).exitCode).toBe(4);
        const push = await sk(["copy", "-q", "--dest-tls-verify=false", `oci:${join(dir, "ours")}:x`, `docker://${server.host}/anon/app:v1`]);
        expect(push.exitCode).not.toBe(0);
      });
    }
  });
}

describe("stevedore's client and a token realm it may not send credentials to", () => {
  const dir = tmpDir();

  test("login says the credentials were not sent (and stores nothing), a push says why it was refused, an unreachable realm is named", async () => {
    const file = join(dir, "htpasswd");
    await Bun.write(file, Bun.spawnSync([htpasswd, "-Bbn", "alice", "wonderland"]).stdout);
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:x`), randomImage({ layers: 1, seed: 505 }));
    const port = freePort();
    // a realm on another host name than the one clients use (a proxy's or an alias): no credentials go there
    const elsewhere = await startServe(["--memory", "--htpasswd", file, "--anonymous-read", "--token-realm", `http://localhost:${port}/token`], port);
    const unreachable = await startServe(["--memory", "--htpasswd", file, "--anonymous-read", "--token-realm", "http://127.0.0.1:9/token"]);
    try {
      const authFile = join(dir, "auth.json");
      const login = await stevedore(["login", "--authfile", authFile, "-u", "alice", "-p", "wrong", elsewhere.host]);
      expect(login.exitCode).toBe(4);
      expect(login.stderr).toContain(`credentials not sent to the token realm http://localhost:${port}/token, which is not on ${elsewhere.host}`);
      expect(await Bun.file(authFile).exists()).toBe(false);
      const push = await stevedore(["copy", "-q", "--dest-creds", "alice:wonderland", `oci:${join(dir, "src")}:x`, `docker://${elsewhere.host}/app:v1`]);
      expect(push.exitCode).toBe(4);
      expect(push.stderr).toContain("credentials not sent to the token realm");
      const cut = await stevedore(["copy", "-q", "--dest-creds", "alice:wonderland", `oci:${join(dir, "src")}:x`, `docker://${unreachable.host}/app:v1`]);
      expect(cut.exitCode).not.toBe(0);
      expect(cut.stderr).toContain("cannot reach the token realm http://127.0.0.1:9/token");
    } finally {
      await elsewhere.stop();
      await unreachable.stop();
    }
  });
});

describe("stevedore serve access log", () => {
  const dir = tmpDir();

  test("a line per request once its body is out: client, user, path without the query, status, bytes, user agent; never a password", async () => {
    const file = join(dir, "htpasswd");
    await Bun.write(file, Bun.spawnSync([htpasswd, "-Bbn", "alice", "wonderland"]).stdout);
    const server = await startServe(["--memory", "--htpasswd", file, "--anonymous-read"]);
    const blob = new Uint8Array(8 << 20).fill(7);
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(blob).digest("hex")}`;
    const alice = { Authorization: `Basic ${btoa("alice:wonderland")}`, "User-Agent": 'probe "1.0"' };
    try {
      const pushed = await fetch(`http://${server.host}/v2/logs/app/blobs/uploads/?digest=${digest}`, { method: "POST", body: blob, headers: alice });
      expect(pushed.status).toBe(201);
      const pulled = await fetch(`http://${server.host}/v2/logs/app/blobs/${digest}?secret=query`);
      expect((await pulled.arrayBuffer()).byteLength).toBe(blob.byteLength);
      // a reader that takes one chunk and hangs up: the line says how much went out, and that it was cut
      const reader = (await fetch(`http://${server.host}/v2/logs/app/blobs/${digest}`)).body!.getReader();
      await reader.read();
      await reader.cancel();
      await Bun.sleep(200);
      // stevedore's own requests say who they are, the token exchange included
      await writeImage(parseImageRef(`oci:${join(dir, "src")}:x`), randomImage({ layers: 1, seed: 504 }));
      expect((await stevedore(["copy", "-q", "--dest-creds", "alice:wonderland", `oci:${join(dir, "src")}:x`, `docker://${server.host}/logs/ours:v1`])).exitCode).toBe(0);
    } finally {
      await server.stop();
    }
    const lines = (await server.stderr()).split("\n");
    expect(lines).toContainEqual(`[info] 127.0.0.1 alice POST /v2/logs/app/blobs/uploads/ 201 0B ${lineMs(lines, "POST")}ms "probe \\"1.0\\""`);
    expect(lines.find((l) => l.includes(` GET /v2/logs/app/blobs/${digest} 200 ${blob.byteLength}B `))).toStartWith("[info] 127.0.0.1 - GET");
    const cut = lines.find((l) => l.includes(" cut "));
    expect(cut).toContain(` GET /v2/logs/app/blobs/${digest} 200 `);
    expect(cut).toEndWith(' cut error="the client closed the connection"');
    expect(Number(/ 200 (\d+)B /.exec(cut!)?.[1])).toBeLessThan(blob.byteLength);
    const ours = lines.filter((l) => l.includes(" /token ") || l.includes("/v2/logs/ours/"));
    // the token exchange names the user it issued a token to, and so do the Bearer requests after it
    expect(ours.some((l) => l.includes(" alice GET /token 200 "))).toBe(true);
    const accepted = ours.filter((l) => l.includes(" POST /v2/logs/ours/blobs/uploads/ 202 "));
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.filter((l) => !l.includes(" alice POST "))).toEqual([]);
    expect(ours.filter((l) => !l.endsWith(` "stevedore/${version}"`))).toEqual([]);
    expect(lines.join("\n")).not.toContain("wonderland");
    expect(lines.join("\n")).not.toContain("secret");
  });
});

/** The milliseconds a log line for `method` gives, to match the rest of it exactly. */
function lineMs(lines: string[], method: string): string {
  return /(\d+\.\d)ms/.exec(lines.find((l) => l.includes(` ${method} `)) ?? "")?.[1] ?? "?";
}

describe("stevedore serve durability and concurrency", () => {
  const dir = tmpDir();

  test("an upload in progress survives a restart and can be completed", async () => {
    const root = join(dir, "restart");
    const first = await startServe(["--root", root]);
    const bytes = new TextEncoder().encode("part one|part two");
    const start = await fetch(`http://${first.host}/v2/r/app/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    expect((await fetch(`http://${first.host}${location}`, { method: "PATCH", body: bytes.subarray(0, 9), headers: { "Content-Range": "0-8" } })).status).toBe(202);
    expect(await first.stop()).toBe(0);
    const second = await startServe(["--root", root]);
    try {
      const status = await fetch(`http://${second.host}${location}`);
      expect(status.headers.get("range")).toBe("0-8");
      await fetch(`http://${second.host}${location}`, { method: "PATCH", body: bytes.subarray(9), headers: { "Content-Range": `9-${bytes.length - 1}` } });
      const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
      const done = await fetch(`http://${second.host}${location}?digest=${digest}`, { method: "PUT" });
      expect(done.status).toBe(201);
      expect(await (await fetch(`http://${second.host}/v2/r/app/blobs/${digest}`)).text()).toBe("part one|part two");
    } finally {
      await second.stop();
    }
  });

  test("SIGTERM during a streamed chunk: the chunk finishes, the server exits 0, the upload completes after a restart", async () => {
    const root = join(dir, "graceful");
    const first = await startServe(["--root", root]);
    const start = await fetch(`http://${first.host}/v2/r/app/blobs/uploads/`, { method: "POST" });
    const location = start.headers.get("location")!;
    const pieces = Array.from({ length: 8 }, (_, i) => new Uint8Array(64 * 1024).fill(i + 1));
    let sent = 0;
    let signalled: Promise<number> | undefined;
    // a slow client: the signal arrives while the body is still streaming
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === pieces.length) return controller.close();
        if (sent === 2) signalled = first.stop();
        await Bun.sleep(50);
        controller.enqueue(pieces[sent++]!);
      },
    });
    const patched = await fetch(`http://${first.host}${location}`, { method: "PATCH", body, headers: { "Content-Type": "application/octet-stream" } });
    expect(patched.status).toBe(202);
    expect(patched.headers.get("range")).toBe(`0-${8 * 64 * 1024 - 1}`);
    expect(await signalled).toBe(0);
    const second = await startServe(["--root", root]);
    try {
      expect((await fetch(`http://${second.host}${location}`)).headers.get("range")).toBe(`0-${8 * 64 * 1024 - 1}`);
      const digest = `sha256:${new Bun.CryptoHasher("sha256").update(Buffer.concat(pieces)).digest("hex")}`;
      expect((await fetch(`http://${second.host}${location}?digest=${digest}`, { method: "PUT" })).status).toBe(201);
      expect((await fetch(`http://${second.host}/v2/r/app/blobs/${digest}`, { method: "HEAD" })).headers.get("content-length")).toBe(String(8 * 64 * 1024));
    } finally {
      await second.stop();
    }
  });

  test("32 parallel pushes of images sharing layers all land and verify; no temporary files remain", async () => {
    const root = join(dir, "parallel");
    const server = await startServe(["--root", root]);
    try {
      const shared = randomImage({ layers: 2, seed: 600 });
      const images = Array.from({ length: 32 }, (_, i) => {
        const own = randomImage({ layers: 1, seed: 700 + i });
        // each image: the two shared layers plus one of its own, so pushes race on the shared blobs
        return { shared, own, i };
      });
      await Promise.all(
        images.map(async ({ shared: s, own, i }) => {
          await writeImage(parseImageRef(`memory:parallel-${i}:a`), s);
          await writeImage(parseImageRef(`memory:parallel-${i}:b`), own);
          await copy(parseImageRef(`memory:parallel-${i}:a`), parseImageRef(`docker://${server.host}/p/img${i}:shared`), { fsync: false });
          await copy(parseImageRef(`memory:parallel-${i}:b`), parseImageRef(`docker://${server.host}/p/img${i}:own`), { fsync: false });
        }),
      );
      for (const { i, own } of images) {
        expect((await readBack(`docker://${server.host}/p/img${i}:shared`)).digest).toBe(shared.top.digest);
        expect((await readBack(`docker://${server.host}/p/img${i}:own`)).digest).toBe(own.top.digest);
      }
      const leftovers = readdirSync(root, { recursive: true }).map(String).filter((f) => f.includes(".tmp-"));
      expect(leftovers).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
