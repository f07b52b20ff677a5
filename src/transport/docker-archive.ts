import { type ImageConfig, maxConfigBytes, parseConfig } from "../core/config.ts";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, DigestHasher, digestHex, digestOf, parseDigest } from "../core/digest.ts";
import { IntegrityError, NotFoundError, UnsupportedError, UsageError } from "../core/errors.ts";
import { type RawManifest, parseManifest } from "../core/manifest.ts";
import { MediaTypes, isConfigType, isGzipLayerType, isZstdLayerType } from "../core/media-type.ts";
import { type Reference, familiarReference, formatReference, parseReference } from "../core/reference.ts";
import { decompress, isGzip } from "../stream/gzip.ts";
import { verifyStream } from "../stream/verify.ts";
import { writeOptions } from "../stream/file.ts";
import { ArchiveWriter, type OpenArchive, openArchive } from "./archive-files.ts";
import { manifestDescriptor } from "./layout-files.ts";
import { OciLayoutSource, type LayoutSelector, readIndexJson } from "./oci-layout.ts";
import type { ImageDestination, ImageRef, ImageSource, OpenOptions, Transport } from "./types.ts";

/** `docker-archive:PATH[:NAME:TAG|:@N]`: what `docker save` writes and `docker load` reads. */
export const dockerArchiveTransport: Transport = {
  name: "docker-archive",
  parse(rest) {
    const colon = rest.indexOf(":");
    const path = colon === -1 ? rest : rest.slice(0, colon);
    if (path === "") throw new UsageError(`docker-archive:${rest}: missing the archive's path`);
    const name = colon === -1 ? "" : rest.slice(colon + 1);
    if (name === "") return new DockerArchiveRef(path, { kind: "only" });
    if (/^@\d+$/.test(name)) return new DockerArchiveRef(path, { kind: "position", position: Number(name.slice(1)) });
    const ref = parseReference(name, { defaultTag: false });
    if (ref.digest || !ref.tag) throw new UsageError(`docker-archive:${rest}: name the image as NAME:TAG`);
    return new DockerArchiveRef(path, { kind: "name", ref });
  },
};

type ArchiveSelector = { kind: "only" } | { kind: "position"; position: number } | { kind: "name"; ref: Reference };

/** One entry of docker save's manifest.json. */
interface SaveEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[] | null;
  readonly Layers: readonly string[];
}

const containerdNameAnnotation = "io.containerd.image.name";

class DockerArchiveRef implements ImageRef {
  readonly transport = dockerArchiveTransport;
  constructor(
    readonly path: string,
    readonly selector: ArchiveSelector,
  ) {}

  get repository(): string | undefined {
    return this.selector.kind === "name" ? this.selector.ref.repository : undefined;
  }

  toString(): string {
    const s = this.selector;
    return `docker-archive:${this.path}${s.kind === "name" ? `:${familiarReference(s.ref)}` : s.kind === "position" ? `:@${s.position}` : ""}`;
  }

  async openSource(): Promise<ImageSource> {
    const where = `docker-archive:${this.path}`;
    const archive = await openArchive(this.path, where);
    try {
      const hybrid = await hybridSelector(archive, this.selector);
      if (hybrid) return new OciLayoutSource(archive.tree, hybrid, where, archive.close);
      return await LegacySource.open(archive, this.selector, where);
    } catch (err) {
      await archive.close();
      throw err;
    }
  }

  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    if (this.selector.kind === "position") throw new UsageError(`${this}: a destination is named by NAME:TAG, not a position`);
    const writer = new ArchiveWriter(this.path, writeOptions(opts));
    await writer.start();
    return new DockerArchiveDestination(writer, this.selector.kind === "name" ? this.selector.ref : undefined, this.toString());
  }

  async *listTags(): AsyncIterable<string> {
    const archive = await openArchive(this.path, `docker-archive:${this.path}`);
    try {
      for (const entry of await readSaveManifest(archive)) yield* entry.RepoTags ?? [];
    } finally {
      await archive.close();
    }
  }
}

