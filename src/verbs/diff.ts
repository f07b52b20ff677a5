import type { TarHeader } from "../archive/tar-header.ts";
import { DigestHasher } from "../core/digest.ts";
import type { MergedView } from "../fs/merged-view.ts";
import type { ImageRef } from "../transport/types.ts";
import { type FilesOptions, withView } from "./files.ts";

export interface DiffResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

const sameHeader = (a: TarHeader, b: TarHeader) =>
  a.type === b.type && a.size === b.size && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.linkname === b.linkname && a.mtime === b.mtime;

async function hashes(view: MergedView, paths: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await view.scanFiles(paths, async (path, body) => {
    const hasher = new DigestHasher();
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) hasher.update(chunk);
    out.set(path, hasher.digest());
  });
  return out;
}

/**
 * Files added, removed and changed from A to B, by path. A file is changed when its metadata
 * differs, or when it comes from different layers and its bytes differ (hashed, streamed).
 */
export function diffImages(a: ImageRef, b: ImageRef, options: FilesOptions = {}): Promise<DiffResult> {
  return withView(a, options, (left) =>
    withView(b, options, async (right) => {
      const added = [...right.nodes.keys()].filter((p) => !left.nodes.has(p));
      const removed = [...left.nodes.keys()].filter((p) => !right.nodes.has(p));
      const changed: string[] = [];
      const toHash: string[] = [];
      for (const [path, node] of left.nodes) {
        const other = right.nodes.get(path);
        if (!other) continue;
        if (!sameHeader(node.header, other.header)) changed.push(path);
        else if (node.header.type === "file" && left.layerDigest(path) !== right.layerDigest(path)) toHash.push(path);
      }
      const [l, r] = [await hashes(left, toHash), await hashes(right, toHash)];
      for (const path of toHash) if (l.get(path) !== r.get(path)) changed.push(path);
      const slash = (ps: string[]) => ps.map((p) => `/${p}`).sort();
      return { added: slash(added), removed: slash(removed), changed: slash(changed) };
    }),
  );
}
