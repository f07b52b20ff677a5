import { defineCommand } from "citty";
import { fsStore } from "../../store/fs.ts";
import { gc } from "../../verbs/gc.ts";
import { defaultRoot } from "../../verbs/serve.ts";
import { commonArgs, jsonArg } from "../args.ts";
import { log } from "../log.ts";
import { printJson, printLines } from "../render.ts";

export const examples = ["stevedore gc --root /srv/registry --dry-run", "stevedore gc --root /srv/registry"];

export default defineCommand({
  meta: { name: "gc", description: "Remove what no tag reaches from a serve root (run it while nothing pushes)" },
  args: {
    root: { type: "string", valueHint: "DIR", description: "The serve root (default: ~/.local/share/stevedore/registry)" },
    "dry-run": { type: "boolean", description: "List what would be removed; remove nothing" },
    ...jsonArg,
    ...commonArgs,
  },
  async run({ args }) {
    const result = await gc(await fsStore(args.root ?? defaultRoot()), { dryRun: args["dry-run"] });
    if (args.json) return printJson(result);
    printLines([...result.manifests.map((m) => `manifest ${m.repo}@${m.digest}`), ...result.blobs.map((b) => `blob ${b}`), ...result.uploads.map((u) => `upload ${u}`)]);
    log.success(`${args["dry-run"] ? "would remove" : "removed"} ${result.manifests.length} manifests, ${result.blobs.length} blobs, ${result.uploads.length} upload sessions; kept ${result.keptBlobs} blobs`);
  },
});
