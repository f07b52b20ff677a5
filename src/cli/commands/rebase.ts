import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { rebase } from "../../verbs/rebase.ts";
import { commonArgs, required } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = ["stevedore rebase docker://localhost:5000/team/app:1.0 --old-base docker://localhost:5000/base:1 --new-base docker://localhost:5000/base:2 -t docker://localhost:5000/team/app:1.0-base2"];

export default defineCommand({
  meta: { name: "rebase", description: "Move an image's own layers from an old base image onto a new one" },
  args: {
    image: { type: "positional", description: "Image to rebase" },
    "old-base": { type: "string", valueHint: "IMAGE", description: "The base it was built on" },
    "new-base": { type: "string", valueHint: "IMAGE", description: "The base to put it on" },
    tag: { type: "string", alias: "t", valueHint: "DST", description: "Where the result goes" },
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    if (!args["old-base"] || !args["new-base"] || !args.tag) throw new UsageError("rebase needs --old-base, --new-base and -t DST");
    const refs = [parseImageRef(required(args.image, "IMAGE")), parseImageRef(args["old-base"]), parseImageRef(args["new-base"]), parseImageRef(args.tag)] as const;
    const result = await rebase(...refs, { ...copyOptionsFrom(args, { sources: refs.slice(0, 3), destination: refs[3] }) });
    log.success(`wrote ${result.destination}`);
    printLines([result.digest]);
  },
});
