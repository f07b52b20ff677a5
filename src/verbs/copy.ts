import type { Descriptor } from "../core/descriptor.ts";
import { type Digest, parseDigest } from "../core/digest.ts";
import { NotFoundError, UnsupportedError, UsageError } from "../core/errors.ts";
import { type ImageIndex, type RawManifest, encodeManifest, parseManifest } from "../core/manifest.ts";
import { isNondistributableType } from "../core/media-type.ts";
import { type Platform, formatPlatform, hostPlatform, platformMatches } from "../core/platform.ts";
import { mapLimit } from "../stream/limit.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { referrersTag } from "../registry/referrers.ts";
import type { ImageDestination, ImageRef, ImageSource } from "../transport/types.ts";

export type CopyEvent =
  | { readonly type: "platform"; readonly platform: string; readonly reason: "host" }
  | { readonly type: "blob"; readonly digest: Digest; readonly size: number; readonly state: "start" | "skipped" | "mounted" | "done" }
  | { readonly type: "bytes"; readonly digest: Digest; readonly size: number; readonly bytes: number }
  | { readonly type: "manifest"; readonly digest: Digest; readonly mediaType: string }
  | { readonly type: "referrer"; readonly digest: Digest; readonly subject: Digest; readonly via: "referrers" | "tag"; readonly tag?: string };

export interface CopyOptions {
  /** Copy a whole index, every platform. */
  readonly all?: boolean;
  /** Choose these platforms from an index (one: that image; several: a smaller index). */
  readonly platforms?: readonly Platform[];
  /** Blobs in flight at once (default 4). */
  readonly jobs?: number;
  /** fsync each file before its rename (default true). */
  readonly fsync?: boolean;
  /** Also copy what hangs off the copied images: OCI referrers and cosign's `.sig`/`.att`/`.sbom` tags. */
  readonly referrers?: boolean;
  /** Fail, before writing anything, where the written manifest would not be one the source has (skopeo's --preserve-digests). */
  readonly preserveDigests?: boolean;
  /**
   * Blob transfers in flight, shared between copies (sync passes one map to every line) so a
   * blob several images share moves once per destination, even when their copies run at once.
   */
  readonly transfers?: Map<string, Promise<void>>;
  /** docker:// settings (credentials, TLS) for each side. */
  readonly sourceRegistry?: RegistryOptions;
  readonly destinationRegistry?: RegistryOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: CopyEvent) => void;
}

export interface CopyResult {
  readonly source: string;
  readonly destination: string;
  /** Digest of the top manifest written: the source's, unless a platform was chosen or the format rewrote it. */
  readonly digest: Digest;
  readonly mediaType: string;
  readonly sourceDigest: Digest;
  readonly platforms: readonly string[];
  readonly blobs: { readonly copied: number; readonly skipped: number; readonly mounted: number; readonly bytes: number };
  /** Referrers and cosign-tagged artifacts copied with `referrers`. */
  readonly referrers: number;
}

/** Copies an image (or an index, or a choice of its platforms) from any transport to any other. */
export async function copy(src: ImageRef, dst: ImageRef, options: CopyOptions = {}): Promise<CopyResult> {
  const source = await src.openSource({ signal: options.signal, registry: options.sourceRegistry });
  try {
    const top = await source.getManifest();
    const destination = await dst.openDestination({ signal: options.signal, fsync: options.fsync, registry: options.destinationRegistry });
    try {
      const run = new CopyRun(src, source, dst, destination, options);
      const chosen = await run.choose(top);
      if (options.preserveDigests) preservesDigests(chosen.manifest, top, destination, dst);
      await run.copyTree(chosen.manifest);
      const written = await destination.commit(chosen.manifest);
      const referrers = options.referrers ? await copyReferrers(src, dst, source, subjectsOf(chosen.manifest), options) : 0;
      return {
        source: String(src),
        destination: String(dst),
        digest: written.digest,
        mediaType: written.mediaType,
        sourceDigest: top.digest,
        platforms: chosen.platforms,
        blobs: run.stats,
        referrers,
      };
    } finally {
      await destination.close();
    }
  } finally {
    await source.close();
  }
}

const anyDigest = parseDigest(`sha256:${"0".repeat(64)}`);

/** Refuses a copy whose written manifest would be new: a destination that rewrites manifests, or a smaller index of chosen platforms. */
function preservesDigests(chosen: RawManifest, top: RawManifest, destination: ImageDestination, dst: ImageRef): void {
  if (destination.caps.rewritesManifest) throw new UnsupportedError(`${dst} stores layers uncompressed, so the manifest's digest changes: it cannot be preserved`);
  if (chosen !== top && parseManifest(chosen).kind === "index") throw new UnsupportedError(`an index of the chosen platforms is a new manifest, so its digest cannot be preserved: copy --all, or one platform`);
}

