import { defineCommand } from "citty";
import { logout, parseRegistryHost } from "../../verbs/registry.ts";
import { commonArgs, required } from "../args.ts";
import { log } from "../log.ts";

export const examples = ["stevedore logout ghcr.io", "stevedore logout --authfile ./auth.json localhost:5000"];

export default defineCommand({
  meta: { name: "logout", description: "Remove a registry's stored credentials" },
  args: { host: { type: "positional", description: "Registry host[:port]" }, authfile: { type: "string", description: "Credentials file" }, ...commonArgs },
  async run({ args }) {
    const file = await logout(parseRegistryHost(required(args.host, "HOST")), { authFile: args.authfile });
    log.success(`removed the credentials from ${file}`);
  },
});
