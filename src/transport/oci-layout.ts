import { type Descriptor, parseDescriptor } from "../core/descriptor.ts";
import { type Digest, isDigest, parseDigest } from "../core/digest.ts";
import { IntegrityError, NotFoundError, UsageError } from "../core/errors.ts";
import { type RawManifest, maxManifestBytes, parseManifest } from "../core/manifest.ts";
import { MediaTypes, isManifestType } from "../core/media-type.ts";
import { type FileTree, blobPath, localBlobFile, manifestDescriptor, readManifestBlob } from "./layout-files.ts";
import type { ImageSource } from "./types.ts";

/** The annotation that names an image in an OCI layout's index.json. */
export const refNameAnnotation = "org.opencontainers.image.ref.name";
export const ociLayoutFile = "oci-layout";
export const ociLayoutBytes = new TextEncoder().encode('{"imageLayoutVersion":"1.0.0"}');

/** Which entry of index.json a reference means: a tag, a manifest digest, or skopeo's `@N` position. */
export type LayoutSelector =
  | { readonly kind: "only" }
  | { readonly kind: "tag"; readonly tag: string }
  | { readonly kind: "digest"; readonly digest: Digest }
  | { readonly kind: "position"; readonly position: number };

const tagPattern = /^[A-Za-z0-9][A-Za-z0-9._\-:/@+]*$/;

/** `PATH[:REF]` as skopeo splits it, at the first colon, for `oci:` and `oci-archive:`. */
export function parseLayoutReference(rest: string, transport: string, what: string): { path: string; selector: LayoutSelector } {
  const colon = rest.indexOf(":");
  const path = colon === -1 ? rest : rest.slice(0, colon);
  if (path === "") throw new UsageError(`${transport}:${rest}: missing the ${what}'s path`);
  return { path, selector: parseLayoutSelector(colon === -1 ? "" : rest.slice(colon + 1), `${transport}:${path}`) };
}

/** Parses the part after `PATH:` in `oci:PATH:REF` (empty means "the only image"). */
export function parseLayoutSelector(text: string, where: string): LayoutSelector {
  if (text === "") return { kind: "only" };
  if (text.startsWith("@")) {
    const rest = text.slice(1);
    if (/^\d+$/.test(rest)) return { kind: "position", position: Number(rest) };
    return { kind: "digest", digest: parseDigest(rest) };
  }
  if (isDigest(text)) return { kind: "digest", digest: parseDigest(text) };
  if (!tagPattern.test(text) || text.length > 255) throw new UsageError(`invalid image name "${text}" in ${where}`);
  return { kind: "tag", tag: text };
}

export function formatLayoutSelector(s: LayoutSelector): string {
  switch (s.kind) {
    case "only":
      return "";
    case "tag":
      return `:${s.tag}`;
    case "digest":
      return `:@${s.digest}`;
    case "position":
      return `:@${s.position}`;
  }
}

export interface IndexJson {
  readonly raw: Record<string, unknown>;
  readonly manifests: readonly Descriptor[];
}

/** Reads and validates index.json; a tree without one is not an OCI layout. */
export async function readIndexJson(tree: FileTree): Promise<IndexJson> {
  if ((await tree.size("index.json")) === null) {
    throw new NotFoundError(`${tree.where}: no index.json (not an OCI image layout)`);
  }
  const bytes = await tree.read("index.json", maxManifestBytes);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new IntegrityError(`${tree.where}: index.json is not valid JSON`);
  }
  const manifests = (raw as { manifests?: unknown })?.manifests;
  if (typeof raw !== "object" || raw === null || !Array.isArray(manifests)) {
    throw new IntegrityError(`${tree.where}: index.json has no "manifests" array`);
  }
  return {
    raw: raw as Record<string, unknown>,
    manifests: manifests.map((d, i) => parseDescriptor(d, `${tree.where} index.json manifests[${i}]`)),
  };
}

