import { rename, rm } from "node:fs/promises";
import { temporaryPath } from "../stream/file.ts";
import { printBytes } from "./render.ts";

/**
 * Runs `produce` into `-o`'s destination: stdout for `-` (or nothing given), else a file written
 * under a temporary name and renamed only when `produce` has finished, so no half-written output
 * is ever left under the name asked for.
 */
export async function writeOutput<T>(output: string | undefined, produce: (sink: { write(chunk: Uint8Array): unknown }) => Promise<T>): Promise<T> {
  if (output === undefined || output === "-") return produce({ write: printBytes });
  const temp = temporaryPath(output);
  const sink = Bun.file(temp).writer({ highWaterMark: 1 << 20 });
  try {
    const result = await produce(sink);
    await sink.end();
    await rename(temp, output);
    return result;
  } catch (err) {
    await Promise.resolve(sink.end()).catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
}
