/** Shared by the benchmarks: timing a command, its peak RSS, and medians. */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";

export interface Run {
  readonly seconds: number;
  readonly maxRssMiB: number;
}

/**
 * Runs a command to completion, failing loudly; returns wall time and its peak RSS, read by GNU
 * time (`%M`): spawnSync's resource usage mixed in other children's peaks when this process had a
 * big heap of its own.
 */
export function timeCommand(cmd: readonly string[], env?: Record<string, string>): Run {
  const gnuTime = Bun.which("time", { PATH: "/usr/bin:/bin" });
  if (!gnuTime) throw new Error("GNU time is not installed (apt-get install -y time)");
  const started = performance.now();
  const proc = Bun.spawnSync([gnuTime, "-f", "%M", ...cmd], { stdout: "ignore", stderr: "pipe", env: { ...process.env, ...env } });
  const seconds = (performance.now() - started) / 1000;
  const stderr = proc.stderr.toString().trim();
  if (proc.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${proc.exitCode}): ${stderr}`);
  const kib = Number(stderr.split("\n").at(-1));
  return { seconds, maxRssMiB: kib / 1024 };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export function requireCommand(name: string): void {
  if (!Bun.which(name)) throw new Error(`${name} is not installed (apt-get install -y ${name})`);
}

/**
 * An OCI layout at `dir` holding `layers` uncompressed tar layers of random bytes (incompressible),
 * `layerMiB` each, tagged `bench`; reused when it already exists.
 */
export function benchImage(dir: string, layers = 4, layerMiB = 256): string {
  if (existsSync(join(dir, "index.json"))) return dir;
  mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
  const layerDescs = [];
  for (let i = 0; i < layers; i++) {
    const hasher = new Bun.CryptoHasher("sha256");
    const tmp = join(dir, `layer-${i}.tmp`);
    const fd = openSync(tmp, "w");
    const size = layerMiB << 20;
    const header = tarHeader(`random-${i}.bin`, size);
    const write = (b: Uint8Array) => {
      hasher.update(b);
      writeSync(fd, b);
    };
    write(header);
    for (let done = 0; done < size; done += 1 << 20) write(randomBytes(1 << 20));
    write(new Uint8Array(1024));
    closeSync(fd);
    const digest = `sha256:${hasher.digest("hex")}`;
    Bun.spawnSync(["mv", tmp, join(dir, "blobs/sha256", digest.slice(7))]);
    layerDescs.push({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size: 512 + size + 1024 });
  }
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: layerDescs.map((l) => l.digest) },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: put(dir, config, "application/vnd.oci.image.config.v1+json"),
    layers: layerDescs,
  });
  const top = put(dir, manifest, "application/vnd.oci.image.manifest.v1+json");
  Bun.write(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  Bun.write(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { "org.opencontainers.image.ref.name": "bench" } }] }));
  return dir;
}

function put(dir: string, text: string, mediaType: string) {
  const digest = digestOf(text);
  Bun.write(join(dir, "blobs/sha256", digest.slice(7)), text);
  return { mediaType, digest, size: Buffer.byteLength(text) };
}

function tarHeader(name: string, size: number): Uint8Array {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}
