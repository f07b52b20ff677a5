import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { UsageError } from "../../core/errors.ts";
import { getImageDigest, getRawManifest } from "../../verbs/inspect.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = [
  "stevedore digest docker://localhost:5000/team/app:1.0",
  "stevedore digest oci:./layout:app",
  "stevedore digest --platform linux/arm64 docker://localhost:5000/team/app:1.0   # that platform's image in the index",
];

export default defineCommand({
  meta: { name: "digest", description: "Print the digest of the manifest a reference names (an index stays an index; --platform picks its image)" },
  args: { image: { type: "positional", description: "Image" }, ...platformArg, ...registryArgs, ...commonArgs },
  async run({ args, rawArgs }) {
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("digest takes one --platform");
    const options = { registry: registryOptionsFrom(args), platform: platforms[0] };
    printLines([platforms[0] ? await getImageDigest(ref, options) : (await getRawManifest(ref, options)).digest]);
  },
});
