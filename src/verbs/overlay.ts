import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import type { RawManifest } from "../core/manifest.ts";
import { readFileStream } from "../stream/file.ts";
import { manifestDescriptor } from "../transport/layout-files.ts";
import type { ImageRef, ImageSource, Transport } from "../transport/types.ts";

/**
 * What an edit adds, by digest: a blob's bytes in memory (configs), a file written beside (layers),
 * another image's blob or manifest (rebase, index), or a manifest made anew (conversions).
 */
export type AddedBlob = { readonly bytes: Uint8Array } | { readonly path: string } | { readonly source: ImageSource } | { readonly manifest: RawManifest };

const overlayTransport: Transport = {
  name: "overlay",
  parse() {
    throw new Error("overlay references are made by code, not parsed");
  },
};

/**
 * A reference that reads as `base` with a new top manifest and some added blobs and manifests:
 * what mutate, append, index and the conversions copy from, so the copy machinery (skips, mounts,
 * verification, progress) does the writing. `label` says what was done, for messages.
 */
export function overlayRef(base: ImageRef, baseSource: ImageSource, top: RawManifest, added: ReadonlyMap<Digest, AddedBlob>, label = "edited"): ImageRef {
  const source: ImageSource = {
    resolve: async () => manifestDescriptor(top),
    getManifest: async (digest?: Digest) => {
      if (!digest || digest === top.digest) return top;
      const routed = added.get(digest);
      if (routed && "manifest" in routed) return routed.manifest;
      return routed && "source" in routed ? routed.source.getManifest(digest) : baseSource.getManifest(digest);
    },
    getBlob: async (desc: Descriptor) => {
      const blob = added.get(desc.digest);
      if (!blob || "manifest" in blob) return baseSource.getBlob(desc);
      if ("source" in blob) return blob.source.getBlob(desc);
      return "bytes" in blob ? new Blob([blob.bytes as Uint8Array<ArrayBuffer>]).stream() : readFileStream(blob.path);
    },
    // a file stays a file, so a push can send it with a known length
    blobFile: async (desc: Descriptor) => {
      const blob = added.get(desc.digest);
      if (!blob) return baseSource.blobFile?.(desc);
      return "path" in blob ? blob.path : undefined;
    },
    close: async () => {},
  };
  return {
    transport: overlayTransport,
    repository: base.repository,
    registry: base.registry,
    toString: () => `${base} (${label})`,
    openSource: async () => source,
    openDestination: () => Promise.reject(new Error(`${base} (${label}) is read-only`)),
  };
}
