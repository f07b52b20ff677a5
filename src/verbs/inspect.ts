import { type ImageConfig, maxConfigBytes, parseConfig } from "../core/config.ts";
import type { Digest } from "../core/digest.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { type ImageManifest, type RawManifest, parseManifest } from "../core/manifest.ts";
import { type Platform, formatPlatform, hostPlatform, platformMatches } from "../core/platform.ts";
import { readVerified } from "../stream/verify.ts";
import type { RegistryOptions } from "../registry/client.ts";
import type { ImageRef, ImageSource } from "../transport/types.ts";

export interface InspectOptions {
  /** Which image of an index to describe (default: the host's platform). */
  readonly platform?: Platform;
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
  /** Leave RepoTags empty rather than list the repository's tags (skopeo's --no-tags). */
  readonly noTags?: boolean;
}

/** skopeo inspect's fields and spelling, so scripts written for it keep working. */
export interface InspectSummary {
  readonly Name: string;
  readonly Digest: Digest;
  readonly RepoTags: readonly string[];
  readonly Created?: string;
  readonly DockerVersion: string;
  readonly Labels: Readonly<Record<string, string>> | null;
  readonly Architecture: string;
  readonly Variant?: string;
  readonly Os: string;
  readonly Layers: readonly Digest[];
  readonly LayersData: readonly { MIMEType: string; Digest: Digest; Size: number; Annotations: Readonly<Record<string, string>> | null }[];
  readonly Env: readonly string[] | null;
}

/** The exact bytes of the top manifest (an index stays an index). */
export async function getRawManifest(ref: ImageRef, options: InspectOptions = {}): Promise<RawManifest> {
  return withSource(ref, options, (source) => source.getManifest());
}

/** The digest of the image manifest for `platform`: the reference's own, or its index's entry (crane digest --platform). */
export async function getImageDigest(ref: ImageRef, options: InspectOptions = {}): Promise<Digest> {
  return withSource(ref, options, async (source) => (await chooseImage(source, options.platform, options.platform !== undefined)).raw.digest);
}

/** The exact bytes of the image config, choosing a platform from an index. */
export async function getConfig(ref: ImageRef, options: InspectOptions = {}): Promise<Uint8Array> {
  return withSource(ref, options, async (source) => {
    const { image } = await chooseImage(source, options.platform);
    return readConfig(source, image);
  });
}

/** A summary like `skopeo inspect`: digest, tags, platform, layers, env and labels. */
export async function inspect(ref: ImageRef, options: InspectOptions = {}): Promise<InspectSummary> {
  return withSource(ref, options, async (source) => {
    const { top, image } = await chooseImage(source, options.platform);
    const config = await readImageConfig(source, image, String(ref));
    return {
      Name: ref.registry && ref.repository ? `${ref.registry}/${ref.repository}` : (ref.repository ?? ""),
      Digest: top.digest,
      RepoTags: options.noTags ? [] : ((await source.knownTags?.()) ?? []),
      Created: config.created,
      DockerVersion: (config as { docker_version?: string }).docker_version ?? "",
      Labels: config.config?.Labels ?? null,
      Architecture: config.architecture ?? "",
      ...(config.variant ? { Variant: config.variant } : {}),
      Os: config.os ?? "",
      Layers: image.layers.map((l) => l.digest),
      LayersData: image.layers.map((l) => ({ MIMEType: l.mediaType, Digest: l.digest, Size: l.size, Annotations: l.annotations ?? null })),
      Env: config.config?.Env ?? null,
    };
  });
}

async function withSource<T>(ref: ImageRef, options: InspectOptions, use: (source: ImageSource) => Promise<T>): Promise<T> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    return await use(source);
  } finally {
    await source.close();
  }
}

/**
 * The top manifest and the image manifest to describe: itself, or the index's entry for `platform`
 * (an index of one image gives that image, unless `strict`: a platform asked for by name must match).
 */
export async function chooseImage(source: ImageSource, platform = hostPlatform(), strict = false): Promise<{ top: RawManifest; image: ImageManifest; raw: RawManifest }> {
  const top = await source.getManifest();
  let current = top;
  for (let depth = 0; depth < 4; depth++) {
    const parsed = parseManifest(current);
    if (parsed.kind === "manifest") return { top, image: parsed, raw: current };
    const entry = parsed.manifests.find((m) => platformMatches(platform, m.platform)) ?? (parsed.manifests.length === 1 && !strict ? parsed.manifests[0] : undefined);
    if (!entry) throw new NotFoundError(`index ${current.digest}: no image for ${formatPlatform(platform)}`);
    current = await source.getManifest(entry.digest);
  }
  throw new NotFoundError(`index ${top.digest}: indexes nested too deep`);
}

/** The exact, verified bytes of an image's config; one over `maxConfigBytes` is refused before it is fetched. */
export async function readConfig(source: ImageSource, image: ImageManifest, where = "the image"): Promise<Uint8Array> {
  if (image.config.size > maxConfigBytes) throw new IntegrityError(`${where}: its config is over ${maxConfigBytes} bytes`);
  return readVerified(await source.getBlob(image.config), image.config, `reading ${where}'s config`);
}

/** An image's config, read and parsed as a JSON object. */
export async function readImageConfig(source: ImageSource, image: ImageManifest, where = "the image"): Promise<ImageConfig> {
  return parseConfig(await readConfig(source, image, where), `${where} config`);
}
