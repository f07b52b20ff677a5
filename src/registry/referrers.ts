import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.ts";
import { NotFoundError } from "../core/errors.ts";
import { encodeManifest, maxManifestBytes, parseManifest, toRawManifest } from "../core/manifest.ts";
import { MediaTypes } from "../core/media-type.ts";
import { type RegistryClient, readCapped } from "./client.ts";
import { getManifest, putManifest } from "./manifests.ts";

/** The tag the distribution spec's fallback keeps an image's referrers under: `sha256-<hex>`. */
export function referrersTag(subject: Digest): string {
  return `${digestAlgorithm(subject)}-${digestHex(subject)}`;
}

const filter = (descs: readonly Descriptor[], artifactType?: string) => (artifactType ? descs.filter((d) => d.artifactType === artifactType) : [...descs]);

/**
 * An image's referrers: through the Referrers API, or, where the registry has none (404, 400,
 * 405, 406, or an answer that is not an index), through the `sha256-<hex>` fallback tag.
 */
export async function listReferrers(client: RegistryClient, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
  const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
  const response = await client.request("GET", `/v2/${client.repository}/referrers/${subject}${query}`, { headers: { Accept: MediaTypes.ociIndex } });
  if (response.ok) {
    try {
      const bytes = await readCapped(response, maxManifestBytes, `referrers of ${subject}`);
      const index = parseManifest(toRawManifest(bytes, MediaTypes.ociIndex, `referrers of ${subject}`));
      if (index.kind === "index") return response.headers.has("oci-filters-applied") ? [...index.manifests] : filter(index.manifests, artifactType);
    } catch {
      // not an index: a registry without the API answering something else; use the fallback tag
    }
  } else {
    await response.body?.cancel();
  }
  return filter(await fallbackReferrers(client, subject), artifactType);
}

async function fallbackReferrers(client: RegistryClient, subject: Digest): Promise<readonly Descriptor[]> {
  try {
    const index = parseManifest(await getManifest(client, referrersTag(subject)));
    return index.kind === "index" ? index.manifests : [];
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}

/** Adds a referrer to the fallback tag's index (read, modify, write), once. */
export async function addToReferrersTag(client: RegistryClient, subject: Digest, referrer: Descriptor): Promise<void> {
  const existing = await fallbackReferrers(client, subject);
  if (existing.some((d) => d.digest === referrer.digest)) return;
  const index = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...existing, referrer] }, MediaTypes.ociIndex);
  await putManifest(client, index, referrersTag(subject));
}
