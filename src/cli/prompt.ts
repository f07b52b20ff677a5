import { UsageError } from "../core/errors.ts";

/** Reads a line from the terminal without echoing it; refuses when there is no terminal. */
export async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError("no terminal to ask for the password: use --password-stdin");
  process.stderr.write(prompt);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  try {
    let password = "";
    for await (const chunk of process.stdin) {
      for (const ch of String(chunk)) {
        if (ch === "\r" || ch === "\n") return password;
        if (ch === "\u0003") throw new UsageError("interrupted");
        if (ch === "\u007f") password = password.slice(0, -1);
        else password += ch;
      }
    }
    return password;
  } finally {
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stderr.write("\n");
  }
}
