import { type CommandDef, defineCommand } from "citty";
import pkg from "../../package.json" with { type: "json" };
import { commonArgs } from "./args.ts";

/** Loaded lazily: startup does not grow with the command tree. */
export const subCommands: Record<string, () => Promise<CommandDef<any>>> = {
  copy: () => import("./commands/copy.ts").then((m) => m.default),
  inspect: () => import("./commands/inspect.ts").then((m) => m.default),
};

/** Examples shown by `--help`, per command. */
export const examplesOf: Record<string, () => Promise<readonly string[]>> = {
  copy: () => import("./commands/copy.ts").then((m) => m.examples),
  inspect: () => import("./commands/inspect.ts").then((m) => m.examples),
};

export const version = pkg.version;

export const root = defineCommand({
  meta: { name: "stevedore", version, description: "A daemonless OCI toolkit: copy, inspect, mirror, sign, verify and serve images" },
  args: { ...commonArgs },
  subCommands,
});
