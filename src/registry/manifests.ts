import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestOf, isDigest, parseDigest, shortDigest } from "../core/digest.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { type RawManifest, maxManifestBytes, toRawManifest } from "../core/manifest.ts";
import { acceptedManifestTypes } from "../core/media-type.ts";
import { type RegistryClient, readCapped } from "./client.ts";
import { registryErrorFrom } from "./errors.ts";

const accept = acceptedManifestTypes.join(", ");

/**
 * GET a manifest by tag or digest: capped at 4 MiB, its bytes kept as received, the digest checked
 * against the reference (by digest) and against Docker-Content-Digest (when the registry sends one).
 */
export async function getManifest(client: RegistryClient, reference: string): Promise<RawManifest> {
  const where = `${client.registry}/${client.repository}:${reference}`;
  const response = await client.request("GET", `/v2/${client.repository}/manifests/${reference}`, { headers: { Accept: accept } });
  if (response.status === 404) {
    await response.body?.cancel();
    throw new NotFoundError(`${where}: manifest not found`);
  }
  if (!response.ok) throw await registryErrorFrom(response, `manifest ${where}`);
  const bytes = await readCapped(response, maxManifestBytes, `manifest ${where}`);
  const contentType = response.headers.get("content-type")?.split(";")[0]?.trim();
  const raw = toRawManifest(bytes, contentType && contentType !== "application/json" ? contentType : undefined, `manifest ${where}`);
  const expected = isDigest(reference) ? parseDigest(reference) : undefined;
  const served = response.headers.get("docker-content-digest");
  for (const claimed of [expected, served && isDigest(served) ? parseDigest(served) : undefined]) {
    if (claimed && digestOf(bytes, claimed.startsWith("sha512:") ? "sha512" : "sha256") !== claimed) {
      throw new IntegrityError(`manifest ${shortDigest(claimed)}: digest mismatch (got ${shortDigest(raw.digest)}) from ${where}`);
    }
  }
  return raw;
}

/** HEAD a manifest: its descriptor without the body, or undefined when absent. */
export async function headManifest(client: RegistryClient, reference: string): Promise<Descriptor | undefined> {
  const response = await client.request("HEAD", `/v2/${client.repository}/manifests/${reference}`, { headers: { Accept: accept } });
  if (response.status === 404) return undefined;
  if (!response.ok) throw await registryErrorFrom(response, `manifest ${client.registry}/${client.repository}:${reference}`);
  const digest = response.headers.get("docker-content-digest");
  if (!digest || !isDigest(digest)) return undefined;
  return {
    mediaType: response.headers.get("content-type")?.split(";")[0]?.trim() ?? "",
    digest: parseDigest(digest),
    size: Number(response.headers.get("content-length") ?? 0),
  };
}

/**
 * PUT a manifest's exact bytes under a tag or its digest, with its own media type. Returns whether
 * the registry took note of a `subject` (OCI-Subject): if not, the caller keeps the fallback tag.
 */
export async function putManifest(client: RegistryClient, m: RawManifest, reference: string): Promise<{ subjectRecorded: boolean }> {
  const response = await client.expect("PUT", `/v2/${client.repository}/manifests/${reference}`, [200, 201, 202], `put manifest ${reference}`, {
    headers: { "Content-Type": m.mediaType },
    body: m.bytes,
    scopes: [client.pushScope],
  });
  await response.body?.cancel();
  const stored = response.headers.get("docker-content-digest");
  if (stored && isDigest(stored) && stored !== m.digest && stored.startsWith("sha256:")) {
    throw new IntegrityError(`manifest ${shortDigest(m.digest)}: the registry stored it as ${shortDigest(stored)}`);
  }
  return { subjectRecorded: response.headers.has("oci-subject") };
}

/** DELETE a manifest by digest (registries refuse tags here). */
export async function deleteManifest(client: RegistryClient, digest: Digest): Promise<void> {
  const response = await client.request("DELETE", `/v2/${client.repository}/manifests/${digest}`, { scopes: [`repository:${client.repository}:delete`, client.pushScope] });
  if (response.ok) return void (await response.body?.cancel());
  if (response.status === 404) throw new NotFoundError(`${client.registry}/${client.repository}@${digest}: manifest not found`);
  if (response.status === 405) throw await registryErrorFrom(response, `${client.registry} does not allow deletes`);
  throw await registryErrorFrom(response, `delete ${client.registry}/${client.repository}@${digest}`);
}
