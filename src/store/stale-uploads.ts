import type { Store } from "./types.ts";

/** An upload session started this long ago is abandoned (distribution purges at a week; a day keeps a flood of sessions from piling up). */
export const uploadMaxAgeMs = 24 * 3600_000;

/** The ids of upload sessions started more than `maxAgeMs` before `now`: `gc` removes them, and `serve` on its own. */
export async function staleUploads(store: Store, maxAgeMs = uploadMaxAgeMs, now = Date.now()): Promise<string[]> {
  const stale: string[] = [];
  for await (const session of store.uploads.list()) if (now - session.startedAt > maxAgeMs) stale.push(session.id);
  return stale;
}
