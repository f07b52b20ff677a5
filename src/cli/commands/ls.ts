import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { type FileEntry, listFiles } from "../../verbs/files.ts";
import { commonArgs, jsonArg, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = ["stevedore ls docker://localhost:5000/team/app:1.0 /etc", "stevedore ls -lR oci:./layout:app /usr/local", "stevedore ls --json oci:./layout:app / | jq '.[].path'"];

const typeLetter: Record<FileEntry["type"], string> = { file: "-", directory: "d", symlink: "l", hardlink: "h", "char-device": "c", "block-device": "b", fifo: "p" };

/** `drwxr-xr-x` as ls prints it. */
function modeString(e: FileEntry): string {
  const bits = "rwxrwxrwx".split("").map((c, i) => (e.mode & (1 << (8 - i)) ? c : "-")).join("");
  return `${typeLetter[e.type]}${bits}`;
}

function longLine(e: FileEntry): string {
  const when = new Date(e.mtime * 1000).toISOString().replace(/\.000Z$/, "Z");
  const target = e.linkname ? ` -> ${e.linkname}` : "";
  return `${modeString(e)} ${`${e.uid}/${e.gid}`.padStart(11)} ${String(e.size).padStart(10)} ${when} ${e.path}${target}`;
}

export default defineCommand({
  meta: { name: "ls", description: "List files of an image's merged filesystem (all layers applied), without unpacking it" },
  args: {
    image: { type: "positional", description: "Image" },
    path: { type: "positional", required: false, description: "Directory or file (default /)" },
    long: { type: "boolean", alias: "l", description: "Mode, owner, size, mtime and link target" },
    recursive: { type: "boolean", alias: "R", description: "Everything under the directory" },
    ...jsonArg,
    ...platformArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("ls takes one --platform");
    const short = rawArgs.filter((a) => /^-[a-zA-Z]{2,}$/.test(a)).join("");
    const entries = await listFiles(parseImageRef(required(args.image, "IMAGE")), args.path ?? "/", {
      recursive: args.recursive || short.includes("R"),
      platform: platforms[0],
      registry: registryOptionsFrom(args),
      signal: cliSignal,
    });
    if (args.json) return printJson(entries);
    printLines(entries.map((e) => (args.long || short.includes("l") ? longLine(e) : e.path)));
  },
});
