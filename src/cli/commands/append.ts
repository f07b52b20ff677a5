import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { hostPlatform, parsePlatform } from "../../core/platform.ts";
import { append, scratchImage } from "../../verbs/append.ts";
import { commonArgs, repeated } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = [
  "stevedore append --base docker://localhost:5000/base:1 --layer ./dist -t docker://localhost:5000/team/app:1.0",
  "stevedore append --base oci:./layout:base --layer extra.tar.gz --layer ./config -t oci:./layout:app",
  "stevedore append --platform linux/arm64 --layer ./static-binary-dir -t oci:./layout:tool   # from scratch",
];

export default defineCommand({
  meta: { name: "append", description: "Write the base image plus new layers (a directory becomes a reproducible tar layer)" },
  args: {
    base: { type: "string", valueHint: "IMAGE", description: "The base image (none: an empty one, to build from scratch)" },
    platform: { type: "string", valueHint: "os/arch[/variant]", description: "The platform of an image built from scratch (default linux and this machine's arch)" },
    layer: { type: "string", valueHint: "DIR|TAR", description: "A directory or tar (gzip or not) to add (repeatable)" },
    tag: { type: "string", alias: "t", valueHint: "DST", description: "Where the result goes" },
    "keep-mtime": { type: "boolean", description: "Keep files' modification times (else 0: reproducible)" },
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.tag) throw new UsageError("append needs -t DST");
    if (args.base && args.platform) throw new UsageError("--platform is for an image built from scratch; the base has its own");
    const layers = repeated(rawArgs, "--layer");
    if (layers.length === 0) throw new UsageError("give at least one --layer");
    const base = args.base ? parseImageRef(args.base) : await scratchImage(args.platform ? parsePlatform(args.platform) : { ...hostPlatform(), os: "linux" });
    const destination = parseImageRef(args.tag);
    const result = await append(base, destination, layers, {
      keepMtime: args["keep-mtime"],
      ...copyOptionsFrom(args, { sources: [base], destination }),
    });
    log.success(`wrote ${result.destination}`);
    printLines([result.digest]);
  },
});
