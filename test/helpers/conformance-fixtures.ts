/**
 * The content the OCI conformance suite pushes, rebuilt for test/e2e/conformance.test.ts: the classic
 * suite's fixtures (as conformance/setup.go and image.go describe them) and the newer runner's data
 * sets (conformance/testdata.go, run.go GenerateData). Our own code; only the shapes follow theirs.
 */
import { type Digest, type DigestAlgorithm, digestOf } from "../../src/core/digest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { tarWithFile } from "./random-image.ts";

export interface Content {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly digest: Digest;
  readonly size: number;
}

const encoder = new TextEncoder();

export function content(bytes: Uint8Array<ArrayBuffer> | string, algorithm: DigestAlgorithm = "sha256"): Content {
  const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  return { bytes: b, digest: digestOf(b, algorithm), size: b.byteLength };
}

/** Random bytes that differ on every run, as the suite's are: pushes never meet an earlier run's content. */
export const randomBytes = (size: number): Uint8Array<ArrayBuffer> => crypto.getRandomValues(new Uint8Array(size));
const randomText = () => crypto.randomUUID().replaceAll("-", "");

/** JSON indented with tabs, as the classic suite's json.MarshalIndent writes manifests and configs. */
const goJson = (value: unknown): Content => content(JSON.stringify(value, null, "\t"));
const base64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");

/** A descriptor as the classic suite's Go type encodes it: an unknown field, null unless set, that registries must keep. */
function descriptor(mediaType: string, c: Content, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType, digest: c.digest, size: c.size, newUnspecifiedField: null, ...extra };
}

const imageManifest = (config: Record<string, unknown>, layers: unknown[], extra: Record<string, unknown> = {}) =>
  goJson({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, ...extra, config, layers });

/** A blob split as setupChunkedBlob does: the first chunk one byte past the middle. */
export function chunkedBlob(size: number) {
  const blob = content(randomBytes(size));
  const cut = Math.floor(size / 2) + 1;
  return { blob, chunks: [blob.bytes.slice(0, cut), blob.bytes.slice(cut)], ranges: [`0-${cut - 1}`, `${cut}-${size - 1}`] };
}

/** Everything setup.go builds: a config and an image manifest per workflow, blobs, and five referrers. */
export function classicFixtures() {
  const configs = Array.from({ length: 5 }, () =>
    goJson({ author: randomText().slice(0, 16), architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }),
  );
  const layer = content(Bun.gzipSync(tarWithFile("test.txt", encoder.encode("found the conformance layer\n"))));
  // the config descriptor carries the config itself in `data`, and the unknown field with a value
  const configDescriptor = (c: Content) => descriptor(MediaTypes.ociConfig, c, { data: base64(c.bytes), newUnspecifiedField: base64("hello world") });
  const manifests = configs.map((c) => imageManifest(configDescriptor(c), [descriptor(MediaTypes.ociLayerGzip, layer)]));
  const subject = manifests[4]!;
  const emptyJson = content("{}");
  const emptyJsonDescriptor = descriptor(MediaTypes.ociEmpty, emptyJson);
  const refBlobA = content("peanut butter on a conformance bagel");
  const refBlobB = content("strawberry jam on a conformance croissant");
  const typeA = "application/vnd.example.conformance.bagel";
  const typeB = "application/vnd.example.conformance.croissant";
  const about = (m: Content) => ({ subject: descriptor(MediaTypes.ociManifest, m) });
  const annotationKey = "org.opencontainers.conformance.test";
  const note = (value: string) => ({ annotations: { [annotationKey]: value } });
  const refsAConfig = imageManifest(descriptor(typeA, refBlobA), [emptyJsonDescriptor], { ...about(subject), ...note("test config a") });
  const refsBConfig = imageManifest(descriptor(typeB, refBlobB), [emptyJsonDescriptor], { ...about(subject), ...note("test config b") });
  const refsALayer = imageManifest(emptyJsonDescriptor, [descriptor(typeA, refBlobA)], { artifactType: typeA, ...about(subject), ...note("test layer a") });
  const refsBLayer = imageManifest(emptyJsonDescriptor, [descriptor(typeB, refBlobB)], { artifactType: typeB, ...about(subject), ...note("test layer b") });
  // like refsBLayer, about manifest[3], which is not pushed while this is listed
  const refsCLayer = imageManifest(emptyJsonDescriptor, [descriptor(typeB, refBlobB)], { artifactType: typeB, ...about(manifests[3]!) });
  const refsIndex = goJson({
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    artifactType: "application/vnd.example.conformance.food-stand",
    manifests: [descriptor(MediaTypes.ociManifest, refsAConfig), descriptor(MediaTypes.ociManifest, refsALayer)],
    ...about(subject),
    ...note("test index"),
  });
  const chunked = chunkedBlob(42);
  return {
    configs: configs as [Content, Content, Content, Content, Content],
    manifests: manifests as [Content, Content, Content, Content, Content],
    layer,
    emptyLayerManifest: goJson({ schemaVersion: 2, config: configDescriptor(configs[1]!), layers: [] }),
    blobA: content(randomBytes(42)),
    chunked,
    emptyJson,
    refBlobA,
    refBlobB,
    typeA,
    refs: { refsAConfig, refsBConfig, refsALayer, refsBLayer, refsCLayer, refsIndex },
    annotationKey,
    /** The annotation each referrer of manifest[4] carries. */
    annotations: new Map<string, string>([
      [refsAConfig.digest, "test config a"],
      [refsBConfig.digest, "test config b"],
      [refsALayer.digest, "test layer a"],
      [refsBLayer.digest, "test layer b"],
      [refsIndex.digest, "test index"],
    ]),
    dummyDigest: digestOf("hello world"),
    nonexistentManifest: ".INVALID_MANIFEST_NAME",
  };
}

