import { UnsupportedError } from "./errors.ts";

/** Media types stevedore reads and writes; others pass through as opaque strings. */
export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export type MediaType = string;

const manifestTypes = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const indexTypes = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const schema1Types = new Set<string>([MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed]);

/** Every manifest type a registry may answer with, for `Accept` headers. */
export const acceptedManifestTypes: readonly MediaType[] = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
];

export const isImageManifestType = (t: string): boolean => manifestTypes.has(t);
export const isIndexType = (t: string): boolean => indexTypes.has(t);
export const isManifestType = (t: string): boolean => manifestTypes.has(t) || indexTypes.has(t);
export const isDockerType = (t: string): boolean => t.startsWith("application/vnd.docker.");
export const isConfigType = (t: string): boolean => t === MediaTypes.ociConfig || t === MediaTypes.dockerConfig;
export const isGzipLayerType = (t: string): boolean => t.endsWith("+gzip") || t.endsWith(".tar.gzip");
export const isZstdLayerType = (t: string): boolean => t.endsWith("+zstd");
/** Layers whose owners forbid redistribution (Windows base layers): referenced by URL, never uploaded. */
export const isNondistributableType = (t: string): boolean =>
  t.startsWith("application/vnd.oci.image.layer.nondistributable.") || t === MediaTypes.dockerForeignLayerGzip;

/** Docker schema 1 is long deprecated and unsigned-by-digest: refuse it by name. */
export function refuseSchema1(mediaType: string, where: string): void {
  if (schema1Types.has(mediaType)) {
    throw new UnsupportedError(`${where}: docker schema 1 manifests are not supported (${mediaType})`);
  }
}
