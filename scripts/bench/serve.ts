#!/usr/bin/env bun
/**
 * stevedore serve against Debian's docker-registry on this machine, in one run: requests/s of
 * manifest GET (wrk) and blob HEAD (scripts/bench/load.ts) under concurrent load, GET throughput of a 256 MiB blob (curl),
 * and the time to push the ~1 GiB test image into each with the same client (stevedore copy).
 * Targets: ≥10× distribution's req/s, ≥1.3× its blob throughput, ≤0.5× its push time.
 * Usage: bun scripts/bench/serve.ts [--dir DIR]   (needs dist/stevedore, wrk, curl, docker-registry)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startRegistry } from "../../test/helpers/registry.ts";
import { startServe } from "../../test/helpers/serve.ts";
import { benchImage, median, requireCommand, timeCommand } from "./lib.ts";

const { values } = parseArgs({ options: { dir: { type: "string", default: ".bench" }, seconds: { type: "string", default: "5" } } });
for (const tool of ["wrk", "curl", "docker-registry"]) requireCommand(tool);
const stevedore = join(process.cwd(), "dist/stevedore");
const source = benchImage(join(values.dir!, "source"));
const work = mkdtempSync(join(tmpdir(), "stevedore-bench-serve-"));

/** wrk's Requests/sec for a URL, 2 threads and 64 connections. */
function wrk(url: string, extra: string[] = []): number {
  const out = Bun.spawnSync(["wrk", "-t2", "-c64", `-d${values.seconds}s`, ...extra, url]).stdout.toString();
  const match = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!match) throw new Error(`wrk said: ${out}`);
  return Number(match[1]);
}

/** Blob HEAD req/s from scripts/bench/load.ts (wrk cannot time HEAD answers that carry a Content-Length). */
function headLoad(url: string): number {
  const out = Bun.spawnSync([process.execPath, join(import.meta.dir, "load.ts"), "HEAD", url, values.seconds!, "64"]).stdout.toString();
  return Number(out.trim());
}

/** MiB/s of four concurrent downloads of the 256 MiB blob (one curl alone tops out near 1.2 GiB/s here). */
async function blobRound(url: string): Promise<number> {
  const started = performance.now();
  const codes = await Promise.all(Array.from({ length: 4 }, () => Bun.spawn(["curl", "-sf", "-o", "/dev/null", url]).exited));
  if (codes.some((c) => c !== 0)) throw new Error(`curl failed for ${url}`);
  return (4 * 256) / ((performance.now() - started) / 1000);
}

/**
 * Median blob GET throughput of each server over seven rounds, the servers taking turns in each
 * round (so both see the same moments of this shared machine), after one unmeasured round: serve
 * writes blobs with direct I/O, so its first read comes from the disk while distribution's copy
 * sits in the page cache; the warm-up puts both in the cache and measures the servers, not the disk.
 */
async function blobThroughput(urls: Record<"distribution" | "stevedore", string>): Promise<{ distribution: number; stevedore: number }> {
  const rounds = { distribution: [] as number[], stevedore: [] as number[] };
  for (let round = -1; round < 7; round++) {
    for (const name of ["distribution", "stevedore"] as const) {
      const rate = await blobRound(urls[name]);
      if (round >= 0) rounds[name].push(rate);
    }
  }
  return { distribution: median(rounds.distribution), stevedore: median(rounds.stevedore) };
}

const distribution = await startRegistry("none");
const ours = await startServe(["--root", join(work, "root")]);
// distribution does not fsync; this one neither, to compare like with like (the default fsyncs every blob)
const oursNoFsync = await startServe(["--root", join(work, "root-nofsync"), "--no-fsync"]);
try {
  const results: Record<string, { distribution: number; stevedore: number }> = {};
  // three rounds each, interleaved, into a new repository each time (so every blob is uploaded); medians compared
  const pushes: Record<string, number[]> = {};
  for (let round = 1; round <= 3; round++) {
    for (const [name, host] of [["distribution", distribution.host], ["stevedore", ours.host], ["stevedore --no-fsync", oursNoFsync.host]] as const) {
      (pushes[name] ??= []).push(timeCommand([stevedore, "copy", "-q", `oci:${source}:bench`, `docker://${host}/bench/push-${round}:v1`]).seconds);
    }
  }
  const push = Object.fromEntries(Object.entries(pushes).map(([name, times]) => [name, median(times)]));
  const manifest = JSON.parse(Bun.spawnSync([stevedore, "inspect", "--raw", `oci:${source}:bench`]).stdout.toString());
  const blob = manifest.layers[0].digest as string;
  for (const [name, host] of [["distribution", distribution.host], ["stevedore", ours.host]] as const) {
    const accept = ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"];
    (results["manifest GET req/s"] ??= { distribution: 0, stevedore: 0 })[name] = wrk(`http://${host}/v2/bench/push-1/manifests/v1`, accept);
    (results["blob HEAD req/s"] ??= { distribution: 0, stevedore: 0 })[name] = headLoad(`http://${host}/v2/bench/push-1/blobs/${blob}`);
  }
  const blobUrl = (host: string) => `http://${host}/v2/bench/push-1/blobs/${blob}`;
  results["256 MiB blob GET MiB/s"] = await blobThroughput({ distribution: blobUrl(distribution.host), stevedore: blobUrl(ours.host) });
  const targets: Record<string, number> = { "manifest GET req/s": 10, "blob HEAD req/s": 10, "256 MiB blob GET MiB/s": 1.3 };
  for (const [what, r] of Object.entries(results)) {
    const ratio = r.stevedore / r.distribution;
    console.log(`${what.padEnd(24)} distribution ${r.distribution.toFixed(0).padStart(7)}  stevedore ${r.stevedore.toFixed(0).padStart(7)}  ratio ${ratio.toFixed(2)} (target ≥ ${targets[what]}) ${ratio >= targets[what]! ? "PASS" : "MISS"}`);
  }
  for (const name of ["stevedore", "stevedore --no-fsync"]) {
    const ratio = push[name]! / push.distribution!;
    console.log(`${`1 GiB push s (${name})`.padEnd(24)} distribution ${push.distribution!.toFixed(2).padStart(7)}  stevedore ${push[name]!.toFixed(2).padStart(7)}  ratio ${ratio.toFixed(2)} (target ≤ 0.5) ${ratio <= 0.5 ? "PASS" : "MISS"}; ${push[name]!.toFixed(2)} s/GiB (target ≤ 2.5) ${push[name]! <= 2.5 ? "PASS" : "MISS"}`);
  }
} finally {
  distribution.stop();
  await ours.stop();
  await oursNoFsync.stop();
  rmSync(work, { recursive: true, force: true });
}
