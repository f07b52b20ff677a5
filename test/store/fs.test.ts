import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { IntegrityError, UsageError } from "../../src/core/errors.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { openPolicy } from "../../src/server/access.ts";
import { createHandler } from "../../src/server/handler.ts";
import { fsStore } from "../../src/store/fs.ts";
import { type Store, UploadRangeError } from "../../src/store/types.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { blobOf, describeStore, imageManifest, readAll, streamOf } from "./contract.ts";

const scratch = tmpDir();
const freshRoot = () => join(scratch, crypto.randomUUID());

describeStore("fs", async () => fsStore(freshRoot(), { fsync: false }));

/** Every path under `dir`, relative. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" });
}

/** One upload session carrying the whole blob; returns its id. */
async function uploadWhole(store: Store, repo: string, blob: ReturnType<typeof blobOf>): Promise<string> {
  const session = await store.uploads.start(repo);
  await store.uploads.append(session.id, 0, streamOf(blob.bytes));
  await store.uploads.finish(session.id, blob.digest);
  return session.id;
}

describe("fs store", () => {
  test("an upload survives a restart and can be completed by the new instance", async () => {
    const root = freshRoot();
    const blob = blobOf("resumed", 9000);
    const before = await fsStore(root);
    const session = await before.uploads.start("team/app");
    await before.uploads.append(session.id, 0, streamOf(blob.bytes.subarray(0, 5000)));
    // the last chunk an hour after the start: the restored session says so, from its data file's time
    const lastChunk = new Date(session.startedAt + 3600_000);
    utimesSync(join(root, "uploads", session.id, "data"), lastChunk, lastChunk);

    const after = await fsStore(root);
    const restored = await after.uploads.get(session.id);
    expect({ ...restored, updatedAt: 0 }).toEqual({ ...session, size: 5000, updatedAt: 0 });
    expect(Math.abs(restored!.updatedAt - lastChunk.getTime())).toBeLessThan(1000);
    await expect(after.uploads.append(session.id, 4000, blob.bytes.subarray(4000))).rejects.toBeInstanceOf(UploadRangeError);
    await after.uploads.append(session.id, 5000, streamOf(blob.bytes.subarray(5000)));
    await after.uploads.finish(session.id, blob.digest);
    expect(await readAll(await after.blobs.get(blob.digest))).toEqual(blob.bytes);
    expect(existsSync(join(root, "uploads", session.id))).toBe(false);
  });

  /** A fresh store holding one blob, uploaded into team/first; `upload` pushes it again elsewhere. */
  async function storeHolding(name: string, size: number) {
    const root = freshRoot();
    const store = await fsStore(root);
    const blob = blobOf(name, size);
    const upload = (repo: string) => uploadWhole(store, repo, blob);
    await upload("team/first");
    return { root, store, blob, upload, stored: join(root, "blobs/sha256", blob.digest.slice("sha256:".length)) };
  }

  test("an upload of a blob the store holds keeps the stored file and leaves nothing of itself once settled", async () => {
    const { root, store, blob, upload, stored } = await storeHolding("twice", 70_000);
    const inode = statSync(stored).ino;
    const second = await upload("team/second");
    expect(await store.uploads.get(second)).toBeNull();
    await store.settle?.();
    expect(statSync(stored).ino).toBe(inode);
    expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
    expect(walk(join(root, "uploads"))).toEqual([]);
  });

  test("a blob removed from disk behind the store's back (a gc) is put back by the next upload of it", async () => {
    const { store, blob, upload, stored } = await storeHolding("gone", 5000);
    rmSync(stored); // the store still remembers its size
    await upload("team/second");
    await store.settle?.();
    expect(existsSync(stored)).toBe(true);
    expect(await readAll(await store.blobs.get(blob.digest))).toEqual(blob.bytes);
  });

  test("a put of a blob removed from disk behind the store's back writes it again", async () => {
    const root = freshRoot();
    const store = await fsStore(root);
    const blob = blobOf("put-gone", 3000);
    await store.blobs.put(blob.digest, blob.bytes);
    const stored = join(root, "blobs/sha256", blob.digest.slice("sha256:".length));
    rmSync(stored); // the store still remembers its size
    await store.blobs.put(blob.digest, streamOf(blob.bytes), blob.bytes.byteLength);
    expect(existsSync(stored)).toBe(true);
  });

  test("a blob removed from disk behind the server's back is a 404 to a GET, not a 200 whose body cannot follow", async () => {
    const root = freshRoot();
    const store = await fsStore(root, { fsync: false });
    const handler = createHandler({ store, policy: openPolicy });
    const blob = blobOf("gone", 3000);
    expect((await handler(new Request(`http://x/v2/app/blobs/uploads/?digest=${blob.digest}`, { method: "POST", body: blob.bytes }))).status).toBe(201);
    expect((await handler(new Request(`http://x/v2/app/blobs/${blob.digest}`))).status).toBe(200);
    rmSync(join(root, "blobs/sha256", blob.digest.slice("sha256:".length))); // as gc --force beside a running server
    const gone = await handler(new Request(`http://x/v2/app/blobs/${blob.digest}`));
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe("BLOB_UNKNOWN");
  });

  test("a new instance reads back tags, links, referrers and blobs from disk", async () => {
    const root = freshRoot();
    const config = blobOf("config", 30);
    const manifest = imageManifest(config);
    const sbom = imageManifest(blobOf("sbom", 10), { artifactType: "application/spdx+json", subject: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength } });
    const first = await fsStore(root, { fsync: false });
    await first.blobs.put(config.digest, config.bytes);
    await first.repos.linkBlob("a/b", config.digest);
    await first.repos.putManifest("a/b", manifest, "v1");
    await first.repos.putManifest("a/b", sbom);
    await first.repos.putManifest("c", manifest);
    await first.repos.deleteManifest("c", manifest.digest);

    const second = await fsStore(root, { fsync: false });
    expect(await second.repos.listRepos()).toEqual(["a/b"]);
    expect(await second.repos.listTags("a/b")).toEqual(["v1"]);
    expect((await second.repos.getManifest("a/b", "v1"))?.bytes).toEqual(manifest.bytes);
    expect((await second.repos.getManifest("a/b", sbom.digest))?.subject).toBe(manifest.digest);
    expect((await second.repos.referrers("a/b", manifest.digest)).map((d) => [d.digest, d.artifactType])).toEqual([[sbom.digest, "application/spdx+json"]]);
    expect(await second.repos.hasBlobLink("a/b", config.digest)).toBe(true);
    expect(await second.blobs.stat(config.digest)).toBe(30);
    expect(second.blobs.filePath?.(config.digest)).toBe(join(root, "blobs", "sha256", config.digest.slice(7)));
    expect(second.blobs.filePath?.(digestOf("absent"))).toBeUndefined();
  });

  test("the catalog of a new instance follows its writes: a repository emptied or filled after the first listing moves in or out", async () => {
    const root = freshRoot();
    const manifest = imageManifest(blobOf("c", 5));
    const first = await fsStore(root, { fsync: false });
    await first.repos.putManifest("kept", manifest, "v1");
    await first.repos.putManifest("emptied", manifest, "v1");
    const second = await fsStore(root, { fsync: false });
    expect(await second.repos.listRepos()).toEqual(["emptied", "kept"]);
    await second.repos.deleteManifest("emptied", manifest.digest);
    await second.repos.putManifest("new", manifest);
    expect(await second.repos.listRepos()).toEqual(["kept", "new"]);
    expect(await (await fsStore(root, { fsync: false })).repos.listRepos()).toEqual(["kept", "new"]);
  });

  test("sizes and manifests, once seen, are answered from memory", async () => {
    const root = freshRoot();
    const store = await fsStore(root, { fsync: false });
    const blob = blobOf("cached", 100);
    const manifest = imageManifest(blob);
    await store.blobs.put(blob.digest, blob.bytes);
    await store.repos.putManifest("app", manifest, "v1");
    // behind the store's back: a cache that answers never notices
    rmSync(join(root, "blobs"), { recursive: true });
    expect(await store.blobs.stat(blob.digest)).toBe(100);
    expect((await store.repos.getManifest("app", "v1"))?.bytes).toEqual(manifest.bytes);
  });

  test("leaves no temporary file behind, after successes and failures alike", async () => {
    const root = freshRoot();
    const store = await fsStore(root);
    const blob = blobOf("layer", 20_000);
    const wrong = blob.bytes.slice();
    wrong[0]! ^= 1;
    await expect(store.blobs.put(blob.digest, streamOf(wrong), wrong.byteLength)).rejects.toBeInstanceOf(IntegrityError);
    await expect(store.blobs.put(blob.digest, streamOf(blob.bytes), 10)).rejects.toBeInstanceOf(IntegrityError);
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(blob.bytes.subarray(0, 100));
        controller.error(new Error("connection reset"));
      },
    });
    await expect(store.blobs.put(blob.digest, failing)).rejects.toThrow("connection reset");
    await store.blobs.put(blob.digest, streamOf(blob.bytes));
    await store.repos.linkBlob("app", blob.digest);
    const manifest = imageManifest(blob);
    await store.repos.putManifest("app", manifest, "v1");
    await store.repos.putManifest("app", imageManifest(blobOf("x", 5)), "v1");
    await store.repos.putManifest("app", imageManifest(blobOf("sig", 5), { subject: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength } }));
    await expect(store.repos.putManifest("app", { ...manifest, digest: digestOf("other") })).rejects.toBeInstanceOf(IntegrityError);
    await store.repos.deleteTag("app", "v1");
    await store.repos.deleteManifest("app", manifest.digest);
    const upload = await store.uploads.start("app");
    await store.uploads.append(upload.id, 0, blob.bytes.subarray(0, 500));
    await expect(store.uploads.append(upload.id, 0, blob.bytes)).rejects.toBeInstanceOf(UploadRangeError);
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(blob.bytes.subarray(500, 700));
        controller.error(new Error("client went away"));
      },
    });
    await expect(store.uploads.append(upload.id, 500, broken)).rejects.toThrow("client went away");
    expect((await store.uploads.get(upload.id))?.size).toBe(500);
    await store.uploads.append(upload.id, 500, blob.bytes.subarray(500));
    await expect(store.uploads.finish(upload.id, digestOf("not it"))).rejects.toBeInstanceOf(IntegrityError);
    await store.uploads.finish(upload.id, blob.digest);
    await store.uploads.cancel((await store.uploads.start("app")).id);

    expect(walk(root).filter((path) => path.includes(".tmp-"))).toEqual([]);
    expect(readdirSync(join(root, "uploads"))).toEqual([]);
  });

  test("32 concurrent pushes sharing layers all land whole", async () => {
    const root = freshRoot();
    const store = await fsStore(root, { fsync: false });
    const layers = Array.from({ length: 8 }, (_, i) => blobOf(`layer ${i}`, 50_000 + i * 1000));
    const push = async (n: number) => {
      const repo = `team/app-${n}`;
      const config = blobOf(`config ${n}`, 200);
      const mine = [layers[n % 8]!, layers[(n + 3) % 8]!, layers[(n + 5) % 8]!];
      for (const blob of [config, ...mine]) {
        await store.blobs.put(blob.digest, streamOf(blob.bytes, 5), blob.bytes.byteLength);
        await store.repos.linkBlob(repo, blob.digest);
      }
      const manifest = imageManifest(config, {
        layers: mine.map((b) => ({ mediaType: MediaTypes.ociLayer, digest: b.digest, size: b.bytes.byteLength })),
      });
      await store.repos.putManifest(repo, manifest, "latest");
      return { repo, manifest, blobs: [config, ...mine] };
    };
    const pushed = await Promise.all(Array.from({ length: 32 }, (_, n) => push(n)));

    const reopened = await fsStore(root, { fsync: false });
    expect(await reopened.repos.listRepos()).toEqual(pushed.map((p) => p.repo).sort());
    for (const { repo, manifest, blobs } of pushed) {
      expect((await reopened.repos.getManifest(repo, "latest"))?.digest).toBe(manifest.digest);
      for (const blob of blobs) {
        expect(await reopened.repos.hasBlobLink(repo, blob.digest)).toBe(true);
        expect(digestOf((await readAll(await reopened.blobs.get(blob.digest)))!)).toBe(blob.digest);
      }
    }
    expect(walk(root).filter((path) => path.includes(".tmp-"))).toEqual([]);
  });

  test("keeps everything under the root: names that climb out are refused", async () => {
    const root = freshRoot();
    const store = await fsStore(root, { fsync: false });
    const manifest = imageManifest(blobOf("c", 5));
    await expect(store.repos.putManifest("../outside", manifest)).rejects.toBeInstanceOf(UsageError);
    await expect(store.repos.putManifest("app", manifest, "../../x")).rejects.toBeInstanceOf(UsageError);
    await expect(store.uploads.start("/etc")).rejects.toBeInstanceOf(UsageError);
    expect(await store.uploads.get("../../../etc/passwd")).toBeNull();
    await store.uploads.cancel("../blobs");
    expect(existsSync(join(root, "..", "outside"))).toBe(false);
    expect(existsSync(join(root, "blobs"))).toBe(true);
  });

  test("a tag that looks like a temporary file of older versions is a tag, after a restart too", async () => {
    const root = freshRoot();
    const manifest = imageManifest(blobOf("c", 5));
    await (await fsStore(root, { fsync: false })).repos.putManifest("app", manifest, "v1.tmp-0123456789ab");
    const reopened = await fsStore(root, { fsync: false });
    expect(await reopened.repos.listTags("app")).toEqual(["v1.tmp-0123456789ab"]);
    expect((await reopened.repos.getManifest("app", "v1.tmp-0123456789ab"))?.digest).toBe(manifest.digest);
  });

  test("ignores what a crash left: temporary tags, half-made or half-removed upload sessions", async () => {
    const root = freshRoot();
    const store = await fsStore(root, { fsync: false });
    const manifest = imageManifest(blobOf("c", 5));
    await store.repos.putManifest("app", manifest, "v1");
    const live = await store.uploads.start("app");
    writeFileSync(join(root, "repositories", "app", "_tags", ".v1.tmp-0123456789ab"), manifest.digest);
    const halfRemoved = "a".repeat(32);
    mkdirSync(join(root, "uploads", halfRemoved));
    writeFileSync(join(root, "uploads", halfRemoved, "info.json"), JSON.stringify({ repo: "app", startedAt: 1 }));

    const reopened = await fsStore(root, { fsync: false });
    expect(await reopened.repos.listTags("app")).toEqual(["v1"]);
    expect(readdirSync(join(root, "uploads"))).toEqual([live.id]);
    expect((await reopened.uploads.get(live.id))?.size).toBe(0);
  });
});
