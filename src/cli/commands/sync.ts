import { defineCommand } from "citty";
import { StevedoreError } from "../../core/errors.ts";
import { parseSyncSpec, readSpec, sync } from "../../verbs/sync.ts";
import { commonArgs, jsonArg, platformArg, platformsFrom, positiveInt, required } from "../args.ts";
import { log } from "../log.ts";
import { copyRegistryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore sync images.txt                 # each line: SRC DST; # comments",
  "printf 'docker://localhost:5000/a:1 oci:./a:1\\n' | stevedore sync -",
  "echo 'docker://ghcr.io/team/app:1.* docker://localhost:5000/mirror/app' | stevedore sync -   # every 1.x tag",
  "stevedore sync --dry-run --json images.txt | jq '.[] | select(.error)'",
];

export default defineCommand({
  meta: { name: "sync", description: "Copy many images from a spec file (SRC DST per line); a summary at the end" },
  args: {
    spec: { type: "positional", description: "Spec file, or - for standard input" },
    all: { type: "boolean", alias: "a", description: "Copy every platform of each index" },
    "dry-run": { type: "boolean", description: "Resolve every source and print what would be copied; write nothing" },
    jobs: { type: "string", alias: "j", valueHint: "N", description: "Images copied at once (default 2)" },
    "continue-on-error": { type: "boolean", default: true, negativeDescription: "Stop starting new lines after the first failure", description: "Keep going after a failed line (default)" },
    ...platformArg,
    ...jsonArg,
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const { jobs, errors } = parseSyncSpec(await readSpec(required(args.spec, "SPEC")));
    const results = [
      ...errors,
      ...(await sync(jobs, {
        parallel: positiveInt(args.jobs, "--jobs"),
        continueOnError: args["continue-on-error"],
        dryRun: args["dry-run"],
        all: args.all,
        platforms: platformsFrom(rawArgs),
        sourceRegistry: registryOptionsFrom(args, "src"),
        destinationRegistry: registryOptionsFrom(args, "dest"),
        signal: cliSignal,
      })),
    ].sort((a, b) => a.line - b.line);
    const failed = results.filter((r) => r.error);
    if (args.json) printJson(results);
    else printLines(results.filter((r) => !r.error).map((r) => `${args["dry-run"] ? "would copy " : ""}${r.source} ${r.destination} ${r.digest}`));
    for (const f of failed) log.error(f.error);
    log.info(`${results.length - failed.length} of ${results.length} lines ${args["dry-run"] ? "resolved" : "copied"}, ${failed.length} failed`);
    if (failed.length > 0) throw new StevedoreError(`${failed.length} of ${results.length} lines failed`);
  },
});
