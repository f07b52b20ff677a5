import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { NotFoundError, UsageError } from "../core/errors.ts";
import { parseManifest } from "../core/manifest.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { byteReader } from "../stream/byte-reader.ts";
import { verifyStream } from "../stream/verify.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";

export interface BlobOptions {
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
}

/**
 * Streams one blob of an image — a layer or config of any of its platforms, or an artifact's
 * file — to `sink`, checked against its digest as it goes (crane blob; oras pull of one file).
 * Without a digest, the image's one layer (an artifact's file); several are an error that lists them.
 */
export async function readBlob(ref: ImageRef, digest: Digest | undefined, sink: { write(chunk: Uint8Array): unknown }, options: BlobOptions = {}): Promise<Descriptor> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    const blobs = await blobsOf(source);
    const desc = digest ? blobs.all.find((b) => b.digest === digest) : blobs.layers.length === 1 ? blobs.layers[0] : undefined;
    if (!desc && digest) throw new NotFoundError(`${ref}: names no blob ${digest}`);
    if (!desc) throw new UsageError(`${ref} has ${blobs.layers.length} layers: name one (${blobs.layers.map((l) => l.digest).join(", ") || "none"})`);
    const reader = byteReader(verifyStream(await source.getBlob(desc), desc, `reading ${ref}`));
    for (let next = await reader.read(); !next.done; next = await reader.read()) await sink.write(next.value);
    return desc;
  } finally {
    await source.close();
  }
}

/** Every config and layer of the image (of each platform of an index), and its layers alone. */
async function blobsOf(source: ImageSource): Promise<{ all: Descriptor[]; layers: Descriptor[] }> {
  const top = parseManifest(await source.getManifest());
  const images = top.kind === "index" ? await Promise.all(top.manifests.map(async (m) => parseManifest(await source.getManifest(m.digest)))) : [top];
  const all: Descriptor[] = [];
  const layers: Descriptor[] = [];
  for (const image of images) {
    if (image.kind !== "manifest") continue;
    all.push(image.config, ...image.layers);
    layers.push(...image.layers);
  }
  return { all, layers };
}
