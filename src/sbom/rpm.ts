import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The header tags an SBOM needs (rpmtag.h). */
const tags = { name: 1000, version: 1001, release: 1002, epoch: 1003, arch: 1022 } as const;
const typeString = 6;
const typeInt32 = 4;

export interface RpmPackage {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch?: number;
  readonly arch?: string;
}

/**
 * Reads an RPM header blob as rpmdb.sqlite stores it: a count of index entries and the data size
 * (big-endian), 16-byte entries (tag, type, offset, count), then the data. Malformed blobs give undefined.
 */
export function parseRpmHeader(blob: Uint8Array): RpmPackage | undefined {
  if (blob.byteLength < 8) return undefined;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const entries = view.getUint32(0);
  const dataLength = view.getUint32(4);
  const dataStart = 8 + entries * 16;
  if (entries > 100_000 || dataStart + dataLength > blob.byteLength) return undefined;
  const found = new Map<number, string | number>();
  for (let i = 0; i < entries; i++) {
    const at = 8 + i * 16;
    const tag = view.getUint32(at);
    const type = view.getUint32(at + 4);
    const offset = view.getUint32(at + 8);
    if (offset >= dataLength) continue;
    if (type === typeString && Object.values(tags).includes(tag as never)) {
      const start = dataStart + offset;
      const end = blob.indexOf(0, start);
      if (end !== -1) found.set(tag, new TextDecoder().decode(blob.subarray(start, end)));
    } else if (type === typeInt32 && tag === tags.epoch) {
      found.set(tag, view.getUint32(dataStart + offset));
    }
  }
  const name = found.get(tags.name);
  const version = found.get(tags.version);
  if (typeof name !== "string" || typeof version !== "string") return undefined;
  const epoch = found.get(tags.epoch);
  const arch = found.get(tags.arch);
  return { name, version, release: String(found.get(tags.release) ?? ""), ...(typeof epoch === "number" ? { epoch } : {}), ...(typeof arch === "string" ? { arch } : {}) };
}

/** The packages of an rpmdb.sqlite file (its bytes, from the image): each row of Packages is a header. */
export function readRpmDatabase(bytes: Uint8Array): RpmPackage[] {
  const dir = mkdtempSync(join(tmpdir(), "stevedore-rpmdb-"));
  try {
    const path = join(dir, "rpmdb.sqlite");
    writeFileSync(path, bytes);
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.query("SELECT blob FROM Packages").all() as { blob: Uint8Array }[];
      return rows.flatMap((r) => parseRpmHeader(new Uint8Array(r.blob)) ?? []);
    } finally {
      db.close();
    }
  } catch {
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
