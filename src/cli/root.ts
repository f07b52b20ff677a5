import { type CommandDef, defineCommand } from "citty";
import { version } from "../core/version.ts";
import { commonArgs } from "./args.ts";

interface CommandModule {
  readonly default: CommandDef<any>;
  readonly examples: readonly string[];
}

/** Every command, loaded lazily: startup does not grow with the command tree. */
const modules: Record<string, () => Promise<CommandModule>> = {
  copy: () => import("./commands/copy.ts"),
  inspect: () => import("./commands/inspect.ts"),
  tags: () => import("./commands/tags.ts"),
  tag: () => import("./commands/tag.ts"),
  delete: () => import("./commands/delete.ts"),
  login: () => import("./commands/login.ts"),
  logout: () => import("./commands/logout.ts"),
  catalog: () => import("./commands/catalog.ts"),
  serve: () => import("./commands/serve.ts"),
  gc: () => import("./commands/gc.ts"),
  mirror: () => import("./commands/mirror.ts"),
  sync: () => import("./commands/sync.ts"),
  sign: () => import("./commands/sign.ts"),
  verify: () => import("./commands/verify.ts"),
  "generate-key-pair": () => import("./commands/generate-key-pair.ts"),
  attach: () => import("./commands/attach.ts"),
  referrers: () => import("./commands/referrers.ts"),
  digest: () => import("./commands/digest.ts"),
  config: () => import("./commands/config.ts"),
  ls: () => import("./commands/ls.ts"),
  cat: () => import("./commands/cat.ts"),
  export: () => import("./commands/export.ts"),
  diff: () => import("./commands/diff.ts"),
  sbom: () => import("./commands/sbom.ts"),
  mutate: () => import("./commands/mutate.ts"),
  append: () => import("./commands/append.ts"),
  rebase: () => import("./commands/rebase.ts"),
  index: () => import("./commands/index.ts"),
  validate: () => import("./commands/validate.ts"),
  blob: () => import("./commands/blob.ts"),
  flatten: () => import("./commands/flatten.ts"),
  completion: () => import("./commands/completion.ts"),
};

export const commandNames = Object.keys(modules);

export const subCommands = Object.fromEntries(Object.entries(modules).map(([name, load]) => [name, () => load().then((m) => m.default)]));

export function loadCommand(name: string): Promise<CommandModule> | undefined {
  return Object.hasOwn(modules, name) ? modules[name]!() : undefined;
}

export const root = defineCommand({
  meta: { name: "stevedore", version, description: "A daemonless OCI toolkit: copy, inspect, mirror, sign, verify and serve images" },
  args: { ...commonArgs },
  subCommands,
});
