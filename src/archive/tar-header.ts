import { IntegrityError } from "../core/errors.ts";

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "char-device" | "block-device" | "fifo";

export interface TarHeader {
  readonly path: string;
  readonly type: TarEntryType;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname?: string;
  readonly gname?: string;
  /** Seconds since the epoch (pax may give fractions). */
  readonly mtime: number;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  /** pax records other than those mapped onto the fields above (xattrs, …). */
  readonly pax?: Readonly<Record<string, string>>;
}

export const blockSize = 512;
const typeFlags: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  "char-device": "3",
  "block-device": "4",
  directory: "5",
  fifo: "6",
};
const typeOfFlag = new Map<string, TarEntryType>([...Object.entries(typeFlags).map(([t, f]) => [f, t as TarEntryType] as const), ["\0", "file"], ["7", "file"]]);

/** Header kinds that describe the next entry rather than being one. */
export type MetaKind = "pax" | "pax-global" | "gnu-longname" | "gnu-longlink";
const metaOfFlag: Record<string, MetaKind> = { x: "pax", g: "pax-global", L: "gnu-longname", K: "gnu-longlink" };

export type DecodedHeader =
  | { readonly kind: "entry"; readonly header: TarHeader }
  | { readonly kind: MetaKind; readonly size: number }
  | { readonly kind: "end" };

const decoder = new TextDecoder();

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

