/** `stevedore serve --proxy`: a pull-through cache in front of a real registry. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { startFakeRegistry } from "../helpers/fake-registry.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const skopeo = requirePeer("skopeo");
const dir = tmpDir();
const app = randomImage({ seed: 1601, layers: 2, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
const tool = randomImage({ seed: 1602 });
const tool2 = randomImage({ seed: 1603 });
let upstream: TestRegistry;
let cache: RunningServe;
const creds = ["--creds", "alice:wonderland"];

beforeAll(async () => {
  upstream = await startRegistry("htpasswd");
  for (const [image, ref] of [[app, "team/app:1.0"], [tool, "team/tool:1"]] as const) {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:${ref.replace(/[/:]/g, "-")}`), image);
    expect((await stevedore(["copy", "-q", "--all", ...creds, `oci:${join(dir, "src")}:${ref.replace(/[/:]/g, "-")}`, `docker://${upstream.host}/${ref}`])).exitCode).toBe(0);
  }
  cache = await startServe(["--root", join(dir, "cache"), "--proxy", upstream.host, "--proxy-creds", "alice:wonderland"]);
});
afterAll(async () => {
  await cache?.stop();
  upstream?.stop();
});

/**
 * A cache (on disk) in front of an upstream that sends the first half of one layer at once and
 * the rest when `rest` resolves.
 */
async function gatedUpstream(seed: number) {
  const image = randomImage({ seed, size: 3_000_000 });
  const [layer] = [...image.blobs.values()].filter((b) => b.desc.mediaType.includes("layer"));
  const rest = Promise.withResolvers<void>();
  const isLayer = (req: Request, url: URL) => req.method === "GET" && url.pathname.endsWith(layer!.desc.digest);
  const upstream = startFakeRegistry(image, {
    intercept: (req, url) => {
      if (!isLayer(req, url)) return undefined;
      const half = layer!.bytes.byteLength >> 1;
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(layer!.bytes.slice(0, half));
          await rest.promise;
          controller.enqueue(layer!.bytes.slice(half));
          controller.close();
        },
      });
      return new Response(body, { headers: { "Content-Length": String(layer!.bytes.byteLength) } });
    },
  });
  const cache = await startServe(["--root", join(dir, `gated-${seed}`), "--proxy", upstream.host]);
  return {
    layer: layer!,
    rest,
    cache,
    upstreamGets: () => upstream.seen.filter((r) => r.method === "GET" && r.path.endsWith(layer!.desc.digest)).length,
    upstreamAsked: () => upstream.seen.filter((r) => r.path.endsWith(layer!.desc.digest)).length,
    stop: async () => {
      rest.resolve();
      await cache.stop();
      upstream.stop();
    },
  };
}

