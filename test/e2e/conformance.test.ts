/**
 * The OCI distribution-spec conformance suite, redone in bun against the compiled `stevedore serve`
 * (memory store, then filesystem store, both with --delete), over plain HTTP with fetch.
 *
 * Mirrors opencontainers/distribution-spec conformance/ (v1.1, all four workflows enabled, with
 * cross-repository mounts, referrers and deletes): setup.go and image.go for the fixtures,
 * 01_pull_test.go, 02_push_test.go, 03_discovery_test.go and 04_management_test.go for the checks,
 * in their order and named after their specs. The "newer runner" blocks add what the rewritten
 * runner (api.go, run.go, testdata.go) checks beyond them.
 *
 * Where the suite accepts an answer only a registry without deletes or mounts would give (405, a 202
 * for a mount), these tests expect what a registry with those features must answer instead. The
 * suite's read-only variants (OCI_TAG_NAME, OCI_TAG_LIST, ... set) replace its setup pushes with
 * content already in the registry; these runs push their own, as the suite does by default.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type DigestAlgorithm, digestOf } from "../../src/core/digest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import {
  type ClassicFixtures,
  type Content,
  DataSet,
  type ExpectedReferrer,
  type Manifest,
  chunkedBlob,
  classicFixtures,
  content,
  randomBytes,
  runnerDataSets,
} from "../helpers/conformance-fixtures.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

// ---------------------------------------------------------------- HTTP

/** Where the server under test listens; set when each run's server starts. */
let origin = "";

/** One request to the server under test; a path or a Location header resolves against it. */
function registry(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, origin), { redirect: "manual", ...init });
}

/** A Location header made relative to the server, as the suite's client (reggie) does. */
function relative(location: string | null): string {
  expect(location).toBeTruthy();
  const url = new URL(location!, origin);
  return url.pathname + url.search;
}

/** An upload location with `?digest=` added, keeping whatever query the registry put there. */
function withDigest(location: string | null, digest: string): string {
  const url = new URL(relative(location), origin);
  url.searchParams.set("digest", digest);
  return url.pathname + url.search;
}

const octetStream = { "Content-Type": "application/octet-stream" };

/** The PUT that hands a whole blob, with its digest, to an open upload session. */
const putWhole = (location: string | null, blob: Content) => registry(withDigest(location, blob.digest), { method: "PUT", headers: octetStream, body: blob.bytes });

