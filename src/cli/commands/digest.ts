import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { getRawManifest } from "../../verbs/inspect.ts";
import { commonArgs, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = ["stevedore digest docker://localhost:5000/team/app:1.0", "stevedore digest oci:./layout:app"];

export default defineCommand({
  meta: { name: "digest", description: "Print the digest of the manifest a reference names (an index stays an index)" },
  args: { image: { type: "positional", description: "Image" }, ...registryArgs, ...commonArgs },
  async run({ args }) {
    printLines([(await getRawManifest(parseImageRef(required(args.image, "IMAGE")), { registry: registryOptionsFrom(args) })).digest]);
  },
});