class CopyRun {
  readonly stats = { copied: 0, skipped: 0, mounted: 0, bytes: 0 };
  /** One transfer per destination and digest, however many images share the blob. */
  private readonly transfers: Map<string, Promise<void>>;
  private readonly destinationKey: string;
  /** This copy's own view, so an index whose images share a blob counts it once. */
  private readonly ownTransfers = new Map<Digest, Promise<void>>();
  private readonly jobs: number;

  constructor(
    private readonly sourceRef: ImageRef,
    private readonly source: ImageSource,
    destinationRef: ImageRef,
    private readonly destination: ImageDestination,
    private readonly options: CopyOptions,
  ) {
    this.jobs = options.jobs ?? 4;
    this.transfers = options.transfers ?? new Map();
    // the destination without its tag (where blobs land): the same repository or layout under any tag
    this.destinationKey = String(destinationRef.withReference?.({ digest: anyDigest }) ?? destinationRef);
  }

  /** What to copy from the top manifest: all of it, one platform's image, or a smaller index. */
  async choose(top: RawManifest): Promise<{ manifest: RawManifest; platforms: string[] }> {
    const parsed = parseManifest(top, `manifest ${top.digest}`);
    const { all, platforms = [] } = this.options;
    if (parsed.kind === "manifest") return { manifest: top, platforms: [] };
    if (all && platforms.length > 0) throw new UsageError("--all and --platform cannot be combined");
    const caps = this.destination.caps;
    if (all) {
      if (!caps.manyImages) throw new UnsupportedError("the destination holds one image only: choose one with --platform");
      return { manifest: top, platforms: parsed.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : [])) };
    }
    const wanted = platforms.length > 0 ? platforms : [hostPlatform()];
    if (platforms.length === 0) this.emit({ type: "platform", platform: formatPlatform(wanted[0]!), reason: "host" });
    const picked = wanted.map((p) => pickPlatform(parsed, p, top.digest));
    if (picked.length === 1) return { manifest: await this.source.getManifest(picked[0]!.digest), platforms: wanted.map(formatPlatform) };
    if (!caps.manyImages) throw new UnsupportedError("the destination holds one image only: choose one --platform");
    return { manifest: smallerIndex(top, picked), platforms: wanted.map(formatPlatform) };
  }

  /** Blobs first, then child manifests: nothing is referenced before it exists at the destination. */
  async copyTree(m: RawManifest): Promise<void> {
    this.options.signal?.throwIfAborted();
    const { caps } = this.destination;
    if (!caps.rewritesManifest && !caps.manifestTypes.includes(m.mediaType)) {
      throw new UnsupportedError(`the destination cannot store ${m.mediaType} manifests`);
    }
    const parsed = parseManifest(m, `manifest ${m.digest}`);
    if (parsed.kind === "index") {
      await mapLimit(parsed.manifests, 1, async (child) => {
        const raw = await this.source.getManifest(child.digest);
        await this.copyTree(raw);
        await this.destination.putManifest(raw);
        this.emit({ type: "manifest", digest: raw.digest, mediaType: raw.mediaType });
      });
      return;
    }
    await mapLimit([parsed.config, ...parsed.layers], this.jobs, (desc) => this.copyBlob(desc));
  }

  private copyBlob(desc: Descriptor): Promise<void> {
    if (this.ownTransfers.has(desc.digest)) return this.ownTransfers.get(desc.digest)!;
    const transfer = this.sharedTransfer(desc);
    this.ownTransfers.set(desc.digest, transfer);
    return transfer;
  }

  private sharedTransfer(desc: Descriptor): Promise<void> {
    const key = `${this.destinationKey}|${desc.digest}`;
    const running = this.transfers.get(key);
    if (running) {
      // another copy is moving (or moved) this blob to the same place: wait, and count it as skipped
      return running.then(() => void this.stats.skipped++);
    }
    const transfer = this.transferBlob(desc);
    this.transfers.set(key, transfer);
    return transfer;
  }

  private async transferBlob(desc: Descriptor): Promise<void> {
    this.options.signal?.throwIfAborted();
    // a non-distributable layer stays at its URLs, as skopeo and crane leave it, wherever the manifest is kept as is
    const foreign = isNondistributableType(desc.mediaType) && (desc.urls?.length ?? 0) > 0 && !this.destination.caps.rewritesManifest;
    if (foreign || (await this.destination.hasBlob(desc))) {
      this.stats.skipped++;
      this.emit({ type: "blob", digest: desc.digest, size: desc.size, state: "skipped" });
      return;
    }
    if (await this.destination.mountBlob?.(desc, this.sourceRef)) {
      this.stats.mounted++;
      this.emit({ type: "blob", digest: desc.digest, size: desc.size, state: "mounted" });
      return;
    }
    this.emit({ type: "blob", digest: desc.digest, size: desc.size, state: "start" });
    const file = this.destination.putBlobFile && (await this.source.blobFile?.(desc));
    if (file) await this.destination.putBlobFile!(desc, file);
    else await this.destination.putBlob(desc, this.watch(await this.source.getBlob(desc), desc), this.source.getBlobFrom && ((offset) => this.source.getBlobFrom!(desc, offset)));
    this.stats.copied++;
    this.stats.bytes += desc.size;
    this.emit({ type: "blob", digest: desc.digest, size: desc.size, state: "done" });
  }

  /**
   * Reports bytes and honours the abort signal, only when someone watches progress: a stream layer
   * costs a 1 GiB pull ~0.2 s of CPU, and destinations and registry sources honour the signal
   * themselves (they are opened with it).
   */
  private watch(body: ReadableStream<Uint8Array>, desc: Descriptor): ReadableStream<Uint8Array> {
    const { signal, onProgress } = this.options;
    if (!onProgress) return body;
    const reader = body.getReader();
    let bytes = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        signal?.throwIfAborted();
        const { done, value } = await reader.read();
        if (done) return controller.close();
        bytes += value.byteLength;
        onProgress?.({ type: "bytes", digest: desc.digest, size: desc.size, bytes });
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }

  private emit(event: CopyEvent): void {
    this.options.onProgress?.(event);
  }
}

