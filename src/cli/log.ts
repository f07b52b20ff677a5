import { createConsola } from "consola";

/** Logs and progress go to stderr only; stdout carries data. Plain `[info]` lines when stderr is not a terminal. */
const options = { stdout: process.stderr, stderr: process.stderr, fancy: Boolean(process.stderr.isTTY), formatOptions: { date: false } };
export const log = createConsola(options as Parameters<typeof createConsola>[0]);

export function configureLog(args: { quiet?: boolean; debug?: boolean }): void {
  log.level = args.quiet ? 0 : args.debug ? 4 : 3;
}
