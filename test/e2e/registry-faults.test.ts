import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { startFakeRegistry } from "../helpers/fake-registry.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { selfSignedCertificate } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const image = randomImage({ layers: 2, size: 300_000, seed: 4242 });
const layer = [...image.blobs.values()].find((b) => b.desc.mediaType.includes("layer"))!;
const stops: (() => void)[] = [];
afterAll(() => stops.forEach((s) => s()));

function fake(options: Parameters<typeof startFakeRegistry>[1]) {
  const registry = startFakeRegistry(image, options);
  stops.push(registry.stop);
  return registry;
}

describe("registry faults", () => {
  test("a blob whose bytes do not match its digest fails the copy, and no manifest is written", async () => {
    const registry = fake({
      intercept: (_req, url) => {
        if (url.pathname.endsWith(layer.desc.digest)) {
          const bytes = new Uint8Array(layer.bytes);
          bytes[1000]! ^= 0xff;
          return new Response(bytes);
        }
      },
    });
    const dest = join(dir, "mismatch");
    await writeImage(parseImageRef(`oci:${dest}:old`), randomImage({ seed: 1 }));
    const before = readFileSync(join(dest, "index.json"), "utf8");
    const result = await stevedore(["copy", "-q", `docker://${registry.host}/test/image:latest`, `oci:${dest}:new`]);
    expect(result.exitCode).toBe(Exit.integrity);
    expect(result.stderr.trim()).toMatch(/^stevedore: blob sha256:[0-9a-f]{12}: digest mismatch/);
    expect(readFileSync(join(dest, "index.json"), "utf8")).toBe(before);
  });

  test("a connection cut mid-blob is resumed with Range, not restarted", async () => {
    const registry = fake({
      intercept: (req, url, attempt) => {
        if (url.pathname.endsWith(layer.desc.digest) && attempt === 1) {
          const half = layer.bytes.subarray(0, 100_000);
          // promise the whole blob, send a part, then drop the connection
          const body = new ReadableStream({
            start(controller) {
              controller.enqueue(half);
            },
            pull(controller) {
              controller.close();
            },
          });
          return new Response(body, { headers: { "Content-Length": String(layer.bytes.byteLength) } });
        }
      },
    });
    const result = await stevedore(["copy", "-q", `docker://${registry.host}/test/image:latest`, `oci:${join(dir, "resumed")}:x`]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const ranges = registry.seen.filter((r) => r.path.endsWith(layer.desc.digest)).map((r) => r.range);
    expect(ranges[0]).toBeNull();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(ranges[1]!)![0])).toBeGreaterThan(0);
    expect((await readBack(`oci:${join(dir, "resumed")}:x`)).digest).toBe(image.top.digest);
  });

  test("429 with Retry-After is waited out", async () => {
    const registry = fake({
      intercept: (_req, url, attempt) => {
        if (url.pathname.endsWith("/manifests/latest") && attempt === 1) {
          return Response.json({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }, { status: 429, headers: { "Retry-After": "1" } });
        }
      },
    });
    const started = performance.now();
    const result = await stevedore(["inspect", "-q", `docker://${registry.host}/test/image:latest`]);
    expect(result.exitCode).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  test("--retry-times bounds the retries: 0 gives up at the first 503, 2 outlasts two of them", async () => {
    const registry = fake({
      intercept: (_req, url, attempt) => {
        if (url.pathname.endsWith("/manifests/latest") && attempt % 3 !== 0) return new Response("busy", { status: 503, headers: { "Retry-After": "0" } });
      },
    });
    const none = await stevedore(["inspect", "--retry-times", "0", `docker://${registry.host}/test/image:latest`]);
    expect(none.exitCode).toBe(Exit.failed);
    expect(none.stderr).toContain("503");
    const enough = await stevedore(["inspect", "-q", "--retry-times", "2", `docker://${registry.host}/test/image:latest`]);
    expect(enough.stderr).toBe("");
    expect(enough.exitCode).toBe(0);
    expect((await stevedore(["inspect", "--retry-times", "-1", `docker://${registry.host}/test/image:latest`])).exitCode).toBe(Exit.usage);
  });

  test("a registry that refuses to list tags still inspects: RepoTags holds the tag asked for", async () => {
    const registry = fake({
      intercept: (_req, url) => (url.pathname.endsWith("/tags/list") ? Response.json({ errors: [{ code: "DENIED", message: "no listing" }] }, { status: 403 }) : undefined),
    });
    const result = await stevedore(["inspect", `docker://${registry.host}/test/image:latest`]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).RepoTags).toEqual(["latest"]);
  });

  test("429 that never ends fails with a clear message naming the rate limit", async () => {
    const registry = fake({
      intercept: () => Response.json({ errors: [{ code: "TOOMANYREQUESTS", message: "pull rate limit" }] }, { status: 429, headers: { "Retry-After": "0", "RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "0;w=21600" } }),
    });
    const result = await stevedore(["inspect", `docker://${registry.host}/test/image:latest`]);
    expect(result.exitCode).toBe(Exit.failed);
    expect(result.stderr).toContain("429");
    expect(result.stderr).toContain("ratelimit-remaining: 0;w=21600");
  });

  test("a redirect to another host carries no Authorization header", async () => {
    const storage = fake({});
    const registry = fake({
      basic: { username: "alice", password: "secret" },
      intercept: (_req, url) => {
        if (url.pathname.includes("/blobs/")) return Response.redirect(`http://localhost:${storage.server.port}${url.pathname}`, 307);
      },
    });
    const result = await stevedore(["copy", "-q", "--creds", "alice:secret", `docker://${registry.host}/test/image:latest`, `oci:${join(dir, "redirected")}:x`]);
    expect(result.exitCode).toBe(0);
    expect(registry.seen.some((r) => r.authorization?.startsWith("Basic "))).toBe(true);
    const atStorage = storage.seen.filter((r) => r.path.includes("/blobs/"));
    expect(atStorage.length).toBe(3);
    expect(atStorage.every((r) => r.authorization === null)).toBe(true);
  });

  test("a Link to another host (tag pagination) carries no credentials there", async () => {
    const elsewhere = fake({ intercept: () => Response.json({ name: "test/image", tags: ["b"] }) });
    const registry = fake({
      basic: { username: "alice", password: "secret" },
      intercept: (_req, url) =>
        url.pathname.endsWith("/tags/list") ? Response.json({ name: "test/image", tags: ["a"] }, { headers: { Link: `<http://${elsewhere.host}/v2/test/image/tags/list?last=a>; rel="next"` } }) : undefined,
    });
    const result = await stevedore(["tags", "--creds", "alice:secret", `docker://${registry.host}/test/image`]);
    expect(result.stdout.split("\n")).toContain("a");
    const asked = elsewhere.seen.filter((r) => r.path.endsWith("/tags/list"));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.authorization === null)).toBe(true);
  });

  test("a 401 from another host (a Link's) does not set how to authenticate with the registry: its realm is never asked", async () => {
    const elsewhere = fake({
      intercept: (_req, url) => (url.pathname === "/token" ? Response.json({ token: "x" }) : new Response("", { status: 401, headers: { "WWW-Authenticate": `Bearer realm="http://${url.host}/token",service="elsewhere"` } })),
    });
    const registry = fake({ basic: { username: "alice", password: "secret" } });
    const client = new RegistryClient(registry.host, "test/image", { credentials: { explicit: { username: "alice", password: "secret" } } });
    expect((await client.request("GET", "/v2/test/image/manifests/latest")).status).toBe(200); // learns Basic
    await client.request("GET", `http://${elsewhere.host}/v2/test/image/tags/list?last=a`).catch(() => {});
    // the registry's own challenge still holds: no token is fetched from the other host's realm
    expect((await client.request("GET", "/v2/test/image/manifests/latest")).status).toBe(200);
    expect(elsewhere.seen.filter((r) => r.path === "/token")).toEqual([]);
    expect(elsewhere.seen.every((r) => r.authorization === null)).toBe(true);
  });

  test("a token exchange redirected (307) to another host is refused: the refresh token stays", async () => {
    const elsewhere = fake({});
    const registry = fake({
      intercept: (req, url) => {
        if (url.pathname === "/token") return new Response(null, { status: 307, headers: { Location: `http://${elsewhere.host}/token` } });
        if (!req.headers.get("authorization")) return new Response("", { status: 401, headers: { "WWW-Authenticate": `Bearer realm="http://${url.host}/token",service="fake"` } });
        return undefined;
      },
    });
    const config = join(dir, "identity-config");
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { [registry.host]: { identitytoken: "refresh-me" } } }));
    const result = await stevedore(["inspect", `docker://${registry.host}/test/image:latest`], { env: { DOCKER_CONFIG: config, HOME: dir } });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).not.toContain("refresh-me");
    expect(elsewhere.seen).toEqual([]);
  });

  /** Commands that would carry one set of credentials to two registries: each a usage error saying why, echoing no secret, before any request. */
  async function expectRefusedUnasked(commands: (a: string, b: string) => Promise<[args: string[], message: string][]>): Promise<void> {
    const a = fake({});
    const b = fake({});
    for (const [args, message] of await commands(a.host, b.host)) {
      const result = await stevedore(args);
      expect([args[0], result.exitCode]).toEqual([args[0], Exit.usage]);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(/secret|t0ken/);
    }
    expect([...a.seen, ...b.seen]).toEqual([]);
  }

  test("sync in skopeo's form and diff refuse plain credentials before asking any registry", () =>
    expectRefusedUnasked(async (a, b) => [
      [["sync", "--src", "docker", "--dest", "docker", "--creds", "alice:secret", `${a}/test/image`, `${b}/mirror`], "--src-creds"],
      [["diff", "--registry-token", "t0ken", `docker://${a}/test/image:latest`, `docker://${b}/test/image:latest`], "would reach"],
    ]));

  test("a --src-creds that would reach two source registries, or none, is a usage error too (an index, a sync YAML)", () =>
    expectRefusedUnasked(async (a, b) => {
      const yaml = join(dir, "two-registries.yml");
      writeFileSync(yaml, `${a}:\n  images:\n    test/image: [latest]\n${b}:\n  images:\n    test/image: [latest]\n`);
      const allOwn = join(dir, "all-own.yml");
      writeFileSync(allOwn, `${a}:\n  credentials: {username: bob, password: hunter2}\n  images:\n    test/image: [latest]\n`);
      return [
        [["index", "--src-creds", "alice:secret", "-t", `oci:${join(dir, "two-sources")}:x`, `docker://${a}/test/image:latest`, `docker://${b}/test/image:latest`], "--src-creds would reach"],
        [["sync", "--src", "yaml", "--dest", "dir", "--src-creds", "alice:secret", yaml, join(dir, "yaml-out")], `would go to 2 registries (${a}, ${b})`],
        [["sync", "--src", "yaml", "--dest", "dir", "--src-creds", "alice:secret", allOwn, join(dir, "yaml-out")], "every registry has credentials in the file: --src-creds or --src-registry-token would go to none"],
      ];
    }));

  test("a sync YAML's --src-creds goes to the one registry without credentials in the file; the other gets its own", async () => {
    const a = fake({ basic: { username: "alice", password: "secret" } });
    const b = fake({ basic: { username: "bob", password: "hunter2" } });
    const yaml = join(dir, "one-without.yml");
    writeFileSync(yaml, `${a.host}:\n  images:\n    test/image: [latest]\n${b.host}:\n  credentials: {username: bob, password: hunter2}\n  images:\n    test/image: [latest]\n`);
    const synced = await stevedore(["sync", "-q", "--src", "yaml", "--dest", "dir", "--src-creds", "alice:secret", yaml, join(dir, "one-without-out")]);
    expect([synced.exitCode, synced.stderr]).toEqual([0, ""]);
    const sent = (seen: { authorization: string | null }[]) => [...new Set(seen.map((r) => r.authorization).filter((x) => x !== null))];
    expect(sent(a.seen)).toEqual([`Basic ${btoa("alice:secret")}`]);
    expect(sent(b.seen)).toEqual([`Basic ${btoa("bob:hunter2")}`]);
  });

  test("a --dest-creds for a spec file whose destinations are on two registries is refused before any request", () =>
    expectRefusedUnasked(async (a, b) => {
      // sources that exist: without the refusal, the copies would reach both registries
      await writeImage(parseImageRef(`oci:${join(dir, "spec-sources")}:x`), randomImage({ seed: 1207 }));
      const spec = join(dir, "two-destinations.txt");
      writeFileSync(spec, `oci:${join(dir, "spec-sources")}:x docker://${a}/x:1\noci:${join(dir, "spec-sources")}:x docker://${b}/y:1\n`);
      return [[["sync", "--dest-creds", "alice:secret", spec], "--dest-creds would reach"]];
    }));

  test("plain --creds or --registry-token that would reach two registries is a usage error", () =>
    expectRefusedUnasked(async (a, b) =>
      [["--creds", "alice:secret"], ["--registry-token", "t0ken"]].map((flag) => [["copy", ...flag, `docker://${a}/test/image:latest`, `docker://${b}/test/image:latest`], "would reach"]),
    ));

  test("a redirect from https to http is refused", async () => {
    const storage = fake({});
    const tls = selfSignedCertificate(dir, "tls");
    const registry = fake({
      tls: { cert: tls.cert, key: tls.key },
      intercept: (_req, url) => {
        if (url.pathname.includes("/blobs/")) return Response.redirect(`http://127.0.0.1:${storage.server.port}${url.pathname}`, 307);
      },
    });
    const certDir = join(dir, "certs");
    require("node:fs").mkdirSync(certDir, { recursive: true });
    require("node:fs").copyFileSync(tls.certPath, join(certDir, "ca.crt"));
    const result = await stevedore(["copy", "-q", "--tls-verify=true", "--cert-dir", certDir, `docker://${registry.host}/test/image:latest`, `oci:${join(dir, "downgrade")}:x`]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("refusing a redirect from https to http");
    expect(storage.seen).toEqual([]);
    expect(existsSync(join(dir, "downgrade", "index.json"))).toBe(false);
  });

  test("an unreachable registry is one line naming the host", async () => {
    const result = await stevedore(["inspect", "--tls-verify=true", "docker://127.0.0.1:1/x/y:z"]);
    expect(result.exitCode).toBe(Exit.failed);
    expect(result.stderr.trim()).toMatch(/^stevedore: 127\.0\.0\.1:1: cannot connect/);
  });

  test("HTTP_PROXY is honoured, and NO_PROXY bypasses it", async () => {
    const proxy = fake({});
    const ref = "docker://registry.example.test:5000/test/image:latest";
    const env = { HTTP_PROXY: `http://${proxy.host}`, HTTPS_PROXY: "", https_proxy: "", http_proxy: "" };
    const viaProxy = await stevedore(["inspect", "--tls-verify=false", ref], { env });
    expect(viaProxy.exitCode).toBe(0);
    expect(JSON.parse(viaProxy.stdout).Digest).toBe(image.top.digest);
    expect(proxy.seen.some((r) => r.path === "/v2/test/image/manifests/latest")).toBe(true);
    const bypassed = await stevedore(["inspect", "--tls-verify=false", ref], { env: { ...env, NO_PROXY: "example.test" } });
    expect(bypassed.exitCode).not.toBe(0);
  });
});

