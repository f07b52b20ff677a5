import { defineCommand } from "citty";
import { StevedoreError, UsageError } from "../../core/errors.ts";
import { dirSourceJobs, dockerSourceJobs, yamlSourceJobs } from "../../verbs/sync-sources.ts";
import { parseSyncSpec, readSpec, sync } from "../../verbs/sync.ts";
import { commonArgs, jsonArg, platformArg, platformsFrom, positiveInt, required } from "../args.ts";
import { log } from "../log.ts";
import type { RegistryOptions } from "../../registry/client.ts";
import { checkPlainCredentials, copyRegistryArgs, credentialFlag, reachedRefs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore sync images.txt                 # each line: SRC DST; # comments",
  "printf 'docker://localhost:5000/a:1 oci:./a:1\\n' | stevedore sync -",
  "echo 'docker://ghcr.io/team/app:1.* docker://localhost:5000/mirror/app' | stevedore sync -   # every 1.x tag",
  "stevedore sync --dry-run --json images.txt | jq '.[] | select(.error)'",
  "stevedore sync --src yaml --dest docker sync.yml localhost:5000/mirror   # skopeo sync's YAML",
  "stevedore sync --src docker --dest dir registry.example.com/team/app ./usb   # every tag, one dir: image each",
  "stevedore sync --src dir --dest docker ./usb inner-registry:5000/mirror      # and back in, air-gapped",
];

export default defineCommand({
  meta: { name: "sync", description: "Copy many images from a spec file (SRC DST per line), or as skopeo sync does; a summary at the end" },
  args: {
    spec: { type: "positional", description: "Spec file, or - for standard input (with --src: the source)" },
    destination: { type: "positional", required: false, description: "With --src and --dest: where to sync to (registry/path, or a directory)" },
    src: { type: "string", valueHint: "docker|yaml|dir", description: "skopeo sync's form: the source is a repository (docker), a YAML file of registries (yaml) or dir: images (dir)" },
    dest: { type: "string", valueHint: "docker|dir", description: "skopeo sync's form: the destination is a registry path (docker) or a directory (dir)" },
    scoped: { type: "boolean", description: "With --src: keep the source's registry and whole path under the destination" },
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
    const sourceRegistry = registryOptionsFrom(args, "src");
    const { jobs, errors } = await jobsFrom(args, sourceRegistry);
    // a sync YAML checked its sources already: --src-creds reaches the one registry without credentials in the file
    const sources = args.src === "yaml" ? [] : reachedRefs(jobs.map((j) => j.source));
    checkPlainCredentials(args, { sources, destinations: reachedRefs(jobs.map((j) => j.destination)) });
    const results = [
      ...errors,
      ...(await sync(jobs, {
        parallel: positiveInt(args.jobs, "--jobs"),
        continueOnError: args["continue-on-error"],
        dryRun: args["dry-run"],
        all: args.all,
        platforms: platformsFrom(rawArgs),
        sourceRegistry,
        destinationRegistry: registryOptionsFrom(args, "dest"),
        signal: cliSignal,
      })),
    ].sort((a, b) => a.line - b.line);
    const failed = results.filter((r) => r.error);
    if (args.json) printJson(results);
    else printLines(results.filter((r) => !r.error).map((r) => `${args["dry-run"] ? "would copy " : ""}${r.source} ${r.destination} ${r.digest}`));
    for (const f of failed) log.error(f.error);
    const unit = args.src ? "images" : "lines";
    log.info(`${results.length - failed.length} of ${results.length} ${unit} ${args["dry-run"] ? "resolved" : "copied"}, ${failed.length} failed`);
    if (failed.length > 0) throw new StevedoreError(`${failed.length} of ${results.length} ${unit} failed`);
  },
});

/** The jobs of a spec file, or of skopeo's form (--src docker|yaml SOURCE --dest docker|dir DESTINATION). */
async function jobsFrom(args: { spec?: string; destination?: string; src?: string; dest?: string; scoped?: boolean } & Record<string, unknown>, registry: RegistryOptions) {
  const spec = required(args.spec, "SPEC");
  if (args.src === undefined && args.dest === undefined) {
    if (args.destination !== undefined) throw new UsageError(`a spec file names its own destinations; "${args.destination}" goes with --src and --dest`);
    return parseSyncSpec(await readSpec(spec));
  }
  if (args.src !== "docker" && args.src !== "yaml" && args.src !== "dir") throw new UsageError(`--src takes docker, yaml or dir${args.src === undefined ? ", with --dest" : `, not "${args.src}"`}`);
  // before any registry is asked: the form reaches several, and skopeo's has no plain --creds either
  const plain = credentialFlag(args);
  if (plain) throw new UsageError(`--src ${args.src} takes --src-${plain} and --dest-${plain}, not --${plain}`);
  if (args.dest !== "docker" && args.dest !== "dir") throw new UsageError(`--dest takes docker or dir${args.dest === undefined ? ", with --src" : `, not "${args.dest}"`}`);
  const target = { transport: args.dest, base: required(args.destination, "DESTINATION"), scoped: args.scoped } as const;
  if (args.src === "dir") return dirSourceJobs(spec, target);
  return args.src === "docker" ? dockerSourceJobs(spec, target, registry, cliSignal) : yamlSourceJobs(await readSpec(spec), target, registry, cliSignal);
}