/** Picks the index.json entry a selector names. */
export function selectEntry(index: IndexJson, selector: LayoutSelector, where: string): Descriptor {
  const { manifests } = index;
  let found: Descriptor | undefined;
  switch (selector.kind) {
    case "only":
      if (manifests.length !== 1) {
        const names = manifests.map((m) => m.annotations?.[refNameAnnotation]).filter(Boolean);
        throw new UsageError(
          `${where}: the layout holds ${manifests.length} images; name one as ${where}:TAG` +
            (names.length ? ` (tags: ${names.join(", ")})` : ""),
        );
      }
      found = manifests[0];
      break;
    case "tag":
      found = manifests.findLast((m) => m.annotations?.[refNameAnnotation] === selector.tag);
      break;
    case "digest":
      found = manifests.find((m) => m.digest === selector.digest);
      break;
    case "position":
      found = manifests[selector.position];
      break;
  }
  if (!found) throw new NotFoundError(`${where}${formatLayoutSelector(selector)}: no such image in the layout`);
  return found;
}

/** index.json with `entry` added under `tag`, replacing what held that tag (or, untagged, that digest). */
export function indexJsonWith(existing: IndexJson | undefined, entry: Descriptor, tag: string | undefined): Uint8Array {
  const kept = (existing?.manifests ?? []).filter((m) => {
    const name = m.annotations?.[refNameAnnotation];
    return tag === undefined ? !(name === undefined && m.digest === entry.digest) : name !== tag;
  });
  const annotated = tag === undefined ? entry : { ...entry, annotations: { ...entry.annotations, [refNameAnnotation]: tag } };
  return encodeIndexJson(existing, [...kept, annotated]);
}

/** index.json with the entries `drop` matches removed. */
export function indexJsonWithout(existing: IndexJson, drop: (d: Descriptor) => boolean): Uint8Array {
  return encodeIndexJson(existing, existing.manifests.filter((m) => !drop(m)));
}

function encodeIndexJson(existing: IndexJson | undefined, manifests: readonly Descriptor[]): Uint8Array {
  const base = existing?.raw ?? {};
  const value = { ...base, schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Reads one image out of any OCI layout tree (directory, oci-archive, docker save hybrid). */
export class OciLayoutSource implements ImageSource {
  private entry?: Descriptor;

  constructor(
    private readonly tree: FileTree,
    private readonly selector: LayoutSelector,
    private readonly where: string,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async resolve(): Promise<Descriptor> {
    this.entry ??= await this.select();
    return this.entry;
  }

  /** An index.json entry, or, by digest, any manifest the layout holds (an index's child, say). */
  private async select(): Promise<Descriptor> {
    const index = await readIndexJson(this.tree);
    const { selector } = this;
    if (selector.kind === "digest" && !index.manifests.some((m) => m.digest === selector.digest) && (await this.tree.size(blobPath(selector.digest))) !== null) {
      return manifestDescriptor(await readManifestBlob(this.tree, blobPath(selector.digest), selector.digest, undefined));
    }
    return selectEntry(index, selector, this.where);
  }

  async knownTags(): Promise<readonly string[]> {
    const top = await this.resolve();
    const tag = top.annotations?.[refNameAnnotation];
    return tag ? [tag] : [];
  }

  async getManifest(digest?: Digest): Promise<RawManifest> {
    const top = await this.resolve();
    const wanted = digest ?? top.digest;
    return readManifestBlob(this.tree, blobPath(wanted), wanted, wanted === top.digest ? top.mediaType : undefined);
  }

  /** Entries of index.json whose manifest names `subject`: a layout keeps referrers as untagged entries. */
  async listReferrers(subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    const found: Descriptor[] = [];
    for (const entry of (await readIndexJson(this.tree)).manifests) {
      if (entry.digest === subject || !isManifestType(entry.mediaType)) continue;
      const manifest = parseManifest(await this.getManifest(entry.digest));
      if (manifest.subject?.digest !== subject) continue;
      const type = manifest.artifactType ?? (manifest.kind === "manifest" ? manifest.config.mediaType : undefined);
      if (!artifactType || type === artifactType) found.push({ ...entry, ...(type ? { artifactType: type } : {}) });
    }
    return found;
  }

  async blobFile(desc: Descriptor): Promise<string | undefined> {
    return localBlobFile(this.tree, blobPath(desc.digest), desc.size);
  }

  async getBlob(desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
    const path = blobPath(desc.digest);
    if ((await this.tree.size(path)) === null) {
      throw new NotFoundError(`blob ${desc.digest}: not found in ${this.where}`);
    }
    return this.tree.stream(path);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