/** The suite's setup push: POST for a session, then PUT the whole blob. */
async function uploadBlob(repo: string, blob: Content): Promise<Response> {
  const session = await registry(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
  expect(session.status).toBe(202);
  return putWhole(session.headers.get("location"), blob);
}

function putManifest(repo: string, reference: string, manifest: Content, mediaType: string = MediaTypes.ociManifest): Promise<Response> {
  return registry(`/v2/${repo}/manifests/${reference}`, { method: "PUT", headers: { "Content-Type": mediaType }, body: manifest.bytes });
}

const acceptManifests = { Accept: `${MediaTypes.ociManifest}, ${MediaTypes.ociIndex}` };
const getManifest = (repo: string, reference: string, method = "GET") => registry(`/v2/${repo}/manifests/${reference}`, { method, headers: acceptManifests });

const blobAt = (repo: string, digest: string, method = "GET") => registry(`/v2/${repo}/blobs/${digest}`, { method });
const remove = (path: string) => registry(path, { method: "DELETE" });

async function tagsOf(repo: string, query = ""): Promise<{ status: number; tags: string[] }> {
  const res = await registry(`/v2/${repo}/tags/list${query}`);
  return { status: res.status, tags: res.ok ? ((await res.json()) as { tags: string[] }).tags : [] };
}

interface ReferrersIndex {
  readonly schemaVersion: number;
  readonly mediaType: string;
  readonly manifests: readonly { digest: string; mediaType: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
}

/** GET the referrers of `subject`: always a 200 OCI index. */
async function referrersOf(repo: string, subject: string, query = ""): Promise<{ res: Response; index: ReferrersIndex }> {
  const res = await registry(`/v2/${repo}/referrers/${subject}${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(MediaTypes.ociIndex);
  const index = (await res.json()) as ReferrersIndex;
  // the newer runner checks that the body is an index, not only that it is labelled one
  expect(index.mediaType).toBe(MediaTypes.ociIndex);
  expect(index.schemaVersion).toBe(2);
  return { res, index };
}

/** setup.go's list: every code an error body may carry. */
const errorCodes = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "MANIFEST_UNVERIFIED",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "TAG_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
];

/** The first error's code; "" when the body has none, which no code list contains. */
async function firstErrorCode(res: Response): Promise<string> {
  return ((await res.json()) as { errors?: { code: string }[] }).errors?.[0]?.code ?? "";
}

// ---------------------------------------------------------------- the newer runner's blob pushes (api.go)

const startSession = async (repo: string): Promise<Response> => {
  const session = await registry(`/v2/${repo}/blobs/uploads/`, { method: "POST", body: "" });
  expect(session.status).toBe(202);
  return session;
};

/** A single POST carrying the blob and its digest. */
const postOnly = (repo: string, blob: Content) =>
  registry(`/v2/${repo}/blobs/uploads/?digest=${blob.digest}`, { method: "POST", headers: octetStream, body: blob.bytes });

/** One PATCH without Content-Range, then an empty PUT with the digest. */
async function pushStreamed(repo: string, blob: Content): Promise<Response> {
  const session = await startSession(repo);
  const patched = await registry(relative(session.headers.get("location")), { method: "PATCH", headers: octetStream, body: blob.bytes });
  expect(patched.status).toBe(202);
  return registry(withDigest(patched.headers.get("location"), blob.digest), { method: "PUT", headers: octetStream, body: "" });
}

const sendRange = (path: string, method: string, blob: Content, start: number, end: number) =>
  registry(path, { method, headers: { ...octetStream, "Content-Range": `${start}-${end - 1}` }, body: blob.bytes.slice(start, end) });

/** Three chunks where the blob allows, never under 1024 bytes nor the registry's OCI-Chunk-Min-Length. */
const chunkSize = (size: number, min: string | null) => Math.min(size, Math.max(Math.floor(size / 3) + 1, Number(min ?? 0), 1024));

/**
 * Sends the chunk after the expected one (or the first again at the end), which must be a 416, and
 * resumes from where the session's GET says the upload stands.
 */
async function refuseOutOfOrder(location: string | null, blob: Content, start: number, size: number, viaPut: boolean): Promise<string | null> {
  const badStart = start + size < blob.size ? start + size : 0;
  const badEnd = Math.min(badStart + size, blob.size);
  const put = viaPut && badEnd === blob.size;
  expect((await sendRange(put ? withDigest(location, blob.digest) : relative(location), put ? "PUT" : "PATCH", blob, badStart, badEnd)).status).toBe(416);
  const status = await registry(relative(location));
  expect(status.status).toBe(204);
  expect(status.headers.get("range")).toStartWith("0-");
  if (start > 0) expect(status.headers.get("range")).toBe(`0-${start - 1}`);
  return status.headers.get("location");
}

/** PATCHes with Content-Range, the last chunk in the closing PUT when asked; returns the PUT's answer. */
async function pushChunked(repo: string, blob: Content, options: { putLastChunk?: boolean; outOfOrder?: boolean } = {}): Promise<Response> {
  const session = await startSession(repo);
  const size = chunkSize(blob.size, session.headers.get("oci-chunk-min-length"));
  let location = session.headers.get("location");
  for (let start = 0; start < blob.size; start += size) {
    if (options.outOfOrder) location = await refuseOutOfOrder(location, blob, start, size, options.putLastChunk === true);
    const end = Math.min(start + size, blob.size);
    if (options.putLastChunk && end === blob.size) return sendRange(withDigest(location, blob.digest), "PUT", blob, start, end);
    const patched = await sendRange(relative(location), "PATCH", blob, start, end);
    expect(patched.status).toBe(202);
    location = patched.headers.get("location");
  }
  return registry(withDigest(location, blob.digest), { method: "PUT", headers: octetStream, body: "" });
}

/** After a push: 201, the digest header if any, and a Location that serves the very bytes. */
async function expectBlobPushed(res: Response, blob: Content): Promise<void> {
  expect(res.status).toBe(201);
  expect(res.headers.get("docker-content-digest") ?? blob.digest).toBe(blob.digest);
  const at = await registry(relative(res.headers.get("location")));
  expect(at.status).toBe(200);
  expect(new Uint8Array(await at.arrayBuffer())).toEqual(blob.bytes);
}

/** HEAD: 200, no body, the length; GET: 200, the bytes, the length; both with the digest header if any. */
async function expectBlobServed(repo: string, blob: Content): Promise<void> {
  for (const method of ["HEAD", "GET"]) {
    const res = await blobAt(repo, blob.digest, method);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(blob.size));
    expect(res.headers.get("docker-content-digest") ?? blob.digest).toBe(blob.digest);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(method === "HEAD" ? new Uint8Array() : blob.bytes);
  }
}

/** DELETE is a 202 (a 404 when another data set's delete got there first), and the blob is gone at once. */
async function expectBlobDeleted(repo: string, blob: Content): Promise<void> {
  expect([202, 404]).toContain((await remove(`/v2/${repo}/blobs/${blob.digest}`)).status);
  expect((await blobAt(repo, blob.digest, "HEAD")).status).toBe(404);
}

// ---------------------------------------------------------------- the newer runner's manifest checks (api.go)

/** At `path` (a manifest URL): GET is 200 with the media type, length and bytes; HEAD the same without a body. */
async function expectManifestServed(path: string, m: Manifest): Promise<void> {
  for (const method of ["HEAD", "GET"]) {
    const res = await registry(path, { method, headers: acceptManifests });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(m.mediaType);
    expect(res.headers.get("content-length")).toBe(String(m.size));
    expect(res.headers.get("docker-content-digest") ?? m.digest).toBe(m.digest);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(method === "HEAD" ? new Uint8Array() : m.bytes);
  }
}

/** A PUT is a 201 with the digest header if any, OCI-Subject for a referrer, and a Location serving the manifest. */
async function expectManifestPushed(repo: string, reference: string, m: Manifest): Promise<void> {
  const res = await putManifest(repo, reference, m, m.mediaType);
  expect(res.status).toBe(201);
  expect(res.headers.get("docker-content-digest") ?? m.digest).toBe(m.digest);
  const subject = (JSON.parse(new TextDecoder().decode(m.bytes)) as { subject?: { digest: string } }).subject;
  if (subject) expect(res.headers.get("oci-subject")).toBe(subject.digest);
  await expectManifestServed(relative(res.headers.get("location")), m);
}

const namespace = "oci/conformance";
const tagName = "tagtest0";
/** The runner's two repositories (OCI_REPO1, OCI_REPO2 defaults). */
const repo1 = "conformance/repo1";
const repo2 = "conformance/repo2";

// ---------------------------------------------------------------- 01_pull_test.go

function pullWorkflow(f: ClassicFixtures): void {
  describe("pull", () => {
    describe("setup", () => {
      test("Populate registry with test blob (config[0])", async () => {
        expect((await uploadBlob(namespace, f.configs[0])).status).toBeWithin(200, 300);
      });
      test("Populate registry with test blob (config[1])", async () => {
        expect((await uploadBlob(namespace, f.configs[1])).status).toBeWithin(200, 300);
      });
      test("Populate registry with test layer", async () => {
        expect((await uploadBlob(namespace, f.layer)).status).toBeWithin(200, 300);
      });
      test("Populate registry with test manifest (manifest[0] by tag)", async () => {
        expect((await putManifest(namespace, tagName, f.manifests[0])).status).toBeWithin(200, 300);
      });
      test("Populate registry with test manifest (manifest[1] by digest)", async () => {
        expect((await putManifest(namespace, f.manifests[1].digest, f.manifests[1])).status).toBeWithin(200, 300);
      });
    });

    describe("pull blobs", () => {
      test("HEAD request to nonexistent blob should result in 404 response", async () => {
        expect((await blobAt(namespace, f.dummyDigest, "HEAD")).status).toBe(404);
      });
      test("HEAD request to existing blob should yield 200", async () => {
        const res = await blobAt(namespace, f.configs[0].digest, "HEAD");
        expect(res.status).toBe(200);
        expect(res.headers.get("docker-content-digest") ?? f.configs[0].digest).toBe(f.configs[0].digest);
      });
      test("GET nonexistent blob should result in 404 response", async () => {
        expect((await blobAt(namespace, f.dummyDigest)).status).toBe(404);
      });
      test("GET request to existing blob URL should yield 200", async () => {
        expect((await blobAt(namespace, f.configs[0].digest)).status).toBe(200);
      });
    });

    describe("pull manifests", () => {
      test("HEAD request to nonexistent manifest should return 404", async () => {
        expect((await getManifest(namespace, f.nonexistentManifest, "HEAD")).status).toBe(404);
      });
      for (const [i, label] of [[0, "manifest[0]"], [1, "manifest[1]"]] as const) {
        test(`HEAD request to ${label} path (digest) should yield 200 response`, async () => {
          const res = await getManifest(namespace, f.manifests[i].digest, "HEAD");
          expect(res.status).toBe(200);
          expect(res.headers.get("docker-content-digest") ?? f.manifests[i].digest).toBe(f.manifests[i].digest);
        });
      }
      test("HEAD request to manifest path (tag) should yield 200 response", async () => {
        const res = await getManifest(namespace, tagName, "HEAD");
        expect(res.status).toBe(200);
        expect(res.headers.get("docker-content-digest") ?? f.manifests[0].digest).toBe(f.manifests[0].digest);
      });
      test("GET nonexistent manifest should return 404", async () => {
        expect((await getManifest(namespace, f.nonexistentManifest)).status).toBe(404);
      });
      for (const [i, label] of [[0, "manifest[0]"], [1, "manifest[1]"]] as const) {
        test(`GET request to ${label} path (digest) should yield 200 response`, async () => {
          expect((await getManifest(namespace, f.manifests[i].digest)).status).toBe(200);
        });
      }
      test("GET request to manifest path (tag) should yield 200 response", async () => {
        expect((await getManifest(namespace, tagName)).status).toBe(200);
      });
    });

    describe("error codes", () => {
      // the suite also sends a body with this GET; fetch refuses one, and a registry ignores it
      test("400 response body should contain OCI-conforming JSON message", async () => {
        const res = await getManifest(namespace, "sha256:totallywrong");
        expect([400, 404]).toContain(res.status);
        if (res.status === 400) expect(errorCodes).toContain(await firstErrorCode(res));
      });
    });

    describe("teardown", () => {
      test("Delete manifest[0] created in setup", async () => {
        expect((await remove(`/v2/${namespace}/manifests/${f.manifests[0].digest}`)).status).toBe(202);
      });
      test("Delete manifest[1] created in setup", async () => {
        expect((await remove(`/v2/${namespace}/manifests/${f.manifests[1].digest}`)).status).toBe(202);
      });
      test("Delete config[0] blob created in setup", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.configs[0].digest}`)).status).toBe(202);
      });
      test("Delete config[1] blob created in setup", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.configs[1].digest}`)).status).toBe(202);
      });
      test("Delete layer blob created in setup", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.layer.digest}`)).status).toBe(202);
      });
    });

    describe("newer runner", runnerPull);
  });
}

