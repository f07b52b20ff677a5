import { describe, expect, test } from "bun:test";
import { type Digest, digestOf } from "../../src/core/digest.ts";
import { IntegrityError, NotFoundError, UsageError } from "../../src/core/errors.ts";
import { type RawManifest, encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { type Store, UploadRangeError } from "../../src/store/types.ts";

/** A body that arrives in `pieces` chunks, as a network one would. */
export const streamOf = (bytes: Uint8Array, pieces = 3): ReadableStream<Uint8Array> => {
  const step = Math.max(1, Math.ceil(bytes.byteLength / pieces));
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.byteLength; at += step) controller.enqueue(bytes.slice(at, at + step));
      controller.close();
    },
  });
};
/** Test-sized bodies only: layers are never read whole outside tests. */
export const readAll = async (body: ReadableStream<Uint8Array> | null) => (body ? new Uint8Array(await new Response(body).arrayBuffer()) : null);
const collect = async <T>(items: AsyncIterable<T>) => {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
};

/** A blob of `size` bytes derived from `seed`, and its digest. */
export function blobOf(seed: string, size = 1000): { bytes: Uint8Array<ArrayBuffer>; digest: Digest } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed.charCodeAt(i % seed.length)) & 0xff;
  return { bytes, digest: digestOf(bytes) };
}

/** A tiny image manifest over a config blob; `extra` adds subject, artifactType, annotations. */
export function imageManifest(config: { bytes: Uint8Array; digest: Digest }, extra: object = {}, configType: string = MediaTypes.ociConfig): RawManifest {
  return encodeManifest(
    { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: configType, digest: config.digest, size: config.bytes.byteLength }, layers: [], ...extra },
    MediaTypes.ociManifest,
  );
}

const subjectOf = (m: RawManifest) => ({ subject: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength } });

