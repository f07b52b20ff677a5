import { IntegrityError } from "../core/errors.ts";

/**
 * A tar entry name as a clean relative POSIX path. Absolute paths, `..` that climbs out, backslashes
 * (`..\x` on Windows), drive letters and NUL bytes are refused: extraction must never leave the root.
 */
export function safeEntryPath(name: string): string {
  const refuse = (why: string): never => {
    throw new IntegrityError(`tar entry "${name.replace(/\0/g, "\\0")}": ${why}`);
  };
  if (name.includes("\0")) refuse("NUL byte in the path");
  if (name.includes("\\")) refuse("backslash in the path");
  if (name.startsWith("/")) refuse("absolute path");
  if (/^[A-Za-z]:/.test(name)) refuse("drive letter in the path");
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) refuse("path escapes the root");
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts.join("/");
}

/** A hardlink's target, which names another entry and so must stay inside the root too. */
export function safeLinkTarget(linkname: string): string {
  return safeEntryPath(linkname);
}
