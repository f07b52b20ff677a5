import { defineCommand } from "citty";
import { parseImageRef } from "../../transport/index.ts";
import { listTags } from "../../verbs/registry.ts";
import { commonArgs, jsonArg, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

/** What cosign and the referrers fallback name their tags after: an image digest. */
const digestTag = /^sha(256|512)-[0-9a-f]{64,128}(\.[a-z]+)?$/;

export const examples = [
  "stevedore tags docker://ghcr.io/me/app",
  "stevedore tags --json docker://localhost:5000/team/app | jq length",
  "stevedore tags oci:./layout",
  "stevedore tags --omit-digest-tags --full-ref docker://localhost:5000/team/app   # no .sig/.att tags",
];

export default defineCommand({
  meta: { name: "tags", description: "List the tags of a repository, layout or archive, one per line" },
  args: {
    repo: { type: "positional", description: "Repository (docker://HOST/NAME) or layout (oci:PATH)" },
    "omit-digest-tags": { type: "boolean", description: "Leave out sha256-<hex> tags (cosign's .sig/.att/.sbom, referrers fallback indexes), as crane ls does" },
    "full-ref": { type: "boolean", description: "Print whole references (docker://HOST/NAME:TAG), not bare tags" },
    ...jsonArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const repo = parseImageRef(required(args.repo, "REPO"));
    const tags: string[] = [];
    for await (const tag of listTags(repo, { registry: registryOptionsFrom(args), signal: cliSignal })) {
      if (!(args["omit-digest-tags"] && digestTag.test(tag))) tags.push(tag);
    }
    const printed = args["full-ref"] ? tags.map((tag) => String(repo.withReference?.({ tag }) ?? `${repo}:${tag}`)) : tags;
    if (args.json) printJson(printed);
    else printLines(printed);
  },
});
