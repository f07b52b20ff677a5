#!/usr/bin/env bun
/**
 * `stevedore copy oci:A oci:B` against `skopeo copy oci:A oci:B` on a ~1 GiB image of four
 * incompressible layers, several rounds in one run. Both fsync every blob before its rename.
 * Prints both medians, their ratio (target ≤ 0.5) and peak RSS (target ≤ 128 MiB).
 * Usage: bun scripts/bench/copy-local.ts [--rounds N] [--dir DIR]   (needs dist/stevedore: npm run build)
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchImage, median, requireCommand, timeCommand } from "./lib.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, dir: { type: "string", default: ".bench" } } });
const rounds = Number(values.rounds);
const work = values.dir!;
requireCommand("skopeo");
const stevedore = join(process.cwd(), "dist/stevedore");
if (!(await Bun.file(stevedore).exists())) throw new Error("dist/stevedore is missing: run npm run build first");

const source = benchImage(join(work, "source"));
const target = join(work, "target");
const results = { stevedore: [] as number[], skopeo: [] as number[], stevedoreRss: 0, skopeoRss: 0 };

for (let round = 1; round <= rounds; round++) {
  rmSync(target, { recursive: true, force: true });
  const ours = timeCommand([stevedore, "copy", "-q", `oci:${source}:bench`, `oci:${target}:bench`]);
  rmSync(target, { recursive: true, force: true });
  const theirs = timeCommand(["skopeo", "copy", "-q", `oci:${source}:bench`, `oci:${target}:bench`]);
  results.stevedore.push(ours.seconds);
  results.skopeo.push(theirs.seconds);
  results.stevedoreRss = Math.max(results.stevedoreRss, ours.maxRssMiB);
  results.skopeoRss = Math.max(results.skopeoRss, theirs.maxRssMiB);
  console.error(`round ${round}: stevedore ${ours.seconds.toFixed(2)} s, skopeo ${theirs.seconds.toFixed(2)} s`);
}
rmSync(target, { recursive: true, force: true });

const ratio = median(results.stevedore) / median(results.skopeo);
console.log(`copy oci→oci, 1 GiB, ${rounds} rounds (fsync on both)`);
console.log(`  stevedore median ${median(results.stevedore).toFixed(2)} s, peak RSS ${results.stevedoreRss.toFixed(0)} MiB`);
console.log(`  skopeo    median ${median(results.skopeo).toFixed(2)} s, peak RSS ${results.skopeoRss.toFixed(0)} MiB`);
console.log(`  ratio stevedore/skopeo ${ratio.toFixed(2)} (target ≤ 0.50)  ${ratio <= 0.5 ? "PASS" : "MISS"}`);
console.log(`  peak RSS ${results.stevedoreRss.toFixed(0)} MiB (target ≤ 128)  ${results.stevedoreRss <= 128 ? "PASS" : "MISS"}`);
