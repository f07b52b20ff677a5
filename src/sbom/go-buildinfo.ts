/** What a Go binary says it was built from (Go 1.18+ inline build info). */
export interface GoBuildInfo {
  readonly goVersion: string;
  readonly main?: { readonly path: string; readonly version: string };
  readonly deps: readonly { readonly path: string; readonly version: string }[];
}

/** "\xff Go buildinf:" as bytes (0xff is one byte, not UTF-8). */
const magic = Uint8Array.from([0xff, ...new TextEncoder().encode(" Go buildinf:")]);
/** Magic, pointer size, flags, then padding to 32 bytes before the inline strings. */
const headerSize = 32;
/** Bytes kept after the magic: the two varint-prefixed strings are far shorter. */
const tail = 1 << 20;

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    value += (bytes[i]! & 0x7f) * 2 ** shift;
    if ((bytes[i]! & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return [-1, at];
}

/** Parses the build info that follows the magic (flags bit 2: inline varint-prefixed strings). */
export function parseGoBuildInfo(block: Uint8Array): GoBuildInfo | undefined {
  if (block.length < headerSize || (block[15]! & 2) === 0) return undefined;
  const [versionLength, afterVersion] = readVarint(block, headerSize);
  if (versionLength < 0 || afterVersion + versionLength > block.length) return undefined;
  const goVersion = new TextDecoder().decode(block.subarray(afterVersion, afterVersion + versionLength));
  const [modLength, afterMod] = readVarint(block, afterVersion + versionLength);
  if (modLength < 0 || afterMod + modLength > block.length) return { goVersion, deps: [] };
  // the module info is framed by 16-byte sentinels
  const modinfo = new TextDecoder().decode(block.subarray(afterMod, afterMod + modLength)).slice(16, -16);
  let main: GoBuildInfo["main"];
  const deps: { path: string; version: string }[] = [];
  for (const line of modinfo.split("\n")) {
    const [kind, path, version] = line.split("\t");
    if (kind === "mod" && path && version) main = { path, version };
    else if (kind === "dep" && path && version) deps.push({ path, version });
  }
  return { goVersion, ...(main ? { main } : {}), deps };
}

/** Finds and parses Go build info in a streamed file; undefined for anything that is not a Go binary. */
export async function scanGoBinary(body: AsyncIterable<Uint8Array>): Promise<GoBuildInfo | undefined> {
  let carry: Uint8Array = new Uint8Array(0);
  let found: Uint8Array | undefined;
  let first = true;
  for await (const chunk of body) {
    if (first) {
      first = false;
      // ELF, Mach-O or PE: anything else cannot be a Go binary
      const head = chunk.subarray(0, 4);
      const elf = head[0] === 0x7f && head[1] === 0x45;
      const macho = head[0] === 0xcf || head[0] === 0xfe || head[3] === 0xcf || head[3] === 0xfe;
      const pe = head[0] === 0x4d && head[1] === 0x5a;
      if (!elf && !macho && !pe) return undefined;
    }
    if (found) {
      if (found.length < tail) found = Buffer.concat([found, chunk]);
      continue;
    }
    const window = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const at = Buffer.from(window.buffer, window.byteOffset, window.byteLength).indexOf(Buffer.from(magic));
    if (at !== -1) found = window.subarray(at);
    else carry = window.subarray(Math.max(0, window.length - magic.length));
  }
  return found ? parseGoBuildInfo(found.subarray(0, tail)) : undefined;
}
