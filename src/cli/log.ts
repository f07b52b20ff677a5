import { createConsola } from "consola";

/** Logs and progress go to stderr only; stdout carries data. */
export const log = createConsola({ stdout: process.stderr, stderr: process.stderr, formatOptions: { date: false } });

export function configureLog(args: { quiet?: boolean; debug?: boolean }): void {
  log.level = args.quiet ? 0 : args.debug ? 4 : 3;
}
