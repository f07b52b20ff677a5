import type { Descriptor } from "../core/descriptor.ts";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import type { TarHeader } from "../archive/tar-header.ts";
import type { ImageSource } from "../transport/types.ts";
import { layerEntries } from "./layers.ts";

/** One path of the effective filesystem, and the layer (and entry) that holds its content. */
export interface FsNode {
  readonly header: TarHeader;
  /** Index of the layer the entry came from. */
  readonly layer: number;
  /** Which occurrence of the path in that layer is the one that counts (a layer may repeat a path). */
  readonly occurrence: number;
}

const whiteoutPrefix = ".wh.";
const opaqueMarker = ".wh..wh..opq";
/** Symlinks followed while resolving one path before it is called a loop (as Linux's ELOOP). */
const maxSymlinkHops = 40;

const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
const baseOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/**
 * Paths and the children of each directory (explicit or implied by a deeper path), so that a
 * whiteout costs the size of what it removes, not a scan of every path (an image with thousands of
 * whiteouts over a large tree scanned it thousands of times).
 */
class PathTree {
  readonly nodes = new Map<string, FsNode>();
  private readonly children = new Map<string, Set<string>>();

  set(path: string, node: FsNode): void {
    this.nodes.set(path, node);
    for (let child = path, parent = parentOf(child); child !== ""; child = parent, parent = parentOf(child)) {
      const siblings = this.children.get(parent) ?? new Set<string>();
      if (siblings.has(child)) break;
      siblings.add(child);
      this.children.set(parent, siblings);
    }
  }

  /** Removes `path` and everything under it. */
  remove(path: string): void {
    this.removeUnder(path, () => true);
    this.nodes.delete(path);
    this.children.get(parentOf(path))?.delete(path);
  }

  /** Removes, under `dir` (not `dir` itself), every path `hidden` says so of; looks under the kept ones too. */
  removeUnder(dir: string, hidden: (path: string) => boolean): void {
    for (const child of this.children.get(dir) ?? []) {
      this.removeUnder(child, hidden);
      if (!hidden(child)) continue;
      this.nodes.delete(child);
      if (!this.children.get(child)?.size) this.children.get(dir)!.delete(child);
    }
  }
}

/**
 * The effective filesystem of an image: its layers applied in order, OCI whiteouts (`.wh.NAME`)
 * and opaque directories (`.wh..wh..opq`) honoured, streaming each layer once. Contents are not
 * kept: `readFile` streams the one layer that holds a file.
 */
export class MergedView {
  private constructor(
    readonly nodes: ReadonlyMap<string, FsNode>,
    private readonly source: ImageSource,
    private readonly layers: readonly Descriptor[],
  ) {}

  static async build(source: ImageSource, layers: readonly Descriptor[]): Promise<MergedView> {
    const tree = new PathTree();
    for (const [index, layer] of layers.entries()) {
      const addedHere = new Set<string>();
      const seen = new Map<string, number>();
      for await (const entry of layerEntries(source, layer, `layer ${index + 1} (${layer.digest})`)) {
        const { path } = entry.header;
        const name = baseOf(path);
        if (name === opaqueMarker) {
          // an opaque directory hides what lower layers put in it, not what this layer adds
          tree.removeUnder(parentOf(path), (p) => !addedHere.has(p));
          continue;
        }
        if (name.startsWith(whiteoutPrefix)) {
          tree.remove(`${parentOf(path) ? `${parentOf(path)}/` : ""}${name.slice(whiteoutPrefix.length)}`);
          continue;
        }
        if (path === "") continue;
        const occurrence = (seen.get(path) ?? -1) + 1;
        seen.set(path, occurrence);
        // a file over a lower directory replaces the whole tree
        if (entry.header.type !== "directory" && tree.nodes.get(path)?.header.type === "directory") tree.remove(path);
        tree.set(path, { header: entry.header, layer: index, occurrence });
        addedHere.add(path);
      }
    }
    return new MergedView(tree.nodes, source, layers);
  }

  /** A clean relative path for `/a/./b/` style input. */
  static normalize(path: string): string {
    const parts: string[] = [];
    for (const part of path.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") parts.pop();
      else parts.push(part);
    }
    return parts.join("/");
  }

