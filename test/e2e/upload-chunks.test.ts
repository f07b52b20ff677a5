/**
 * Pushes through a reverse proxy that limits request bodies (nginx, client_max_body_size 4m), as
 * registries behind nginx or a CDN do: chunked uploads, the automatic fallback for files, and the
 * clear error for streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, freePort, startRegistry } from "../helpers/registry.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const nginx = requirePeer("nginx");
const dir = tmpDir();
chmodSync(dir, 0o755);
// one 20 MiB layer: over the 8 MiB a blob may go in one PUT, five times the proxy's limit
const image = randomImage({ layers: 1, size: 20 << 20, gzip: false, seed: 21 });
const source = `oci:${join(dir, "source")}:v1`;

/** nginx on a free port in front of `upstream`, refusing request bodies over 4 MiB with 413. */
function startProxy(upstream: string): { host: string; stop: () => void } {
  const port = freePort();
  const conf = join(dir, `nginx-${port}.conf`);
  writeFileSync(
    conf,
    `pid ${dir}/nginx-${port}.pid; error_log ${dir}/nginx-${port}.log; events {}
http { access_log off; client_body_temp_path ${dir}/body-${port}; proxy_temp_path ${dir}/proxy-${port};
  server { listen 127.0.0.1:${port}; client_max_body_size 4m;
    location / { proxy_pass http://${upstream}; proxy_set_header Host $http_host; proxy_request_buffering off; proxy_http_version 1.1; } } }`,
  );
  const proc = Bun.spawn([nginx, "-c", conf, "-g", "daemon off;"], { stderr: "ignore" });
  return { host: `127.0.0.1:${port}`, stop: () => proc.kill() };
}

async function waitFor(host: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://${host}/v2/`).then(() => true, () => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${host} did not answer`);
}

