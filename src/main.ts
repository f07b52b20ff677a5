import { runCommand } from "citty";
import { Exit, StevedoreError } from "./core/errors.ts";
import { helpText } from "./cli/help.ts";
import { configureLog } from "./cli/log.ts";
import { root } from "./cli/root.ts";
import { version } from "./core/version.ts";
import { installSignalHandlers } from "./cli/signal.ts";

const argv = process.argv.slice(2);
const debug = argv.includes("--debug");

/** citty colours its messages; errors are one plain line. */
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, "");

function report(err: unknown): number {
  if (err instanceof StevedoreError) {
    process.stderr.write(`stevedore: ${err.message}\n`);
  } else if (err instanceof Error && err.name === "CLIError") {
    process.stderr.write(`stevedore: ${plain(err.message)} (see stevedore --help)\n`);
    return Exit.usage;
  } else {
    process.stderr.write(`stevedore: ${plain(err instanceof Error ? err.message : String(err))}\n`);
  }
  if (debug && err instanceof Error) {
    process.stderr.write(`${err.stack}\n`);
    for (let cause = err.cause; cause; cause = (cause as Error).cause) process.stderr.write(`caused by: ${(cause as Error).stack ?? cause}\n`);
  }
  return err instanceof StevedoreError ? err.exitCode : Exit.failed;
}

async function main(): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    process.stdout.write(`stevedore ${version}\n`);
    return Exit.ok;
  }
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
    const text = await helpText(argv);
    process.stdout.write(process.stdout.isTTY ? text : plain(text));
    return argv.length === 0 ? Exit.usage : Exit.ok;
  }
  configureLog({ quiet: argv.includes("--quiet") || argv.includes("-q"), debug });
  installSignalHandlers();
  try {
    await runCommand(root, { rawArgs: argv });
    return Exit.ok;
  } catch (err) {
    return report(err);
  }
}

process.exitCode = await main();
