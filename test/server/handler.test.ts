import { availableParallelism } from "node:os";
import { beforeEach, describe, expect, test } from "bun:test";
import { digestOf } from "../../src/core/digest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { type Authorize, htpasswdPolicy, openPolicy } from "../../src/server/access.ts";
import { type HandlerOptions, createHandler } from "../../src/server/handler.ts";
import { Htpasswd } from "../../src/server/htpasswd.ts";
import { TokenIssuer, tokenLifetime } from "../../src/server/token.ts";
import { join } from "node:path";
import { fsStore } from "../../src/store/fs.ts";
import { memoryStore } from "../../src/store/memory.ts";
import type { Store } from "../../src/store/types.ts";
import { artifactFor } from "../helpers/artifact.ts";
import { randomImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const base = "http://registry.test";
type Handler = (r: Request) => Promise<Response>;

function req(method: string, path: string, init: { body?: Uint8Array | string; headers?: Record<string, string> } = {}): Request {
  return new Request(`${base}${path}`, { method, body: init.body, headers: init.headers });
}

async function errorCode(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { errors?: { code: string }[] }).errors?.[0]?.code;
}

/** Pushes a fixture through the handler: monolithic blob uploads, then manifests. */
async function push(handler: Handler, name: string, tag: string, image = randomImage({ seed: 1 })) {
  for (const { desc, bytes } of image.blobs.values()) {
    const r = await handler(req("POST", `/v2/${name}/blobs/uploads/?digest=${desc.digest}`, { body: bytes }));
    expect(r.status).toBe(201);
  }
  for (const m of image.images.length > 1 ? image.images : []) expect((await handler(req("PUT", `/v2/${name}/manifests/${m.digest}`, { body: m.bytes, headers: { "Content-Type": m.mediaType } }))).status).toBe(201);
  const r = await handler(req("PUT", `/v2/${name}/manifests/${tag}`, { body: image.top.bytes, headers: { "Content-Type": image.top.mediaType } }));
  expect(r.status).toBe(201);
  return image;
}

const scratch = tmpDir();
const stores: [string, () => Promise<Store>][] = [
  ["memory", async () => memoryStore()],
  ["fs", async () => fsStore(join(scratch, crypto.randomUUID()), { fsync: false })],
];

