import { expect, test } from "bun:test";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withFileLock } from "../../src/stream/file-lock.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();

test("work under one lock runs one at a time, in order, and the lock file is gone after", async () => {
  const lock = join(dir, "a.lock");
  const order: string[] = [];
  const step = (name: string) => withFileLock(lock, async () => {
    order.push(`${name} in`);
    await Bun.sleep(20);
    order.push(`${name} out`);
  });
  await Promise.all([step("first"), step("second"), step("third")]);
  expect(order).toEqual(["first in", "first out", "second in", "second out", "third in", "third out"]);
  expect(existsSync(lock)).toBe(false);
});

test("a lock held by another process is waited for; one left by a dead process is taken over once stale", async () => {
  const held = join(dir, "held.lock");
  writeFileSync(held, "12345\n"); // another process holds it
  let ran = false;
  const waiting = withFileLock(held, async () => void (ran = true), { timeoutMs: 5000 });
  await Bun.sleep(50);
  expect(ran).toBe(false);
  const { rmSync } = await import("node:fs");
  rmSync(held); // the holder lets go
  await waiting;
  expect(ran).toBe(true);

  const stale = join(dir, "stale.lock");
  writeFileSync(stale, "12345\n");
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(stale, old, old);
  expect(await withFileLock(stale, async () => "taken over", { staleMs: 60_000 })).toBe("taken over");
});

test("a lock held past the timeout is an error that names the file and what to do", async () => {
  const held = join(dir, "forever.lock");
  writeFileSync(held, "12345\n");
  await expect(withFileLock(held, async () => {}, { timeoutMs: 100 })).rejects.toThrow(`${held}: locked by another stevedore`);
});
