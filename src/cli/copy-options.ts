import type { CopyOptions } from "../verbs/copy.ts";
import { progressFor } from "./progress.ts";
import { registryOptionsFrom } from "./registry-args.ts";
import { cliSignal } from "./signal.ts";

/** What every command that writes an image takes from its flags: each side's registry settings, Ctrl-C, and progress. */
export function copyOptionsFrom(args: Record<string, unknown> & { quiet?: boolean }): Pick<CopyOptions, "sourceRegistry" | "destinationRegistry" | "signal" | "onProgress"> {
  return { sourceRegistry: registryOptionsFrom(args, "src"), destinationRegistry: registryOptionsFrom(args, "dest"), signal: cliSignal, onProgress: progressFor(args) };
}
