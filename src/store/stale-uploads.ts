import type { Store } from "./types.ts";

/** An upload session that has received nothing for this long is abandoned (distribution purges by age at a week; a day keeps a flood of sessions from piling up). */
export const uploadMaxAgeMs = 24 * 3600_000;

/** The ids of upload sessions idle for more than `maxAgeMs` before `now`: `gc` removes them, and `serve` on its own. */
export async function staleUploads(store: Store, maxAgeMs = uploadMaxAgeMs, now = Date.now()): Promise<string[]> {
  const stale: string[] = [];
  for await (const session of store.uploads.list()) if (now - session.updatedAt > maxAgeMs) stale.push(session.id);
  return stale;
}
