import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../core/errors.ts";

/** The PEM certificates (`*.crt`, `*.pem`) of a directory, as skopeo's --cert-dir reads them; `where` names the setting in errors. */
export function certificatesIn(dir: string, where: string): string {
  try {
    return readdirSync(dir)
      .filter((f) => /\.(crt|pem)$/.test(f))
      .map((f) => readFileSync(join(dir, f), "utf8"))
      .join("\n");
  } catch {
    throw new UsageError(`${where} ${dir}: cannot read the directory`);
  }
}
