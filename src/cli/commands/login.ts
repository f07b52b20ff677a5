import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { loggedInAs, login, parseRegistryHost } from "../../verbs/registry.ts";
import { commonArgs, required } from "../args.ts";
import { log } from "../log.ts";
import { readPassword } from "../prompt.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = [
  "echo \"$TOKEN\" | stevedore login ghcr.io -u me --password-stdin",
  "stevedore login localhost:5000 -u admin            # prompts for the password on a TTY",
  "stevedore login --authfile ./auth.json registry.example.com -u ci --password-stdin < secret",
  "stevedore login --get-login ghcr.io                  # who is logged in there",
];

export default defineCommand({
  meta: { name: "login", description: "Check credentials against a registry, then store them (docker config.json, or --authfile)" },
  args: {
    host: { type: "positional", description: "Registry host[:port]" },
    username: { type: "string", alias: "u", description: "User name" },
    password: { type: "string", alias: "p", description: "Password (visible to other users: prefer --password-stdin)" },
    "password-stdin": { type: "boolean", description: "Read the password from standard input" },
    "get-login": { type: "boolean", description: "Print the user name stored for HOST (exit 4 when none), as podman and skopeo do" },
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const registry = parseRegistryHost(required(args.host, "HOST"));
    if (args["get-login"]) return printLines([await loggedInAs(registry, { authFile: args.authfile })]);
    const username = required(args.username, "--username");
    const password = args["password-stdin"] ? (await Bun.stdin.text()).replace(/\r?\n$/, "") : (args.password ?? (await readPassword(`Password for ${username}@${registry}: `)));
    if (!password) throw new UsageError("empty password");
    const file = await login(registry, username, password, { ...registryOptionsFrom(args), authFile: args.authfile });
    log.success(`logged in to ${registry}; credentials stored in ${file}`);
  },
});
