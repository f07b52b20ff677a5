import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { verify } from "../../verbs/verify.ts";
import { annotationsFrom, commonArgs, required } from "../args.ts";
import { loadPublicKey } from "../keys.ts";
import { log } from "../log.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore verify --key cosign.pub docker://localhost:5000/team/app:1.0",
  "stevedore verify --key cosign.pub -a ci=github docker://localhost:5000/team/app:1.0 | jq '.[0].critical.image'",
];

export default defineCommand({
  meta: { name: "verify", description: "Verify an image's cosign signatures against a public key; fails unless one satisfies the policy" },
  args: {
    image: { type: "positional", description: "Image (docker://, oci:, static:)" },
    key: { type: "string", valueHint: "FILE", description: "Public key (cosign.pub, SPKI PEM)" },
    annotation: { type: "string", alias: "a", valueHint: "key=value", description: "Require this signed annotation (repeatable)" },
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.key) throw new UsageError("missing --key FILE");
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const verified = await verify(
      ref,
      { keys: [await loadPublicKey(args.key)], annotations: annotationsFrom(rawArgs) },
      { registry: registryOptionsFrom(args), signal: cliSignal },
    );
    log.success(`${verified.length} signature${verified.length === 1 ? "" : "s"} verified for ${ref}`);
    printJson(verified.map((v) => v.payload));
  },
});