// ---------------------------------------------------------------- 02_push_test.go

function pushWorkflow(f: ClassicFixtures, sets: readonly DataSet[]): void {
  describe("push", () => {
    /** The Location the next step continues from, as the suite's lastResponse carries it. */
    let last: Response;
    const crossmount = `conformance-${crypto.randomUUID()}`;

    describe("blob upload streamed", () => {
      test("PATCH request with blob in body should yield 202 response", async () => {
        const session = await registry(`/v2/${namespace}/blobs/uploads/`, { method: "POST" });
        last = await registry(relative(session.headers.get("location")), { method: "PATCH", headers: octetStream, body: f.blobA.bytes });
        expect(last.status).toBe(202);
      });
      // the suite sets Content-Length: 42 here, but Go sends the empty body's 0 on the wire
      test("PUT request to session URL with digest should yield 201 response", async () => {
        const res = await registry(withDigest(last.headers.get("location"), f.blobA.digest), { method: "PUT", headers: octetStream });
        expect(res.status).toBe(201);
        expect(res.headers.get("location")).toBeTruthy();
      });
    });

    describe("blob upload monolithic", () => {
      test("GET nonexistent blob should result in 404 response", async () => {
        expect((await blobAt(namespace, f.dummyDigest)).status).toBe(404);
      });
      test("POST request with digest and blob should yield a 201 or 202", async () => {
        last = await registry(`/v2/${namespace}/blobs/uploads/?digest=${f.configs[1].digest}`, { method: "POST", headers: octetStream, body: f.configs[1].bytes });
        expect(last.headers.get("location")).toBeTruthy();
        expect([201, 202]).toContain(last.status);
      });
      test("GET request to blob URL from prior request should yield 200 or 404 based on response code", async () => {
        expect((await blobAt(namespace, f.configs[1].digest)).status).toBe(last.status === 202 ? 404 : 200);
      });
      test("POST request should yield a session ID", async () => {
        last = await registry(`/v2/${namespace}/blobs/uploads/`, { method: "POST" });
        expect(last.status).toBe(202);
      });
      test("PUT upload of a blob should yield a 201 Response", async () => {
        const res = await putWhole(last.headers.get("location"), f.configs[1]);
        expect(res.headers.get("location")).toBeTruthy();
        expect(res.status).toBe(201);
      });
      test("GET request to existing blob should yield 200 response", async () => {
        expect((await blobAt(namespace, f.configs[1].digest)).status).toBe(200);
      });
      test("PUT upload of a layer blob should yield a 201 Response", async () => {
        const res = await uploadBlob(namespace, f.layer);
        expect(res.headers.get("location")).toBeTruthy();
        expect(res.status).toBe(201);
      });
      test("GET request to existing layer should yield 200 response", async () => {
        expect((await blobAt(namespace, f.layer.digest)).status).toBe(200);
      });
    });

    describe("blob upload chunked", () => {
      let chunked = f.chunked;
      let started: Response;
      const startChunked = () => registry(`/v2/${namespace}/blobs/uploads/`, { method: "POST", body: "" });
      const sendChunk = (location: string | null, i: 0 | 1) =>
        registry(relative(location), {
          method: "PATCH",
          headers: { ...octetStream, "Content-Range": chunked.ranges[i]! },
          body: chunked.chunks[i]!,
        });

      test("Out-of-order blob upload should return 416", async () => {
        const session = await startChunked();
        expect(session.headers.get("location")).toBeTruthy();
        // a registry may ask for larger chunks: the suite then grows the blob to fit
        const min = Number(session.headers.get("oci-chunk-min-length") ?? 0);
        if (min > chunked.chunks[0]!.byteLength) chunked = chunkedBlob(min * 2 - 2);
        expect((await sendChunk(session.headers.get("location"), 1)).status).toBe(416);
      });
      test("PATCH request with first chunk should return 202", async () => {
        started = await startChunked();
        expect(started.headers.get("location")).toBeTruthy();
        last = await sendChunk(started.headers.get("location"), 0);
        expect(last.status).toBe(202);
        expect(last.headers.get("range")).toBe(chunked.ranges[0]!);
      });
      test("Retry previous blob chunk should return 416", async () => {
        expect((await sendChunk(started.headers.get("location"), 0)).status).toBe(416);
      });
      test("Get on stale blob upload should return 204 with a range and location", async () => {
        last = await registry(relative(started.headers.get("location")));
        expect(last.status).toBe(204);
        expect(last.headers.get("location")).toBeTruthy();
        expect(last.headers.get("range")).toBe(chunked.ranges[0]!);
      });
      test("PATCH request with second chunk should return 202", async () => {
        last = await sendChunk(last.headers.get("location"), 1);
        expect(last.status).toBe(202);
        expect(last.headers.get("location")).toBeTruthy();
      });
      test("PUT request with digest should return 201", async () => {
        const res = await registry(withDigest(last.headers.get("location"), chunked.blob.digest), { method: "PUT", headers: octetStream, body: "" });
        expect(res.status).toBe(201);
        expect(res.headers.get("location")).toBeTruthy();
      });
    });

    describe("cross-repository blob mount", () => {
      const mount = (query: string) => registry(`/v2/${crossmount}/blobs/uploads/?${query}`, { method: "POST" });
      let mounted: Response;

      test("Cross-mounting of a blob without the from argument should yield session id", async () => {
        const res = await mount(`mount=${f.dummyDigest}`);
        expect(res.status).toBe(202);
        expect(res.headers.get("location")).toBeTruthy();
      });
      test("POST request to mount another repository's blob should return 201 or 202", async () => {
        mounted = await mount(`mount=${f.blobA.digest}&from=${namespace}`);
        expect([201, 202]).toContain(mounted.status);
      });
      // the suite skips this after a 202; stevedore mounts, so anything but a 201 is a failure here
      test("GET request to test digest within cross-mount namespace should return 200", async () => {
        expect(mounted.status).toBe(201);
        expect(relative(mounted.headers.get("location"))).toBe(`/v2/${crossmount}/blobs/${f.blobA.digest}`);
        expect((await registry(relative(mounted.headers.get("location")))).status).toBe(200);
      });
      // the suite checks the mount's 202 when mounting is unsupported; here a blob the source lacks gets one
      test("Cross-mounting of nonexistent blob should yield session id", async () => {
        const res = await mount(`mount=${f.dummyDigest}&from=${namespace}`);
        expect(res.status).toBe(202);
        expect(relative(res.headers.get("location"))).toStartWith(`/v2/${crossmount}/blobs/uploads/`);
      });
      // run as with OCI_AUTOMATIC_CROSSMOUNT=0: stevedore never guesses a source repository, so the
      // suite's "automatic content discovery enabled should return a 201" variant does not apply
      test("Cross-mounting without from, and automatic content discovery disabled should return a 202", async () => {
        expect((await mount(`mount=${f.blobA.digest}`)).status).toBe(202);
      });
    });

    describe("manifest upload", () => {
      test("GET nonexistent manifest should return 404", async () => {
        expect((await getManifest(namespace, f.nonexistentManifest)).status).toBe(404);
      });
      test("PUT should accept a manifest upload", async () => {
        for (const tag of ["test0", "test1", "test2", "test3"]) {
          const res = await putManifest(namespace, tag, f.manifests[1]);
          expect(res.headers.get("location")).toBeTruthy();
          expect(res.status).toBe(201);
        }
      });
      // the suite only warns when this is refused; an empty layer list is valid (image-spec 1.1)
      test("Registry should accept a manifest upload with no layers", async () => {
        const res = await putManifest(namespace, "emptylayer", f.emptyLayerManifest);
        expect(res.status).toBe(201);
        expect(res.headers.get("location")).toBeTruthy();
      });
      test("GET request to manifest URL (digest) should yield 200 response", async () => {
        expect((await getManifest(namespace, f.manifests[1].digest)).status).toBe(200);
      });
    });

    describe("teardown", () => {
      test("Delete manifest created in tests", async () => {
        expect((await remove(`/v2/${namespace}/manifests/${f.manifests[1].digest}`)).status).toBe(202);
        expect((await remove(`/v2/${namespace}/manifests/${f.emptyLayerManifest.digest}`)).status).toBe(202);
      });
      test("Delete config blob created in tests", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.configs[1].digest}`)).status).toBe(202);
      });
      test("Delete layer blob created in setup", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.layer.digest}`)).status).toBe(202);
      });
    });

    describe("newer runner", () => runnerPush(sets));
  });
}

