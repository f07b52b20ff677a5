import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { flatten } from "../../verbs/flatten.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = [
  "stevedore flatten docker://localhost:5000/team/app:1.0 -t docker://localhost:5000/team/app:1.0-flat",
  "stevedore flatten --platform linux/arm64 oci:./layout:multi -t oci:./layout:arm64-flat",
];

export default defineCommand({
  meta: { name: "flatten", description: "Write a copy of an image whose layers are squashed into one (whiteouts and what they hid gone)" },
  args: {
    image: { type: "positional", description: "Image to flatten" },
    tag: { type: "string", alias: "t", valueHint: "DST", description: "Where the flattened image goes" },
    ...platformArg,
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.tag) throw new UsageError("flatten needs -t DST");
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("flatten takes one --platform");
    const [image, destination] = [parseImageRef(required(args.image, "IMAGE")), parseImageRef(args.tag)];
    const result = await flatten(image, destination, {
      from: platforms[0],
      ...copyOptionsFrom(args, { sources: [image], destination }),
    });
    log.success(`wrote ${result.destination}`);
    printLines([result.digest]);
  },
});
