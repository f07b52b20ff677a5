import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { IntegrityError, NotFoundError } from "../core/errors.ts";
import { type TarIndex, indexTarFile, readTarMember } from "../archive/tar-reader.ts";
import { type TarFileHeader, TarFileWriter } from "../archive/tar-writer.ts";
import { type WriteOptions, readFileStream, temporaryPath, writeFileAtomic } from "../stream/file.ts";
import { decompress, isGzip } from "../stream/gzip.ts";
import { checkSmallFile, type FileTree } from "./layout-files.ts";

/** An archive opened for reading: its members as a FileTree, and a clean-up for what opening made. */
export interface OpenArchive {
  readonly tree: FileTree;
  readonly members: TarIndex;
  /** The first bytes of a member, to sniff its compression. */
  head(path: string, bytes: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Real archives inflate a few times over; a thousandfold one is a decompression bomb. */
const maxExpansion = 200;

/**
 * Indexes a tar file for random access (no extraction). A gzip-compressed archive is first
 * decompressed to a temporary file in the system temp dir, as skopeo does.
 */
export async function openArchive(path: string, where: string): Promise<OpenArchive> {
  let tarPath = path;
  let cleanup = async () => {};
  if (isGzip(await readAt(path, 0, 2, where))) {
    tarPath = temporaryPath(join(tmpdir(), "stevedore-archive"));
    const compressed = (await stat(path)).size;
    await writeFileAtomic(tarPath, decompress(readFileStream(path), "gzip", { maxBytes: Math.max(1 << 30, compressed * maxExpansion) }));
    cleanup = () => rm(tarPath, { force: true });
  }
  try {
    const members = await indexTarFile(tarPath).catch((err: unknown) => {
      throw err instanceof IntegrityError ? new IntegrityError(`${where}: ${err.message}`, { cause: err }) : err;
    });
    const size = async (p: string) => {
      const entry = members.get(p);
      return entry && entry.header.type === "file" ? entry.header.size : null;
    };
    const tree: FileTree = {
      where,
      size,
      async read(p, max) {
        checkSmallFile(await size(p), p, where, max);
        return new Uint8Array(await new Response(readTarMember(tarPath, members.get(p)!)).arrayBuffer());
      },
      async stream(p) {
        if ((await size(p)) === null) throw new NotFoundError(`${p}: not found in ${where}`);
        return readTarMember(tarPath, members.get(p)!);
      },
    };
    const head = async (p: string, bytes: number) => {
      const entry = members.get(p);
      if (!entry) throw new NotFoundError(`${p}: not found in ${where}`);
      return readAt(tarPath, entry.offset, Math.min(bytes, entry.header.size), where);
    };
    return { tree, members, head, close: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function readAt(path: string, offset: number, size: number, where: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${where}: no such file`);
    throw err;
  }
  try {
    const bytes = Buffer.alloc(size);
    const { bytesRead } = await handle.read(bytes, 0, size, offset);
    return bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A tar archive written under a temporary name and renamed over `path` only by `commit`. */
export class ArchiveWriter {
  private readonly temp: string;
  private writer?: TarFileWriter;
  private done = false;

  constructor(
    private readonly path: string,
    private readonly write: WriteOptions,
  ) {
    this.temp = temporaryPath(path);
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.writer = await TarFileWriter.open(this.temp, this.write);
  }

  /** Adds a member; `header.size` undefined streams a body of unknown length. Returns its size. */
  add(header: TarFileHeader, body?: ReadableStream<Uint8Array> | Uint8Array): Promise<number> {
    return this.writer!.add(header, body);
  }

  async commit(): Promise<void> {
    await this.writer!.close();
    await rename(this.temp, this.path);
    this.done = true;
  }

  /** Without commit: the temporary goes, and `path` is as it was. */
  async close(): Promise<void> {
    if (this.done) return;
    await this.writer?.abort();
    await rm(this.temp, { force: true });
  }
}
