import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { NotFoundError, UnsupportedError } from "../core/errors.ts";
import { type RawManifest, emptyConfig, emptyConfigBytes, encodeManifest } from "../core/manifest.ts";
import { MediaTypes } from "../core/media-type.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { digestFile, readFileStream } from "../stream/file.ts";
import type { ImageRef } from "../transport/types.ts";

export interface ArtifactOptions {
  readonly registry?: RegistryOptions;
  readonly signal?: AbortSignal;
}

export interface AttachOptions extends ArtifactOptions {
  readonly artifactType: string;
  /** Layer media type for the files (default application/octet-stream). */
  readonly mediaType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The top manifest a reference names now. */
async function resolveTop(ref: ImageRef, options: ArtifactOptions): Promise<RawManifest> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    return await source.getManifest();
  } finally {
    await source.close();
  }
}

async function fileDescriptor(path: string, mediaType: string): Promise<Descriptor> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new NotFoundError(`${path}: no such file`);
  return { mediaType, digest: await digestFile(path), size: info.size, annotations: { "org.opencontainers.image.title": basename(path) } };
}

/**
 * Pushes an OCI 1.1 artifact (empty config, one layer per file) whose subject is the image the
 * reference names; the transport keeps the referrers fallback tag where a registry needs it.
 */
export async function attach(ref: ImageRef, files: readonly string[], options: AttachOptions): Promise<RawManifest> {
  if (!ref.withReference) throw new UnsupportedError(`${ref.transport.name}: cannot hold artifacts (use docker://, oci: or static:)`);
  const subject = await resolveTop(ref, options);
  const layers = await Promise.all(files.map((f) => fileDescriptor(f, options.mediaType ?? "application/octet-stream")));
  const manifest = encodeManifest(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: options.artifactType,
      config: emptyConfig,
      layers,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
      annotations: { "org.opencontainers.image.created": new Date().toISOString(), ...options.annotations },
    },
    MediaTypes.ociManifest,
  );
  const destination = await ref.withReference({ digest: manifest.digest }).openDestination({ signal: options.signal, registry: options.registry });
  try {
    if (!(await destination.hasBlob(emptyConfig))) await destination.putBlob(emptyConfig, new Blob([emptyConfigBytes]).stream());
    for (const [i, layer] of layers.entries()) {
      if (!(await destination.hasBlob(layer))) await destination.putBlob(layer, readFileStream(files[i]!));
    }
    await destination.commit(manifest);
  } finally {
    await destination.close();
  }
  return manifest;
}

/** What hangs off the image (Referrers API, fallback tag, or layout entries), optionally of one type. */
export async function referrers(ref: ImageRef, options: ArtifactOptions & { artifactType?: string } = {}): Promise<Descriptor[]> {
  const source = await ref.openSource({ signal: options.signal, registry: options.registry });
  try {
    const top = await source.resolve();
    if (!source.listReferrers) throw new UnsupportedError(`${ref.transport.name}: cannot list referrers`);
    return await source.listReferrers(top.digest, options.artifactType);
  } finally {
    await source.close();
  }
}
