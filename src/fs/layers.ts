import type { Descriptor } from "../core/descriptor.ts";
import { type TarEntry, readTar } from "../archive/tar-reader.ts";
import { decompressIfCompressed } from "../stream/gzip.ts";
import { verifyStream } from "../stream/verify.ts";
import type { ImageSource } from "../transport/types.ts";

/** Caps for one layer: a decompression bomb stops here rather than filling memory or disk. */
const maxLayerBytes = 64 * 2 ** 30;

/**
 * The entries of one layer, streamed once: the blob is digest-checked and decompressed on the way
 * (by its bytes, not its media type: docker-archive labels and real contents disagree).
 */
export function layerEntries(source: ImageSource, layer: Descriptor, where: string): AsyncGenerator<TarEntry> {
  return (async function* () {
    const body = verifyStream(await source.getBlob(layer), layer, where);
    yield* readTar(decompressIfCompressed(body, { maxBytes: maxLayerBytes }), { maxBytes: maxLayerBytes });
  })();
}
