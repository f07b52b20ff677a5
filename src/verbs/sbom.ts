import type { Platform } from "../core/platform.ts";
import { MergedView } from "../fs/merged-view.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { type SbomResult, detectPackages } from "../sbom/detect.ts";
import type { ImageRef } from "../transport/types.ts";
import { chooseImage } from "./inspect.ts";
import type { Digest } from "../core/digest.ts";

export interface SbomOptions {
  readonly platform?: Platform;
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
}

/** The packages of an image (the host's platform of an index, or `platform`), and the digest described. */
export async function sbom(ref: ImageRef, options: SbomOptions = {}): Promise<SbomResult & { digest: Digest }> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    const { top, image } = await chooseImage(source, options.platform);
    const view = await MergedView.build(source, image.layers);
    return { ...(await detectPackages(view)), digest: top.digest };
  } finally {
    await source.close();
  }
}
