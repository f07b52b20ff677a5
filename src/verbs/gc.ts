import type { Digest } from "../core/digest.ts";
import { childDescriptors, parseManifest } from "../core/manifest.ts";
import { staleUploads } from "../store/stale-uploads.ts";
import type { Store } from "../store/types.ts";

export interface GcOptions {
  /** Report what would go, remove nothing. */
  readonly dryRun?: boolean;
  /** Upload sessions idle for longer than this are stale (default 24 h). */
  readonly uploadMaxAgeMs?: number;
  readonly now?: number;
}

export interface GcResult {
  readonly manifests: readonly { repo: string; digest: Digest }[];
  readonly blobs: readonly Digest[];
  readonly uploads: readonly string[];
  readonly keptBlobs: number;
}

/**
 * Mark and sweep. Mark: from every tag, through indexes to manifests to configs and layers; then
 * every manifest whose `subject` is kept (signatures, SBOMs), until nothing changes. Sweep: unlink
 * manifests and blob links nothing marked, delete unmarked blobs and stale upload sessions.
 * Safe while nothing pushes: a blob uploaded during the mark is not yet referenced and would go.
 */
export async function gc(store: Store, options: GcOptions = {}): Promise<GcResult> {
  const kept = new Set<Digest>();
  const keptManifests = new Map<string, Set<Digest>>();
  const repos = await store.repos.listRepos();
  const keepManifest = async (repo: string, digest: Digest): Promise<void> => {
    const inRepo = keptManifests.get(repo) ?? new Set<Digest>();
    keptManifests.set(repo, inRepo);
    if (inRepo.has(digest)) return;
    const m = await store.repos.getManifest(repo, digest);
    if (!m) return;
    inRepo.add(digest);
    kept.add(digest);
    const parsed = parseManifest(m);
    for (const child of childDescriptors(parsed)) {
      if (parsed.kind === "index") await keepManifest(repo, child.digest);
      else kept.add(child.digest);
    }
  };
  for (const repo of repos) {
    for (const tag of await store.repos.listTags(repo)) {
      const m = await store.repos.getManifest(repo, tag);
      if (m) await keepManifest(repo, m.digest);
    }
  }
  // referrers of kept manifests are kept, and theirs in turn
  for (let changed = true; changed; ) {
    changed = false;
    for (const repo of repos) {
      for (const digest of await store.repos.manifestLinks(repo)) {
        if (keptManifests.get(repo)?.has(digest)) continue;
        const m = await store.repos.getManifest(repo, digest);
        if (m?.subject && kept.has(m.subject)) {
          await keepManifest(repo, digest);
          changed = true;
        }
      }
    }
  }
  const manifests: { repo: string; digest: Digest }[] = [];
  for (const repo of repos) {
    for (const digest of await store.repos.manifestLinks(repo)) {
      if (!keptManifests.get(repo)?.has(digest)) manifests.push({ repo, digest });
    }
  }
  const blobs: Digest[] = [];
  let keptBlobs = 0;
  for await (const digest of store.blobs.list()) {
    if (kept.has(digest)) keptBlobs++;
    else blobs.push(digest);
  }
  const uploads = await staleUploads(store, options.uploadMaxAgeMs, options.now);
  if (!options.dryRun) {
    for (const { repo, digest } of manifests) await store.repos.deleteManifest(repo, digest);
    for (const repo of repos) for (const digest of blobs) await store.repos.unlinkBlob(repo, digest);
    for (const digest of blobs) await store.blobs.delete(digest);
    for (const id of uploads) await store.uploads.cancel(id);
  }
  return { manifests, blobs, uploads, keptBlobs };
}