// ---------------------------------------------------------------- 03_discovery_test.go

function discoveryWorkflow(f: ClassicFixtures, sets: readonly DataSet[]): void {
  describe("content discovery", () => {
    let numTags = 4;
    const { refsAConfig, refsBConfig, refsALayer, refsBLayer, refsCLayer, refsIndex } = f.refs;

    describe("setup", () => {
      test("Populate registry with test blob", async () => {
        expect((await uploadBlob(namespace, f.configs[2])).status).toBeWithin(200, 300);
      });
      test("Populate registry with test layer", async () => {
        expect((await uploadBlob(namespace, f.layer)).status).toBeWithin(200, 300);
      });
      test("Populate registry with test tags", async () => {
        for (let i = 0; i < numTags; i++) expect((await putManifest(namespace, `test${i}`, f.manifests[2])).status).toBeWithin(200, 300);
      });
      test("References setup", async () => {
        // the empty descriptor's digest as image-spec publishes it
        expect<string>(f.emptyJson.digest).toBe("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        const referrer = async (m: Content, subject: Content, mediaType: string = MediaTypes.ociManifest) => {
          const res = await putManifest(namespace, m.digest, m, mediaType);
          expect(res.status).toBeWithin(200, 300);
          expect(res.headers.get("oci-subject")).toBe(subject.digest);
        };
        for (const blob of [f.emptyJson, f.refBlobA]) expect((await uploadBlob(namespace, blob)).status).toBeWithin(200, 300);
        // referrers pushed before their subject exists
        await referrer(refsAConfig, f.manifests[4]);
        await referrer(refsALayer, f.manifests[4]);
        await referrer(refsIndex, f.manifests[4], MediaTypes.ociIndex);
        for (const blob of [f.configs[4], f.layer]) expect((await uploadBlob(namespace, blob)).status).toBeWithin(200, 300);
        expect((await putManifest(namespace, tagName, f.manifests[4])).status).toBeWithin(200, 300);
        // and after
        expect((await uploadBlob(namespace, f.refBlobB)).status).toBeWithin(200, 300);
        await referrer(refsBConfig, f.manifests[4]);
        await referrer(refsBLayer, f.manifests[4]);
        await referrer(refsCLayer, f.manifests[3]);
      });
    });

    describe("listing tags", () => {
      let firstPage: string[];
      test("GET request to list tags should yield 200 response", async () => {
        const { status, tags } = await tagsOf(namespace);
        expect(status).toBe(200);
        numTags = tags.length;
      });
      test("GET number of tags should be limitable by `n` query parameter", async () => {
        const { status, tags } = await tagsOf(namespace, `?n=${Math.floor(numTags / 2)}`);
        expect(status).toBe(200);
        expect(tags).toHaveLength(Math.floor(numTags / 2));
        firstPage = tags;
      });
      // the suite asserts on the first page again here; this checks the page `last` asks for
      test("GET start of tag is set by `last` query parameter", async () => {
        const n = Math.floor(numTags / 2);
        const lastTag = firstPage[n - 1]!;
        const { status, tags } = await tagsOf(namespace, `?n=${n}&last=${lastTag}`);
        expect(status).toBe(200);
        expect(tags.length).toBeLessThanOrEqual(n);
        expect(tags.length).toBeGreaterThan(0);
        for (const tag of tags) expect(tag > lastTag).toBe(true);
      });
    });

    describe("listing references", () => {
      const expectAnnotated = (index: ReferrersIndex) => {
        for (const m of index.manifests) expect(m.annotations).toEqual({ [f.annotationKey]: f.annotations.get(m.digest)! });
      };
      test("GET request to nonexistent blob should result in empty 200 response", async () => {
        expect((await referrersOf(namespace, f.dummyDigest)).index.manifests).toHaveLength(0);
      });
      test("GET request to existing blob should yield 200", async () => {
        const { index } = await referrersOf(namespace, f.manifests[4].digest);
        expect(index.manifests).toHaveLength(5);
        expect(index.manifests[0]!.digest).not.toBe(index.manifests[1]!.digest);
        expectAnnotated(index);
      });
      // the suite accepts an unfiltered list (and warns); stevedore filters and says so
      test("GET request to existing blob with filter should yield 200", async () => {
        const { res, index } = await referrersOf(namespace, f.manifests[4].digest, `?artifactType=${f.typeA}`);
        expect(res.headers.get("oci-filters-applied")).toBe("artifactType");
        expect(index.manifests).toHaveLength(2);
        expectAnnotated(index);
      });
      test("GET request to missing manifest should yield 200", async () => {
        const { index } = await referrersOf(namespace, f.manifests[3].digest);
        expect(index.manifests.map((m) => m.digest)).toEqual([refsCLayer.digest]);
      });
    });

    describe("teardown", () => {
      // a reference already gone with an earlier one (a tag with its manifest) answers 404
      test("Delete created manifest & associated tags", async () => {
        const references = [refsIndex.digest, f.manifests[2].digest, f.manifests[4].digest, refsAConfig.digest, refsALayer.digest, tagName, refsBConfig.digest, refsBLayer.digest, refsCLayer.digest];
        for (const ref of references) expect([202, 404]).toContain((await remove(`/v2/${namespace}/manifests/${ref}`)).status);
      });
      test("Delete config blob created in tests", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.configs[2].digest}`)).status).toBe(202);
      });
      test("Delete layer blob created in setup", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.layer.digest}`)).status).toBe(202);
      });
      test("References teardown", async () => {
        for (const m of [refsIndex, refsAConfig, refsALayer, f.manifests[4], refsBConfig, refsBLayer]) {
          expect([202, 404]).toContain((await remove(`/v2/${namespace}/manifests/${m.digest}`)).status);
        }
        for (const blob of [f.configs[4], f.refBlobA, f.refBlobB, f.emptyJson]) {
          expect([202, 404]).toContain((await remove(`/v2/${namespace}/blobs/${blob.digest}`)).status);
        }
      });
    });

    describe("newer runner", () => runnerDiscovery(sets));
  });
}