function pickPlatform(index: ImageIndex, wanted: Platform, digest: Digest): Descriptor {
  const found = index.manifests.find((m) => platformMatches(wanted, m.platform));
  if (!found) {
    const offered = index.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : [])).join(", ");
    throw new NotFoundError(`index ${digest}: no image for ${formatPlatform(wanted)} (it has ${offered || "no platforms"})`);
  }
  return found;
}

/** The index with only the chosen entries: new bytes, so a new digest. */
function smallerIndex(top: RawManifest, picked: readonly Descriptor[]): RawManifest {
  const json = JSON.parse(new TextDecoder().decode(top.bytes)) as Record<string, unknown>;
  return encodeManifest({ ...json, manifests: picked }, top.mediaType);
}

/** cosign keeps signatures, attestations and SBOMs under tags derived from the subject's digest. */
const cosignSuffixes = ["sig", "att", "sbom"] as const;
/** A walk of referrers of referrers stops here: a registry cannot make us copy without end. */
const maxReferrers = 1000;

/** The image and, for an index, its children: what referrers may hang off. */
function subjectsOf(top: RawManifest): Digest[] {
  const parsed = parseManifest(top);
  return [top.digest, ...(parsed.kind === "index" ? parsed.manifests.map((m) => m.digest) : [])];
}

/**
 * Copies what hangs off the subjects, breadth first with a visited set: OCI referrers (API or
 * fallback tag) and cosign's `sha256-<hex>.sig|.att|.sbom` tags, then what hangs off those.
 */
async function copyReferrers(src: ImageRef, dst: ImageRef, source: ImageSource, subjects: Digest[], options: CopyOptions): Promise<number> {
  if (!src.withReference || !dst.withReference) throw new UnsupportedError(`--referrers needs transports that can name manifests by digest (not ${src.transport.name}: → ${dst.transport.name}:)`);
  const inner = { ...options, all: true, platforms: [], referrers: false };
  const visited = new Set<Digest>(subjects);
  const queue = [...subjects];
  let copied = 0;
  const copyOne = async (reference: { tag: string } | { digest: Digest }, subject: Digest, via: "referrers" | "tag"): Promise<Digest | undefined> => {
    if (copied >= maxReferrers) throw new UnsupportedError(`more than ${maxReferrers} referrers: stopping`);
    try {
      const result = await copy(src.withReference!(reference), dst.withReference!(reference), inner);
      copied++;
      options.onProgress?.({ type: "referrer", digest: result.digest, subject, via, ...("tag" in reference ? { tag: reference.tag } : {}) });
      return result.digest;
    } catch (err) {
      if (err instanceof NotFoundError && via === "tag") return undefined;
      throw err;
    }
  };
  while (queue.length > 0) {
    const subject = queue.shift()!;
    for (const referrer of (await source.listReferrers?.(subject)) ?? []) {
      if (visited.has(referrer.digest)) continue;
      visited.add(referrer.digest);
      await copyOne({ digest: referrer.digest }, subject, "referrers");
      queue.push(referrer.digest);
    }
    for (const suffix of cosignSuffixes) {
      const digest = await copyOne({ tag: `${referrersTag(subject)}.${suffix}` }, subject, "tag");
      if (digest && !visited.has(digest)) {
        visited.add(digest);
        queue.push(digest);
      }
    }
  }
  return copied;
}
