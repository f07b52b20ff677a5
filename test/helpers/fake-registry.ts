import type { FixtureImage } from "./random-image.ts";

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly range: string | null;
}

export interface FakeRegistryOptions {
  /** Require Basic auth with these credentials. */
  readonly basic?: { username: string; password: string };
  /** Rewrite or replace the answer to a request; undefined keeps the normal one. */
  readonly intercept?: (req: Request, url: URL, attempt: number) => Response | undefined | Promise<Response | undefined>;
  readonly tls?: { cert: string; key: string };
}

/**
 * A small pull-only registry serving one fixture image as `test/image:latest`, whose misbehaviour
 * each fault test scripts through `intercept`. Records every request it sees.
 */
export function startFakeRegistry(image: FixtureImage, options: FakeRegistryOptions = {}) {
  const seen: SeenRequest[] = [];
  const attempts = new Map<string, number>();
  const manifests = new Map([image.top, ...image.images].map((m) => [m.digest as string, m]));
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      seen.push({ method: req.method, path: url.pathname, authorization: req.headers.get("authorization"), range: req.headers.get("range") });
      const key = `${req.method} ${url.pathname}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      if (options.basic) {
        const expected = `Basic ${Buffer.from(`${options.basic.username}:${options.basic.password}`).toString("base64")}`;
        if (req.headers.get("authorization") !== expected) return new Response("", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="fake"' } });
      }
      const intercepted = await options.intercept?.(req, url, attempt);
      if (intercepted) return intercepted;
      if (url.pathname === "/v2/") return Response.json({});
      const manifest = /^\/v2\/test\/image\/manifests\/(.+)$/.exec(url.pathname);
      if (manifest) {
        const m = manifest[1] === "latest" ? image.top : manifests.get(manifest[1]!);
        if (!m) return Response.json({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }, { status: 404 });
        return new Response(req.method === "HEAD" ? null : m.bytes, { headers: { "Content-Type": m.mediaType, "Docker-Content-Digest": m.digest, "Content-Length": String(m.bytes.byteLength) } });
      }
      const blob = /^\/v2\/test\/image\/blobs\/(.+)$/.exec(url.pathname);
      const found = blob && [...image.blobs.values()].find((b) => b.desc.digest === blob[1]);
      if (found) {
        const range = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
        const start = range ? Number(range[1]) : 0;
        return new Response(found.bytes.subarray(start), { status: range ? 206 : 200, headers: { "Docker-Content-Digest": found.desc.digest } });
      }
      return Response.json({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] }, { status: 404 });
    },
  });
  return { server, host: `127.0.0.1:${server.port}`, seen, stop: () => server.stop(true) };
}
