import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { exportFilesystem } from "../../verbs/files.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { log } from "../log.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { writeOutput } from "../output.ts";
import { cliSignal } from "../signal.ts";

export const examples = ["stevedore export docker://localhost:5000/team/app:1.0 -o rootfs.tar", "stevedore export oci:./layout:app -o - | tar -t | head"];

export default defineCommand({
  meta: { name: "export", description: "Write an image's flattened filesystem as one tar (to a file, or - for stdout)" },
  args: { image: { type: "positional", description: "Image" }, output: { type: "string", alias: "o", valueHint: "FILE|-", description: "Where the tar goes" }, ...platformArg, ...registryArgs, ...commonArgs },
  async run({ args, rawArgs }) {
    if (!args.output) throw new UsageError("missing -o FILE (or -o - for stdout)");
    const platforms = platformsFrom(rawArgs);
    const options = { platform: platforms[0], registry: registryOptionsFrom(args), signal: cliSignal };
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const count = await writeOutput(args.output, (sink) => exportFilesystem(ref, sink, options));
    if (args.output !== "-") log.success(`wrote ${count} entries to ${args.output}`);
  },
});
