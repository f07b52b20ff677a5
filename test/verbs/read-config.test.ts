import { expect, test } from "bun:test";
import { type Digest, digestOf } from "../../src/core/digest.ts";
import { IntegrityError } from "../../src/core/errors.ts";
import { maxConfigBytes } from "../../src/core/config.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import type { ImageManifest } from "../../src/core/manifest.ts";
import type { ImageSource } from "../../src/transport/types.ts";
import { readImageConfig } from "../../src/verbs/inspect.ts";

const image = (size: number): ImageManifest => ({
  kind: "manifest",
  mediaType: MediaTypes.ociManifest,
  namesMediaType: true,
  config: { mediaType: MediaTypes.ociConfig, digest: `sha256:${"a".repeat(64)}` as Digest, size },
  layers: [],
});

test("a config claiming more than the limit is refused before a byte of it is fetched", async () => {
  let fetched = 0;
  const source = { getBlob: async () => (fetched++, new Response("{}").body!) } as unknown as ImageSource;
  const read = readImageConfig(source, image(maxConfigBytes + 1), "docker://r/x:1");
  await expect(read).rejects.toThrow(IntegrityError);
  await expect(read).rejects.toThrow(`docker://r/x:1: its config is over ${maxConfigBytes} bytes`);
  expect(fetched).toBe(0);
});

test("a config that is not a JSON object is refused, naming the image", async () => {
  const bytes = new TextEncoder().encode("[1]");
  const source = { getBlob: async () => new Response(bytes).body! } as unknown as ImageSource;
  const m = { ...image(bytes.byteLength), config: { mediaType: MediaTypes.ociConfig, digest: digestOf(bytes), size: bytes.byteLength } };
  await expect(readImageConfig(source, m, "oci:/x:1")).rejects.toThrow("oci:/x:1 config: image config is not a JSON object");
});
