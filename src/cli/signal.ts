import { InterruptedError } from "../core/errors.ts";

/** Aborted on the first SIGINT/SIGTERM so transfers stop and temporaries are removed; a second one exits at once. */
const controller = new AbortController();
export const cliSignal: AbortSignal = controller.signal;

export function installSignalHandlers(): void {
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(new InterruptedError(`interrupted by ${name}`));
    });
  }
}
