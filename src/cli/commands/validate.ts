import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { validate } from "../../verbs/validate.ts";
import { commonArgs, jsonArg, platformArg, platformsFrom, required } from "../args.ts";
import { log } from "../log.ts";
import { progressFor } from "../progress.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore validate docker://localhost:5000/team/app:1.0          # every platform, every blob",
  "stevedore validate --referrers oci:./mirror-layout:app            # with its signatures and SBOMs",
  "stevedore validate --platform linux/arm64 static:./site//team/app:1.0",
];

export default defineCommand({
  meta: { name: "validate", description: "Read every manifest and blob of an image, checking digests and sizes; write nothing" },
  args: {
    image: { type: "positional", description: "Image to check" },
    referrers: { type: "boolean", description: "Check what refers to it too (signatures, SBOMs, attestations)" },
    ...platformArg,
    ...jsonArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const result = await validate(parseImageRef(required(args.image, "IMAGE")), {
      platforms: platformsFrom(rawArgs),
      referrers: args.referrers,
      sourceRegistry: registryOptionsFrom(args),
      signal: cliSignal,
      onProgress: progressFor(args, "check"),
    });
    if (args.json) return printJson(result);
    const checked = result.blobs.copied;
    log.success(`${result.source}: ${checked} blob${checked === 1 ? "" : "s"} (${(result.blobs.bytes / 2 ** 20).toFixed(1)} MiB) match their digests${result.referrers ? `, and ${result.referrers} referrers` : ""}`);
    printLines([result.digest]);
  },
});
