import type { Digest } from "../core/digest.ts";
import { type SbomResult, detectPackages } from "../sbom/detect.ts";
import type { ImageRef } from "../transport/types.ts";
import { type FilesOptions, withView } from "./files.ts";

/** The packages of an image (the host's platform of an index, or `platform`), and the digest described. */
export function sbom(ref: ImageRef, options: FilesOptions = {}): Promise<SbomResult & { digest: Digest }> {
  return withView(ref, options, async (view, _source, _layers, top) => ({ ...(await detectPackages(view)), digest: top.digest }));
}