// ---------------------------------------------------------------- 04_management_test.go

function managementWorkflow(f: ClassicFixtures, sets: readonly DataSet[]): void {
  describe("content management", () => {
    let numTags = 0;

    describe("setup", () => {
      test("Populate registry with test config blob", async () => {
        expect((await uploadBlob(namespace, f.configs[3])).status).toBeWithin(200, 300);
      });
      test("Populate registry with test layer", async () => {
        expect((await uploadBlob(namespace, f.layer)).status).toBeWithin(200, 300);
      });
      test("Populate registry with test tag", async () => {
        expect((await putManifest(namespace, tagName, f.manifests[3])).status).toBeWithin(200, 300);
      });
      test("Check how many tags there are before anything gets deleted", async () => {
        const { status, tags } = await tagsOf(namespace);
        expect(status).toBe(200);
        numTags = tags.length;
      });
    });

    // the suite also accepts the 400/405 of a registry that refuses deletes; this one runs with --delete
    describe("manifest delete", () => {
      test("DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)", async () => {
        expect((await remove(`/v2/${namespace}/manifests/${tagName}`)).status).toBe(202);
      });
      test("DELETE request to manifest (digest) should yield 202 response unless already deleted", async () => {
        expect((await remove(`/v2/${namespace}/manifests/${f.manifests[3].digest}`)).status).toBe(202);
      });
      test("GET request to deleted manifest URL should yield 404 response, unless delete is disallowed", async () => {
        expect((await getManifest(namespace, f.manifests[3].digest)).status).toBe(404);
      });
      test("GET request to tags list should reflect manifest deletion", async () => {
        const { status, tags } = await tagsOf(namespace);
        expect(status).toBe(200);
        expect(tags.length).toBeLessThan(numTags);
      });
    });

    describe("blob delete", () => {
      test("DELETE request to blob URL should yield 202 response", async () => {
        expect((await remove(`/v2/${namespace}/blobs/${f.configs[3].digest}`)).status).toBe(202);
        expect((await remove(`/v2/${namespace}/blobs/${f.layer.digest}`)).status).toBe(202);
      });
      test("GET request to deleted blob URL should yield 404 response", async () => {
        expect((await blobAt(namespace, f.configs[3].digest)).status).toBe(404);
      });
    });

    describe("newer runner", () => runnerManagement(sets));
  });
}