for (const [name, start] of [
  ["docker-registry", () => startRegistry("none")],
  ["stevedore serve", () => startServe(["--memory"])],
] as const) {
  describe(`pushing through a proxy with a 4 MiB body limit, to ${name}`, () => {
    let upstream: TestRegistry | RunningServe;
    let proxy: { host: string; stop: () => void };
    beforeAll(async () => {
      await writeImage(parseImageRef(source), image);
      upstream = await start();
      proxy = startProxy(upstream.host);
      await waitFor(proxy.host);
      // the same image straight into the registry: a stream source for the copies below
      expect((await stevedore(["copy", "-q", source, `docker://${upstream.host}/direct/app:v1`])).exitCode).toBe(0);
    });
    afterAll(async () => {
      proxy?.stop();
      await upstream?.stop();
    });

    test("--upload-chunk-size 2M pushes the layer in 2 MiB PATCHes; every digest survives", async () => {
      const result = await stevedore(["copy", "-q", "--upload-chunk-size", "2M", `docker://${upstream.host}/direct/app:v1`, `docker://${proxy.host}/chunked/app:v1`]);
      expect(result.stderr).toBe("");
      expect((await readBack(`docker://${upstream.host}/chunked/app:v1`)).digest).toBe(image.top.digest);
    });

    test("a file refused whole (413) is pushed again in chunks, without being asked", async () => {
      const result = await stevedore(["copy", "-q", source, `docker://${proxy.host}/fallback/app:v1`]);
      expect(result.stderr).toBe("");
      expect((await readBack(`docker://${upstream.host}/fallback/app:v1`)).digest).toBe(image.top.digest);
    });

    test("a stream from a registry refused whole (413) is read again and pushed in chunks, without being asked", async () => {
      const result = await stevedore(["copy", "-q", `docker://${upstream.host}/direct/app:v1`, `docker://${proxy.host}/streamed-fallback/app:v1`]);
      expect(result.stderr).toBe("");
      expect((await readBack(`docker://${upstream.host}/streamed-fallback/app:v1`)).digest).toBe(image.top.digest);
    });

    test("a stream that cannot be read again (an archive's member) refused whole says what to do, in one line, and pushes no manifest; with the flag it goes", async () => {
      const archive = join(dir, `source-${name.replace(/\W+/g, "-")}.tar`);
      expect((await stevedore(["copy", "-q", source, `oci-archive:${archive}:v1`])).exitCode).toBe(0);
      const result = await stevedore(["copy", "-q", `oci-archive:${archive}:v1`, `docker://${proxy.host}/refused/app:v1`]);
      expect(result.exitCode).toBe(Exit.failed);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain("413");
      expect(result.stderr).toContain("--upload-chunk-size");
      expect((await fetch(`http://${upstream.host}/v2/refused/app/manifests/v1`)).status).toBe(404);
      const chunked = await stevedore(["copy", "-q", "--upload-chunk-size", "1M", `oci-archive:${archive}:v1`, `docker://${proxy.host}/refused/app:v1`]);
      expect(chunked.stderr).toBe("");
      expect((await readBack(`docker://${upstream.host}/refused/app:v1`)).digest).toBe(image.top.digest);
    });

    test("a blob small enough for one PUT (6 MiB) but over the limit is pushed again in PATCHes, from a stream; --upload-chunk-size skips the PUT", async () => {
      const small = randomImage({ layers: 1, size: 6 << 20, gzip: false, seed: 22 });
      const archive = join(dir, `small-${name.replace(/\W+/g, "-")}.tar`);
      await writeImage(parseImageRef(`oci-archive:${archive}:v1`), small);
      for (const [repo, flags] of [["small-fallback", []], ["small-chunked", ["--upload-chunk-size", "2M"]]] as const) {
        const result = await stevedore(["copy", "-q", ...flags, `oci-archive:${archive}:v1`, `docker://${proxy.host}/${repo}/app:v1`]);
        expect([repo, result.stderr]).toEqual([repo, ""]);
        expect((await readBack(`docker://${upstream.host}/${repo}/app:v1`)).digest).toBe(small.top.digest);
      }
    });

    test("a local layer whose bytes do not match its digest fails with exit 5, and no manifest is pushed", async () => {
      const corrupt = join(dir, `corrupt-${name.replace(/\W+/g, "-")}`);
      await writeImage(parseImageRef(`oci:${corrupt}:v1`), image);
      const layer = [...image.blobs.values()].find((b) => b.desc.size > 8 << 20)!;
      const path = join(corrupt, "blobs/sha256", layer.desc.digest.slice("sha256:".length));
      const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
      const middle = bytes.length >> 1;
      bytes[middle] = bytes[middle]! ^ 0xff; // same size, one byte changed
      writeFileSync(path, bytes);
      for (const flags of [[], ["--upload-chunk-size", "4M"]]) {
        const result = await stevedore(["copy", "-q", ...flags, `oci:${corrupt}:v1`, `docker://${upstream.host}/corrupt/app:v1`]);
        expect(result.exitCode).toBe(Exit.integrity);
        expect(result.stderr).toContain("digest mismatch");
        expect((await fetch(`http://${upstream.host}/v2/corrupt/app/manifests/v1`)).status).toBe(404);
      }
    });

    test("a bad size is a usage error", async () => {
      const result = await stevedore(["copy", "-q", "--upload-chunk-size", "lots", source, `docker://${proxy.host}/bad/app:v1`]);
      expect(result.exitCode).toBe(Exit.usage);
      expect(result.stderr).toContain("--upload-chunk-size takes a size such as 64M");
    });
  });
}

test("chunks are raised to the registry's OCI-Chunk-Min-Length, each PATCH at the offset the last one ended", async () => {
  const { createHandler } = await import("../../src/server/handler.ts");
  const { memoryStore } = await import("../../src/store/memory.ts");
  const { copy } = await import("../../src/verbs/copy.ts");
  const { openPolicy } = await import("../../src/server/access.ts");
  const handler = createHandler({ store: memoryStore(), policy: openPolicy });
  const ranges: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      if (req.method === "PATCH") ranges.push(req.headers.get("content-range") ?? "none");
      const response = await handler(req);
      // a registry that wants chunks of at least 6 MiB
      if (req.method === "POST" && response.status === 202) response.headers.set("OCI-Chunk-Min-Length", String(6 << 20));
      return response;
    },
  });
  try {
    await writeImage(parseImageRef(source), image);
    const to = `docker://127.0.0.1:${server.port}/min/app:v1`;
    await copy(parseImageRef(source), parseImageRef(to), { destinationRegistry: { uploadChunkSize: 2 << 20 } });
    const layer = [...image.blobs.values()].find((b) => b.desc.size > 8 << 20)!.desc.size;
    const six = 6 << 20;
    expect(ranges).toEqual([`0-${six - 1}`, `${six}-${2 * six - 1}`, `${2 * six}-${3 * six - 1}`, `${3 * six}-${layer - 1}`]);
    expect((await readBack(to)).digest).toBe(image.top.digest);
  } finally {
    server.stop(true);
  }
});
