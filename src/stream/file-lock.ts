import { open, rm, stat } from "node:fs/promises";
import { StevedoreError } from "../core/errors.ts";

/** Read-modify-write steps on one path, one at a time in this process (no polling between them). */
const inProcess = new Map<string, Promise<unknown>>();

export interface FileLockOptions {
  /** Give up waiting after this long (another process holds the lock). */
  readonly timeoutMs?: number;
  /** A lock file older than this was left by a process that died: it is taken over. */
  readonly staleMs?: number;
}

/**
 * Runs `work` holding `lockPath`: an advisory lock between processes (two copies into one layout,
 * a sync and a mirror sharing a tree), a file created exclusively and removed after. Waits with
 * backoff while another process holds it.
 */
export function withFileLock<T>(lockPath: string, work: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const previous = inProcess.get(lockPath) ?? Promise.resolve();
  const next = previous.catch(() => {}).then(async () => {
    await acquire(lockPath, options);
    try {
      return await work();
    } finally {
      await rm(lockPath, { force: true });
    }
  });
  inProcess.set(lockPath, next);
  return next.finally(() => {
    if (inProcess.get(lockPath) === next) inProcess.delete(lockPath);
  });
}

async function acquire(lockPath: string, { timeoutMs = 60_000, staleMs = 120_000 }: FileLockOptions): Promise<void> {
  const started = Date.now();
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > staleMs) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      throw new StevedoreError(`${lockPath}: locked by another stevedore for over ${Math.round(timeoutMs / 1000)} s (remove the file if no other copy is running)`);
    }
    await Bun.sleep(wait);
  }
}
