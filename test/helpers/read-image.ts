import type { Digest } from "../../src/core/digest.ts";
import { parseManifest } from "../../src/core/manifest.ts";
import { readVerified } from "../../src/stream/verify.ts";
import { parseImageRef } from "../../src/transport/index.ts";

/** What a reference holds, read back through its transport with every blob verified. */
export async function readBack(ref: string): Promise<{ digest: Digest; mediaType: string; children: Digest[]; configs: Digest[]; layers: Digest[] }> {
  const source = await parseImageRef(ref).openSource();
  try {
    const top = await source.getManifest();
    const parsed = parseManifest(top);
    const images = parsed.kind === "index" ? await Promise.all(parsed.manifests.map(async (d) => parseManifest(await source.getManifest(d.digest)))) : [parsed];
    const configs: Digest[] = [];
    const layers: Digest[] = [];
    for (const image of images) {
      if (image.kind !== "manifest") continue;
      for (const desc of [image.config, ...image.layers]) await readVerified(await source.getBlob(desc), desc, ref);
      configs.push(image.config.digest);
      layers.push(...image.layers.map((l) => l.digest));
    }
    return { digest: top.digest, mediaType: top.mediaType, children: parsed.kind === "index" ? parsed.manifests.map((m) => m.digest) : [], configs, layers };
  } finally {
    await source.close();
  }
}
