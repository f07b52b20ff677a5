#!/usr/bin/env bun
/**
 * `ls -R` and `sbom` on a ~500 MiB image of five layers (many small files, a few large ones, a real
 * dpkg status, whiteouts), timed with peak RSS (target: under 200 MiB).
 * Usage: bun scripts/bench/fs.ts [--dir DIR]   (needs dist/stevedore: npm run build)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { TarWriter } from "../../src/archive/tar-writer.ts";
import { digestOf } from "../../src/core/digest.ts";
import { encodeManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { writeImage } from "../../test/helpers/random-image.ts";
import { timeCommand } from "./lib.ts";

const { values } = parseArgs({ options: { dir: { type: "string", default: ".bench" } } });
const layout = join(values.dir!, "fs-image");
const stevedore = join(process.cwd(), "dist/stevedore");

async function layer(index: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
  const file = async (path: string, body: Uint8Array) => writer.add({ path, type: "file", size: body.byteLength, mode: 0o644, uid: 0, gid: 0, mtime: 0 }, body);
  for (let i = 0; i < 3000; i++) await file(`usr/share/l${index}/d${i % 50}/f${i}.txt`, randomBytes(1024));
  for (let i = 0; i < 4; i++) await file(`opt/big${index}-${i}.bin`, randomBytes(24 << 20));
  for (let i = 0; i < 200; i++) await file(`app/node_modules/p${index}-${i}/package.json`, new TextEncoder().encode(JSON.stringify({ name: `p${index}-${i}`, version: "1.0.0" })));
  if (index === 0) await file("var/lib/dpkg/status", readFileSync("/var/lib/dpkg/status"));
  if (index > 0) await file(`usr/share/l${index - 1}/.wh.d0`, new Uint8Array());
  await writer.finish();
  return Buffer.concat(chunks);
}

if (!existsSync(join(layout, "index.json"))) {
  const blobs = new Map();
  const tars: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) tars.push(await layer(i));
  const layers = tars.map((t) => {
    const d = { mediaType: MediaTypes.ociLayer, digest: digestOf(t), size: t.byteLength };
    blobs.set(d.digest, { desc: d, bytes: t });
    return d;
  });
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }));
  const configDesc = { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.byteLength };
  blobs.set(configDesc.digest, { desc: configDesc, bytes: config });
  const top = encodeManifest({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers }, MediaTypes.ociManifest);
  await writeImage(parseImageRef(`oci:${layout}:fs`), { top, images: [top], blobs });
}

const ls = timeCommand([stevedore, "ls", "-R", `oci:${layout}:fs`, "/"]);
const sbom = timeCommand([stevedore, "sbom", "--format", "spdx-json", `oci:${layout}:fs`]);
console.log(`ls -R on ~500 MiB, 5 layers: ${ls.seconds.toFixed(2)} s, peak RSS ${ls.maxRssMiB.toFixed(0)} MiB (target < 200) ${ls.maxRssMiB < 200 ? "PASS" : "MISS"}`);
console.log(`sbom on the same image:      ${sbom.seconds.toFixed(2)} s, peak RSS ${sbom.maxRssMiB.toFixed(0)} MiB (target < 200) ${sbom.maxRssMiB < 200 ? "PASS" : "MISS"}`);
