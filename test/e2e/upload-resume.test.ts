/** A push whose connection drops in the middle of a layer resumes from what the registry holds. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { Exit } from "../../src/core/errors.ts";
import { requirePeer, stevedore } from "../helpers/cli.ts";
import { startCuttingProxy } from "../helpers/cutting-proxy.ts";
import { startFakeRegistry } from "../helpers/fake-registry.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, freePort, startRegistry } from "../helpers/registry.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const image = randomImage({ layers: 1, size: 20 << 20, gzip: false, seed: 31 });
const source = `oci:${join(dir, "source")}:v1`;

for (const [name, start] of [
  ["docker-registry", () => startRegistry("none")],
  ["stevedore serve (filesystem store)", () => startServe(["--root", join(dir, "serve-root")])],
] as const) {
  describe(`a push to ${name} cut after 6 MiB of a 20 MiB layer`, () => {
    let upstream: TestRegistry | RunningServe;
    beforeAll(async () => {
      await writeImage(parseImageRef(source), image);
      upstream = await start();
    });
    afterAll(async () => {
      await upstream?.stop();
    });

    for (const [mode, flags] of [
      ["one PATCH", []],
      ["4 MiB chunks", ["--upload-chunk-size", "4M"]],
    ] as const) {
      test(`${mode}: carries on from what the registry holds (or again from the start where it dropped the upload); every digest survives`, async () => {
        const proxy = startCuttingProxy(upstream.host, 6 << 20);
        try {
          const repo = `resumed/${mode.replace(/\W+/g, "-").toLowerCase()}`;
          const result = await stevedore(["copy", "-q", ...flags, source, `docker://${proxy.host}/${repo}:v1`]);
          expect(result.stderr).toBe("");
          expect(proxy.cuts()).toBe(1);
          expect((await readBack(`docker://${upstream.host}/${repo}:v1`)).digest).toBe(image.top.digest);
        } finally {
          proxy.stop();
        }
      });

      test(`${mode}, copied from a registry (a stream, not a file): reads the source again from where the registry stands`, async () => {
        const from = `docker://${upstream.host}/resumed/origin:v1`;
        expect((await stevedore(["copy", "-q", source, from])).exitCode).toBe(0);
        const proxy = startCuttingProxy(upstream.host, 6 << 20);
        try {
          const repo = `resumed/streamed-${mode.replace(/\W+/g, "-").toLowerCase()}`;
          const result = await stevedore(["copy", "-q", ...flags, from, `docker://${proxy.host}/${repo}:v1`]);
          expect(result.stderr).toBe("");
          expect(result.exitCode).toBe(0);
          expect(proxy.cuts()).toBe(1);
          expect((await readBack(`docker://${upstream.host}/${repo}:v1`)).digest).toBe(image.top.digest);
        } finally {
          proxy.stop();
        }
      });
    }

    test("a stream whose bytes do not match its digest fails the copy (exit 5) and pushes no manifest", async () => {
      const layer = [...image.blobs.values()].find((b) => b.desc.size > 8 << 20)!;
      const hostile = startFakeRegistry(image, {
        intercept: (_req, url) => {
          if (!url.pathname.endsWith(layer.desc.digest)) return undefined;
          const bytes = new Uint8Array(layer.bytes);
          bytes[bytes.length >> 1]! ^= 0xff; // same size, one byte changed
          return new Response(bytes);
        },
      });
      try {
        const result = await stevedore(["copy", "-q", `docker://${hostile.host}/test/image:latest`, `docker://${upstream.host}/resumed/hostile:v1`]);
        expect(result.exitCode).toBe(Exit.integrity);
        expect(result.stderr.trim()).toMatch(/^stevedore: blob sha256:[0-9a-f]{12}: digest mismatch/);
        expect((await fetch(`http://${upstream.host}/v2/resumed/hostile/manifests/v1`)).status).toBe(404);
      } finally {
        hostile.stop();
      }
    });

    test("a stream that keeps ending short fails the copy (exit 5, size mismatch) and pushes no manifest", async () => {
      const layer = [...image.blobs.values()].find((b) => b.desc.size > 8 << 20)!;
      const short = startFakeRegistry(image, {
        intercept: (_req, url) => (url.pathname.endsWith(layer.desc.digest) ? new Response(layer.bytes.subarray(0, 10 << 20)) : undefined),
      });
      try {
        const result = await stevedore(["copy", "-q", `docker://${short.host}/test/image:latest`, `docker://${upstream.host}/resumed/short:v1`]);
        expect(result.exitCode).toBe(Exit.integrity);
        expect(result.stderr.trim()).toMatch(/^stevedore: blob sha256:[0-9a-f]{12}: size mismatch \(got \d+ of \d+ bytes\)/);
        expect((await fetch(`http://${upstream.host}/v2/resumed/short/manifests/v1`)).status).toBe(404);
      } finally {
        short.stop();
      }
    });
  });
}

describe("a registry-to-registry push to a destination that lies about the upload", () => {
  test("a destination that claims the whole upload after a cut gets no closing PUT before every byte was sent", async () => {
    const layer = [...image.blobs.values()].find((b) => b.desc.size > 8 << 20)!;
    const origin = startFakeRegistry(image);
    const puts: string[] = [];
    const liar = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/v2/") return Response.json({});
        if (req.method === "HEAD") return new Response(null, { status: 404 });
        if (req.method === "POST") return new Response(null, { status: 202, headers: { Location: "/v2/test/image/blobs/uploads/1" } });
        if (req.method === "PATCH") return new Response("busy", { status: 503 }); // a 5xx mid-upload: ask where it stands
        if (req.method === "GET") return new Response(null, { status: 204, headers: { Range: `0-${layer.desc.size - 1}`, Location: "/v2/test/image/blobs/uploads/1" } });
        if (req.method === "PUT") puts.push(url.pathname + url.search);
        return new Response(null, { status: 201 });
      },
    });
    try {
      const result = await stevedore(["copy", "-q", `docker://${origin.host}/test/image:latest`, `docker://127.0.0.1:${liar.port}/test/image:latest`]);
      expect(result.exitCode).toBe(Exit.integrity);
      expect(result.stderr).toContain("not all were sent");
      expect(puts.filter((p) => p.includes(layer.desc.digest.slice(7)))).toEqual([]);
    } finally {
      liar.stop(true);
      origin.stop();
    }
  });
});

describe("a push whose token the registry stops accepting part-way (expired, or its key rotated)", () => {
  test("a refused PATCH asks for a new token and the upload resumes from what the registry holds (from a file or a registry); a stream read once says why it stopped (exit 4)", async () => {
    await writeImage(parseImageRef(source), image);
    const htpasswdFile = join(dir, "htpasswd");
    await Bun.write(htpasswdFile, Bun.spawnSync([requirePeer("htpasswd"), "-Bbn", "-C", "4", "alice", "wonderland"]).stdout);
    // the client talks to `front`, which passes everything to serve but answers the second PATCH of
    // each upload 401 (up to the `refuseTo`th; after reading its bytes, so the client hears the
    // refusal, not a reset)
    const frontPort = freePort();
    const registry = await startServe(["--root", join(dir, "token-root"), "--htpasswd", htpasswdFile, "--anonymous-read", "--token-realm", `http://127.0.0.1:${frontPort}/token`]);
    const patches = new Map<string, number>();
    const refused: string[] = [];
    // what went through the front, in order: a refusal must be followed by a token request
    const seen: string[] = [];
    let refuseTo = 2;
    const front = Bun.serve({
      port: frontPort,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        seen.push(`${req.method} ${url.pathname}`);
        if (req.method === "PATCH") {
          const count = (patches.get(url.pathname) ?? 0) + 1;
          patches.set(url.pathname, count);
          if (count >= 2 && count <= refuseTo) {
            await req.arrayBuffer();
            refused.push(url.pathname);
            seen.push("refused");
            const challenge = `Bearer realm="http://127.0.0.1:${frontPort}/token",service="stevedore",error="invalid_token"`;
            return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "token expired" }] }, { status: 401, headers: { "WWW-Authenticate": challenge } });
          }
        }
        const forwarded = await fetch(`http://${registry.host}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual", duplex: "half" } as RequestInit);
        return new Response(forwarded.body, { status: forwarded.status, headers: forwarded.headers });
      },
    });
    const creds = ["--dest-creds", "alice:wonderland", "--upload-chunk-size", "4M"];
    try {
      const pushed = await stevedore(["copy", "-q", ...creds, source, `docker://127.0.0.1:${frontPort}/team/app:1`]);
      expect(pushed.stderr).toBe("");
      expect(pushed.exitCode).toBe(0);
      expect(refused).toHaveLength(1);
      // a new token was asked for before the upload's status
      const after = seen.slice(seen.indexOf("refused") + 1);
      expect(after.findIndex((r) => r === "GET /token")).toBeLessThan(after.findIndex((r) => r.startsWith("GET /v2/team/app/blobs/uploads/")));
      expect(after.findIndex((r) => r === "GET /token")).toBeGreaterThanOrEqual(0);
      expect((await readBack(`docker://${registry.host}/team/app:1`)).digest).toBe(image.top.digest);
      // from a registry, the layer is read again from where the destination stands
      const origin = startFakeRegistry(image);
      try {
        const copied = await stevedore(["copy", "-q", ...creds, `docker://${origin.host}/test/image:latest`, `docker://127.0.0.1:${frontPort}/team/copied:1`]);
        expect([copied.exitCode, copied.stderr]).toEqual([0, ""]);
        expect(refused).toHaveLength(2);
      } finally {
        origin.stop();
      }
      // from a tar archive, the layer is a stream read once: the refusal ends the push, and says why
      const archive = `docker-archive:${join(dir, "image.tar")}:team/app:1`;
      expect((await stevedore(["copy", "-q", source, archive])).exitCode).toBe(0);
      const streamed = await stevedore(["copy", "-q", ...creds, archive, `docker://127.0.0.1:${frontPort}/team/streamed:1`]);
      expect(streamed.exitCode).toBe(Exit.auth);
      expect(streamed.stderr).toContain("refused its token for team/streamed part-way (PATCH");
      // refused again with no byte landing in between: no expiry, a refusal (exit 4), not five resumes
      refuseTo = Number.POSITIVE_INFINITY;
      const denied = await stevedore(["copy", "-q", ...creds, source, `docker://127.0.0.1:${frontPort}/team/denied:1`]);
      expect(denied.exitCode).toBe(Exit.auth);
      expect(denied.stderr).toContain("refused its token for team/denied part-way (PATCH");
      expect(refused.filter((p) => p.startsWith("/v2/team/denied/"))).toHaveLength(2);
    } finally {
      front.stop(true);
      await registry.stop();
    }
  });
});
