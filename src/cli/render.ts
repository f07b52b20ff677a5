/** Data goes to stdout, and nothing else does: these are the only writers to it. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(lines: Iterable<string>): void {
  let text = "";
  for (const line of lines) text += `${line}\n`;
  process.stdout.write(text);
}

export function printBytes(bytes: Uint8Array): void {
  process.stdout.write(bytes);
}