export type ClassicFixtures = ReturnType<typeof classicFixtures>;

// ---------------------------------------------------------------- the newer runner's data sets

export interface Manifest extends Content {
  readonly mediaType: string;
}

/** How the referrers list must show a manifest that names a subject. */
export interface ExpectedReferrer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

interface ManifestOptions {
  readonly tag?: string;
  readonly artifactType?: string;
  readonly subject?: Json;
  readonly annotations?: Record<string, string>;
  /** A unique annotation, so that otherwise equal artifacts differ (genWithAnnotationUniq). */
  readonly unique?: boolean;
  /** A top-level field no spec defines, with a random name (genAddJSONFields). */
  readonly customField?: boolean;
}

interface ImageOptions extends ManifestOptions {
  readonly layers?: number;
  readonly gzip?: boolean;
  readonly platform?: { os: string; architecture: string };
  /** An artifact: this config (else an image config) and layers of this media type (else tar layers). */
  readonly config?: { mediaType: string; bytes: string };
  readonly layerMediaType?: string;
  readonly layerBytes?: string;
}

const platforms = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/** One data set of the runner: what it pushes (blobs, then manifests in order, then tags) and expects back. */
export class DataSet {
  readonly blobs = new Map<Digest, Content>();
  readonly manifests: Manifest[] = [];
  readonly tags = new Map<string, Manifest>();
  readonly referrers = new Map<string, ExpectedReferrer[]>();

  constructor(
    readonly name: string,
    private readonly options: { algorithm?: DigestAlgorithm; dataField?: boolean } = {},
  ) {}

  private addBlob(bytes: Uint8Array<ArrayBuffer> | string, mediaType: string): Json {
    const blob = content(bytes, this.options.algorithm);
    this.blobs.set(blob.digest, blob);
    return { mediaType, digest: blob.digest, size: blob.size, ...(this.options.dataField ? { data: base64(blob.bytes) } : {}) };
  }