// ---------------------------------------------------------------- the newer runner (run.go)

function runnerPull(): void {
  test("ping: GET /v2/ answers 200", async () => {
    expect((await registry("/v2/")).status).toBe(200);
  });
  test("missing-manifest: a manifest never pushed is a 404, by digest and by tag", async () => {
    expect((await getManifest(repo1, digestOf(randomBytes(1024)))).status).toBe(404);
    expect((await getManifest(repo1, `missing-${crypto.randomUUID().slice(0, 20)}`)).status).toBe(404);
  });
  test("invalid-digest-format: GET of the manifest sha256:baddigeststring is a 404 or a 400", async () => {
    expect([400, 404]).toContain((await getManifest(repo1, "sha256:baddigeststring")).status);
  });
  for (const algorithm of ["sha256", "sha512"] as const) describe(`${algorithm} range requests`, () => rangeRequests(algorithm));
}

/** A 2048-byte blob read by ranges: the runner fails a registry that answers them with the whole blob. */
function rangeRequests(algorithm: DigestAlgorithm): void {
  const blob = content(randomBytes(2048), algorithm);
  const ranged = (range: string) => registry(`/v2/${repo1}/blobs/${blob.digest}`, { headers: { Range: `bytes=${range}` } });
  test("the blob to read is pushed", async () => {
    await expectBlobPushed(await uploadBlob(repo1, blob), blob);
  });
  for (const [range, start, end] of [["500-1499", 500, 1500], ["500-", 500, 2048], ["-500", 1548, 2048], ["2000-5000", 2000, 2048]] as const) {
    test(`range ${range}: a 206 with bytes ${start}-${end - 1}`, async () => {
      const res = await ranged(range);
      expect(res.status).toBe(206);
      expect(res.headers.get("content-length")).toBe(String(end - start));
      expect([`bytes ${start}-${end - 1}/${blob.size}`, `bytes ${start}-${end - 1}/*`]).toContain(res.headers.get("content-range")!);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob.bytes.slice(start, end));
    });
  }
  for (const range of ["500-0", "5000-10000"]) {
    test(`range ${range}: a 416`, async () => {
      expect((await ranged(range)).status).toBe(416);
    });
  }
  test("the blob deletes", () => expectBlobDeleted(repo1, blob));
}

