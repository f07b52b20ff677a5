import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { catFile } from "../../verbs/files.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printBytes } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = ["stevedore cat docker://localhost:5000/team/app:1.0 /etc/os-release", "stevedore cat oci:./layout:app /usr/bin/tool > tool"];

export default defineCommand({
  meta: { name: "cat", description: "Print a file of an image (symlinks followed inside the image) to stdout" },
  args: { image: { type: "positional", description: "Image" }, path: { type: "positional", description: "File path in the image" }, ...platformArg, ...registryArgs, ...commonArgs },
  async run({ args, rawArgs }) {
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("cat takes one --platform");
    await catFile(parseImageRef(required(args.image, "IMAGE")), required(args.path, "PATH"), printBytes, { platform: platforms[0], registry: registryOptionsFrom(args), signal: cliSignal });
  },
});
