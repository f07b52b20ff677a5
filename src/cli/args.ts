import type { ArgDef } from "citty";
import { UsageError } from "../core/errors.ts";
import { type Platform, parsePlatform } from "../core/platform.ts";

/** Flags every command takes. */
export const commonArgs = {
  quiet: { type: "boolean", alias: "q", description: "Print nothing but errors on stderr" },
  debug: { type: "boolean", description: "Show stack traces and causes of errors" },
} as const satisfies Record<string, ArgDef>;

export const platformArg = {
  platform: { type: "string", valueHint: "os/arch[/variant]", description: "Choose this platform from an index (repeatable)" },
} as const satisfies Record<string, ArgDef>;

export const jobsArg = {
  jobs: { type: "string", alias: "j", valueHint: "N", description: "Blobs transferred at once (default 4)" },
} as const satisfies Record<string, ArgDef>;

export const jsonArg = {
  json: { type: "boolean", description: "Print the result as JSON" },
} as const satisfies Record<string, ArgDef>;

/** A positive integer flag value; absent gives undefined. */
export function positiveInt(value: unknown, flag: string): number | undefined {
  return wholeNumber(value, flag, 1);
}

/** A flag's whole number of at least `min`; undefined when the flag is absent. */
export function wholeNumber(value: unknown, flag: string, min = 0): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} needs a ${min > 0 ? "positive " : ""}whole number, not "${value}"`);
  return n;
}

/** Every value of a repeatable flag, in order (`--platform a --platform=b`); citty keeps only one. */
export function repeated(rawArgs: readonly string[], flag: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (arg === flag) {
      const value = rawArgs[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      values.push(value);
    } else if (arg.startsWith(`${flag}=`)) {
      values.push(arg.slice(flag.length + 1));
    }
  }
  return values;
}

export function platformsFrom(rawArgs: readonly string[]): Platform[] {
  return repeated(rawArgs, "--platform").flatMap((v) => v.split(",")).map(parsePlatform);
}

/** A positional the command cannot run without. */
export function required(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`missing ${name}`);
  return value;
}

/** `key=value` flag values as a record. */
export function keyValues(values: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} "${v}": expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** `-a key=value` pairs (every `-a` and `--annotation`). */
export function annotationsFrom(rawArgs: readonly string[]): Record<string, string> {
  return keyValues([...repeated(rawArgs, "-a"), ...repeated(rawArgs, "--annotation")], "annotation");
}