/** The behaviour every Store owes `serve`, run once per implementation. */
export function describeStore(name: string, makeStore: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    const config = blobOf("config", 40);
    const manifest = imageManifest(config);
    const other = imageManifest(blobOf("other config", 50));

    describe("blobs", () => {
      test("put, stat, get, a range, list and delete", async () => {
        const store = await makeStore();
        const blob = blobOf("layer", 5000);
        expect(await store.blobs.stat(blob.digest)).toBeNull();
        expect(await store.blobs.get(blob.digest)).toBeNull();
        await store.blobs.put(blob.digest, streamOf(blob.bytes), blob.bytes.byteLength);
        expect(await store.blobs.stat(blob.digest)).toBe(5000);
        expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
        expect(await readAll(await store.blobs.get(blob.digest, { start: 10, end: 4000 }))).toEqual(blob.bytes.slice(10, 4000));
        expect(await collect(store.blobs.list())).toEqual([blob.digest]);
        await store.blobs.delete(blob.digest);
        expect(await store.blobs.stat(blob.digest)).toBeNull();
        expect(await store.blobs.get(blob.digest)).toBeNull();
        expect(await collect(store.blobs.list())).toEqual([]);
      });

      test("takes bytes in memory, with or without a declared size", async () => {
        const store = await makeStore();
        const blob = blobOf("small", 10);
        await store.blobs.put(blob.digest, blob.bytes);
        expect(await store.blobs.stat(blob.digest)).toBe(10);
        const empty = new Uint8Array(0);
        await store.blobs.put(digestOf(empty), streamOf(empty), 0);
        expect(await store.blobs.stat(digestOf(empty))).toBe(0);
        expect(await readAll(await store.blobs.get(digestOf(empty)))).toEqual(empty);
      });

      test("refuses bytes that do not match the digest or the size, and shows nothing", async () => {
        const store = await makeStore();
        const blob = blobOf("layer", 3000);
        const wrong = blob.bytes.slice();
        wrong[2999]! ^= 1;
        await expect(store.blobs.put(blob.digest, streamOf(wrong), 3000)).rejects.toBeInstanceOf(IntegrityError);
        await expect(store.blobs.put(blob.digest, wrong)).rejects.toBeInstanceOf(IntegrityError);
        await expect(store.blobs.put(blob.digest, streamOf(blob.bytes), 2999)).rejects.toBeInstanceOf(IntegrityError);
        await expect(store.blobs.put(blob.digest, streamOf(blob.bytes), 3001)).rejects.toBeInstanceOf(IntegrityError);
        expect(await store.blobs.stat(blob.digest)).toBeNull();
        expect(await collect(store.blobs.list())).toEqual([]);
      });

      test("a put of a blob already present still checks the bytes, and keeps the blob", async () => {
        const store = await makeStore();
        const blob = blobOf("layer", 3000);
        await store.blobs.put(blob.digest, blob.bytes);
        await expect(store.blobs.put(blob.digest, blobOf("something else", 3000).bytes)).rejects.toBeInstanceOf(IntegrityError);
        expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
      });

      test("concurrent puts of one blob all succeed and leave it whole", async () => {
        const store = await makeStore();
        const blob = blobOf("shared", 300_000);
        await Promise.all(Array.from({ length: 8 }, () => store.blobs.put(blob.digest, streamOf(blob.bytes, 7), blob.bytes.byteLength)));
        expect(await store.blobs.stat(blob.digest)).toBe(300_000);
        expect(digestOf((await readAll(await store.blobs.get(blob.digest)))!)).toBe(blob.digest);
        expect(await collect(store.blobs.list())).toEqual([blob.digest]);
      });
    });

    describe("repositories", () => {
      test("a manifest by tag and by digest, exact bytes and media type", async () => {
        const store = await makeStore();
        await store.repos.putManifest("team/app", manifest, "v1");
        for (const reference of ["v1", manifest.digest]) {
          const found = await store.repos.getManifest("team/app", reference);
          expect(found?.bytes).toEqual(manifest.bytes);
          expect(found?.digest).toBe(manifest.digest);
          expect(found?.mediaType).toBe(MediaTypes.ociManifest);
          expect(found?.subject).toBeUndefined();
        }
        expect(await store.blobs.stat(manifest.digest)).toBe(manifest.bytes.byteLength);
        expect(await store.repos.getManifest("team/app", "v2")).toBeNull();
        expect(await store.repos.getManifest("team/other", "v1")).toBeNull();
        expect(await store.repos.getManifest("team/other", manifest.digest)).toBeNull();
        expect(await store.repos.manifestLinks("team/app")).toEqual([manifest.digest]);
      });

      test("refuses a manifest whose digest is not that of its bytes", async () => {
        const store = await makeStore();
        await expect(store.repos.putManifest("app", { ...manifest, digest: other.digest }, "v1")).rejects.toBeInstanceOf(IntegrityError);
        expect(await store.repos.getManifest("app", "v1")).toBeNull();
        expect(await store.repos.getManifest("app", other.digest)).toBeNull();
      });

      test("retagging moves the tag; the old manifest stays linked by digest", async () => {
        const store = await makeStore();
        await store.repos.putManifest("app", manifest, "latest");
        await store.repos.putManifest("app", other, "latest");
        expect((await store.repos.getManifest("app", "latest"))?.digest).toBe(other.digest);
        expect((await store.repos.getManifest("app", manifest.digest))?.digest).toBe(manifest.digest);
        expect(await store.repos.listTags("app")).toEqual(["latest"]);
        expect((await store.repos.manifestLinks("app")).sort()).toEqual([manifest.digest, other.digest].sort());
      });

      test("concurrent retags end on one of the manifests, whole", async () => {
        const store = await makeStore();
        const manifests = Array.from({ length: 6 }, (_, i) => imageManifest(blobOf(`config ${i}`, 30)));
        await Promise.all(manifests.map((m) => store.repos.putManifest("app", m, "latest")));
        const found = await store.repos.getManifest("app", "latest");
        expect(manifests.map((m) => m.digest)).toContain(found!.digest);
        expect(digestOf(found!.bytes)).toBe(found!.digest);
      });

      test("listTags and listRepos are sorted; a repository exists once it links something", async () => {
        const store = await makeStore();
        await store.repos.putManifest("zeta", manifest, "b");
        await store.repos.putManifest("alpha/nested", manifest, "z");
        await store.repos.putManifest("alpha/nested", manifest, "a");
        await store.repos.putManifest("alpha/nested", manifest, "M");
        await store.repos.putManifest("alpha", other);
        await store.repos.linkBlob("mid", config.digest);
        expect(await store.repos.listTags("alpha/nested")).toEqual(["M", "a", "z"]);
        expect(await store.repos.listTags("alpha")).toEqual([]);
        expect(await store.repos.listTags("nowhere")).toEqual([]);
        expect(await store.repos.listRepos()).toEqual(["alpha", "alpha/nested", "mid", "zeta"]);
        await store.repos.unlinkBlob("mid", config.digest);
        await store.repos.deleteManifest("zeta", manifest.digest);
        expect(await store.repos.listRepos()).toEqual(["alpha", "alpha/nested"]);
      });

      test("deleteTag removes one tag and leaves the manifest", async () => {
        const store = await makeStore();
        await store.repos.putManifest("app", manifest, "v1");
        await store.repos.putManifest("app", manifest, "v1.0");
        expect(await store.repos.deleteTag("app", "v1")).toBe(true);
        expect(await store.repos.deleteTag("app", "v1")).toBe(false);
        expect(await store.repos.deleteTag("elsewhere", "v1")).toBe(false);
        expect(await store.repos.listTags("app")).toEqual(["v1.0"]);
        expect((await store.repos.getManifest("app", manifest.digest))?.digest).toBe(manifest.digest);
      });

      test("deleteManifest unlinks it with its tags and referrer entry, and keeps the blob", async () => {
        const store = await makeStore();
        const signature = imageManifest(blobOf("sig config", 20), subjectOf(manifest), "application/vnd.example.sig");
        await store.repos.putManifest("app", manifest, "v1");
        await store.repos.putManifest("app", manifest, "stable");
        await store.repos.putManifest("app", other, "other");
        await store.repos.putManifest("app", signature);
        expect(await store.repos.referrers("app", manifest.digest)).toHaveLength(1);
        expect(await store.repos.deleteManifest("app", manifest.digest)).toBe(true);
        expect(await store.repos.deleteManifest("app", manifest.digest)).toBe(false);
        expect(await store.repos.getManifest("app", "v1")).toBeNull();
        expect(await store.repos.getManifest("app", manifest.digest)).toBeNull();
        expect(await store.repos.listTags("app")).toEqual(["other"]);
        expect(await store.blobs.stat(manifest.digest)).toBe(manifest.bytes.byteLength);
        expect(await store.repos.deleteManifest("app", signature.digest)).toBe(true);
        expect(await store.repos.referrers("app", manifest.digest)).toEqual([]);
        expect((await store.repos.manifestLinks("app")).sort()).toEqual([other.digest]);
      });

      test("a manifest pushed again after its deletion is linked again", async () => {
        const store = await makeStore();
        await store.repos.putManifest("app", manifest, "v1");
        await store.repos.deleteManifest("app", manifest.digest);
        await store.repos.putManifest("app", manifest, "v1");
        expect((await store.repos.getManifest("app", "v1"))?.bytes).toEqual(manifest.bytes);
      });

      test("referrers carry artifactType (else the config media type) and annotations, per repository", async () => {
        const store = await makeStore();
        const sbom = imageManifest(blobOf("sbom config", 20), { artifactType: "application/spdx+json", annotations: { "org.example": "yes" }, ...subjectOf(manifest) }, MediaTypes.ociEmpty);
        const sig = imageManifest(blobOf("sig config", 20), subjectOf(manifest), "application/vnd.example.sig");
        await store.repos.putManifest("app", manifest, "v1");
        await store.repos.putManifest("app", sbom);
        await store.repos.putManifest("app", sig);
        await store.repos.putManifest("app", imageManifest(blobOf("unrelated", 20), subjectOf(other)));
        expect((await store.repos.getManifest("app", sbom.digest))?.subject).toBe(manifest.digest);
        const found = await store.repos.referrers("app", manifest.digest);
        const expected = [
          { mediaType: MediaTypes.ociManifest, digest: sbom.digest, size: sbom.bytes.byteLength, artifactType: "application/spdx+json", annotations: { "org.example": "yes" } },
          { mediaType: MediaTypes.ociManifest, digest: sig.digest, size: sig.bytes.byteLength, artifactType: "application/vnd.example.sig" },
        ];
        expect([...found].sort((a, b) => a.digest.localeCompare(b.digest))).toEqual(expected.sort((a, b) => a.digest.localeCompare(b.digest)));
        expect(await store.repos.referrers("elsewhere", manifest.digest)).toEqual([]);
        expect(await store.repos.referrers("app", config.digest)).toEqual([]);
      });

      test("blob links are per repository", async () => {
        const store = await makeStore();
        await store.blobs.put(config.digest, config.bytes);
        await store.repos.linkBlob("a", config.digest);
        await store.repos.linkBlob("a", config.digest);
        expect(await store.repos.hasBlobLink("a", config.digest)).toBe(true);
        expect(await store.repos.hasBlobLink("b", config.digest)).toBe(false);
        expect(await store.repos.unlinkBlob("b", config.digest)).toBe(false);
        expect(await store.repos.unlinkBlob("a", config.digest)).toBe(true);
        expect(await store.repos.unlinkBlob("a", config.digest)).toBe(false);
        expect(await store.repos.hasBlobLink("a", config.digest)).toBe(false);
        expect(await store.blobs.stat(config.digest)).toBe(config.bytes.byteLength);
      });

      test("refuses tags outside the grammar and repository names that climb out", async () => {
        const store = await makeStore();
        for (const tag of ["../x", ".hidden", "a/b", "-x", "x".repeat(129), ""]) {
          await expect(store.repos.putManifest("app", manifest, tag)).rejects.toBeInstanceOf(UsageError);
        }
        for (const repo of ["../evil", "a/../../b", "/abs", "a//b", "a/"]) {
          await expect(store.repos.putManifest(repo, manifest)).rejects.toBeInstanceOf(UsageError);
          await expect(store.repos.linkBlob(repo, config.digest)).rejects.toBeInstanceOf(UsageError);
        }
        expect(await store.repos.listRepos()).toEqual([]);
      });
    });

    describe("uploads", () => {
      const blob = blobOf("uploaded", 10_000);
      const first = blob.bytes.subarray(0, 4000);
      const second = blob.bytes.subarray(4000);

      test("start, append two chunks, finish: the blob appears and the session ends", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        expect(session).toMatchObject({ repo: "app", size: 0 });
        expect(session.id).toMatch(/^[0-9a-f]{32}$/);
        expect(await store.uploads.append(session.id, 0, streamOf(first))).toBe(4000);
        expect((await store.uploads.get(session.id))?.size).toBe(4000);
        expect(await store.uploads.append(session.id, 4000, second)).toBe(10_000);
        expect((await collect(store.uploads.list())).map((s) => s.id)).toEqual([session.id]);
        expect(await store.blobs.stat(blob.digest)).toBeNull();
        await store.uploads.finish(session.id, blob.digest);
        expect(await store.blobs.stat(blob.digest)).toBe(10_000);
        expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
        expect(await store.uploads.get(session.id)).toBeNull();
        expect(await collect(store.uploads.list())).toEqual([]);
      });

      test("a chunk that does not start at the current size is a range error, and changes nothing", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        await store.uploads.append(session.id, 0, first);
        const skipped = await store.uploads.append(session.id, 5000, second).catch((err: unknown) => err);
        expect(skipped).toBeInstanceOf(UploadRangeError);
        expect((skipped as UploadRangeError).size).toBe(4000);
        await expect(store.uploads.append(session.id, 0, first)).rejects.toBeInstanceOf(UploadRangeError);
        expect((await store.uploads.get(session.id))?.size).toBe(4000);
        await store.uploads.append(session.id, 4000, streamOf(second));
        await store.uploads.finish(session.id, blob.digest);
        expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
      });

      test("concurrent chunks at one offset: one lands, the other is a range error", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        const results = await Promise.allSettled([store.uploads.append(session.id, 0, streamOf(first)), store.uploads.append(session.id, 0, streamOf(first))]);
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        expect(results.find((r) => r.status === "rejected")?.reason).toBeInstanceOf(UploadRangeError);
        expect((await store.uploads.get(session.id))?.size).toBe(4000);
      });

      test("finishing with the wrong digest is an integrity error and publishes nothing", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        await store.uploads.append(session.id, 0, first);
        const claimed = digestOf(first.subarray(1));
        await expect(store.uploads.finish(session.id, claimed)).rejects.toBeInstanceOf(IntegrityError);
        expect(await store.blobs.stat(claimed)).toBeNull();
        expect(await collect(store.blobs.list())).toEqual([]);
        // the session is left as it was: the caller may cancel it or finish it rightly
        await store.uploads.finish(session.id, digestOf(first));
        expect(await store.blobs.stat(digestOf(first))).toBe(4000);
      });

      test("an upload in chunks finishes under a sha512 digest too, and reads back by ranges across its chunks", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        await store.uploads.append(session.id, 0, streamOf(first, 4));
        await store.uploads.append(session.id, 4000, streamOf(second, 5));
        const digest = digestOf(blob.bytes, "sha512");
        await store.uploads.finish(session.id, digest);
        for (const [start, end] of [[0, 10_000], [999, 1001], [3999, 4001], [1, 9999], [9999, 10_000]] as const) {
          expect(await readAll(await store.blobs.get(digest, { start, end }))).toEqual(blob.bytes.slice(start, end));
        }
      });

      test("an empty upload finishes as the empty blob", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        await store.uploads.finish(session.id, digestOf(new Uint8Array(0)));
        expect(await store.blobs.stat(digestOf(new Uint8Array(0)))).toBe(0);
      });

      test("cancel ends the session; unknown ids are null or NotFoundError", async () => {
        const store = await makeStore();
        const session = await store.uploads.start("app");
        await store.uploads.append(session.id, 0, first);
        await store.uploads.cancel(session.id);
        expect(await store.uploads.get(session.id)).toBeNull();
        expect(await collect(store.uploads.list())).toEqual([]);
        await expect(store.uploads.append(session.id, 4000, second)).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.uploads.finish(session.id, blob.digest)).rejects.toBeInstanceOf(NotFoundError);
        for (const id of ["../../etc", "0".repeat(31), "A".repeat(32)]) {
          expect(await store.uploads.get(id)).toBeNull();
          await expect(store.uploads.append(id, 0, first)).rejects.toBeInstanceOf(NotFoundError);
        }
        expect(await store.blobs.stat(blob.digest)).toBeNull();
      });
    });
  });
}
