import { acceptedManifestTypes } from "../core/media-type.ts";
import { byteReader } from "../stream/byte-reader.ts";
import { verifyStream } from "../stream/verify.ts";
import type { ImageDestination, ImageRef, Transport } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";

const discardTransport: Transport = {
  name: "discard",
  parse() {
    throw new Error("discard references are made by code, not parsed");
  },
};

/** A destination that checks what it is given and keeps nothing. */
function discard(where: string): ImageDestination {
  return {
    caps: { manifestTypes: acceptedManifestTypes, manyImages: true },
    hasBlob: async () => false,
    async putBlob(desc, body) {
      const reader = byteReader(verifyStream(body, desc, where));
      while (!(await reader.read()).done) {
        // each chunk is hashed by verifyStream and dropped
      }
    },
    putManifest: async () => {},
    commit: async (top) => top,
    close: async () => {},
  };
}

/**
 * Reads every manifest and blob an image names — every platform of an index unless told which —
 * checking each against its digest and size as it streams, and writes nothing (crane validate): a
 * mirror, a layout or a registry checked end to end. `referrers` checks its signatures and SBOMs too.
 */
export function validate(ref: ImageRef, options: CopyOptions = {}): Promise<CopyResult> {
  const nowhere: ImageRef = {
    transport: discardTransport,
    toString: () => "nowhere (validating)",
    openSource: () => Promise.reject(new Error("nothing is kept to read")),
    openDestination: async () => discard(`validating ${ref}`),
    withReference: () => nowhere,
  };
  return copy(ref, nowhere, { ...options, all: options.all ?? !options.platforms?.length });
}
