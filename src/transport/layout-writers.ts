import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Processes writing an `oci:` layout announce themselves here, so that a delete's garbage
 * collection never removes a blob an image still being written will use: a copy writes (or finds
 * and reuses) its blobs before index.json names them.
 */
const writersDir = ".stevedore-writers";

/** Marks this process as writing `root` until the returned function is called (which leaves no trace behind). */
export async function announceWriter(root: string): Promise<() => Promise<void>> {
  const dir = join(root, writersDir);
  const file = join(dir, `${process.pid}-${randomBytes(4).toString("hex")}`);
  for (let attempt = 1; ; attempt++) {
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(file, "");
      break;
    } catch (err) {
      // the last writer before us removed the emptied directory in between
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 3) throw err;
    }
  }
  return async () => {
    await rm(file, { force: true });
    await rmdir(dir).catch(() => {}); // only when no other writer is left in it
  };
}

/** Whether a live process (this one included) is writing `root`; marks left by dead processes are removed. */
export async function writersActive(root: string): Promise<boolean> {
  let active = false;
  for (const name of await readdir(join(root, writersDir)).catch(() => [] as string[])) {
    if (isAlive(Number(name.split("-")[0]))) active = true;
    else await rm(join(root, writersDir, name), { force: true });
  }
  return active;
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
