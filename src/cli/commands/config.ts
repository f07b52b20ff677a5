import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { getConfig } from "../../verbs/inspect.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printBytes } from "../render.ts";

export const examples = ["stevedore config docker://localhost:5000/team/app:1.0 | jq .config.Env", "stevedore config --platform linux/arm64 oci:./layout:multi"];

export default defineCommand({
  meta: { name: "config", description: "Print an image's config, byte for byte (an index: the host's platform or --platform)" },
  args: { image: { type: "positional", description: "Image" }, ...platformArg, ...registryArgs, ...commonArgs },
  async run({ args, rawArgs }) {
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("config takes one --platform");
    printBytes(await getConfig(parseImageRef(required(args.image, "IMAGE")), { platform: platforms[0], registry: registryOptionsFrom(args) }));
  },
});