function runnerPush(sets: readonly DataSet[]): void {
  for (const algorithm of ["sha256", "sha512"] as const) describe(`${algorithm} blobs`, () => blobPushes(algorithm));
  for (const set of sets) {
    test(`${set.name}: pushed, every tag, manifest and blob reads back`, async () => {
      for (const blob of set.blobs.values()) await expectBlobPushed(await uploadBlob(repo1, blob), blob);
      for (const m of set.manifests) await expectManifestPushed(repo1, m.digest, m);
      for (const [tag, m] of set.tags) await expectManifestPushed(repo1, tag, m);
      for (const [tag, m] of set.tags) await expectManifestServed(`/v2/${repo1}/manifests/${tag}`, m);
      for (const blob of set.blobs.values()) await expectBlobServed(repo1, blob);
    });
  }
  test("bad-digest-image: a manifest pushed to a digest its bytes do not have is a 400", async () => {
    await withImageBlobs("bad-digest-image", async (m) => {
      // whitespace after the JSON: still a valid manifest, but no longer the one the digest names
      expect((await putManifest(repo1, m.digest, { ...m, bytes: new Uint8Array([...m.bytes, 0x20, 0x20]) })).status).toBe(400);
      expect((await getManifest(repo1, m.digest)).status).toBe(404);
    });
  });
  test("invalid-digest-format: a manifest pushed to sha256:baddigeststring is a 400", async () => {
    await withImageBlobs("invalid-manifest-digest", async (m) => {
      expect((await putManifest(repo1, "sha256:baddigeststring", m)).status).toBe(400);
    });
  });
  // not checked: the runner's sparse data (off for 1.1), an index naming manifests that were never
  // pushed: distribution-spec 1.1 lets a registry refuse it ("MAY reject ... MANIFEST_BLOB_UNKNOWN"),
  // and stevedore does. Non-distributable layers are the exception it accepts, as distribution does.
  // not checked: the runner's tag-param data (`PUT .../manifests/<digest>?tag=`, answered with OCI-Tag),
  // which only its "1.1+dev" configuration enables: it is a proposal beyond distribution-spec 1.1.
}

/** Pushes the blobs of a fresh image, runs `check` on its manifest (which it must not leave behind), deletes the blobs. */
async function withImageBlobs(name: string, check: (m: Manifest) => Promise<void>): Promise<void> {
  const set = new DataSet(name);
  set.image();
  for (const blob of set.blobs.values()) await expectBlobPushed(await uploadBlob(repo1, blob), blob);
  await check(set.manifests[0]!);
  for (const blob of set.blobs.values()) await expectBlobDeleted(repo1, blob);
}

/** Every way the runner pushes a blob, each read back and deleted; then the same pushes with a wrong digest. */
function blobPushes(algorithm: DigestAlgorithm): void {
  const small = () => content(randomBytes(512), algorithm);
  // three chunks of the runner's 1024-byte minimum, the last one short
  const large = () => content(randomBytes(3 * 1024 - 5), algorithm);
  const pushes = [
    ["post only", small, postOnly],
    ["post+put", small, uploadBlob],
    ["chunked single", small, (repo, blob) => pushChunked(repo, blob)],
    ["stream", small, pushStreamed],
    ["chunked multi", large, (repo, blob) => pushChunked(repo, blob)],
    ["chunked multi and put chunk", large, (repo, blob) => pushChunked(repo, blob, { putLastChunk: true })],
    ["chunked out-of-order", large, (repo, blob) => pushChunked(repo, blob, { outOfOrder: true })],
    ["chunked out-of-order and put chunk", large, (repo, blob) => pushChunked(repo, blob, { outOfOrder: true, putLastChunk: true })],
    ["empty", () => content(new Uint8Array(), algorithm), uploadBlob],
    ["emptyJSON", () => content("{}", algorithm), uploadBlob],
  ] as const satisfies readonly (readonly [string, () => Content, (repo: string, blob: Content) => Promise<Response>])[];
  const mount = (blob: Content, from?: string) =>
    registry(`/v2/${repo1}/blobs/uploads/?mount=${blob.digest}${from ? `&from=${from}` : ""}`, { method: "POST" });

  test("get-missing: a blob never pushed is a 404", async () => {
    expect((await blobAt(repo1, small().digest)).status).toBe(404);
  });
  for (const [name, make, push] of pushes) {
    test(`${name}: the pushed blob reads back, then deletes`, async () => {
      const blob = make();
      await expectBlobPushed(await push(repo1, blob), blob);
      await expectBlobServed(repo1, blob);
      await expectBlobDeleted(repo1, blob);
    });
  }
  test("mount: a blob mounted from another repository is a 201", async () => {
    const blob = small();
    await expectBlobPushed(await uploadBlob(repo2, blob), blob);
    await expectBlobPushed(await mount(blob, repo2), blob);
    await expectBlobServed(repo1, blob);
    await expectBlobDeleted(repo1, blob);
    await expectBlobDeleted(repo2, blob);
  });
  // the runner takes a 202 as "unsupported", not a failure, if the upload it opens then works
  test("mount anonymous: without `from`, a 201 or a session that takes the blob", async () => {
    const blob = small();
    await expectBlobPushed(await uploadBlob(repo2, blob), blob);
    const mounted = await mount(blob);
    expect([201, 202]).toContain(mounted.status);
    await expectBlobPushed(mounted.status === 201 ? mounted : await putWhole(mounted.headers.get("location"), blob), blob);
    await expectBlobDeleted(repo1, blob);
    await expectBlobDeleted(repo2, blob);
  });
  test("mount missing: a blob the source does not hold is a 202 and a session that takes it", async () => {
    const blob = small();
    const mounted = await mount(blob, repo2);
    expect(mounted.status).toBe(202);
    await expectBlobPushed(await putWhole(mounted.headers.get("location"), blob), blob);
    await expectBlobDeleted(repo1, blob);
  });
  test("post cancel: DELETE of an upload session is a 204", async () => {
    const session = await startSession(repo1);
    expect((await remove(relative(session.headers.get("location")))).status).toBe(204);
  });
  /** A large blob with bytes appended after its digest was taken. */
  const corrupted = (): Content => {
    const blob = large();
    const bytes = new Uint8Array([...blob.bytes, ...new TextEncoder().encode("oh no")]);
    return { ...blob, bytes, size: bytes.byteLength };
  };
  const badPushes = [
    ["bad digest post only", postOnly],
    ["bad digest post+put", uploadBlob],
    ["bad digest chunked", (repo, blob) => pushChunked(repo, blob)],
    ["bad digest chunked and put chunk", (repo, blob) => pushChunked(repo, blob, { putLastChunk: true })],
    ["bad digest stream", pushStreamed],
  ] as const satisfies readonly (readonly [string, (repo: string, blob: Content) => Promise<Response>])[];
  for (const [name, push] of badPushes) {
    test(`${name}: a 400, and no blob`, async () => {
      const blob = corrupted();
      expect((await push(repo1, blob)).status).toBe(400);
      expect((await blobAt(repo1, blob.digest, "HEAD")).status).toBe(404);
    });
  }
}

