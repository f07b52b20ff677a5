import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { referrers } from "../../verbs/artifacts.ts";
import { commonArgs, jsonArg, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore referrers docker://localhost:5000/team/app:1.0",
  "stevedore referrers --artifact-type application/spdx+json --json docker://localhost:5000/team/app:1.0",
];

export default defineCommand({
  meta: { name: "referrers", description: "List what refers to an image (Referrers API, fallback tag, or layout entries): DIGEST ARTIFACT-TYPE per line" },
  args: {
    image: { type: "positional", description: "Image" },
    "artifact-type": { type: "string", valueHint: "TYPE", description: "Only artifacts of this type" },
    ...jsonArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const found = await referrers(parseImageRef(required(args.image, "IMAGE")), { artifactType: args["artifact-type"], registry: registryOptionsFrom(args), signal: cliSignal });
    if (args.json) printJson(found);
    else printLines(found.map((d) => `${d.digest} ${d.artifactType ?? d.mediaType}`));
  },
});
