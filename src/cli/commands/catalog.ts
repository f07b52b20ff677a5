import { defineCommand } from "citty";
import { catalog, parseRegistryHost } from "../../verbs/registry.ts";
import { commonArgs, jsonArg, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";

export const examples = ["stevedore catalog localhost:5000", "stevedore catalog --json registry.example.com | jq '.[]'"];

export default defineCommand({
  meta: { name: "catalog", description: "List the repositories of a registry (its _catalog), one per line" },
  args: { host: { type: "positional", description: "Registry host[:port]" }, ...jsonArg, ...registryArgs, ...commonArgs },
  async run({ args }) {
    const repositories: string[] = [];
    for await (const repo of catalog(parseRegistryHost(required(args.host, "HOST")), registryOptionsFrom(args))) repositories.push(repo);
    if (args.json) printJson(repositories);
    else printLines(repositories);
  },
});
