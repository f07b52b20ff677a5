import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { attach } from "../../verbs/artifacts.ts";
import { annotationsFrom, commonArgs, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore attach --artifact-type application/spdx+json docker://localhost:5000/team/app:1.0 sbom.spdx.json",
  "stevedore attach --artifact-type application/vnd.example.report -a team=qa oci:./layout:app report.txt",
];

export default defineCommand({
  meta: { name: "attach", description: "Push files as an OCI 1.1 artifact whose subject is IMAGE (SBOMs, reports, signatures…)" },
  args: {
    image: { type: "positional", description: "Image the artifact refers to" },
    "artifact-type": { type: "string", valueHint: "TYPE", description: "The artifact's type (a media type)" },
    "media-type": { type: "string", valueHint: "TYPE", description: "Media type of the file layers (default application/octet-stream)" },
    annotation: { type: "string", alias: "a", valueHint: "key=value", description: "Manifest annotation (repeatable)" },
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args["artifact-type"]) throw new UsageError("missing --artifact-type TYPE");
    const files = args._.filter((a) => a !== "attach").slice(1);
    if (files.length === 0) throw new UsageError("name at least one file to attach");
    const manifest = await attach(parseImageRef(required(args.image, "IMAGE")), files, {
      artifactType: args["artifact-type"],
      mediaType: args["media-type"],
      annotations: annotationsFrom(rawArgs),
      registry: registryOptionsFrom(args),
      signal: cliSignal,
    });
    printLines([manifest.digest]);
  },
});
