import { renderUsage } from "citty";
import { loadCommand, root } from "./root.ts";

const exitCodes = `Exit codes:
  0  success             3  not found (image, tag, blob, file)
  1  operation failed    4  authentication refused or missing
  2  usage error         5  integrity: digest, size or format mismatch
  130 interrupted`;

/** The command a `--help` asks about: the first non-flag argument naming a subcommand. */
export async function helpText(argv: readonly string[]): Promise<string> {
  const name = argv.find((a) => !a.startsWith("-"));
  const command = name ? await loadCommand(name) : undefined;
  if (!command) return `${await renderUsage(root)}\n\n${exitCodes}\n`;
  const body = await renderUsage(command.default, root);
  return `${body}\n\nExamples:\n${command.examples.map((e) => `  ${e}`).join("\n")}\n\n${exitCodes}\n`;
}
