import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../stream/file.ts";

/**
 * `serve` marks the root it serves with its process id, so `gc` can refuse to sweep under it: a
 * running server's caches (blob sizes, repository state) would keep answering for what gc removed,
 * and a later push would skip the blobs it believes are there.
 */
const markerName = "serve.pid";

/** Marks `root` as served by this process; the returned function removes the mark (if still ours). */
export async function markServing(root: string): Promise<() => Promise<void>> {
  const marker = join(root, markerName);
  await writeFileAtomic(marker, new TextEncoder().encode(`${process.pid}\n`));
  return async () => {
    if ((await servingPid(root)) === process.pid) await rm(marker, { force: true });
  };
}

/** The id of a live process serving `root`, if one is; a mark left by a process that died is ignored. */
export async function servingProcess(root: string): Promise<number | undefined> {
  const pid = await servingPid(root);
  if (pid === undefined) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined; // EPERM: alive, another user's
  }
}

async function servingPid(root: string): Promise<number | undefined> {
  const text = await readFile(join(root, markerName), "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
