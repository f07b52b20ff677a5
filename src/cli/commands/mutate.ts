import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parsePlatform } from "../../core/platform.ts";
import { parseImageRef } from "../../transport/index.ts";
import { mutate } from "../../verbs/mutate.ts";
import { commonArgs, keyValues, repeated, required } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printLines } from "../render.ts";

export const examples = [
  "stevedore mutate docker://localhost:5000/team/app:1.0 -t docker://localhost:5000/team/app:1.0-debug --env DEBUG=1 --label stage=debug",
  "stevedore mutate oci:./layout:app -t oci:./layout:app-v2 --entrypoint /app/server --cmd --port --cmd 8080",
];

export default defineCommand({
  meta: { name: "mutate", description: "Write a copy of an image with config edits (labels, env, entrypoint, cmd, workdir, user, platform, annotations)" },
  args: {
    image: { type: "positional", description: "Base image" },
    tag: { type: "string", alias: "t", valueHint: "DST", description: "Where the result goes" },
    label: { type: "string", valueHint: "k=v", description: "Set a label (repeatable)" },
    annotation: { type: "string", alias: "a", valueHint: "k=v", description: "Set a manifest annotation (repeatable)" },
    env: { type: "string", valueHint: "K=V", description: "Set an environment variable (repeatable)" },
    entrypoint: { type: "string", valueHint: "ARG", description: "Entrypoint, one argument per flag (repeatable)" },
    cmd: { type: "string", valueHint: "ARG", description: "Cmd, one argument per flag (repeatable)" },
    workdir: { type: "string", valueHint: "DIR", description: "Working directory" },
    user: { type: "string", valueHint: "USER", description: "User" },
    "set-platform": { type: "string", valueHint: "os/arch[/variant]", description: "Change the platform the config declares" },
    ...copyRegistryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.tag) throw new UsageError("missing -t DST");
    const list = (flag: string) => repeated(rawArgs, flag);
    const [image, destination] = [parseImageRef(required(args.image, "IMAGE")), parseImageRef(args.tag)];
    const result = await mutate(
      image,
      destination,
      {
        labels: keyValues(list("--label"), "--label"),
        annotations: keyValues([...list("-a"), ...list("--annotation")], "--annotation"),
        ...(list("--env").length ? { env: list("--env") } : {}),
        ...(list("--entrypoint").length ? { entrypoint: list("--entrypoint") } : {}),
        ...(list("--cmd").length ? { cmd: list("--cmd") } : {}),
        ...(args.workdir !== undefined ? { workdir: args.workdir } : {}),
        ...(args.user !== undefined ? { user: args.user } : {}),
        ...(args["set-platform"] ? { platform: parsePlatform(args["set-platform"]) } : {}),
      },
      copyOptionsFrom(args, { sources: [image], destination }),
    );
    log.success(`wrote ${result.destination}: ${result.blobs.copied} blobs copied, ${result.blobs.skipped + result.blobs.mounted} reused`);
    printLines([result.digest]);
  },
});
