import { IntegrityError } from "../core/errors.ts";
import { type ByteReader, byteReader } from "../stream/byte-reader.ts";
import { openForReading, readFileStream } from "../stream/file.ts";
import { safeEntryPath, safeLinkTarget } from "./safe-path.ts";
import { type DecodedHeader, type TarHeader, applyExtensions, blockSize, decodeHeader, padded, parsePax } from "./tar-header.ts";

export interface TarReadOptions {
  /** Refuse archives with more entries (default 1,000,000). */
  readonly maxEntries?: number;
  /** Refuse archives whose entries add up to more bytes (default 1 TiB). */
  readonly maxBytes?: number;
  /** Keep paths as written instead of refusing those that escape the root. */
  readonly unsafePaths?: boolean;
}

export interface TarEntry {
  readonly header: TarHeader;
  /** The entry's bytes; skipped for you when the iteration moves on without reading them. */
  readonly body: ReadableStream<Uint8Array>;
}

/** pax and GNU long-name records are small; a huge one is an attack, not an archive. */
const maxMetaBytes = 1 << 20;

/** Turns the stream of decoded headers into entries: pax/GNU records, path safety, caps. */
class EntryAssembler {
  private pax: Record<string, string> = {};
  private globalPax: Record<string, string> = {};
  private longName?: string;
  private longLink?: string;
  private entries = 0;
  private bytes = 0;

  constructor(private readonly options: TarReadOptions) {}

  /** An entry, `end`, or undefined when the header only described the next one. */
  async accept(decoded: DecodedHeader, readMeta: (size: number) => Promise<Uint8Array>): Promise<TarHeader | "end" | undefined> {
    switch (decoded.kind) {
      case "end":
        return "end";
      case "entry":
        return this.finish(decoded.header);
    }
    if (decoded.size > maxMetaBytes) throw new IntegrityError(`tar: ${decoded.kind} record of ${decoded.size} bytes is too large`);
    const bytes = await readMeta(decoded.size);
    if (decoded.kind === "pax") this.pax = { ...this.pax, ...parsePax(bytes) };
    else if (decoded.kind === "pax-global") this.globalPax = { ...this.globalPax, ...parsePax(bytes) };
    else {
      const nul = bytes.indexOf(0);
      const text = new TextDecoder().decode(nul === -1 ? bytes : bytes.subarray(0, nul));
      if (decoded.kind === "gnu-longname") this.longName = text;
      else this.longLink = text;
    }
    return undefined;
  }

  private finish(raw: TarHeader): TarHeader {
    const { maxEntries = 1_000_000, maxBytes = 2 ** 40, unsafePaths = false } = this.options;
    let header = applyExtensions(raw, { ...this.globalPax, ...this.pax }, this.longName, this.longLink);
    this.pax = {};
    this.longName = undefined;
    this.longLink = undefined;
    if (++this.entries > maxEntries) throw new IntegrityError(`tar: more than ${maxEntries} entries`);
    this.bytes += header.size;
    if (this.bytes > maxBytes) throw new IntegrityError(`tar: more than ${maxBytes} bytes of content`);
    if (!unsafePaths) {
      header = { ...header, path: safeEntryPath(header.path) };
      if (header.type === "hardlink" && header.linkname !== undefined) header = { ...header, linkname: safeLinkTarget(header.linkname) };
    }
    return header;
  }
}

/** A pull-based byte queue over a stream: exact reads for headers, zero-copy slices for bodies. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly reader: ByteReader) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const { done, value } = await this.reader.read();
      if (done) this.ended = true;
      else if (value.byteLength > 0) {
        this.chunks.push(value);
        this.buffered += value.byteLength;
      }
    }
  }

  /** Exactly n bytes, or null at a clean end of stream; a partial read is a truncated archive. */
  async take(n: number): Promise<Uint8Array | null> {
    await this.fill(n);
    if (this.buffered === 0 && this.ended) return null;
    if (this.buffered < n) throw new IntegrityError("tar: unexpected end of archive");
    const first = this.chunks[0]!;
    if (first.byteLength >= n) return this.slice(n);
    const out = new Uint8Array(n);
    for (let filled = 0; filled < n; ) {
      const part = this.slice(Math.min(n - filled, this.chunks[0]!.byteLength));
      out.set(part, filled);
      filled += part.byteLength;
    }
    return out;
  }

  /** Up to `max` bytes without copying; throws at end of stream. */
  async some(max: number): Promise<Uint8Array> {
    await this.fill(1);
    if (this.buffered === 0) throw new IntegrityError("tar: unexpected end of archive");
    return this.slice(Math.min(max, this.chunks[0]!.byteLength));
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0; ) left -= (await this.some(left)).byteLength;
  }

  private slice(n: number): Uint8Array {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (n === first.byteLength) {
      this.chunks.shift();
      return first;
    }
    this.chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }

  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason);
  }
}

