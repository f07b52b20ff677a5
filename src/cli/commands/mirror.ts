import { defineCommand } from "citty";
import { StevedoreError, UsageError } from "../../core/errors.ts";
import { mirror } from "../../verbs/mirror.ts";
import { commonArgs, jobsArg, jsonArg, platformArg, platformsFrom, positiveInt } from "../args.ts";
import { log } from "../log.ts";
import { progressFor } from "../progress.ts";
import { checkPlainCredentials, copyRegistryArgs, reachedRefs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore mirror --all docker://localhost:5000/team/app:1.0 --to ./mirror --nginx-conf ./mirror.nginx.conf",
  "stevedore mirror oci:./build:app=team/app:1.0 --to ./mirror --caddyfile ./Caddyfile",
  "stevedore mirror --all 'docker://localhost:5000/team/app:1.*' --to ./mirror   # every 1.x tag",
  "stevedore mirror --to ./mirror --nginx-conf ./mirror.nginx.conf     # regenerate the config only",
];

export default defineCommand({
  meta: { name: "mirror", description: "Copy images into a static tree that nginx, Caddy or a bucket serves as a read-only registry" },
  args: {
    to: { type: "string", valueHint: "DIR", description: "The static tree (created if absent)" },
    "nginx-conf": { type: "string", valueHint: "FILE", description: "Write a standalone nginx.conf serving DIR" },
    caddyfile: { type: "string", valueHint: "FILE", description: "Write a Caddyfile serving DIR" },
    listen: { type: "string", valueHint: "host:port", description: "Where the generated configurations listen (default 0.0.0.0:8080)" },
    all: { type: "boolean", alias: "a", description: "Copy every platform of an index" },
    referrers: { type: "boolean", description: "Also copy signatures, SBOMs and attestations" },
    ...platformArg,
    ...jobsArg,
    ...jsonArg,
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.to) throw new UsageError("missing --to DIR");
    const sources = args._.filter((a) => a !== "mirror");
    if (sources.length === 0 && !args["nginx-conf"] && !args.caddyfile) throw new UsageError("name at least one image to mirror (or a config to regenerate)");
    checkPlainCredentials(args, { sources: reachedRefs(sources.map((s) => s.split("=")[0]!)), destinations: [] });
    const results = await mirror(sources, args.to, {
      nginxConf: args["nginx-conf"],
      caddyfile: args.caddyfile,
      listen: args.listen,
      all: args.all,
      referrers: args.referrers,
      platforms: platformsFrom(rawArgs),
      jobs: positiveInt(args.jobs, "--jobs"),
      sourceRegistry: registryOptionsFrom(args, "src"),
      onProgress: progressFor(args),
      signal: cliSignal,
    });
    const failed = results.filter((r) => !r.ok);
    if (args.json) printJson(results.map((r) => (r.ok ? { source: r.source, destination: r.destination, digest: r.result.digest } : { source: r.source, destination: r.destination, error: r.error.message })));
    else printLines(results.flatMap((r) => (r.ok ? [`${r.result.digest} ${r.destination}`] : [])));
    for (const f of failed) if (!f.ok) log.error(`${f.source}: ${f.error.message}`);
    if (failed.length > 0) throw new StevedoreError(`${failed.length} of ${results.length} images failed to mirror`);
  },
});