/** Octal, or base-256 (high bit set) as GNU and Go write for big values. */
function readNumber(block: Uint8Array, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = readString(block, offset, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new IntegrityError(`tar: invalid number field "${text}"`);
  return Number.parseInt(text, 8);
}

function checksumOf(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < blockSize; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** Decodes one 512-byte header block; an all-zero block marks the end. */
export function decodeHeader(block: Uint8Array): DecodedHeader {
  if (block.every((b) => b === 0)) return { kind: "end" };
  const storedText = readString(block, 148, 8).trim();
  const stored = /^[0-7]+$/.test(storedText) ? Number.parseInt(storedText, 8) : -1;
  const { unsigned, signed } = checksumOf(block);
  if (stored !== unsigned && stored !== signed) throw new IntegrityError("tar: header checksum mismatch (corrupt, or not a tar archive)");
  const flag = String.fromCharCode(block[156]!);
  const size = readNumber(block, 124, 12);
  const meta = metaOfFlag[flag];
  if (meta) return { kind: meta, size };
  const ustar = readString(block, 257, 6).startsWith("ustar");
  const prefix = ustar ? readString(block, 345, 155) : "";
  const name = readString(block, 0, 100);
  const type = typeOfFlag.get(flag) ?? (name.endsWith("/") ? "directory" : "file");
  const header: TarHeader = {
    path: prefix ? `${prefix}/${name}` : name,
    type,
    size: type === "file" ? size : 0,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    mtime: readNumber(block, 136, 12),
    ...(ustar ? { uname: readString(block, 265, 32), gname: readString(block, 297, 32) } : {}),
    ...(type === "symlink" || type === "hardlink" ? { linkname: readString(block, 157, 100) } : {}),
    ...(type === "char-device" || type === "block-device" ? { devmajor: readNumber(block, 329, 8), devminor: readNumber(block, 337, 8) } : {}),
  };
  return { kind: "entry", header };
}

/** Parses pax records (`<len> key=value\n`). */
export function parsePax(bytes: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < bytes.length) {
    const space = bytes.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(decoder.decode(bytes.subarray(offset, space)));
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > bytes.length) throw new IntegrityError("tar: malformed pax header");
    const record = decoder.decode(bytes.subarray(space + 1, offset + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    offset += length;
  }
  return records;
}

/** Applies pax and GNU long-name records to the entry they precede. */
export function applyExtensions(header: TarHeader, pax: Record<string, string>, longName?: string, longLink?: string): TarHeader {
  const { path, linkpath, size, uid, gid, uname, gname, mtime, ...rest } = pax;
  const num = (v: string | undefined, fallback: number) => (v === undefined || v === "" || Number.isNaN(Number(v)) ? fallback : Number(v));
  return {
    ...header,
    path: path ?? longName ?? header.path,
    ...(header.linkname !== undefined || linkpath !== undefined || longLink !== undefined ? { linkname: linkpath ?? longLink ?? header.linkname } : {}),
    size: header.type === "file" ? num(size, header.size) : 0,
    uid: num(uid, header.uid),
    gid: num(gid, header.gid),
    mtime: num(mtime, header.mtime),
    ...(uname !== undefined ? { uname } : {}),
    ...(gname !== undefined ? { gname } : {}),
    ...(Object.keys(rest).length > 0 ? { pax: rest } : {}),
  };
}

const encoder = new TextEncoder();
const maxOctal = (length: number) => 8 ** (length - 1) - 1;

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  block.set(encoder.encode(value).subarray(0, length), offset);
}

function writeNumber(block: Uint8Array, offset: number, length: number, value: number): void {
  if (value <= maxOctal(length)) {
    writeString(block, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
    return;
  }
  // base-256: GNU tar and Go read it; used only for sizes of 8 GiB and more
  let v = value;
  for (let i = length - 1; i > 0; i--) {
    block[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
  block[offset] = 0x80;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** Splits a long path into ustar's prefix and name, when it can. */
function splitUstar(path: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") return { prefix, name };
  }
  return undefined;
}

function ustarBlock(h: TarHeader, path: { prefix: string; name: string }, flag: string, size: number, linkname: string): Uint8Array {
  const block = new Uint8Array(blockSize);
  writeString(block, 0, 100, path.name);
  writeNumber(block, 100, 8, h.mode & 0o7777);
  writeNumber(block, 108, 8, Math.min(h.uid, maxOctal(8)));
  writeNumber(block, 116, 8, Math.min(h.gid, maxOctal(8)));
  writeNumber(block, 124, 12, size);
  writeNumber(block, 136, 12, Math.max(0, Math.min(Math.floor(h.mtime), maxOctal(12))));
  writeString(block, 148, 8, "        ");
  writeString(block, 156, 1, flag);
  writeString(block, 157, 100, linkname);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 265, 32, h.uname ?? "");
  writeString(block, 297, 32, h.gname ?? "");
  if (h.devmajor !== undefined) writeNumber(block, 329, 8, h.devmajor);
  if (h.devminor !== undefined) writeNumber(block, 337, 8, h.devminor);
  writeString(block, 345, 155, path.prefix);
  writeString(block, 148, 8, `${checksumOf(block).unsigned.toString(8).padStart(6, "0")}\0 `);
  return block;
}

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/**
 * Encodes a header as ustar, preceded by a pax header when a field does not fit (long or
 * non-ASCII names and link targets, big ids, fractional times, extra records). Sizes of 8 GiB and
 * more use base-256 rather than pax, so a placeholder header can be rewritten in place later.
 */
export function encodeHeader(h: TarHeader): Uint8Array {
  const size = h.type === "file" ? h.size : 0;
  const records: string[] = [];
  const split = isAscii(h.path) ? splitUstar(h.path) : undefined;
  if (!split) records.push(paxRecord("path", h.path));
  const linkname = h.linkname ?? "";
  if (Buffer.byteLength(linkname) > 100 || !isAscii(linkname)) records.push(paxRecord("linkpath", linkname));
  if (h.uid > maxOctal(8)) records.push(paxRecord("uid", String(h.uid)));
  if (h.gid > maxOctal(8)) records.push(paxRecord("gid", String(h.gid)));
  if (!Number.isInteger(h.mtime) || h.mtime < 0 || h.mtime > maxOctal(12)) records.push(paxRecord("mtime", String(h.mtime)));
  for (const [key, value] of [["uname", h.uname], ["gname", h.gname]] as const) {
    if (value !== undefined && (Buffer.byteLength(value) > 31 || !isAscii(value))) records.push(paxRecord(key, value));
  }
  for (const [key, value] of Object.entries(h.pax ?? {})) records.push(paxRecord(key, value));
  const main = ustarBlock(h, split ?? { prefix: "", name: asciiFallback(h.path) }, typeFlags[h.type], size, Buffer.byteLength(linkname) > 100 || !isAscii(linkname) ? "" : linkname);
  if (records.length === 0) return main;
  const paxBody = encoder.encode(records.join(""));
  const base = h.path.split("/").filter(Boolean).pop() ?? "entry";
  const paxHeader = ustarBlock({ ...h, uname: "", gname: "" }, { prefix: "", name: asciiFallback(`PaxHeaders/${base}`) }, "x", paxBody.byteLength, "");
  const out = new Uint8Array(blockSize * 2 + padded(paxBody.byteLength));
  out.set(paxHeader, 0);
  out.set(paxBody, blockSize);
  out.set(main, blockSize + padded(paxBody.byteLength));
  return out;
}

function asciiFallback(path: string): string {
  const ascii = path.replace(/[^\x20-\x7e]/g, "_");
  return Buffer.byteLength(ascii) <= 100 ? ascii : ascii.slice(-100);
}

/** Bytes up to the next block boundary. */
export function padded(size: number): number {
  return Math.ceil(size / blockSize) * blockSize;
}
