import type { Descriptor } from "../../src/core/descriptor.ts";
import { digestOf } from "../../src/core/digest.ts";
import { type RawManifest, emptyConfig, emptyConfigBytes, encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import type { FixtureImage } from "./random-image.ts";

/** An OCI 1.1 artifact (empty config, one layer) whose subject is `subject`, as oras or cosign write them. */
export function artifactFor(subject: RawManifest, artifactType: string, content: string, annotations: Record<string, string> = {}): FixtureImage {
  const layerBytes = new TextEncoder().encode(content);
  const layer: Descriptor = { mediaType: artifactType, digest: digestOf(layerBytes), size: layerBytes.byteLength };
  const manifest = encodeManifest(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType,
      config: emptyConfig,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
      annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z", ...annotations },
    },
    MediaTypes.ociManifest,
  );
  return {
    top: manifest,
    images: [manifest],
    blobs: new Map([
      [emptyConfig.digest, { desc: emptyConfig, bytes: emptyConfigBytes }],
      [layer.digest, { desc: layer, bytes: layerBytes }],
    ]),
  };
}

/** A cosign-style signature image (simple-signing payload layer) for the `.sig` tag. */
export function cosignStyleSignature(subject: RawManifest): FixtureImage {
  const payload = new TextEncoder().encode(JSON.stringify({ critical: { image: { "docker-manifest-digest": subject.digest }, type: "cosign container image signature" }, optional: null }));
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "", os: "", rootfs: { type: "layers", diff_ids: [digestOf(payload)] } }));
  const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength };
  const layer: Descriptor = { mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", digest: digestOf(payload), size: payload.byteLength, annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ==" } };
  const manifest = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers: [layer] }, MediaTypes.ociManifest);
  return {
    top: manifest,
    images: [manifest],
    blobs: new Map([
      [configDesc.digest, { desc: configDesc, bytes: config }],
      [layer.digest, { desc: layer, bytes: payload }],
    ]),
  };
}
