import { readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../stream/file.ts";

/**
 * `serve` marks the root it serves with its host and process id, so `gc` can refuse to sweep under
 * it (a running server's caches of blob sizes and repository state would keep answering for what
 * gc removed, and a later push would skip the blobs it believes are there) and a second server
 * refuses to share it. A mark from another host, or another container's process namespace, cannot
 * be checked: it counts as live (`gc --force` overrides); one whose process is gone is ignored.
 */
const markerName = "serve.pid";

export interface Server {
  readonly pid: number;
  readonly host: string;
}

/** Marks `root` as served by this process; the returned function removes the mark (if still ours). */
export async function markServing(root: string): Promise<() => Promise<void>> {
  const marker = join(root, markerName);
  await writeFileAtomic(marker, new TextEncoder().encode(`${process.pid} ${hostname()}\n`));
  return async () => {
    const mark = await readMark(root);
    if (mark?.pid === process.pid && mark.host === hostname()) await rm(marker, { force: true });
  };
}

/** The server marking `root`, when it may be alive; a mark left by a process that died (on this host) is ignored. */
export async function servingProcess(root: string): Promise<Server | undefined> {
  const mark = await readMark(root);
  if (!mark) return undefined;
  if (mark.host !== hostname()) return mark; // cannot tell from here: assume it runs
  if (mark.pid === process.pid) return undefined; // a reused id: ours (a container's pid 1 again), not a server's
  try {
    process.kill(mark.pid, 0);
    return mark;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? mark : undefined; // EPERM: alive, another user's
  }
}

async function readMark(root: string): Promise<Server | undefined> {
  const text = await readFile(join(root, markerName), "utf8").catch(() => undefined);
  const [pidText, host = hostname()] = text?.trim().split(/\s+/) ?? [];
  const pid = Number(pidText);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, host } : undefined;
}
