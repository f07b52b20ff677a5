import { defineCommand } from "citty";
import { StevedoreError } from "../../core/errors.ts";
import { fsStore } from "../../store/fs.ts";
import { servingProcess } from "../../store/serving.ts";
import { gc } from "../../verbs/gc.ts";
import { defaultRoot } from "../../verbs/serve.ts";
import { commonArgs, jsonArg } from "../args.ts";
import { log } from "../log.ts";
import { printJson, printLines } from "../render.ts";

export const examples = ["stevedore gc --root /srv/registry --dry-run", "stevedore gc --root /srv/registry"];

export default defineCommand({
  meta: { name: "gc", description: "Remove what no tag reaches from a serve root (not while a serve uses it)" },
  args: {
    root: { type: "string", valueHint: "DIR", description: "The serve root (default: ~/.local/share/stevedore/registry)" },
    "dry-run": { type: "boolean", description: "List what would be removed; remove nothing" },
    force: { type: "boolean", description: "Sweep even while a stevedore serve uses the root (restart it afterwards)" },
    ...jsonArg,
    ...commonArgs,
  },
  async run({ args }) {
    const root = args.root ?? defaultRoot();
    const server = await servingProcess(root);
    if (server && !args["dry-run"] && !args.force) {
      throw new StevedoreError(`${root} is being served (stevedore serve, pid ${server.pid} on ${server.host}): stop it first, or pass --force and restart it afterwards (its caches would go on answering for what gc removes)`);
    }
    const result = await gc(await fsStore(root), { dryRun: args["dry-run"] });
    if (server && !args["dry-run"]) log.warn(`restart the stevedore serve using ${root} (pid ${server.pid} on ${server.host}): its caches still hold what was removed`);
    if (args.json) return printJson(result);
    printLines([...result.manifests.map((m) => `manifest ${m.repo}@${m.digest}`), ...result.blobs.map((b) => `blob ${b}`), ...result.uploads.map((u) => `upload ${u}`)]);
    log.success(`${args["dry-run"] ? "would remove" : "removed"} ${result.manifests.length} manifests, ${result.blobs.length} blobs, ${result.uploads.length} upload sessions; kept ${result.keptBlobs} blobs`);
  },
});
