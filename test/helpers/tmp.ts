import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";

/** A fresh temporary directory (under `parent`, default the system's), removed after the test file. */
export function tmpDir(prefix = "stevedore-test-", parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