async function readSaveManifest(archive: OpenArchive): Promise<SaveEntry[]> {
  const where = archive.tree.where;
  const bytes = await archive.tree.read("manifest.json", maxConfigBytes);
  let entries: unknown;
  try {
    entries = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new IntegrityError(`${where}: manifest.json is not valid JSON`);
  }
  const valid = (e: unknown): e is SaveEntry =>
    typeof e === "object" && e !== null && typeof (e as SaveEntry).Config === "string" && Array.isArray((e as SaveEntry).Layers);
  if (!Array.isArray(entries) || !entries.every(valid)) throw new IntegrityError(`${where}: manifest.json is not a docker save manifest`);
  return entries;
}

/**
 * Docker 25+ archives are also OCI layouts whose index.json keeps the original manifests (and, from
 * the containerd image store, nested indexes): read those, bytes and digests intact.
 */
async function hybridSelector(archive: OpenArchive, selector: ArchiveSelector): Promise<LayoutSelector | undefined> {
  if (!archive.members.has("index.json") || !archive.members.has("oci-layout")) return undefined;
  const index = await readIndexJson(archive.tree);
  if (selector.kind === "only") return { kind: "only" };
  if (selector.kind === "position") return { kind: "position", position: selector.position };
  const wanted = formatReference(selector.ref);
  const entry = index.manifests.find((m) => {
    const name = m.annotations?.[containerdNameAnnotation];
    return name !== undefined && formatReference(parseReference(name)) === wanted;
  });
  return entry ? { kind: "digest", digest: entry.digest } : undefined;
}

/** The manifest docker-archive implies, serialised field for field as containers/image does, so digests agree with skopeo. */
function impliedManifest(config: Descriptor, layers: readonly Descriptor[]): RawManifest {
  const d = (x: Descriptor) => ({ mediaType: x.mediaType, size: x.size, digest: x.digest });
  const bytes = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: d(config), layers: layers.map(d) }),
  );
  return { bytes, mediaType: MediaTypes.dockerManifest, digest: digestOf(bytes) };
}

/** The classic `docker save` layout: manifest.json, a config JSON, uncompressed layer tars. */
class LegacySource implements ImageSource {
  private constructor(
    private readonly archive: OpenArchive,
    private readonly manifest: RawManifest,
    private readonly paths: ReadonlyMap<Digest, string>,
    private readonly tags: readonly string[],
  ) {}

