#!/usr/bin/env bun
export {};
/**
 * A small closed-loop load generator for requests wrk cannot time (wrk waits for a HEAD
 * response's body): `bun scripts/bench/load.ts METHOD URL SECONDS CONNECTIONS` prints requests/s.
 */
const [method = "HEAD", url = "", secondsText = "5", connectionsText = "64"] = process.argv.slice(2);
const until = performance.now() + Number(secondsText) * 1000;
let done = 0;
let failed = 0;
async function loop(): Promise<void> {
  while (performance.now() < until) {
    const response = await fetch(url, { method });
    await response.arrayBuffer();
    if (response.ok) done++;
    else failed++;
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: Number(connectionsText) }, loop));
if (failed > 0) console.error(`${failed} requests failed`);
console.log((done / ((performance.now() - started) / 1000)).toFixed(0));
