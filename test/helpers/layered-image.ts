import type { TarHeader } from "../../src/archive/tar-header.ts";
import { TarWriter } from "../../src/archive/tar-writer.ts";
import type { Descriptor } from "../../src/core/descriptor.ts";
import { type Digest, digestOf } from "../../src/core/digest.ts";
import { encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import type { FixtureImage } from "./random-image.ts";

/** A layer entry: a path, and either text (a file) or another kind. */
export type LayerEntry = { path: string; text?: string; bytes?: Uint8Array; type?: TarHeader["type"]; linkname?: string; mode?: number };

async function tarOf(entries: readonly LayerEntry[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
  for (const e of entries) {
    const body = e.bytes ?? (e.text === undefined ? undefined : new TextEncoder().encode(e.text));
    const type = e.type ?? (body !== undefined ? "file" : "directory");
    await writer.add({ path: e.path, type, size: body?.byteLength ?? 0, mode: e.mode ?? (type === "directory" ? 0o755 : type === "symlink" ? 0o777 : 0o644), uid: 0, gid: 0, mtime: 1_700_000_000, linkname: e.linkname }, body);
  }
  await writer.finish();
  return Buffer.concat(chunks);
}

/** An image whose layers hold exactly these entries (gzip- or zstd-compressed), with a matching config. */
export async function layeredImage(layers: readonly (readonly LayerEntry[])[], compression: "gzip" | "zstd" = "gzip"): Promise<FixtureImage> {
  const blobs = new Map<Digest, { desc: Descriptor; bytes: Uint8Array }>();
  const tars = await Promise.all(layers.map(tarOf));
  const layerDescs = tars.map((t) => {
    const bytes = compression === "zstd" ? Bun.zstdCompressSync(t as Uint8Array<ArrayBuffer>) : Bun.gzipSync(t as Uint8Array<ArrayBuffer>);
    const desc = { mediaType: compression === "zstd" ? MediaTypes.ociLayerZstd : MediaTypes.ociLayerGzip, digest: digestOf(bytes), size: bytes.byteLength };
    blobs.set(desc.digest, { desc, bytes });
    return desc;
  });
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: tars.map((t) => digestOf(t)) } }));
  const configDesc = { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength };
  blobs.set(configDesc.digest, { desc: configDesc, bytes: config });
  const top = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: layerDescs }, MediaTypes.ociManifest);
  return { top, images: [top], blobs };
}
