import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { serve } from "../../src/verbs/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

/** The serve verb as the library runs it (the CLI's is tested in test/e2e/serve.test.ts). */

const dir = tmpDir();

for (const store of ["memory", "filesystem"] as const) {
  test(`upload sessions idle for too long are cancelled while the server runs, in ${store}; sessions in use are not`, async () => {
    const server = await serve({ addr: "127.0.0.1:0", ...(store === "memory" ? { memory: true } : { root: join(dir, "root") }), uploadExpiry: { maxAgeMs: 1000, everyMs: 50 } });
    try {
      const start = () => fetch(new URL("/v2/app/blobs/uploads/", server.url), { method: "POST" }).then((r) => new URL(r.headers.get("location")!, server.url));
      const [active, ...abandoned] = await Promise.all([start(), start(), start(), start()]);
      await Bun.sleep(700);
      const recent = await start();
      // a chunk now: the session started 0.7 s ago is idle for none
      expect((await fetch(active!, { method: "PATCH", body: "chunk" })).status).toBe(202);
      await Bun.sleep(600); // the abandoned are 1.3 s idle, the others 0.6 s: half a second either side of the limit
      for (const session of abandoned) expect((await fetch(session)).status).toBe(404);
      for (const session of [recent, active!]) expect((await fetch(session)).status).toBe(204);
      expect(await Array.fromAsync(server.store.uploads.list())).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });
}

test("tokens outlive a restart on the same root (the key is kept there, readable by its owner only); not across roots", async () => {
  const root = join(dir, "tokens");
  const file = join(dir, "htpasswd");
  await Bun.write(file, `alice:${await Bun.password.hash("wonderland", { algorithm: "bcrypt", cost: 4 })}\n`);
  const options = { addr: "127.0.0.1:0", htpasswd: file, anonymousRead: true };
  const first = await serve({ ...options, root });
  const token = await fetch(new URL("/token", first.url), { headers: { Authorization: `Basic ${btoa("alice:wonderland")}` } }).then(async (r) => ((await r.json()) as { token: string }).token);
  await first.stop();
  expect((statSync(join(root, "token.key")).mode & 0o777).toString(8)).toBe("600");
  const push = (url: URL) => fetch(new URL("/v2/app/blobs/uploads/", url), { method: "POST", headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);
  const second = await serve({ ...options, root });
  const elsewhere = await serve({ ...options, root: join(dir, "other-root") });
  try {
    expect(await push(second.url)).toBe(202);
    expect(await push(elsewhere.url)).toBe(401);
  } finally {
    await second.stop();
    await elsewhere.stop();
  }
});

test("a stop gives requests waiting on a pull-through cache's hung upstream a grace, then gives up on upstream (502) and ends", async () => {
  const hung = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); // accepts, never answers
  const server = await serve({ addr: "127.0.0.1:0", memory: true, proxy: { registry: `127.0.0.1:${hung.port}` }, upstreamGraceMs: 300 });
  try {
    const waiting = fetch(new URL("/v2/library/alpine/manifests/3", server.url));
    await Bun.sleep(100);
    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(performance.now() - started).toBeLessThan(3000);
    expect((await waiting).status).toBe(502);
  } finally {
    hung.stop(true);
  }
});
