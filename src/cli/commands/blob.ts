import { defineCommand } from "citty";
import { parseDigest } from "../../core/digest.ts";
import { parseImageRef } from "../../transport/index.ts";
import { readBlob } from "../../verbs/blob.ts";
import { commonArgs, required } from "../args.ts";
import { log } from "../log.ts";
import { writeOutput } from "../output.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore blob docker://localhost:5000/team/app:1.0 sha256:3c4d… -o layer.tar.gz",
  "stevedore blob docker://localhost:5000/team/app@$(stevedore referrers docker://localhost:5000/team/app:1.0 | awk '/spdx/ {print $1}') | jq .name",
];

export default defineCommand({
  meta: { name: "blob", description: "Write one blob of an image (a layer, a config, an artifact's file) to stdout or -o FILE, digest-checked" },
  args: {
    image: { type: "positional", description: "Image (or artifact) that names the blob" },
    digest: { type: "positional", required: false, description: "The blob (default: the image's only layer)" },
    output: { type: "string", alias: "o", valueHint: "FILE|-", description: "Where the bytes go (default stdout)" },
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const digest = args.digest ? parseDigest(args.digest) : undefined;
    const desc = await writeOutput(args.output, (sink) => readBlob(ref, digest, sink, { registry: registryOptionsFrom(args), signal: cliSignal }));
    if (args.output && args.output !== "-") log.success(`wrote ${desc.digest} (${desc.size} bytes) to ${args.output}`);
  },
});