  private addManifest(value: Json, options: ManifestOptions, referrer: { artifactType?: string }): Json {
    const annotations = options.unique ? { ...options.annotations, [`org.example.${randomText()}`]: randomText() } : options.annotations;
    const body = { ...value, ...(options.subject ? { subject: options.subject } : {}), ...(annotations ? { annotations } : {}), ...(options.customField ? { [`org.${randomText()}`]: randomText() } : {}) };
    const m: Manifest = { ...content(JSON.stringify(body), this.options.algorithm), mediaType: value.mediaType as string };
    this.manifests.push(m);
    if (options.tag) this.tags.set(`${this.name}-${options.tag}`, m);
    if (options.subject) {
      const subject = options.subject.digest as string;
      const entry = { mediaType: m.mediaType, digest: m.digest, size: m.size, ...referrer, ...(annotations ? { annotations } : {}) };
      this.referrers.set(subject, [...(this.referrers.get(subject) ?? []), entry]);
    }
    return { mediaType: m.mediaType, digest: m.digest, size: m.size };
  }

  /** An image (or an artifact) with its layers and config, as genManifestFull makes it; returns its descriptor. */
  image(options: ImageOptions = {}): Json {
    const { layers = 2, gzip = true, platform = platforms[0]!, config: artifactConfig, layerMediaType, layerBytes } = options;
    const diffIds: string[] = [];
    const layerDescriptors = Array.from({ length: layers }, (_, i) => {
      if (layerMediaType) return this.addBlob(layerBytes ?? randomBytes(2048), layerMediaType);
      const tar = tarWithFile(`conformance-${i}.txt`, encoder.encode(`conformance layer ${i}: ${randomText()}\n`));
      diffIds.push(digestOf(tar, this.options.algorithm));
      return gzip ? this.addBlob(Bun.gzipSync(tar), MediaTypes.ociLayerGzip) : this.addBlob(tar, MediaTypes.ociLayer);
    });
    const configBody = { author: "OCI conformance test", ...platform, rootfs: { type: "layers", diff_ids: diffIds }, ...(options.customField ? { [`org.${randomText()}`]: randomText() } : {}) };
    const config = artifactConfig ? this.addBlob(artifactConfig.bytes, artifactConfig.mediaType) : this.addBlob(JSON.stringify(configBody), MediaTypes.ociConfig);
    const value = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, ...(options.artifactType ? { artifactType: options.artifactType } : {}), config, layers: layerDescriptors };
    return this.addManifest(value, options, { artifactType: options.artifactType ?? (config.mediaType as string) });
  }

  /**
   * An image whose first two layers are non-distributable (gzip and plain), named by digest and
   * URL but never pushed, and whose third is an ordinary layer (run.go's "non-distributable-layers").
   */
  imageWithNondistributableLayers(options: ManifestOptions = {}): Json {
    const foreign = (mediaType: string, size: number) => {
      const digest = digestOf(randomBytes(256), this.options.algorithm);
      return { mediaType, digest, size, urls: [`https://store.example.com/blobs/sha256/${digest.slice(digest.indexOf(":") + 1)}`] };
    };
    const tar = tarWithFile("conformance-1.txt", encoder.encode(`conformance layer: ${randomText()}\n`));
    const layers = [foreign(MediaTypes.ociLayerNondistributableGzip, 123456), foreign(MediaTypes.ociLayerNondistributable, 12345), this.addBlob(Bun.gzipSync(tar), MediaTypes.ociLayerGzip)];
    const diffIds = [digestOf(randomBytes(256)), layers[1]!.digest, digestOf(tar, this.options.algorithm)];
    const config = this.addBlob(JSON.stringify({ author: "OCI conformance test", ...platforms[0], rootfs: { type: "layers", diff_ids: diffIds } }), MediaTypes.ociConfig);
    return this.addManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }, options, { artifactType: MediaTypes.ociConfig });
  }

  /** An index of `children`, each given the matching platform when there is one. */
  index(children: Json[], options: ManifestOptions & { platforms?: readonly Json[] } = {}): Json {
    const manifests = children.map((child, i) => ({ ...child, ...(options.platforms?.[i] ? { platform: options.platforms[i] } : {}) }));
    const value = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, ...(options.artifactType ? { artifactType: options.artifactType } : {}), manifests };
    return this.addManifest(value, options, options.artifactType ? { artifactType: options.artifactType } : {});
  }

  /** An index over one image per platform, the images sharing `options` but the tag (genIndexFull). */
  indexOfImages(options: ImageOptions = {}): Json {
    const { tag, ...imageOptions } = options;
    const images = platforms.map((platform) => this.image({ ...imageOptions, platform }));
    return this.index(images, { ...options, platforms });
  }
}