  /** Follows symlinks (absolute ones from the image root) component by component; loops are refused. */
  resolve(path: string): { path: string; node: FsNode | undefined } {
    let pending = MergedView.normalize(path).split("/").filter(Boolean);
    let resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === "..") {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, part].join("/");
      const node = this.nodes.get(candidate);
      if (node?.header.type === "symlink") {
        if (++hops > maxSymlinkHops) throw new IntegrityError(`${path}: too many levels of symbolic links`);
        const target = node.header.linkname ?? "";
        pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending];
        if (target.startsWith("/")) resolved = [];
        continue;
      }
      resolved.push(part);
    }
    const final = resolved.join("/");
    return { path: final, node: this.nodes.get(final) };
  }

  /**
   * The bytes of the regular file at `path` (symlinks and hardlinks followed), streamed from the
   * one layer that holds it: consume the generator to the end (the layer stays open until then).
   */
  async *readFile(path: string): AsyncGenerator<Uint8Array> {
    let { path: real, node } = this.resolve(path);
    for (let hops = 0; node?.header.type === "hardlink"; hops++) {
      if (hops > maxSymlinkHops) throw new IntegrityError(`${path}: hardlink chain too long`);
      real = node.header.linkname ?? "";
      node = this.nodes.get(real);
    }
    if (!node) throw new NotFoundError(`${path}: no such file in the image`);
    if (node.header.type !== "file") throw new IntegrityError(`${path}: not a regular file (${node.header.type})`);
    const { layer, occurrence } = node;
    let count = 0;
    for await (const entry of layerEntries(this.source, this.layers[layer]!, `layer ${layer + 1}`)) {
      if (entry.header.path !== real || count++ !== occurrence) continue;
      yield* entry.body as unknown as AsyncIterable<Uint8Array>;
      return;
    }
    throw new NotFoundError(`${path}: vanished from layer ${layer + 1}`);
  }

  /**
   * Streams many files with each layer read at most once (a thousand package.json files must not
   * scan a layer a thousand times); `onFile` gets each regular file's body and must consume it.
   */
  async scanFiles(paths: Iterable<string>, onFile: (path: string, body: ReadableStream<Uint8Array>) => Promise<void>, maxBytes = Number.POSITIVE_INFINITY): Promise<void> {
    const wanted = new Map<number, Map<string, number>>();
    for (const path of paths) {
      const node = this.nodes.get(path);
      if (node?.header.type !== "file" || node.header.size > maxBytes) continue;
      const inLayer = wanted.get(node.layer) ?? new Map<string, number>();
      inLayer.set(path, node.occurrence);
      wanted.set(node.layer, inLayer);
    }
    for (const [layer, files] of [...wanted].sort(([x], [y]) => x - y)) {
      const seen = new Map<string, number>();
      let left = files.size;
      for await (const entry of layerEntries(this.source, this.layers[layer]!, `layer ${layer + 1}`)) {
        const occurrence = (seen.get(entry.header.path) ?? -1) + 1;
        seen.set(entry.header.path, occurrence);
        if (files.get(entry.header.path) !== occurrence) continue;
        await onFile(entry.header.path, entry.body);
        if (--left === 0) break;
      }
    }
  }

  /** The contents of many small files at once (over `maxBytes`, or not regular files: left out). */
  async readFiles(paths: Iterable<string>, maxBytes: number): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    await this.scanFiles(paths, async (path, body) => void found.set(path, new Uint8Array(await new Response(body).arrayBuffer())), maxBytes);
    return found;
  }

  /** The layer digest a path's content comes from: equal digests and headers mean equal content. */
  layerDigest(path: string): string | undefined {
    const node = this.nodes.get(path);
    return node ? this.layers[node.layer]?.digest : undefined;
  }

  /** Direct children of a directory (or, `recursive`, everything under it), sorted. */
  list(dir: string, recursive = false): [string, FsNode][] {
    const base = this.resolve(dir).path;
    const prefix = base === "" ? "" : `${base}/`;
    const out: [string, FsNode][] = [];
    for (const [path, node] of this.nodes) {
      if (!path.startsWith(prefix) || path === base) continue;
      if (!recursive && path.slice(prefix.length).includes("/")) continue;
      out.push([path, node]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
