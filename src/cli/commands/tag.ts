import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { tagImage } from "../../verbs/registry.ts";
import { commonArgs, required } from "../args.ts";
import { log } from "../log.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore tag docker://localhost:5000/team/app:$GIT_SHA latest stable",
  "stevedore tag docker://localhost:5000/team/app@sha256:… 1.4.2",
  "stevedore tag oci:./layout:app release",
];

export default defineCommand({
  meta: { name: "tag", description: "Add tags to an image where it is, moving nothing but its manifest (like crane tag)" },
  args: {
    image: { type: "positional", description: "Image (docker://, oci: or static:)" },
    tag: { type: "positional", description: "New tag (more may follow)" },
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const image = required(args.image, "IMAGE");
    const ref = parseImageRef(image);
    // citty keeps every positional in args._: the tags are those after the image
    const tags = args._.slice(args._.indexOf(image) + 1);
    if (tags.length === 0) throw new UsageError("missing TAG: name at least one tag to add");
    const digest = await tagImage(ref, tags, { registry: registryOptionsFrom(args), signal: cliSignal });
    log.success(`tagged ${digest} as ${tags.join(", ")}`);
    printLines([digest]);
  },
});