for (const [storeName, makeStore] of stores) describe(`registry handler (${storeName} store)`, () => {
  let options: HandlerOptions;
  let handler: Handler;
  beforeEach(async () => {
    options = { store: await makeStore(), policy: openPolicy, allowDelete: true };
    handler = createHandler(options);
  });

  test("GET /v2/ answers with the API version header", async () => {
    const r = await handler(req("GET", "/v2/"));
    expect(r.status).toBe(200);
    expect(r.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
  });

  test("a path that is no endpoint is a 404 that names no repository", async () => {
    for (const path of ["/", "/v2/foo", "/v2/team/app/manifests/"]) {
      const r = await handler(req("GET", path));
      expect([path, r.status, await errorCode(r)]).toEqual([path, 404, "UNSUPPORTED"]);
    }
  });

  test("monolithic push, then manifests and blobs by tag and digest, HEAD and Range", async () => {
    const image = await push(handler, "team/app", "v1");
    const byTag = await handler(req("GET", "/v2/team/app/manifests/v1"));
    expect(byTag.headers.get("docker-content-digest")).toBe(image.top.digest);
    expect(byTag.headers.get("content-type")).toBe(image.top.mediaType);
    expect(new Uint8Array(await byTag.arrayBuffer())).toEqual(new Uint8Array(image.top.bytes));
    const head = await handler(req("HEAD", `/v2/team/app/manifests/${image.top.digest}`));
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(image.top.bytes.byteLength));
    const [blob] = image.blobs.values();
    const ranged = await handler(req("GET", `/v2/team/app/blobs/${blob!.desc.digest}`, { headers: { Range: "bytes=10-19" } }));
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 10-19/${blob!.desc.size}`);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(new Uint8Array(blob!.bytes.subarray(10, 20)));
    expect((await handler(req("GET", `/v2/team/app/blobs/${blob!.desc.digest}`, { headers: { Range: `bytes=${blob!.desc.size}-` } }))).status).toBe(416);
    expect((await handler(req("HEAD", `/v2/other/repo/blobs/${blob!.desc.digest}`))).status).toBe(404);
  });

  test("If-None-Match naming the digest is a 304 without a body, for manifests by tag and blobs, GET and HEAD", async () => {
    const image = await push(handler, "team/app", "v1");
    const [blob] = image.blobs.values();
    const urls = { manifest: "/v2/team/app/manifests/v1", blob: `/v2/team/app/blobs/${blob!.desc.digest}` };
    const digests = { manifest: image.top.digest, blob: blob!.desc.digest };
    for (const what of ["manifest", "blob"] as const) {
      const etag = `"${digests[what]}"`;
      for (const [ifNoneMatch, status] of [[etag, 304], [`W/${etag}`, 304], [`"sha256:other", ${etag}`, 304], ["*", 304], ['"sha256:other"', 200]] as const) {
        for (const method of ["GET", "HEAD"]) {
          const r = await handler(req(method, urls[what], { headers: { "If-None-Match": ifNoneMatch } }));
          expect([what, ifNoneMatch, method, r.status]).toEqual([what, ifNoneMatch, method, status]);
          expect(r.headers.get("etag")).toBe(etag);
          expect(r.headers.get("docker-content-digest")).toBe(digests[what]);
          if (status === 304) {
            expect(r.headers.get("content-length")).toBeNull();
            expect((await r.arrayBuffer()).byteLength).toBe(0);
          }
        }
      }
    }
  });

  test("a Range the server need not honour gets the whole blob; If-Range honours it only for the blob's own ETag", async () => {
    const image = await push(handler, "team/app", "v1");
    const [blob] = image.blobs.values();
    const url = `/v2/team/app/blobs/${blob!.desc.digest}`;
    const etag = `"${blob!.desc.digest}"`;
    const get = (headers: Record<string, string>) => handler(req("GET", url, { headers }));
    // several ranges, another unit, a Range whose If-Range names other content or a date: RFC 9110 lets a server send the whole
    const whole: Record<string, string>[] = [{ Range: "bytes=0-1,5-6" }, { Range: "items=0-1" }, { Range: "bytes=0-9", "If-Range": '"sha256:other"' }, { Range: "bytes=0-9", "If-Range": "Mon, 23 Nov 2026 10:00:00 GMT" }];
    for (const headers of whole) {
      const r = await get(headers);
      expect([headers, r.status]).toEqual([headers, 200]);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(new Uint8Array(blob!.bytes));
    }
    const ranged = await get({ Range: "bytes=0-9", "If-Range": etag });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(new Uint8Array(blob!.bytes.subarray(0, 10)));
    // one range in bytes that cannot be met stays a 416, If-Range or not
    expect((await get({ Range: `bytes=${blob!.desc.size}-`, "If-Range": etag })).status).toBe(416);
  });

  test("chunked upload: PATCH in order, 416 on a gap, status, a wrong digest leaves nothing visible", async () => {
    const bytes = new TextEncoder().encode("0123456789abcdefghij");
    const digest = digestOf(bytes);
    const start = await handler(req("POST", "/v2/team/app/blobs/uploads/"));
    expect(start.status).toBe(202);
    const location = start.headers.get("location")!;
    expect(start.headers.get("docker-upload-uuid")).toBeTruthy();
    expect(start.headers.get("oci-chunk-min-length")).toBeTruthy();
    const first = await handler(req("PATCH", location, { body: bytes.subarray(0, 10), headers: { "Content-Range": "0-9" } }));
    expect(first.status).toBe(202);
    expect(first.headers.get("range")).toBe("0-9");
    const gap = await handler(req("PATCH", location, { body: bytes.subarray(15), headers: { "Content-Range": "15-19" } }));
    expect(gap.status).toBe(416);
    expect(await errorCode(gap)).toBe("BLOB_UPLOAD_INVALID");
    const status = await handler(req("GET", location));
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe("0-9");
    expect((await handler(req("PATCH", location, { body: bytes.subarray(10), headers: { "Content-Range": "10-19" } }))).status).toBe(202);
    const wrong = await handler(req("PUT", `${location}?digest=${digestOf("other")}`));
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe("DIGEST_INVALID");
    expect((await handler(req("HEAD", `/v2/team/app/blobs/${digestOf("other")}`))).status).toBe(404);
    const again = await handler(req("POST", "/v2/team/app/blobs/uploads/"));
    const loc2 = again.headers.get("location")!;
    await handler(req("PATCH", loc2, { body: bytes.subarray(0, 10) }));
    const done = await handler(req("PUT", `${loc2}?digest=${digest}`, { body: bytes.subarray(10), headers: { "Content-Range": "10-19" } }));
    expect(done.status).toBe(201);
    expect(done.headers.get("docker-content-digest")).toBe(digest);
    expect((await handler(req("HEAD", `/v2/team/app/blobs/${digest}`))).headers.get("content-length")).toBe("20");
  });

  test("a chunk must span its Content-Range exactly (416, nothing kept); `bytes start-end/total` is the same range", async () => {
    const bytes = new TextEncoder().encode("0123456789");
    const location = (await handler(req("POST", "/v2/team/app/blobs/uploads/"))).headers.get("location")!;
    const stream = (part: Uint8Array) => new Blob([part]).stream();
    // the declared length is refused before reading, a streamed body as it proves too long or too short
    const mismatches: [string, Uint8Array | ReadableStream<Uint8Array>, Record<string, string>, string][] = [
      ["longer, declared", bytes.subarray(0, 5), { "Content-Range": "0-2", "Content-Length": "5" }, "the chunk has 5"],
      ["longer, streamed", stream(bytes.subarray(0, 5)), { "Content-Range": "0-2" }, "the chunk has more than 3"],
      ["shorter, streamed", stream(bytes.subarray(0, 3)), { "Content-Range": "0-5" }, "the chunk has 3"],
    ];
    for (const [what, body, headers, message] of mismatches) {
      const refused = await handler(new Request(`${base}${location}`, { method: "PATCH", body, headers, duplex: "half" } as RequestInit));
      const answer = (await refused.json()) as { errors: { code: string; message: string }[] };
      expect([what, refused.status, answer.errors[0]?.code]).toEqual([what, 416, "BLOB_UPLOAD_INVALID"]);
      expect(answer.errors[0]?.message).toEndWith(message);
      expect(refused.headers.get("range")).toBe("0-0");
      expect((await handler(req("GET", location))).headers.get("range")).toBe("0-0");
    }
    // a range that is no range, or runs backwards, is a 400
    for (const range of ["abc", "5-3", "0-", "-3"]) {
      const malformed = await handler(req("PATCH", location, { body: bytes, headers: { "Content-Range": range } }));
      expect([range, malformed.status, await errorCode(malformed)]).toEqual([range, 400, "BLOB_UPLOAD_INVALID"]);
    }
    // an empty chunk spans no range; a last chunk on the closing PUT is held to its range too
    for (const method of ["PATCH", "PUT"]) {
      const empty = await handler(req(method, method === "PUT" ? `${location}?digest=${digestOf(bytes)}` : location, { headers: { "Content-Range": "0-9", "Content-Length": "0" } }));
      expect([method, empty.status]).toEqual([method, 416]);
    }
    const lastChunk = await handler(req("PUT", `${location}?digest=${digestOf(bytes)}`, { body: bytes, headers: { "Content-Range": "0-4" } }));
    expect(lastChunk.status).toBe(416);
    expect((await handler(req("GET", location))).headers.get("range")).toBe("0-0");
    expect((await handler(req("PATCH", location, { body: bytes.subarray(0, 4), headers: { "Content-Range": "bytes 0-3/*" } }))).status).toBe(202);
    expect((await handler(req("PATCH", location, { body: bytes.subarray(4), headers: { "Content-Range": "bytes 4-9/10" } }))).status).toBe(202);
    expect((await handler(req("PUT", `${location}?digest=${digestOf(bytes)}`))).status).toBe(201);
  });

  test("a cancelled or foreign upload is unknown", async () => {
    const location = (await handler(req("POST", "/v2/team/app/blobs/uploads/"))).headers.get("location")!;
    expect((await handler(req("DELETE", location))).status).toBe(204);
    const gone = await handler(req("PATCH", location, { body: "x" }));
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe("BLOB_UPLOAD_UNKNOWN");
    const other = (await handler(req("POST", "/v2/team/app/blobs/uploads/"))).headers.get("location")!;
    expect(await errorCode(await handler(req("GET", other.replace("team/app", "team/other"))))).toBe("BLOB_UPLOAD_UNKNOWN");
  });

  test("cross-repository mount: 201 when the source holds the blob, a session otherwise", async () => {
    const image = await push(handler, "team/app", "v1");
    const [blob] = image.blobs.values();
    const mounted = await handler(req("POST", `/v2/team/copy/blobs/uploads/?mount=${blob!.desc.digest}&from=team/app`));
    expect(mounted.status).toBe(201);
    expect((await handler(req("HEAD", `/v2/team/copy/blobs/${blob!.desc.digest}`))).status).toBe(200);
    expect((await handler(req("POST", `/v2/team/copy/blobs/uploads/?mount=${digestOf("nothing")}&from=team/app`))).status).toBe(202);
    // a source no repository can be named (a quote, a scope of its own) is no mount, and reaches no policy
    const asked: (string | undefined)[] = [];
    const recording = createHandler({ ...options, policy: { ...openPolicy, authorize: (_p, _action, repo) => (asked.push(repo), true) } });
    const bad = 'x",realm="http://evil/token';
    expect((await recording(req("POST", `/v2/team/copy/blobs/uploads/?mount=${blob!.desc.digest}&from=${encodeURIComponent(bad)}`))).status).toBe(202);
    expect(asked).toEqual(["team/copy"]);
  });

  test.each([
    ["not JSON", "nope{", MediaTypes.ociManifest, 400, "MANIFEST_INVALID"],
    ["ambiguous", JSON.stringify({ schemaVersion: 2, manifests: [], layers: [] }), MediaTypes.ociIndex, 400, "MANIFEST_INVALID"],
    ["Content-Type mismatch", JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }), MediaTypes.ociManifest, 400, "MANIFEST_INVALID"],
  ])("PUT manifest refuses %s", async (_, body, type, status, code) => {
    const r = await handler(req("PUT", "/v2/team/app/manifests/v1", { body, headers: { "Content-Type": type } }));
    expect(r.status).toBe(status);
    expect(await errorCode(r)).toBe(code);
    expect((await handler(req("GET", "/v2/team/app/manifests/v1"))).status).toBe(404);
  });

  test("PUT manifest refuses a missing blob, a wrong digest reference, and over 4 MiB", async () => {
    const image = randomImage({ seed: 2 });
    const missing = await handler(req("PUT", "/v2/team/app/manifests/v1", { body: image.top.bytes, headers: { "Content-Type": image.top.mediaType } }));
    expect(missing.status).toBe(400);
    expect(await errorCode(missing)).toBe("MANIFEST_BLOB_UNKNOWN");
    await push(handler, "team/app", "v0", image);
    const wrong = await handler(req("PUT", `/v2/team/app/manifests/${digestOf("x")}`, { body: image.top.bytes, headers: { "Content-Type": image.top.mediaType } }));
    expect(await errorCode(wrong)).toBe("DIGEST_INVALID");
    const huge = await handler(req("PUT", "/v2/team/app/manifests/big", { body: new Uint8Array(4 * 1024 * 1024 + 1), headers: { "Content-Type": MediaTypes.ociManifest } }));
    expect(huge.status).toBe(413);
    expect((await handler(req("GET", "/v2/team/app/manifests/big"))).status).toBe(404);
  });

  test("a Docker manifest must name its mediaType: one body cannot take a second media type under a tag pushed before", async () => {
    const config = new TextEncoder().encode("{}");
    const configDigest = digestOf(config);
    expect((await handler(req("POST", `/v2/team/app/blobs/uploads/?digest=${configDigest}`, { body: config }))).status).toBe(201);
    const body = JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: 2 }, layers: [] });
    expect((await handler(req("PUT", "/v2/team/app/manifests/a", { body, headers: { "Content-Type": MediaTypes.ociManifest } }))).status).toBe(201);
    const docker = await handler(req("PUT", "/v2/team/app/manifests/b", { body, headers: { "Content-Type": MediaTypes.dockerManifest } }));
    expect([docker.status, await errorCode(docker)]).toEqual([400, "MANIFEST_INVALID"]);
    expect((await handler(req("GET", "/v2/team/app/manifests/a"))).headers.get("content-type")).toBe(MediaTypes.ociManifest);
    expect((await handler(req("GET", "/v2/team/app/manifests/b"))).status).toBe(404);
  });

  test("an index needs its children first", async () => {
    const image = randomImage({ seed: 3, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
    for (const { desc, bytes } of image.blobs.values()) await handler(req("POST", `/v2/x/y/blobs/uploads/?digest=${desc.digest}`, { body: bytes }));
    const early = await handler(req("PUT", "/v2/x/y/manifests/multi", { body: image.top.bytes, headers: { "Content-Type": image.top.mediaType } }));
    expect(await errorCode(early)).toBe("MANIFEST_BLOB_UNKNOWN");
    await push(handler, "x/y", "multi", image);
    expect((await handler(req("GET", "/v2/x/y/manifests/multi"))).headers.get("content-type")).toBe(MediaTypes.ociIndex);
  });

  test("no page is longer than 1000 entries, whatever n asks: the rest follows the Link", async () => {
    const image = await push(handler, "team/many", "t0000");
    for (let i = 1; i <= 1000; i++) {
      const tag = `t${String(i).padStart(4, "0")}`;
      expect((await handler(req("PUT", `/v2/team/many/manifests/${tag}`, { body: image.top.bytes, headers: { "Content-Type": image.top.mediaType } }))).status).toBe(201);
    }
    for (const query of ["", "?n=5000"]) {
      const page = await handler(req("GET", `/v2/team/many/tags/list${query}`));
      expect(((await page.json()) as { tags: string[] }).tags).toHaveLength(1000);
      expect(page.headers.get("link")).toBe('</v2/team/many/tags/list?n=1000&last=t0999>; rel="next"');
    }
  });

  test("tags list and catalog paginate with n, last and Link; n is clamped", async () => {
    const image = randomImage({ seed: 4 });
    for (const tag of ["a", "b", "c", "d", "e"]) await push(handler, "team/app", tag, image);
    await push(handler, "team/zz", "v1", image);
    const page = await handler(req("GET", "/v2/team/app/tags/list?n=2"));
    expect(await page.json()).toEqual({ name: "team/app", tags: ["a", "b"] });
    expect(page.headers.get("link")).toBe('</v2/team/app/tags/list?n=2&last=b>; rel="next"');
    expect(((await (await handler(req("GET", "/v2/team/app/tags/list?n=2&last=d"))).json()) as { tags: string[] }).tags).toEqual(["e"]);
    expect(((await (await handler(req("GET", "/v2/team/app/tags/list?n=99999999"))).json()) as { tags: string[] }).tags).toHaveLength(5);
    for (const path of ["/v2/team/app/tags/list", "/v2/_catalog"]) {
      for (const n of ["-1", "abc", "", "1.5"]) {
        const refused = await handler(req("GET", `${path}?n=${n}`));
        expect([path, n, refused.status, await errorCode(refused)]).toEqual([path, n, 400, "PAGINATION_NUMBER_INVALID"]);
      }
    }
    expect(await (await handler(req("GET", "/v2/_catalog?n=1"))).json()).toEqual({ repositories: ["team/app"] });
    expect(await errorCode(await handler(req("GET", "/v2/no/such/tags/list")))).toBe("NAME_UNKNOWN");
  });

  test("referrers: OCI-Subject on push, the index of referrers, artifactType filtering", async () => {
    const image = await push(handler, "team/app", "v1");
    const sbom = artifactFor(image.top, "application/spdx+json", "{}");
    const sig = artifactFor(image.top, "application/vnd.dev.cosign.artifact.sig.v1+json", "sig");
    for (const a of [sbom, sig]) {
      for (const { desc, bytes } of a.blobs.values()) await handler(req("POST", `/v2/team/app/blobs/uploads/?digest=${desc.digest}`, { body: bytes }));
      const r = await handler(req("PUT", `/v2/team/app/manifests/${a.top.digest}`, { body: a.top.bytes, headers: { "Content-Type": a.top.mediaType } }));
      expect(r.headers.get("oci-subject")).toBe(image.top.digest);
    }
    const all = (await (await handler(req("GET", `/v2/team/app/referrers/${image.top.digest}`))).json()) as { manifests: { artifactType: string }[] };
    expect(all.manifests.map((m) => m.artifactType).sort()).toEqual(["application/spdx+json", "application/vnd.dev.cosign.artifact.sig.v1+json"]);
    const filtered = await handler(req("GET", `/v2/team/app/referrers/${image.top.digest}?artifactType=${encodeURIComponent("application/spdx+json")}`));
    expect(filtered.headers.get("oci-filters-applied")).toBe("artifactType");
    expect(((await filtered.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sbom.top.digest]);
    expect(((await (await handler(req("GET", `/v2/team/app/referrers/${digestOf("none")}`))).json()) as { manifests: unknown[] }).manifests).toEqual([]);
  });

  test("delete: a tag, a manifest with its tags; disabled deletes are 405 UNSUPPORTED", async () => {
    const image = await push(handler, "team/app", "v1");
    await push(handler, "team/app", "v2", image);
    expect((await handler(req("DELETE", "/v2/team/app/manifests/v2"))).status).toBe(202);
    expect((await handler(req("GET", "/v2/team/app/manifests/v2"))).status).toBe(404);
    expect((await handler(req("DELETE", `/v2/team/app/manifests/${image.top.digest}`))).status).toBe(202);
    expect((await handler(req("GET", "/v2/team/app/manifests/v1"))).status).toBe(404);
    const noDelete = createHandler({ ...options, allowDelete: false });
    await push(noDelete, "team/app", "v3", image);
    const refused = await noDelete(req("DELETE", "/v2/team/app/manifests/v3"));
    expect(refused.status).toBe(405);
    expect(await errorCode(refused)).toBe("UNSUPPORTED");
    expect((await noDelete(req("GET", "/v2/team/app/manifests/v3"))).status).toBe(200);
  });

  test("invalid names and digests are refused with their codes", async () => {
    expect(await errorCode(await handler(req("GET", "/v2/Team/App/manifests/v1")))).toBe("NAME_INVALID");
    expect(await errorCode(await handler(req("GET", "/v2/team/app/blobs/sha256:abc")))).toBe("DIGEST_INVALID");
    expect((await handler(req("GET", "/v2/team/app/blobs/sha256:../../etc"))).status).toBe(400);
  });

  test("a read-only registry refuses pushes (405 UNSUPPORTED) and nothing becomes visible", async () => {
    const readOnly = createHandler({ ...options, readOnly: true });
    const image = randomImage({ seed: 5 });
    const [blob] = image.blobs.values();
    const r = await readOnly(req("POST", `/v2/team/app/blobs/uploads/?digest=${blob!.desc.digest}`, { body: blob!.bytes }));
    expect(r.status).toBe(405);
    expect(await errorCode(r)).toBe("UNSUPPORTED");
    expect((await readOnly(req("HEAD", `/v2/team/app/blobs/${blob!.desc.digest}`))).status).toBe(404);
  });

  test("a 405 carries Allow with what the route answers on this server; OPTIONS answers it too", async () => {
    const digest = digestOf("x");
    const cases: [HandlerOptions, string, string, string][] = [
      [options, "POST", "/v2/team/app/manifests/v1", "GET, HEAD, PUT, DELETE"],
      [options, "PUT", `/v2/team/app/blobs/${digest}`, "GET, HEAD, DELETE"],
      [options, "DELETE", "/v2/_catalog", "GET, HEAD"],
      [options, "GET", "/v2/team/app/blobs/uploads/", "POST"],
      [{ ...options, readOnly: true }, "PUT", "/v2/team/app/manifests/v1", "GET, HEAD"],
      [{ ...options, readOnly: true }, "POST", "/v2/team/app/blobs/uploads/", ""],
      [{ ...options, readOnly: true }, "GET", `/v2/team/app/blobs/uploads/${"a".repeat(32)}`, ""],
      [{ ...options, allowDelete: false }, "DELETE", "/v2/team/app/manifests/v1", "GET, HEAD, PUT"],
      [{ ...options, allowDelete: false }, "DELETE", `/v2/team/app/blobs/${digest}`, "GET, HEAD"],
    ];
    for (const [serverOptions, method, path, allow] of cases) {
      const handle = createHandler(serverOptions);
      const refused = await handle(req(method, path));
      expect([method, path, refused.status, await errorCode(refused), refused.headers.get("allow")]).toEqual([method, path, 405, "UNSUPPORTED", allow]);
      const asked = await handle(req("OPTIONS", path));
      expect([path, asked.status, asked.headers.get("allow")]).toEqual([path, 204, allow]);
    }
    // cancelling an upload is part of pushing: allowed without --delete
    const location = (await createHandler({ ...options, allowDelete: false })(req("POST", "/v2/team/app/blobs/uploads/"))).headers.get("location")!;
    expect((await createHandler({ ...options, allowDelete: false })(req("OPTIONS", location))).headers.get("allow")).toBe("GET, PATCH, PUT, DELETE");
  });
});

describe("access", () => {
  const dir = tmpDir();
  const file = `${dir}/htpasswd`;
  let users: Htpasswd;
  beforeEach(async () => {
    await Bun.write(file, `alice:${await Bun.password.hash("wonderland", { algorithm: "bcrypt", cost: 4 })}\n`);
    users = await Htpasswd.load(file);
  });
  const basic = (u: string, p: string) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}` });

  test("/livez and /readyz answer probes 200 without credentials, and say nothing more; other methods are refused", async () => {
    for (const policy of [htpasswdPolicy(users), htpasswdPolicy(users, { anonymousRead: true })]) {
      const handler = createHandler({ store: memoryStore(), policy });
      for (const path of ["/livez", "/readyz"]) {
        const probe = await handler(req("GET", path));
        expect([path, probe.status, await probe.text()]).toEqual([path, 200, "ok\n"]);
        expect((await handler(req("HEAD", path))).status).toBe(200);
        expect((await handler(req("POST", path))).status).toBe(404);
      }
      expect((await handler(req("GET", "/v2/"))).status).toBe(401);
    }
    // a server stopping is alive but not ready: a load balancer sends it no more
    const stopping = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users), stopping: () => true });
    expect([(await stopping(req("GET", "/readyz"))).status, (await stopping(req("GET", "/livez"))).status]).toEqual([503, 200]);
  });

  test("htpasswd: anonymous is challenged, a bad password refused, a good one let in", async () => {
    const handler = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users) });
    const anonymous = await handler(req("GET", "/v2/"));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain("Basic");
    const bad = await handler(req("GET", "/v2/", { headers: basic("alice", "nope") }));
    expect(bad.status).toBe(401);
    expect(await errorCode(bad)).toBe("UNAUTHORIZED");
    expect((await handler(req("GET", "/v2/", { headers: basic("alice", "wonderland") }))).status).toBe(200);
    // the scheme in any case (RFC 9110 §11.1); another scheme or no credentials after it is refused
    const token = basic("alice", "wonderland").Authorization.split(" ")[1];
    for (const scheme of ["basic", "BASIC"]) expect((await handler(req("GET", "/v2/", { headers: { Authorization: `${scheme} ${token}` } }))).status).toBe(200);
    for (const header of [`Bearer ${token}`, "Basic", "Basic  "]) expect((await handler(req("GET", "/v2/", { headers: { Authorization: header } }))).status).toBe(401);
  });

  test("anonymous read: pull without credentials, push still needs them", async () => {
    const store = memoryStore();
    const handler = createHandler({ store, policy: htpasswdPolicy(users, { anonymousRead: true }) });
    const authed = createHandler({ store, policy: htpasswdPolicy(users) });
    const image = randomImage({ seed: 6 });
    const withCreds: Handler = (r) => authed(new Request(r, { headers: { ...Object.fromEntries(r.headers), ...basic("alice", "wonderland") } }));
    await push(withCreds, "team/app", "v1", image);
    expect((await handler(req("GET", "/v2/team/app/manifests/v1"))).status).toBe(200);
    expect((await handler(req("POST", "/v2/team/app/blobs/uploads/"))).status).toBe(401);
    // an empty user and password (skopeo's after a challenge, when it has none) is anonymous
    expect((await handler(req("GET", "/v2/team/app/manifests/v1", { headers: basic("", "") }))).status).toBe(200);
    expect((await handler(req("POST", "/v2/team/app/blobs/uploads/", { headers: basic("", "") }))).status).toBe(401);
  });

  test("anonymous read issues Bearer tokens: /v2/ sends callers to /token, anonymous tokens pull, a user's token pushes", async () => {
    const handler = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users, { anonymousRead: true, scheme: "https" }) });
    const host = { Host: "registry.example:5000" };
    const ping = await handler(req("GET", "/v2/", { headers: host }));
    expect(ping.status).toBe(401);
    expect(ping.headers.get("www-authenticate")).toBe('Bearer realm="https://registry.example:5000/token",service="stevedore"');
    const tokenOf = async (headers: Record<string, string> = {}) => {
      const r = await handler(req("GET", "/token?service=stevedore&scope=repository:team/app:pull,push", { headers }));
      expect(r.status).toBe(200);
      const body = (await r.json()) as { token: string; access_token: string; expires_in: number };
      expect(body.access_token).toBe(body.token);
      expect(body.expires_in).toBeGreaterThan(0);
      return { Authorization: `Bearer ${body.token}` };
    };
    const anonymous = await tokenOf();
    expect((await handler(req("GET", "/v2/", { headers: anonymous }))).status).toBe(200);
    const refused = await handler(req("POST", "/v2/team/app/blobs/uploads/", { headers: { ...anonymous, ...host } }));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="https://registry.example:5000/token",service="stevedore",scope="repository:team/app:pull,push"');
    const alice = await tokenOf(basic("alice", "wonderland"));
    expect((await handler(req("POST", "/v2/team/app/blobs/uploads/", { headers: alice }))).status).toBe(202);
    // the OAuth2 password grant containerd tries first
    const form = await handler(req("POST", "/token", { body: "grant_type=password&username=alice&password=wonderland&service=stevedore", headers: { "Content-Type": "application/x-www-form-urlencoded" } }));
    const granted = `Bearer ${((await form.json()) as { access_token: string }).access_token}`;
    expect((await handler(req("POST", "/v2/team/app/blobs/uploads/", { headers: { Authorization: granted } }))).status).toBe(202);
    // wrong credentials get no token; a token altered or from another server is refused
    expect((await handler(req("GET", "/token", { headers: basic("alice", "nope") }))).status).toBe(401);
    expect((await handler(req("POST", "/token", { body: "grant_type=password&username=alice&password=nope" }))).status).toBe(401);
    expect((await handler(req("POST", "/token", { body: "grant_type=refresh_token&refresh_token=x" }))).status).toBe(400);
    // a token is no credential for getting a token; other methods are not the token endpoint's
    expect((await handler(req("GET", "/token", { headers: alice }))).status).toBe(401);
    const put = await handler(req("PUT", "/token"));
    expect([put.status, put.headers.get("allow")]).toEqual([405, "GET, HEAD, POST"]);
    const [payload, signature] = alice.Authorization.slice(7).split(".");
    const forged = Buffer.from(JSON.stringify({ u: "root", exp: 9e9 })).toString("base64url");
    for (const token of [`${forged}.${signature}`, `${payload}.${signature}x`, payload!, `${payload}.${signature}.x`]) {
      // refused as credentials, not taken for an anonymous caller (who may read /v2/)
      expect((await handler(req("GET", "/v2/", { headers: { Authorization: `Bearer ${token}` } }))).status).toBe(401);
    }
    const otherServer = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users, { anonymousRead: true }) });
    expect((await otherServer(req("GET", "/v2/", { headers: alice }))).status).toBe(401);
  });

  test("the token endpoint reads no more than a form: a large or endless body is a 413; the realm takes only a plain Host", async () => {
    const handler = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users, { anonymousRead: true }) });
    const declared = await handler(req("POST", "/token", { body: "a".repeat(100), headers: { "Content-Length": String(2e9) } }));
    expect(declared.status).toBe(413);
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        sent += 1 << 20;
        controller.enqueue(new Uint8Array(1 << 20).fill(97));
      },
    });
    const streamed = await handler(new Request(`${base}/token`, { method: "POST", body: endless, duplex: "half" } as RequestInit));
    expect(streamed.status).toBe(413);
    expect(sent).toBeLessThan(8 << 20);
    for (const [host, realm] of [["registry.example:5000", "registry.example:5000"], ["[::1]:5000", "[::1]:5000"], ['evil.example",error="x', "localhost"], ["a b", "localhost"]]) {
      const ping = await handler(req("GET", "/v2/", { headers: { Host: host! } }));
      expect(ping.headers.get("www-authenticate")).toBe(`Bearer realm="http://${realm}/token",service="stevedore"`);
    }
    // a proxy's X-Forwarded-Proto: https makes the realm https; a configured realm wins over both
    const proxied = await handler(req("GET", "/v2/", { headers: { Host: "registry.example", "X-Forwarded-Proto": "https" } }));
    expect(proxied.headers.get("www-authenticate")).toBe('Bearer realm="https://registry.example/token",service="stevedore"');
    // a Host that names no token URL is told to the operator, once
    const warnings: string[] = [];
    const warning = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users, { anonymousRead: true, onWarning: (m) => warnings.push(m) }) });
    for (const host of ["registry.example", "registry_backend", "other_backend"]) await warning(req("GET", "/v2/", { headers: { Host: host } }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"registry_backend"');
    expect(warnings[0]).toContain("--token-realm");
    const configured = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users, { anonymousRead: true, realm: "https://auth.example/token" }) });
    expect((await configured(req("GET", "/v2/", { headers: { Host: "10.0.0.5:5000" } }))).headers.get("www-authenticate")).toBe('Bearer realm="https://auth.example/token",service="stevedore"');
  });

  test("concurrent password checks (taken in turns) each get their own answer", async () => {
    const handler = createHandler({ store: memoryStore(), policy: htpasswdPolicy(users) });
    // more guesses than checks run at once, so some wait for a turn
    const guesses = Array.from({ length: availableParallelism() + 3 }, (_, i) => (i % 2 ? "wonderland" : `wrong ${i}`));
    const statuses = await Promise.all(guesses.map(async (password) => (await handler(req("GET", "/v2/", { headers: basic("alice", password) }))).status));
    expect(statuses).toEqual(guesses.map((p) => (p === "wonderland" ? 200 : 401)));
  });

  test("a flood of password checks beyond what may wait is told to come back (429, Retry-After); a user checked before still gets in", async () => {
    await Bun.write(file, `alice:${await Bun.password.hash("wonderland", { algorithm: "bcrypt", cost: 10 })}\n`);
    const handler = createHandler({ store: memoryStore(), policy: htpasswdPolicy(await Htpasswd.load(file, { maxWaiting: 2 })) });
    expect((await handler(req("GET", "/v2/", { headers: basic("alice", "wonderland") }))).status).toBe(200);
    const flood = await Promise.all(Array.from({ length: availableParallelism() + 8 }, async (_, i) => handler(req("GET", "/v2/", { headers: basic("mallory", `guess ${i}`) }))));
    const told = flood.filter((r) => r.status === 429);
    expect(told.length).toBeGreaterThanOrEqual(6); // only the checks running and the two waiting were taken
    expect(await errorCode(told[0]!)).toBe("TOOMANYREQUESTS");
    expect(told[0]!.headers.get("retry-after")).toBe("1");
    expect(flood.filter((r) => r.status !== 429).every((r) => r.status === 401)).toBe(true);
    expect((await handler(req("GET", "/v2/", { headers: basic("alice", "wonderland") }))).status).toBe(200);
  });

  test("tokens expire", () => {
    const issuer = new TokenIssuer();
    const issued = Date.parse("2026-11-23T10:00:00Z");
    const token = issuer.issue({ username: "alice" }, issued);
    expect(issuer.verify(token, issued + (tokenLifetime - 1) * 1000)).toEqual({ username: "alice" });
    expect(issuer.verify(token, issued + tokenLifetime * 1000)).toBeNull();
    expect(issuer.verify(issuer.issue({}, issued), issued)).toEqual({});
  });

  test("a custom authorize hook is asked on every route, mounts included", async () => {
    const asked: string[] = [];
    const authorize: Authorize = (_p, action, repo) => {
      asked.push(`${action}:${repo ?? ""}`);
      return repo !== "secret/repo" || action !== "pull";
    };
    const store = memoryStore();
    const open = createHandler({ store, policy: openPolicy });
    const image = await push(open, "secret/repo", "v1");
    const handler = createHandler({ store, policy: { ...openPolicy, authorize } });
    const [blob] = image.blobs.values();
    const mount = await handler(req("POST", `/v2/team/app/blobs/uploads/?mount=${blob!.desc.digest}&from=secret/repo`));
    expect(mount.status).toBe(403);
    expect(await errorCode(mount)).toBe("DENIED");
    expect(asked).toEqual(["push:team/app", "pull:secret/repo"]);
    expect((await handler(req("HEAD", `/v2/team/app/blobs/${blob!.desc.digest}`))).status).toBe(404);
  });
});
