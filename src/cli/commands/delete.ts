import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { deleteImage } from "../../verbs/registry.ts";
import { commonArgs, required } from "../args.ts";
import { log } from "../log.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore delete docker://localhost:5000/team/app:old",
  "stevedore delete docker://registry.example.com/app@sha256:…",
  "stevedore delete oci:./layout:old",
];

export default defineCommand({
  meta: { name: "delete", description: "Delete an image: a registry manifest (a tag is resolved to its digest first) or a layout entry" },
  args: { image: { type: "positional", description: "Image (transport:reference)" }, ...registryArgs, ...commonArgs },
  async run({ args }) {
    const ref = parseImageRef(required(args.image, "IMAGE"));
    await deleteImage(ref, { registry: registryOptionsFrom(args), signal: cliSignal });
    log.success(`deleted ${ref}`);
  },
});