describe("serve --proxy", () => {
  test("skopeo and stevedore pull through it: every digest as upstream has it, tags listed from upstream", async () => {
    const pulled = `oci:${join(dir, "skopeo")}:all`;
    const copied = await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false", `docker://${cache.host}/team/app:1.0`, pulled]);
    expect(copied.stderr).toBe("");
    expect((await readBack(pulled)).children).toEqual(app.images.map((m) => m.digest));
    expect((await readBack(`docker://${cache.host}/team/tool:1`)).digest).toBe(tool.top.digest);
    expect((await stevedore(["tags", `docker://${cache.host}/team/app`])).stdout).toBe("1.0\n");
  });

  test("a tag moved upstream is followed; a blob of one repository is not shown in another", async () => {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:tool2`), tool2);
    expect((await stevedore(["copy", "-q", ...creds, `oci:${join(dir, "src")}:tool2`, `docker://${upstream.host}/team/tool:1`])).exitCode).toBe(0);
    expect((await readBack(`docker://${cache.host}/team/tool:1`)).digest).toBe(tool2.top.digest);
    const [layer] = [...app.blobs.values()].filter((b) => b.desc.mediaType.includes("layer"));
    expect((await fetch(`http://${cache.host}/v2/team/tool/blobs/${layer!.desc.digest}`, { method: "HEAD" })).status).toBe(404);
  });

  test("pushes and deletes are refused, and nothing reaches upstream", async () => {
    const pushed = await stevedore(["copy", "-q", `oci:${join(dir, "src")}:tool2`, `docker://${cache.host}/team/pushed:1`]);
    expect(pushed.exitCode).not.toBe(0);
    expect(pushed.stderr).toContain("read-only");
    expect((await stevedore(["inspect", ...creds, `docker://${upstream.host}/team/pushed:1`])).exitCode).toBe(3);
  });

  test("referrers are listed as upstream has them, before any was pulled through the cache", async () => {
    const sbom = join(dir, "sbom.spdx.json");
    await Bun.write(sbom, '{"spdxVersion":"SPDX-2.3"}');
    expect((await stevedore(["attach", "-q", ...creds, "--artifact-type", "application/spdx+json", `docker://${upstream.host}/team/app:1.0`, sbom])).exitCode).toBe(0);
    const listed = await stevedore(["referrers", "--artifact-type", "application/spdx+json", `docker://${cache.host}/team/app:1.0`]);
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout.trim().split("\n")).toHaveLength(1);
    expect(listed.stdout).toContain("application/spdx+json");
  });

  test("when upstream starts refusing the cache's credentials, what it cached is still served; what it did not is a 502", async () => {
    const root = join(dir, "cache-rotated");
    const first = await startServe(["--root", root, "--proxy", upstream.host, "--proxy-creds", "alice:wonderland"]);
    expect((await readBack(`docker://${first.host}/team/app:1.0`)).children).toEqual(app.images.map((m) => m.digest));
    await first.stop();
    const rotated = await startServe(["--root", root, "--proxy", upstream.host, "--proxy-creds", "alice:rotated"]);
    try {
      expect((await readBack(`docker://${rotated.host}/team/app:1.0`)).children).toEqual(app.images.map((m) => m.digest));
      expect((await stevedore(["tags", `docker://${rotated.host}/team/app`])).stdout).toBe("1.0\n");
      const uncached = await fetch(`http://${rotated.host}/v2/team/tool/manifests/1`);
      expect(uncached.status).toBe(502);
      expect(await uncached.text()).toContain("credentials refused");
    } finally {
      await rotated.stop();
    }
  });

  test("a tag deleted upstream is gone from the cache too: it does not come back when upstream is away", async () => {
    const doomed = randomImage({ seed: 1604 });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:doomed`), doomed);
    expect((await stevedore(["copy", "-q", ...creds, `oci:${join(dir, "src")}:doomed`, `docker://${upstream.host}/team/doomed:1`])).exitCode).toBe(0);
    expect((await readBack(`docker://${cache.host}/team/doomed:1`)).digest).toBe(doomed.top.digest);
    // distribution deletes a tag with its manifest, by digest
    expect((await stevedore(["delete", ...creds, `docker://${upstream.host}/team/doomed@${doomed.top.digest}`])).exitCode).toBe(0);
    expect((await stevedore(["inspect", `docker://${cache.host}/team/doomed:1`])).exitCode).toBe(3);
    expect(existsSync(join(dir, "cache/repositories/team/doomed/_tags/1"))).toBe(false);
  });

  test("with upstream gone, what was pulled is still served, by tag and by digest", async () => {
    upstream.stop();
    // the deleted tag is not served from the cache (upstream cannot be asked: a 502, not the old manifest)
    expect((await fetch(`http://${cache.host}/v2/team/doomed/manifests/1`)).status).toBe(502);
    expect((await readBack(`docker://${cache.host}/team/app:1.0`)).children).toEqual(app.images.map((m) => m.digest));
    expect((await readBack(`docker://${cache.host}/team/tool@${tool2.top.digest}`)).digest).toBe(tool2.top.digest);
    expect((await stevedore(["inspect", `docker://${cache.host}/team/never-pulled:1`])).exitCode).not.toBe(0);
  });

  test("an upstream that rate-limits (429) after the first pull leaves the cached tag served", async () => {
    const image = randomImage({ seed: 1605, size: 100_000 });
    let limited = false;
    const limiting = startFakeRegistry(image, {
      intercept: (_req, url) =>
        limited && url.pathname.includes("/manifests/") ? Response.json({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }, { status: 429, headers: { "Retry-After": "0" } }) : undefined,
    });
    const limitedCache = await startServe(["--memory", "--proxy", limiting.host]);
    try {
      expect((await readBack(`docker://${limitedCache.host}/test/image:latest`)).digest).toBe(image.top.digest);
      limited = true;
      expect((await readBack(`docker://${limitedCache.host}/test/image:latest`)).digest).toBe(image.top.digest);
    } finally {
      await limitedCache.stop();
      limiting.stop();
    }
  });

  test("an upstream that accepts and never answers delays a cached tag by --proxy-check-timeout, one look-up serving every pull", async () => {
    const image = randomImage({ seed: 1607, size: 50_000 });
    let hung = false;
    const hanging = startFakeRegistry(image, {
      intercept: (_req, url) => {
        if (hung && url.pathname !== "/v2/") return new Promise<never>(() => {});
        if (url.pathname === "/v2/test/image/tags/list") return Response.json({ name: "test/image", tags: ["latest"] });
        return undefined;
      },
    });
    const slowCache = await startServe(["--memory", "--proxy", hanging.host, "--proxy-check-timeout", "1"]);
    try {
      expect((await readBack(`docker://${slowCache.host}/test/image:latest`)).digest).toBe(image.top.digest);
      hung = true;
      const before = hanging.seen.length;
      const started = performance.now();
      const pulls = await Promise.all(Array.from({ length: 3 }, () => fetch(`http://${slowCache.host}/v2/test/image/manifests/latest`, { headers: { Accept: image.top.mediaType } })));
      const waited = performance.now() - started;
      expect(pulls.map((p) => [p.status, p.headers.get("docker-content-digest")])).toEqual(Array.from({ length: 3 }, () => [200, image.top.digest]));
      expect(waited).toBeGreaterThanOrEqual(900); // upstream was given its second
      expect(waited).toBeLessThan(4000);
      expect(hanging.seen.slice(before).filter((r) => r.path.includes("/manifests/"))).toHaveLength(1);
      // a pull joining the late look-up gets the cached tag at once
      const joined = performance.now();
      expect((await fetch(`http://${slowCache.host}/v2/test/image/manifests/latest`, { headers: { Accept: image.top.mediaType } })).status).toBe(200);
      expect(performance.now() - joined).toBeLessThan(500);
      // the tag list and referrers too: upstream's, else after a second the cache's
      const listed = performance.now();
      const tags = await fetch(`http://${slowCache.host}/v2/test/image/tags/list`);
      expect(await tags.json()).toEqual({ name: "test/image", tags: ["latest"] });
      const referrers = await fetch(`http://${slowCache.host}/v2/test/image/referrers/${image.top.digest}`);
      expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
      expect(performance.now() - listed).toBeGreaterThanOrEqual(1800);
      // upstream back: once the hung look-up is three deadlines old, a new one asks upstream and answers at once
      hung = false;
      await Bun.sleep(Math.max(0, started + 3100 - performance.now()));
      const asked = hanging.seen.length;
      const fresh = performance.now();
      expect((await readBack(`docker://${slowCache.host}/test/image:latest`)).digest).toBe(image.top.digest);
      expect(performance.now() - fresh).toBeLessThan(900);
      expect(hanging.seen.slice(asked).filter((r) => r.path === "/v2/test/image/manifests/latest")).not.toHaveLength(0);
      // the look-ups still hanging upstream do not keep the cache from stopping
      const stopping = performance.now();
      expect(await slowCache.stop()).toBe(0);
      expect(performance.now() - stopping).toBeLessThan(3000);
    } finally {
      await slowCache.stop();
      hanging.stop();
    }
  }, 20_000);

  test("a HEAD of a blob not yet cached is answered from upstream's HEAD, without fetching the bytes", async () => {
    const image = randomImage({ seed: 1606, size: 150_000 });
    const [layer] = [...image.blobs.values()].filter((b) => b.desc.mediaType.includes("layer"));
    const origin = startFakeRegistry(image);
    const headCache = await startServe(["--memory", "--proxy", origin.host]);
    try {
      const head = await fetch(`http://${headCache.host}/v2/test/image/blobs/${layer!.desc.digest}`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(layer!.desc.size));
      expect(origin.seen.filter((r) => r.method === "GET" && r.path.endsWith(layer!.desc.digest))).toEqual([]);
      const get = await fetch(`http://${headCache.host}/v2/test/image/blobs/${layer!.desc.digest}`);
      expect(Buffer.from(await get.arrayBuffer())).toEqual(Buffer.from(layer!.bytes));
    } finally {
      await headCache.stop();
      origin.stop();
    }
  });

  test("a blob not yet cached streams to its first client as upstream sends it, and is kept", async () => {
    const { layer, upstreamGets, upstreamAsked, rest, cache, stop } = await gatedUpstream(1608);
    const url = `http://${cache.host}/v2/test/image/blobs/${layer.desc.digest}`;
    try {
      const answer = await Promise.race([fetch(url), Bun.sleep(3000).then(() => null)]);
      expect(answer?.status).toBe(200); // null: no answer until upstream had sent everything
      const reader = answer!.body!.getReader();
      const first = await reader.read();
      expect(first.value!.byteLength).toBeGreaterThan(0);
      rest.resolve();
      const chunks = [first.value!];
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
      expect(Buffer.concat(chunks).equals(Buffer.from(layer.bytes))).toBe(true);
      // kept and linked: the next request asks upstream nothing, not even a HEAD
      const asked = upstreamAsked();
      const again = await fetch(url);
      expect(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(layer.bytes))).toBe(true);
      expect(upstreamAsked()).toBe(asked);
      expect(upstreamGets()).toBe(1);
    } finally {
      await stop();
    }
  });

  test("a client that leaves part-way through a blob being fetched does not stop the cache keeping it", async () => {
    const { layer, upstreamGets, rest, cache, stop } = await gatedUpstream(1609);
    const url = `http://${cache.host}/v2/test/image/blobs/${layer.desc.digest}`;
    try {
      const leaving = new AbortController();
      const answer = await fetch(url, { signal: leaving.signal });
      await answer.body!.getReader().read();
      leaving.abort();
      rest.resolve();
      // the download goes on alone; the next request waits for it or reads the kept copy
      const again = await fetch(url);
      expect(Buffer.from(await again.arrayBuffer()).equals(Buffer.from(layer.bytes))).toBe(true);
      expect(upstreamGets()).toBe(1);
    } finally {
      await stop();
    }
  });

  test("an upstream blob whose bytes do not match its digest is never served whole, and not kept", async () => {
    const hostileImage = randomImage({ seed: 1604, size: 2_000_000 });
    const [layer] = [...hostileImage.blobs.values()].filter((b) => b.desc.mediaType.includes("layer"));
    const hostile = startFakeRegistry(hostileImage, {
      intercept: (req, url) => {
        if (req.method !== "GET" || !url.pathname.endsWith(layer!.desc.digest)) return undefined;
        const bytes = new Uint8Array(layer!.bytes);
        bytes[100]! ^= 0xff;
        return new Response(bytes);
      },
    });
    const hostileCache = await startServe(["--memory", "--proxy", hostile.host]);
    try {
      const url = `http://${hostileCache.host}/v2/test/image/blobs/${layer!.desc.digest}`;
      for (let i = 0; i < 2; i++) {
        // streamed as it arrives: the answer starts, but is cut before its last chunk
        const blob = await fetch(url);
        expect(blob.status).toBe(200);
        expect(await blob.arrayBuffer().then((b) => b.byteLength, () => "cut")).toBe("cut");
      }
      // nothing kept: each request went upstream again, and a range (served from the cache's copy) is a 502
      expect(hostile.seen.filter((r) => r.method === "GET" && r.path.endsWith(layer!.desc.digest))).toHaveLength(2);
      expect((await fetch(url, { headers: { Range: "bytes=0-99" } })).status).toBe(502);
      expect((await stevedore(["copy", "-q", `docker://${hostileCache.host}/test/image:latest`, `oci:${join(dir, "hostile")}:x`])).exitCode).not.toBe(0);
    } finally {
      await hostileCache.stop();
      hostile.stop();
    }
  });
});
