import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { copy } from "../../verbs/copy.ts";
import { commonArgs, jobsArg, jsonArg, platformArg, platformsFrom, positiveInt, required } from "../args.ts";
import { log } from "../log.ts";
import { progressFor } from "../progress.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore copy oci:./alpine:3.20 dir:./alpine",
  "stevedore copy --all oci-archive:./multi.tar oci:./layout:multi",
  "stevedore copy --platform linux/arm64 oci:./layout:app docker-archive:./app.tar:app:arm64",
];

export default defineCommand({
  meta: { name: "copy", description: "Copy an image between any two transports, keeping its digests" },
  args: {
    src: { type: "positional", description: "Source image (transport:reference)" },
    dst: { type: "positional", description: "Destination image (transport:reference)" },
    all: { type: "boolean", alias: "a", description: "Copy every platform of an index" },
    "no-fsync": { type: "boolean", description: "Skip fsync before renames (faster; a crash may lose the copy)" },
    ...platformArg,
    ...jobsArg,
    ...jsonArg,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const result = await copy(parseImageRef(required(args.src, "SRC")), parseImageRef(required(args.dst, "DST")), {
      all: args.all,
      platforms: platformsFrom(rawArgs),
      jobs: positiveInt(args.jobs, "--jobs"),
      fsync: !args["no-fsync"],
      onProgress: progressFor(args),
      signal: cliSignal,
    });
    if (args.json) return printJson(result);
    log.success(`copied ${result.source} to ${result.destination}: ${result.blobs.copied} blobs copied, ${result.blobs.skipped} skipped`);
    printLines([result.digest]);
  },
});
