import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import type { RawManifest } from "../core/manifest.ts";
import { readFileStream } from "../stream/file.ts";
import { manifestDescriptor } from "../transport/layout-files.ts";
import type { ImageRef, ImageSource, Transport } from "../transport/types.ts";

/** Blobs an edit adds: bytes in memory (configs), a file written beside (layers), or another image's blob or manifest (rebase, index). */
export type AddedBlob = { readonly bytes: Uint8Array } | { readonly path: string } | { readonly source: ImageSource };

const overlayTransport: Transport = {
  name: "overlay",
  parse() {
    throw new Error("overlay references are made by code, not parsed");
  },
};

/**
 * A reference that reads as `base` with a new top manifest and some added blobs: what mutate and
 * append copy from, so the copy machinery (skips, mounts, verification, progress) does the writing.
 */
export function overlayRef(base: ImageRef, baseSource: ImageSource, top: RawManifest, added: ReadonlyMap<Digest, AddedBlob>): ImageRef {
  const source: ImageSource = {
    resolve: async () => manifestDescriptor(top),
    getManifest: async (digest?: Digest) => {
      if (!digest || digest === top.digest) return top;
      const routed = added.get(digest);
      return routed && "source" in routed ? routed.source.getManifest(digest) : baseSource.getManifest(digest);
    },
    getBlob: async (desc: Descriptor) => {
      const blob = added.get(desc.digest);
      if (!blob) return baseSource.getBlob(desc);
      if ("source" in blob) return blob.source.getBlob(desc);
      return "bytes" in blob ? new Blob([blob.bytes as Uint8Array<ArrayBuffer>]).stream() : readFileStream(blob.path);
    },
    close: async () => {},
  };
  return {
    transport: overlayTransport,
    repository: base.repository,
    registry: base.registry,
    toString: () => `${base} (edited)`,
    openSource: async () => source,
    openDestination: () => Promise.reject(new Error("an overlay is read-only")),
  };
}
