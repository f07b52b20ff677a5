import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { copy } from "../../src/verbs/copy.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();

/** An image whose base layer is non-distributable (a Windows base, say): named by digest and URL, absent from the source. */
async function imageWithForeignLayer(name: string) {
  const ref = parseImageRef(`memory:${name}:v1`);
  const dest = await ref.openDestination();
  const put = async (mediaType: string, bytes: Uint8Array) => {
    const desc = { mediaType, digest: digestOf(bytes), size: bytes.byteLength };
    await dest.putBlob(desc, new Blob([bytes as Uint8Array<ArrayBuffer>]).stream());
    return desc;
  };
  const foreignDigest = digestOf("windows base layer");
  const foreign = { mediaType: MediaTypes.ociLayerNondistributableGzip, digest: foreignDigest, size: 123456, urls: [`https://mcr.example.com/blobs/${foreignDigest}`] };
  const layer = await put(MediaTypes.ociLayerGzip, Bun.gzipSync(new TextEncoder().encode("app layer")));
  const config = await put(MediaTypes.ociConfig, new TextEncoder().encode(JSON.stringify({ os: "windows", architecture: "amd64", rootfs: { type: "layers", diff_ids: [foreignDigest, layer.digest] } })));
  const manifest = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [foreign, layer] }, MediaTypes.ociManifest);
  await dest.commit(manifest);
  await dest.close();
  return { ref, manifest, foreign };
}

test("a non-distributable layer stays at its URL: the manifest is copied unchanged, the layer is not fetched", async () => {
  const { ref, manifest, foreign } = await imageWithForeignLayer("foreign-a");
  const result = await copy(ref, parseImageRef(`oci:${join(dir, "layout")}:v1`), { fsync: false });
  expect(result.digest).toBe(manifest.digest);
  expect(existsSync(join(dir, "layout/blobs/sha256", foreign.digest.slice(7)))).toBe(false);
});

test("a destination that rewrites the manifest (docker-archive) needs the layer, and says which one is missing", async () => {
  const { ref, foreign } = await imageWithForeignLayer("foreign-b");
  const out = join(dir, "image.tar");
  await expect(copy(ref, parseImageRef(`docker-archive:${out}:app:v1`), { fsync: false })).rejects.toThrow(foreign.digest);
  expect(existsSync(out)).toBe(false);
});
