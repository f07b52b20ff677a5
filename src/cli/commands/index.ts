import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { createIndex } from "../../verbs/index-create.ts";
import { annotationsFrom, commonArgs, jsonArg } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";

export const examples = [
  "stevedore index -t docker://localhost:5000/team/app:1.0 docker://localhost:5000/team/app:1.0-amd64 docker://localhost:5000/team/app:1.0-arm64",
  "stevedore index -t oci:./layout:app oci:./layout:app-amd64 oci:./layout:app-arm64 -a org.opencontainers.image.version=1.0",
];

export default defineCommand({
  meta: { name: "index", description: "Make a multi-platform index of images (each one's platform from its config), copied to DST" },
  args: {
    images: { type: "positional", description: "The images to put in it (one or more; an index brings its entries)" },
    tag: { type: "string", alias: "t", valueHint: "DST", description: "Where the index (and the images it names) go" },
    annotation: { type: "string", alias: "a", valueHint: "key=value", description: "Index annotation (repeatable)" },
    ...jsonArg,
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.tag) throw new UsageError("index needs -t DST");
    const images = args._.filter((a) => a !== "index");
    if (images.length === 0) throw new UsageError("name the images to put in the index");
    const [sources, destination] = [images.map(parseImageRef), parseImageRef(args.tag)];
    const result = await createIndex(sources, destination, {
      annotations: annotationsFrom(rawArgs),
      ...copyOptionsFrom(args, { sources, destination }),
    });
    if (args.json) return printJson(result);
    log.success(`wrote ${result.destination}: ${result.platforms?.join(", ") ?? ""}`);
    printLines([result.digest]);
  },
});
