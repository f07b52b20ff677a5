/**
 * `static:DIR/NAME[:TAG|@DIGEST]` (or `static:DIR//NAME…` to say where DIR ends): a directory
 * tree that a plain web server rooted at DIR serves as the pull half of the registry API.
 *
 *   DIR/.stevedore-static                         marks the tree (and where DIR ends)
 *   DIR/blobs/<alg>/<hex>                         every blob and manifest, stored once
 *   DIR/v2/index.json                             `{}` for GET /v2/
 *   DIR/v2/NAME/blobs/<alg>:<hex>                 hard links to blobs/…: served without rewrites
 *   DIR/v2/NAME/manifests/<alg>:<hex>, …/TAG      hard links to the manifest's blob
 *   DIR/v2/NAME/tags/list                         {"name","tags"}
 *   DIR/v2/NAME/referrers/<alg>:<hex>             an OCI index of the manifests whose subject it is
 *
 * Writes go blobs first, then manifests by digest, then the tag and tags/list, each by rename.
 */
import { existsSync, statSync } from "node:fs";
import { link, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, digestAlgorithm, digestHex, isDigest, parseDigest } from "../core/digest.ts";
import { NotFoundError, UsageError } from "../core/errors.ts";
import { type RawManifest, encodeManifest, parseManifest, referrerDescriptor } from "../core/manifest.ts";
import { MediaTypes, acceptedManifestTypes } from "../core/media-type.ts";
import { isValidTag, parseRepositoryName } from "../core/reference.ts";
import { referrersTag } from "../registry/referrers.ts";
import { type WriteOptions, isTemporaryPath, temporaryPath, writeFileAtomic, writeOptions } from "../stream/file.ts";
import { withFileLock } from "../stream/file-lock.ts";
import { directoryTree, manifestDescriptor, readManifestBlob } from "./layout-files.ts";
import type { ImageDestination, ImageRef, ImageSource, OpenOptions, Transport } from "./types.ts";

export const staticMarker = ".stevedore-static";

/** Where a static tree's root is: `DIR//NAME`, or the nearest ancestor holding the marker. */
function splitRoot(path: string): { root: string; name: string } {
  const explicit = path.indexOf("//");
  if (explicit > 0) return { root: path.slice(0, explicit), name: path.slice(explicit + 2) };
  const parts = path.split("/");
  for (let i = parts.length - 1; i > 0; i--) {
    const root = parts.slice(0, i).join("/") || "/";
    if (existsSync(join(root, staticMarker))) return { root, name: parts.slice(i).join("/") };
  }
  throw new UsageError(`static:${path}: no static tree found above it; create one with stevedore mirror --to DIR, or write static:DIR//NAME`);
}

export const staticTransport: Transport = {
  name: "static",
  parse(rest) {
    let reference: { tag?: string; digest?: Digest } = {};
    let path = rest;
    const at = rest.lastIndexOf("@");
    if (at > 0 && isDigest(rest.slice(at + 1))) {
      reference = { digest: parseDigest(rest.slice(at + 1)) };
      path = rest.slice(0, at);
    } else {
      const colon = rest.lastIndexOf(":");
      if (colon > rest.lastIndexOf("/")) {
        reference = { tag: rest.slice(colon + 1) };
        path = rest.slice(0, colon);
        if (!isValidTag(reference.tag!)) throw new UsageError(`static:${rest}: invalid tag "${reference.tag}"`);
      }
    }
    const { root, name } = splitRoot(path);
    return new StaticRef(root, parseRepositoryName(name), reference.digest ? reference : { tag: reference.tag ?? "latest" });
  },
};

/** Creates (or checks) a static tree at `root`: refuses a file, or a non-empty directory that is not one. */
export async function ensureStaticTree(root: string): Promise<void> {
  if (existsSync(root)) {
    if (!statSync(root).isDirectory()) throw new UsageError(`${root}: exists and is not a directory`);
    // another stevedore may be creating the tree this moment: its temporaries are not content
    const entries = (await readdir(root)).filter((name) => !isTemporaryPath(name));
    if (entries.length > 0 && !entries.includes(staticMarker)) throw new UsageError(`${root}: refusing to write into a non-empty directory that is not a static tree`);
  }
  // the marker first: a tree being created, or one whose creation was cut short, is still a static tree
  if (!existsSync(join(root, staticMarker))) await writeFileAtomic(join(root, staticMarker), new TextEncoder().encode('{"layout":1}\n'));
  if (!existsSync(join(root, "v2/index.json"))) await writeFileAtomic(join(root, "v2/index.json"), new TextEncoder().encode("{}"));
}

const digestName = (d: Digest) => `${digestAlgorithm(d)}:${digestHex(d)}`;

export class StaticRef implements ImageRef {
  readonly transport = staticTransport;
  constructor(
    readonly root: string,
    readonly repository: string,
    readonly reference: { readonly tag?: string; readonly digest?: Digest },
  ) {}

  toString(): string {
    return `static:${this.root}//${this.repository}${this.reference.digest ? `@${this.reference.digest}` : `:${this.reference.tag}`}`;
  }

  get repoDir(): string {
    return join(this.root, "v2", this.repository);
  }

  withReference(reference: { readonly tag: string } | { readonly digest: Digest }): StaticRef {
    return new StaticRef(this.root, this.repository, reference);
  }

