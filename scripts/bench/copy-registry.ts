#!/usr/bin/env bun
/**
 * The ~1 GiB 4-layer image pushed oci: → docker:// and pulled back docker:// → oci: against Debian's
 * docker-registry on loopback, stevedore against skopeo, several rounds in one run. Prints median
 * times, ratios (targets: pull ≤ 0.4, push ≤ 1.0) and peak RSS (target ≤ 128 MiB).
 * Usage: bun scripts/bench/copy-registry.ts [--rounds N] [--dir DIR]   (needs dist/stevedore)
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startRegistry } from "../../test/helpers/registry.ts";
import { benchImage, median, requireCommand, timeCommand } from "./lib.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, dir: { type: "string", default: ".bench" } } });
const rounds = Number(values.rounds);
requireCommand("skopeo");
const stevedore = join(process.cwd(), "dist/stevedore");
if (!(await Bun.file(stevedore).exists())) throw new Error("dist/stevedore is missing: run npm run build first");
const source = `oci:${benchImage(join(values.dir!, "source"))}:bench`;
const pulled = join(values.dir!, "pulled");
const skopeo = ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false"];

const times = { ourPush: [] as number[], theirPush: [] as number[], ourPull: [] as number[], theirPull: [] as number[] };
let rss = { ours: 0, theirs: 0 };
for (let round = 1; round <= rounds; round++) {
  const registry = await startRegistry("none"); // a fresh, empty registry: every push uploads every blob
  try {
    const ours = `docker://${registry.host}/bench/stevedore:v1`;
    const theirs = `docker://${registry.host}/bench/skopeo:v1`;
    const runs = {
      ourPush: timeCommand([stevedore, "copy", "-q", source, ours]),
      theirPush: timeCommand([...skopeo, source, theirs]),
      ourPull: (rmSync(pulled, { recursive: true, force: true }), timeCommand([stevedore, "copy", "-q", ours, `oci:${pulled}:x`])),
      theirPull: (rmSync(pulled, { recursive: true, force: true }), timeCommand([...skopeo, theirs, `oci:${pulled}:x`])),
    };
    for (const [k, v] of Object.entries(runs)) times[k as keyof typeof times].push(v.seconds);
    rss = { ours: Math.max(rss.ours, runs.ourPush.maxRssMiB, runs.ourPull.maxRssMiB), theirs: Math.max(rss.theirs, runs.theirPush.maxRssMiB, runs.theirPull.maxRssMiB) };
    console.error(`round ${round}: push ${runs.ourPush.seconds.toFixed(2)} vs ${runs.theirPush.seconds.toFixed(2)} s, pull ${runs.ourPull.seconds.toFixed(2)} vs ${runs.theirPull.seconds.toFixed(2)} s`);
  } finally {
    registry.stop();
    rmSync(pulled, { recursive: true, force: true });
  }
}
const push = median(times.ourPush) / median(times.theirPush);
const pull = median(times.ourPull) / median(times.theirPull);
console.log(`registry copies of 1 GiB against docker-registry, ${rounds} rounds`);
console.log(`  push: stevedore ${median(times.ourPush).toFixed(2)} s, skopeo ${median(times.theirPush).toFixed(2)} s, ratio ${push.toFixed(2)} (target ≤ 1.00) ${push <= 1 ? "PASS" : "MISS"}`);
console.log(`  pull: stevedore ${median(times.ourPull).toFixed(2)} s, skopeo ${median(times.theirPull).toFixed(2)} s, ratio ${pull.toFixed(2)} (target ≤ 0.40) ${pull <= 0.4 ? "PASS" : "MISS"}`);
console.log(`  peak RSS: stevedore ${rss.ours.toFixed(0)} MiB (target ≤ 128) ${rss.ours <= 128 ? "PASS" : "MISS"}, skopeo ${rss.theirs.toFixed(0)} MiB`);
