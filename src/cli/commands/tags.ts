import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { listTags } from "../../verbs/registry.ts";
import { commonArgs, jsonArg, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore tags docker://ghcr.io/me/app",
  "stevedore tags --json docker://localhost:5000/team/app | jq length",
  "stevedore tags oci:./layout",
];

export default defineCommand({
  meta: { name: "tags", description: "List the tags of a repository, layout or archive, one per line" },
  args: { repo: { type: "positional", description: "Repository (docker://HOST/NAME) or layout (oci:PATH)" }, ...jsonArg, ...registryArgs, ...commonArgs },
  async run({ args }) {
    const tags: string[] = [];
    for await (const tag of listTags(parseImageRef(required(args.repo, "REPO")), { registry: registryOptionsFrom(args), signal: cliSignal })) tags.push(tag);
    if (args.json) printJson(tags);
    else printLines(tags);
  },
});
