import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { UnsupportedError } from "../core/errors.ts";
import { type RawManifest, encodeManifest, parseManifest } from "../core/manifest.ts";
import { MediaTypes } from "../core/media-type.ts";
import type { ImageRef } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { type AddedBlob, overlayRef } from "./overlay.ts";

/** skopeo's `--format` names: OCI, or Docker's image manifest v2 schema 2. */
export type ManifestFormat = "oci" | "v2s2";

const toDocker: Record<string, string> = {
  [MediaTypes.ociManifest]: MediaTypes.dockerManifest,
  [MediaTypes.ociIndex]: MediaTypes.dockerManifestList,
  [MediaTypes.ociConfig]: MediaTypes.dockerConfig,
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.ociLayer]: MediaTypes.dockerLayer,
  [MediaTypes.ociLayerNondistributableGzip]: MediaTypes.dockerForeignLayerGzip,
};
const toOci: Record<string, string> = Object.fromEntries(Object.entries(toDocker).map(([oci, docker]) => [docker, oci]));

/** A media type in the other format; one that has no counterpart (zstd layers, artifacts) is refused by name. */
function converted(mediaType: string, format: ManifestFormat, where: string): string {
  const table = format === "oci" ? toOci : toDocker;
  if (Object.values(table).includes(mediaType)) return mediaType; // already in the format asked for
  const other = table[mediaType];
  if (!other) throw new UnsupportedError(`${where}: ${mediaType} has no ${format === "oci" ? "OCI" : "Docker v2s2"} equivalent`);
  return other;
}

/**
 * Copies an image converting its manifests to `format` (skopeo copy --format): media types of the
 * manifests, configs and layers change, the blobs' bytes do not, so only manifests are new.
 * Docker's format has no annotations, artifact types or subjects: they are dropped going there.
 */
export async function convertTo(src: ImageRef, dst: ImageRef, format: ManifestFormat, options: CopyOptions = {}): Promise<CopyResult> {
  const source = await src.openSource({ signal: options.signal, registry: options.sourceRegistry });
  try {
    const made = new Map<Digest, RawManifest>();
    /** The manifest in `format`: the same bytes when nothing in it changes, else re-encoded. */
    const convert = async (raw: RawManifest): Promise<RawManifest> => {
      const m = parseManifest(raw);
      const where = `manifest ${raw.digest}`;
      const mediaType = converted(raw.mediaType, format, where);
      let changed = mediaType !== raw.mediaType;
      const descriptor = (d: Descriptor, type: string, override: Partial<Descriptor> = {}): Descriptor => {
        if (type !== d.mediaType || (override.digest && override.digest !== d.digest)) changed = true;
        const { annotations, artifactType, ...plain } = d;
        if (format === "v2s2" && (annotations || artifactType)) changed = true;
        return { ...(format === "oci" ? d : plain), mediaType: type, ...override };
      };
      const keep = { ...(m.artifactType ? { artifactType: m.artifactType } : {}), ...(m.subject ? { subject: m.subject } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) };
      if (format === "v2s2" && Object.keys(keep).length > 0) changed = true;
      let value: object;
      if (m.kind === "index") {
        const manifests = await Promise.all(
          m.manifests.map(async (d) => {
            const child = await convert(await source.getManifest(d.digest));
            return descriptor(d, child.mediaType, { digest: child.digest, size: child.bytes.byteLength });
          }),
        );
        value = { schemaVersion: 2, mediaType, manifests, ...(format === "oci" ? keep : {}) };
      } else {
        if (!(m.config.mediaType in toDocker) && !(m.config.mediaType in toOci)) {
          throw new UnsupportedError(`${where}: an artifact (config ${m.config.mediaType}) has no ${format === "oci" ? "OCI" : "Docker v2s2"} image form`);
        }
        const config = descriptor(m.config, converted(m.config.mediaType, format, `${where} config`));
        const layers = m.layers.map((l, i) => descriptor(l, converted(l.mediaType, format, `${where} layer ${i + 1}`)));
        value = { schemaVersion: 2, mediaType, config, layers, ...(format === "oci" ? keep : {}) };
      }
      const out = changed ? encodeManifest(value, mediaType) : raw;
      made.set(out.digest, out);
      return out;
    };
    const top = await convert(await source.getManifest());
    const added = new Map<Digest, AddedBlob>([...made].map(([digest, manifest]) => [digest, { manifest }]));
    return await copy(overlayRef(src, source, top, added, `as ${format}`), dst, options);
  } finally {
    await source.close();
  }
}
