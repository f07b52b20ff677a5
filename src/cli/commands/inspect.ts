import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { getConfig, getRawManifest, inspect } from "../../verbs/inspect.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printBytes, printJson, printLines } from "../render.ts";
import { renderTemplate } from "../template.ts";

export const examples = [
  "stevedore inspect docker://alpine:3.20",
  "stevedore inspect oci:./layout:app",
  "stevedore inspect --raw oci:./layout:app | jq .mediaType",
  "stevedore inspect --config --platform linux/arm64 oci-archive:./multi.tar",
  "stevedore inspect --format '{{.Digest}} {{.Architecture}}' docker://localhost:5000/team/app:1.0",
];

export default defineCommand({
  meta: { name: "inspect", description: "Describe an image: digest, platform, layers, env, labels (like skopeo inspect)" },
  args: {
    image: { type: "positional", description: "Image (transport:reference)" },
    raw: { type: "boolean", description: "Print the exact manifest bytes (with --config: the exact config bytes)" },
    config: { type: "boolean", description: "Print the image config" },
    format: { type: "string", alias: "f", valueHint: "TEMPLATE", description: "Print fields only, as skopeo's --format: {{.Digest}}, {{.Labels.version}}, {{json .Env}}" },
    tags: { type: "boolean", default: true, negativeDescription: "Leave RepoTags empty: one request fewer (as skopeo's --no-tags)", description: "List the repository's tags in RepoTags (default)" },
    ...platformArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("inspect takes one --platform");
    const options = { platform: platforms[0], registry: registryOptionsFrom(args), noTags: !args.tags };
    if (args.config) {
      const bytes = await getConfig(ref, options);
      return args.raw ? printBytes(bytes) : printJson(JSON.parse(new TextDecoder().decode(bytes)));
    }
    if (args.raw) return printBytes((await getRawManifest(ref, options)).bytes);
    const info = await inspect(ref, options);
    if (args.format !== undefined) return printLines([renderTemplate(args.format, info)]);
    printJson(info);
  },
});
