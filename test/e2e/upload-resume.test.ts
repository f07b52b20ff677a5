/** A push whose connection drops in the middle of a layer resumes from what the registry holds. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { Exit } from "../../src/core/errors.ts";
import { stevedore } from "../helpers/cli.ts";
import { startCuttingProxy } from "../helpers/cutting-proxy.ts";
import { startFakeRegistry } from "../helpers/fake-registry.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
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