const artifactType1 = "application/vnd.example.oci.conformance.v1";
const artifactType2 = "application/vnd.example.oci.conformance.v2";
const emptyConfig = { mediaType: MediaTypes.ociEmpty, bytes: "{}" };
const annotated = { annotations: { "org.opencontainers.conformance": "hello conformance test" }, unique: true };

/** The data sets run.go generates with the 1.1 defaults, in its order. */
export function runnerDataSets(): DataSet[] {
  const sets: DataSet[] = [];
  const add = (set: DataSet, build: (set: DataSet) => void) => {
    build(set);
    sets.push(set);
  };
  add(new DataSet("image"), (s) => s.image({ tag: "image" }));
  add(new DataSet("image-uncompressed"), (s) => s.image({ tag: "image-uncompressed", gzip: false }));
  // 390 annotations of 10,000 bytes: close under the 4 MiB a registry must accept
  const large = Object.fromEntries(Array.from({ length: 390 }, (_, i) => [`large-annotation-${i}`, "A".repeat(10_000)]));
  add(new DataSet("large-manifest"), (s) => s.image({ tag: "large-manifest", annotations: large }));
  add(new DataSet("index"), (s) => s.indexOfImages({ tag: "index" }));
  add(new DataSet("nested-index"), (s) => s.index([s.indexOfImages(), s.indexOfImages()], { tag: "index-of-index" }));
  add(new DataSet("empty-index"), (s) => s.index([], { tag: "index" }));
  const artifact = { artifactType: artifactType1, config: emptyConfig, layers: 1, layerMediaType: artifactType1 };
  add(new DataSet("artifact"), (s) => s.image({ ...artifact, tag: "artifact" }));
  add(new DataSet("artifact-index"), (s) => s.indexOfImages({ ...artifact, tag: "artifact-index" }));
  add(new DataSet("artifact-without-layers"), (s) => s.image({ ...artifact, tag: "artifact-without-layers", layerMediaType: MediaTypes.ociEmpty, layerBytes: "{}" }));
  add(new DataSet("artifacts-with-subject"), (s) => {
    const subject = s.image({ tag: "image" });
    s.image({ subject });
    s.image({ ...artifact, ...annotated, subject, tag: "tagged-artifact1" });
    s.image({ ...artifact, artifactType: artifactType2, layerMediaType: "application/octet-stream", ...annotated, subject, tag: "tagged-artifact2" });
  });
  add(new DataSet("index-with-subject"), (s) => {
    const subject = s.indexOfImages({ tag: "index" });
    s.indexOfImages({ ...artifact, ...annotated, subject, tag: "tagged-artifact" });
  });
  add(new DataSet("missing-subject"), (s) => {
    const subject = { mediaType: MediaTypes.ociManifest, size: 123, digest: digestOf("missing content") };
    s.image({ ...artifact, ...annotated, subject, tag: "tagged-artifact" });
  });
  add(new DataSet("data-field", { dataField: true }), (s) => s.image({ tag: "data-field" }));
  add(new DataSet("non-distributable-layers"), (s) => s.imageWithNondistributableLayers({ tag: "non-distributable" }));
  add(new DataSet("custom-fields"), (s) => s.indexOfImages({ tag: "custom-fields", customField: true }));
  add(new DataSet("no-layers"), (s) => s.image({ tag: "no-layers", layers: 0 }));
  // sha512 content needs a tag parameter to be tagged, so it is pushed by digest only
  add(new DataSet("sha512", { algorithm: "sha512" }), (s) => s.indexOfImages());
  return sets;
}
