import { expect, test } from "bun:test";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { Exit } from "../../src/core/errors.ts";
import { fsStore } from "../../src/store/fs.ts";
import type { Store } from "../../src/store/types.ts";
import { gc } from "../../src/verbs/gc.ts";
import { artifactFor } from "../helpers/artifact.ts";
import { stevedore } from "../helpers/cli.ts";
import { type FixtureImage, randomImage } from "../helpers/random-image.ts";
import { startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

async function put(store: Store, repo: string, image: FixtureImage, tag?: string): Promise<void> {
  for (const { desc, bytes } of image.blobs.values()) {
    await store.blobs.put(desc.digest, bytes, desc.size);
    await store.repos.linkBlob(repo, desc.digest);
  }
  for (const m of image.images.length > 1 ? image.images : []) await store.repos.putManifest(repo, m);
  await store.repos.putManifest(repo, image.top, tag);
}

test("gc keeps what tags reach (and their referrers), removes the rest; --dry-run removes nothing", async () => {
  const store = await fsStore(join(tmpDir(), "root"), { fsync: false });
  const kept = randomImage({ seed: 1, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
  const orphan = randomImage({ seed: 2 });
  const sbom = artifactFor(kept.top, "application/spdx+json", "{}");
  const orphanSbom = artifactFor(orphan.top, "application/spdx+json", "[]");
  await put(store, "app", kept, "v1");
  await put(store, "app", orphan);
  await put(store, "app", sbom);
  await put(store, "app", orphanSbom);
  const stray = new TextEncoder().encode("nobody references me");
  await store.blobs.put(digestOf(stray), stray);
  const old = await store.uploads.start("app");
  const fresh = await store.uploads.start("app");

  const preview = await gc(store, { dryRun: true, now: old.startedAt + 25 * 3600_000 });
  expect(preview.manifests.map((m) => m.digest).sort()).toEqual([orphan.top.digest, orphanSbom.top.digest].sort());
  expect(preview.blobs).toContain(digestOf(stray));
  expect([...preview.uploads].sort()).toEqual([old.id, fresh.id].sort());
  expect(await store.blobs.stat(digestOf(stray))).not.toBeNull();

  const result = await gc(store, { now: fresh.startedAt + 1000, uploadMaxAgeMs: 0 });
  expect(result.manifests).toHaveLength(2);
  expect(await store.blobs.stat(digestOf(stray))).toBeNull();
  for (const b of orphan.blobs.keys()) if (!kept.blobs.has(b)) expect(await store.blobs.stat(b)).toBeNull();
  for (const b of [...kept.blobs.keys(), ...sbom.blobs.keys(), kept.top.digest, sbom.top.digest, ...kept.images.map((m) => m.digest)]) {
    expect(await store.blobs.stat(b)).not.toBeNull();
  }
  expect((await store.repos.getManifest("app", "v1"))?.digest).toBe(kept.top.digest);
  expect((await store.repos.referrers("app", kept.top.digest)).map((d) => d.digest)).toEqual([sbom.top.digest]);
  expect(await store.uploads.get(old.id)).toBeNull();
});

test("gc refuses a root a stevedore serve is using (its caches would outlive what gc removes); --dry-run and --force go; after the server stops it sweeps", async () => {
  const root = join(tmpDir(), "served");
  const server = await startServe(["--root", root]);
  let stopped = false;
  try {
    const refused = await stevedore(["gc", "--root", root]);
    expect(refused.exitCode).toBe(Exit.failed);
    const second = await stevedore(["serve", "--addr", "127.0.0.1:0", "--root", root]);
    expect(second.exitCode).toBe(Exit.usage);
    expect(second.stderr).toContain("is served already");
    expect(refused.stderr).toContain("is being served");
    expect((await stevedore(["gc", "--dry-run", "--root", root])).exitCode).toBe(0);
    const forced = await stevedore(["gc", "--force", "--root", root]);
    expect(forced.exitCode).toBe(0);
    expect(forced.stderr).toContain("restart the stevedore serve");
    await server.stop();
    stopped = true;
    expect((await stevedore(["gc", "-q", "--root", root])).exitCode).toBe(0);
  } finally {
    if (!stopped) await server.stop();
  }
});