  async openSource(): Promise<ImageSource> {
    const tree = directoryTree(this.repoDir);
    const ref = this.reference.digest ? digestName(this.reference.digest) : this.reference.tag!;
    let top: RawManifest | undefined;
    const topManifest = async () => (top ??= await readManifestBlob(tree, `manifests/${ref}`, this.reference.digest, undefined));
    return {
      resolve: async () => manifestDescriptor(await topManifest()),
      getManifest: async (digest) => (digest && digest !== (await topManifest()).digest ? readManifestBlob(tree, `manifests/${digestName(digest)}`, digest, undefined) : topManifest()),
      getBlob: (desc) => tree.stream(`blobs/${digestName(desc.digest)}`),
      blobFile: async (desc) => ((await tree.size(`blobs/${digestName(desc.digest)}`)) === desc.size ? join(this.repoDir, "blobs", digestName(desc.digest)) : undefined),
      listReferrers: async (subject) => {
        if ((await tree.size(`referrers/${digestName(subject)}`)) === null) return [];
        const index = parseManifest(await readManifestBlob(tree, `referrers/${digestName(subject)}`, undefined, MediaTypes.ociIndex));
        return index.kind === "index" ? [...index.manifests] : [];
      },
      knownTags: async () => (this.reference.tag ? [this.reference.tag] : []),
      close: async () => {},
    };
  }

  async openDestination(opts: OpenOptions = {}): Promise<ImageDestination> {
    await ensureStaticTree(this.root);
    return new StaticDestination(this, writeOptions(opts));
  }

  async *listTags(): AsyncIterable<string> {
    const list = Bun.file(join(this.repoDir, "tags/list"));
    if (!(await list.exists())) throw new NotFoundError(`${this}: no such repository`);
    yield* ((await list.json()) as { tags: string[] }).tags;
  }
}

/** Links `target` at `path` by a temporary name and a rename: replaces atomically, never half there. */
async function linkAtomic(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = temporaryPath(path);
  try {
    await linkRetrying(target, temp);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * link(2), again when another writer's rename replaced `target` (the same bytes, a new inode) as it
 * ran: the old inode lost its last name, and linking to it fails with ENOENT.
 */
async function linkRetrying(target: string, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await link(target, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 5 || !existsSync(target)) throw err;
    }
  }
}

class StaticDestination implements ImageDestination {
  readonly caps = { manifestTypes: acceptedManifestTypes, manyImages: true };

  constructor(
    private readonly ref: StaticRef,
    private readonly write: WriteOptions,
  ) {}

  private blobFile(d: Digest): string {
    return join(this.ref.root, "blobs", digestAlgorithm(d), digestHex(d));
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    const linked = join(this.ref.repoDir, "blobs", digestName(desc.digest));
    try {
      if ((await stat(linked)).size === desc.size) return true;
    } catch {
      // not in this repository yet: link it if the tree holds it
    }
    try {
      if ((await stat(this.blobFile(desc.digest))).size !== desc.size) return false;
      await linkAtomic(this.blobFile(desc.digest), linked);
      return true;
    } catch {
      return false;
    }
  }

  async putBlob(desc: Descriptor, body: ReadableStream<Uint8Array>): Promise<void> {
    await writeFileAtomic(this.blobFile(desc.digest), body, { ...this.write, verify: { desc, where: `writing ${this.ref}` } });
    await linkAtomic(this.blobFile(desc.digest), join(this.ref.repoDir, "blobs", digestName(desc.digest)));
  }

  async putManifest(m: RawManifest): Promise<void> {
    await writeFileAtomic(this.blobFile(m.digest), m.bytes, this.write);
    await linkAtomic(this.blobFile(m.digest), join(this.ref.repoDir, "manifests", digestName(m.digest)));
    const subject = parseManifest(m).subject;
    if (subject) await this.underLock(() => this.addReferrer(subject.digest, m));
  }

  /** The tag and tags/list last: until then no client sees the new image. */
  async commit(top: RawManifest): Promise<RawManifest> {
    await this.putManifest(top);
    const tag = this.ref.reference.tag;
    if (tag) {
      await this.underLock(async () => {
        await linkAtomic(this.blobFile(top.digest), join(this.ref.repoDir, "manifests", tag));
        await this.writeTagsList();
      });
    }
    return top;
  }

  /** tags/list and referrer indexes are read, changed and written back: one writer at a time, across processes. */
  private async underLock(update: () => Promise<void>): Promise<void> {
    await mkdir(this.ref.repoDir, { recursive: true });
    await withFileLock(join(this.ref.repoDir, ".lock"), update);
  }

  async close(): Promise<void> {}

  private async writeTagsList(): Promise<void> {
    const dir = join(this.ref.repoDir, "manifests");
    const tags = (await readdir(dir)).filter((n) => isValidTag(n)).sort(); // a temporary's name (a leading dot) is no valid tag
    await writeFileAtomic(join(this.ref.repoDir, "tags/list"), new TextEncoder().encode(JSON.stringify({ name: this.ref.repository, tags })), this.write);
  }

  /** The static Referrers API answer for `subject`, and the `sha256-<hex>` fallback tag with the same index. */
  private async addReferrer(subject: Digest, m: RawManifest): Promise<void> {
    const path = join(this.ref.repoDir, "referrers", digestName(subject));
    const existing = existsSync(path) ? ((await Bun.file(path).json()) as { manifests: Descriptor[] }).manifests : [];
    if (existing.some((d) => d.digest === m.digest)) return;
    const index = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...existing, referrerDescriptor(m)] }, MediaTypes.ociIndex);
    await writeFileAtomic(path, index.bytes, this.write);
    await writeFileAtomic(this.blobFile(index.digest), index.bytes, this.write);
    await linkAtomic(this.blobFile(index.digest), join(this.ref.repoDir, "manifests", digestName(index.digest)));
    await linkAtomic(this.blobFile(index.digest), join(this.ref.repoDir, "manifests", referrersTag(subject)));
    await this.writeTagsList();
  }
}
