import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import type { ImageRef } from "../../src/transport/types.ts";
import { copy } from "../../src/verbs/copy.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

/** `ref` whose layers abort `controller` after their first chunk: an interrupt mid-blob, every time. */
function abortingMidBlob(ref: ImageRef, controller: AbortController): ImageRef {
  return Object.assign(Object.create(ref) as ImageRef, {
    async openSource(opts: Parameters<ImageRef["openSource"]>[0]) {
      const source = await ref.openSource(opts);
      return Object.assign(Object.create(source), {
        async getBlob(desc: Parameters<typeof source.getBlob>[0]) {
          const body = await source.getBlob(desc);
          if (desc.size < 1 << 20) return body;
          const reader = body.getReader();
          let chunks = 0;
          return new ReadableStream<Uint8Array>({
            async pull(c) {
              if (chunks++ === 1) controller.abort(new Error("interrupted"));
              const { done, value } = await reader.read();
              if (done) c.close();
              else c.enqueue(value);
            },
            cancel: (reason) => reader.cancel(reason),
          });
        },
      });
    },
  });
}

function allFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }) : [];
}

describe("an interrupted copy (no progress display: the destination itself stops)", () => {
  const dir = tmpDir();
  const image = randomImage({ layers: 2, size: 6 << 20, gzip: false, seed: 7 });
  /** How to name each destination, and the file that would mean an image was written. */
  const destinations: Record<string, [(d: string) => string, RegExp]> = {
    oci: [(d) => `oci:${d}/layout:v1`, /index\.json$/],
    dir: [(d) => `dir:${d}/dir`, /manifest\.json$/],
    "oci-archive": [(d) => `oci-archive:${d}/image.tar:v1`, /image\.tar$/],
    "docker-archive": [(d) => `docker-archive:${d}/image.tar:app:v1`, /image\.tar$/],
    static: [(d) => `static:${d}/site//app:v1`, /manifests\/v1$/],
  };
  for (const [name, [make, written]] of Object.entries(destinations)) {
    test(`${name}: stops mid-blob with the abort reason and leaves no temporary and no image`, async () => {
      const source = parseImageRef(`oci:${dir}/source-${name}:v1`);
      await writeImage(source, image);
      const out = join(dir, `out-${name}`);
      const controller = new AbortController();
      await expect(copy(abortingMidBlob(source, controller), parseImageRef(make(out)), { signal: controller.signal, jobs: 1 })).rejects.toThrow("interrupted");
      const left = allFiles(out);
      expect(left.filter((f) => f.includes(".tmp-"))).toEqual([]);
      expect(left.filter((f) => written.test(f))).toEqual([]);
      // the layer being copied stopped part-way: no file holds it whole
      const layers = [...image.blobs.values()].filter((b) => b.desc.size > 1 << 20).map((b) => b.desc.digest.slice("sha256:".length));
      expect(left.filter((f) => layers.some((hex) => f.includes(hex)))).toEqual([]);
    });
  }
});
