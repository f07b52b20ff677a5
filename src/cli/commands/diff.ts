import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { diffImages } from "../../verbs/diff.ts";
import { commonArgs, jsonArg, required } from "../args.ts";
import { checkPlainCredentials, registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = ["stevedore diff docker://localhost:5000/team/app:1.0 docker://localhost:5000/team/app:1.1", "stevedore diff --json oci:./a:x oci:./b:x | jq .changed"];

export default defineCommand({
  meta: { name: "diff", description: "Files added (+), removed (-) and changed (M) between two images' filesystems" },
  args: { a: { type: "positional", description: "First image" }, b: { type: "positional", description: "Second image" }, ...jsonArg, ...registryArgs, ...commonArgs },
  async run({ args }) {
    const [a, b] = [parseImageRef(required(args.a, "IMAGE_A")), parseImageRef(required(args.b, "IMAGE_B"))];
    checkPlainCredentials(args, { sources: [a, b], destinations: [] });
    const result = await diffImages(a, b, { registry: registryOptionsFrom(args), signal: cliSignal });
    if (args.json) return printJson(result);
    printLines([...result.added.map((p) => `+ ${p}`), ...result.removed.map((p) => `- ${p}`), ...result.changed.map((p) => `M ${p}`)]);
  },
});