  static async open(archive: OpenArchive, selector: ArchiveSelector, where: string): Promise<LegacySource> {
    const entries = await readSaveManifest(archive);
    const entry = pickEntry(entries, selector, where);
    const configBytes = await archive.tree.read(entry.Config, maxConfigBytes);
    const config: ImageConfig = parseConfig(configBytes, `${entry.Config} in ${where}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new IntegrityError(`${where}: config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`);
    }
    const configDesc = { mediaType: MediaTypes.dockerConfig, size: configBytes.byteLength, digest: digestOf(configBytes) };
    const paths = new Map<Digest, string>([[configDesc.digest, entry.Config]]);
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const size = await archive.tree.size(path);
      if (size === null) throw new NotFoundError(`${path}: layer not found in ${where}`);
      const compressed = isGzip(await archive.head(path, 2));
      // an uncompressed layer's digest is its diff_id, checked as it streams; a compressed one is hashed now
      const digest = compressed ? await hashMember(archive, path) : parseDigest(diffIds[i]!);
      layers.push({ mediaType: compressed ? MediaTypes.dockerLayerGzip : MediaTypes.dockerLayer, size, digest });
      paths.set(digest, path);
    }
    return new LegacySource(archive, impliedManifest(configDesc, layers), paths, entry.RepoTags ?? []);
  }

  async resolve(): Promise<Descriptor> {
    return manifestDescriptor(this.manifest);
  }

  async getManifest(digest?: Digest): Promise<RawManifest> {
    if (digest && digest !== this.manifest.digest) throw new NotFoundError(`manifest ${digest}: not in ${this.archive.tree.where}`);
    return this.manifest;
  }

  async getBlob(desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
    const path = this.paths.get(desc.digest);
    if (!path) throw new NotFoundError(`blob ${desc.digest}: not in ${this.archive.tree.where}`);
    return this.archive.tree.stream(path);
  }

  async knownTags(): Promise<readonly string[]> {
    return this.tags;
  }

  close(): Promise<void> {
    return this.archive.close();
  }
}

function pickEntry(entries: readonly SaveEntry[], selector: ArchiveSelector, where: string): SaveEntry {
  if (selector.kind === "position") {
    const entry = entries[selector.position];
    if (!entry) throw new NotFoundError(`${where}:@${selector.position}: the archive holds ${entries.length} images`);
    return entry;
  }
  if (selector.kind === "only") {
    if (entries.length !== 1) throw new UsageError(`${where}: the archive holds ${entries.length} images; name one as ${where}:NAME:TAG or :@N`);
    return entries[0]!;
  }
  const wanted = formatReference(selector.ref);
  const entry = entries.find((e) => (e.RepoTags ?? []).some((t) => formatReference(parseReference(t)) === wanted));
  if (!entry) throw new NotFoundError(`${where}:${familiarReference(selector.ref)}: no such image in the archive`);
  return entry;
}

async function hashMember(archive: OpenArchive, path: string): Promise<Digest> {
  const hasher = new DigestHasher();
  for await (const chunk of await archive.tree.stream(path)) hasher.update(chunk);
  return hasher.digest();
}

/**
 * Writes a `docker save` archive. Docker wants uncompressed layers, so gzip layers are verified
 * against their digest while they are decompressed into the archive: the layer digests and so
 * the manifest digest change (the config, and with it the image ID, stays the same).
 */
class DockerArchiveDestination implements ImageDestination {
  readonly caps = { manifestTypes: [MediaTypes.dockerManifest], manyImages: false, rewritesManifest: true };
  private readonly layers = new Map<Digest, Descriptor & { path: string }>();
  private readonly configs = new Map<Digest, string>();

  constructor(
    private readonly writer: ArchiveWriter,
    private readonly name: Reference | undefined,
    private readonly where: string,
  ) {}

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.layers.has(desc.digest) || this.configs.has(desc.digest);
  }

  async putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
    const verified = verifyStream(body, desc, `writing ${this.where}`);
    const file = (path: string) => ({ path, type: "file" as const, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
    if (isConfigType(desc.mediaType)) {
      const path = `${digestHex(desc.digest)}.json`;
      await this.writer.add({ ...file(path), size: desc.size }, verified);
      this.configs.set(desc.digest, path);
      return;
    }
    const path = `${digestHex(desc.digest)}.tar`;
    if (!isGzipLayerType(desc.mediaType) && !isZstdLayerType(desc.mediaType)) {
      await this.writer.add({ ...file(path), size: desc.size }, verified);
      this.layers.set(desc.digest, { mediaType: MediaTypes.dockerLayer, size: desc.size, digest: desc.digest, path });
      return;
    }
    const hasher = new DigestHasher();
    // docker load takes plain tars: compressed layers are stored decompressed, as docker save writes them
    const tar = decompress(verified, isZstdLayerType(desc.mediaType) ? "zstd" : "gzip").pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hasher.update(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    const size = await this.writer.add(file(path), tar);
    this.layers.set(desc.digest, { mediaType: MediaTypes.dockerLayer, size, digest: hasher.digest(), path });
  }

  async putManifest(): Promise<void> {
    throw new UnsupportedError(`${this.where}: a docker archive holds one image, not an index`);
  }

  async commit(top: RawManifest): Promise<RawManifest> {
    const image = parseManifest(top);
    if (image.kind !== "manifest") throw new UnsupportedError(`${this.where}: a docker archive holds one image, not an index`);
    const configPath = this.configs.get(image.config.digest);
    const layers = image.layers.map((l) => this.layers.get(l.digest));
    if (!configPath || layers.some((l) => !l)) throw new IntegrityError(`${this.where}: commit before every blob was written`);
    const tags = this.name ? [familiarReference(this.name)] : [];
    const saveManifest = [{ Config: configPath, RepoTags: tags, Layers: layers.map((l) => l!.path) }];
    await this.addJson("manifest.json", saveManifest);
    if (this.name) {
      const topLayer = layers.at(-1);
      await this.addJson("repositories", { [familiarReference({ ...this.name, tag: undefined })]: { [this.name.tag!]: topLayer ? digestHex(topLayer.digest) : "" } });
    }
    await this.writer.commit();
    return impliedManifest({ ...image.config, mediaType: MediaTypes.dockerConfig }, layers.map((l) => ({ mediaType: l!.mediaType, size: l!.size, digest: l!.digest })));
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  private async addJson(path: string, value: unknown): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    await this.writer.add({ path, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: bytes.byteLength }, bytes);
  }
}