/** Streams the entries of an (uncompressed) tar archive; nothing is buffered beyond one chunk. */
export async function* readTar(body: ReadableStream<Uint8Array>, options: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const queue = new ByteQueue(byteReader(body));
  const assembler = new EntryAssembler(options);
  try {
    for (;;) {
      const block = await queue.take(blockSize);
      if (!block) return; // no end-of-archive blocks: tolerated, as GNU tar does
      const header = await assembler.accept(decodeHeader(block), async (size) => {
        const bytes = (await queue.take(padded(size)))?.subarray(0, size);
        if (!bytes) throw new IntegrityError("tar: unexpected end of archive");
        return bytes;
      });
      if (header === "end") return;
      if (!header) continue;
      let left = header.size;
      let open = true;
      let reading: Promise<unknown> = Promise.resolve();
      // highWaterMark 0: nothing is read until the caller asks, so skipping never races a pull
      const entryBody = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (!open) return controller.error(new IntegrityError(`tar entry "${header.path}": read after the archive moved on`));
            if (left === 0) return controller.close();
            const next = queue.some(left).then((chunk) => {
              left -= chunk.byteLength;
              return chunk;
            });
            reading = next.catch(() => {});
            controller.enqueue(await next);
          },
        },
        { highWaterMark: 0 },
      );
      yield { header, body: entryBody };
      open = false;
      await reading;
      await queue.skip(left + padded(header.size) - header.size);
    }
  } finally {
    await queue.cancel().catch(() => {});
  }
}

export interface TarIndexEntry {
  readonly header: TarHeader;
  /** Byte offset of the entry's data in the archive file. */
  readonly offset: number;
}

/** The members of a tar file on disk, for random access without extraction. */
export class TarIndex {
  private readonly byPath = new Map<string, TarIndexEntry>();
  constructor(readonly entries: readonly TarIndexEntry[]) {
    for (const e of entries) this.byPath.set(e.header.path, e); // the last of a path wins, as in extraction
  }
  get(path: string): TarIndexEntry | undefined {
    return this.byPath.get(path);
  }
  has(path: string): boolean {
    return this.byPath.has(path);
  }
}

/** Walks a tar file's headers with positional reads, skipping the data: one pass, no extraction. */
export async function indexTarFile(path: string, options: TarReadOptions = {}): Promise<TarIndex> {
  const handle = await openForReading(path);
  try {
    const fileSize = (await handle.stat()).size;
    const readAt = async (offset: number, size: number): Promise<Uint8Array> => {
      if (offset + size > fileSize) throw new IntegrityError(`tar ${path}: unexpected end of archive`);
      const buffer = Buffer.alloc(size);
      await handle.read(buffer, 0, size, offset);
      return buffer;
    };
    const assembler = new EntryAssembler(options);
    const entries: TarIndexEntry[] = [];
    let offset = 0;
    while (offset + blockSize <= fileSize) {
      const decoded = decodeHeader(await readAt(offset, blockSize));
      offset += blockSize;
      const header = await assembler.accept(decoded, async (size) => {
        const bytes = await readAt(offset, size);
        offset += padded(size);
        return bytes;
      });
      if (header === "end") break;
      if (!header) continue;
      if (offset + header.size > fileSize) throw new IntegrityError(`tar ${path}: entry "${header.path}" runs past the end of the archive`);
      entries.push({ header, offset });
      offset += padded(header.size);
    }
    return new TarIndex(entries);
  } finally {
    await handle.close();
  }
}

/** Streams one member of a tar file found by indexTarFile. */
export function readTarMember(path: string, entry: TarIndexEntry): ReadableStream<Uint8Array> {
  return readFileStream(path, { start: entry.offset, end: entry.offset + entry.header.size });
}