function runnerDiscovery(sets: readonly DataSet[]): void {
  test("empty: a repository never pushed to lists no tags (200 or 404) and its referrers are an empty index", async () => {
    const { status, tags } = await tagsOf("conformance/empty");
    expect([200, 404]).toContain(status);
    expect(tags).toEqual([]);
    expect((await referrersOf("conformance/empty", digestOf(crypto.randomUUID()))).index.manifests).toEqual([]);
  });
  for (const set of sets.filter((s) => s.tags.size > 0)) {
    test(`${set.name}: the tag list holds its tags, and \`last\` lists only the tags after it`, async () => {
      const { status, tags } = await tagsOf(repo1);
      expect(status).toBe(200);
      for (const tag of set.tags.keys()) expect(tags).toContain(tag);
      const sorted = [...tags].sort();
      const half = Math.floor(sorted.length / 2);
      expect((await tagsOf(repo1, `?last=${sorted[half - 1]}`)).tags).toEqual(sorted.slice(half));
    });
  }
  for (const set of sets.filter((s) => s.referrers.size > 0)) {
    test(`${set.name}: referrers list each referrer, and an artifactType filter only its own`, async () => {
      for (const [subject, expected] of set.referrers) {
        expectReferrers((await referrersOf(repo1, subject)).index, expected);
        for (const artifactType of new Set(expected.map((e) => e.artifactType))) {
          const { res, index } = await referrersOf(repo1, subject, `?artifactType=${encodeURIComponent(artifactType!)}`);
          expect(res.headers.get("oci-filters-applied")?.split(",").map((f) => f.trim())).toContain("artifactType");
          expectReferrers(index, expected.filter((e) => e.artifactType === artifactType));
          for (const m of index.manifests) expect(m.artifactType).toBe(artifactType);
        }
      }
    });
  }
}

/** Each expected referrer is listed with its media type, size and artifactType, and at least its annotations. */
function expectReferrers(index: ReferrersIndex, expected: readonly ExpectedReferrer[]): void {
  for (const want of expected) {
    const found = index.manifests.find((m) => m.digest === want.digest);
    expect(found).toBeDefined();
    expect([found!.mediaType, found!.size, found!.artifactType]).toEqual([want.mediaType, want.size, want.artifactType]);
    expect(found!.annotations ?? {}).toMatchObject(want.annotations ?? {});
  }
}

function runnerManagement(sets: readonly DataSet[]): void {
  for (const set of sets) {
    test(`${set.name}: tags, then manifests, then blobs delete, each gone at once`, async () => {
      for (const tag of set.tags.keys()) {
        expect((await remove(`/v2/${repo1}/manifests/${tag}`)).status).toBe(202);
        expect((await getManifest(repo1, tag, "HEAD")).status).toBe(404);
      }
      for (const m of [...set.manifests].reverse()) {
        expect((await remove(`/v2/${repo1}/manifests/${m.digest}`)).status).toBe(202);
        expect((await getManifest(repo1, m.digest, "HEAD")).status).toBe(404);
      }
      for (const blob of set.blobs.values()) await expectBlobDeleted(repo1, blob);
    });
  }
}

// ---------------------------------------------------------------- the runs

const runs: readonly { readonly store: string; readonly args: () => string[] }[] = [
  { store: "memory store", args: () => ["--memory", "--delete"] },
  { store: "filesystem store", args: () => ["--root", join(tmpDir(), "root"), "--delete"] },
];

for (const run of runs) {
  describe(`OCI distribution-spec conformance, ${run.store}`, () => {
    const args = run.args();
    let server: RunningServe;
    beforeAll(async () => {
      server = await startServe(args);
      origin = `http://${server.host}`;
    });
    afterAll(() => server?.stop());

    const fixtures = classicFixtures();
    const sets = runnerDataSets();
    pullWorkflow(fixtures);
    pushWorkflow(fixtures, sets);
    discoveryWorkflow(fixtures, sets);
    managementWorkflow(fixtures, sets);
  });
}
