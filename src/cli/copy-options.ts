import type { CopyOptions } from "../verbs/copy.ts";
import { progressFor } from "./progress.ts";
import type { ImageRef } from "../transport/types.ts";
import { checkPlainCredentials, registryOptionsFrom } from "./registry-args.ts";
import { cliSignal } from "./signal.ts";

/**
 * What every command that writes an image takes from its flags: each side's registry settings,
 * Ctrl-C, and progress. `images` are those it reaches, so no credential goes to two registries.
 */
export function copyOptionsFrom(
  args: Record<string, unknown> & { quiet?: boolean },
  images: { readonly sources: readonly ImageRef[]; readonly destination: ImageRef },
): Pick<CopyOptions, "sourceRegistry" | "destinationRegistry" | "signal" | "onProgress"> {
  checkPlainCredentials(args, { sources: images.sources, destinations: [images.destination] });
  return { sourceRegistry: registryOptionsFrom(args, "src"), destinationRegistry: registryOptionsFrom(args, "dest"), signal: cliSignal, onProgress: progressFor(args) };
}
