import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { UsageError } from "../../core/errors.ts";
import { generateKeyPair } from "../../sign/keys.ts";
import { commonArgs } from "../args.ts";
import { newKeyPassword } from "../keys.ts";
import { log } from "../log.ts";

export const examples = ["COSIGN_PASSWORD= stevedore generate-key-pair", "stevedore generate-key-pair --output-key-prefix release   # release.key, release.pub"];

export default defineCommand({
  meta: { name: "generate-key-pair", description: "Write cosign.key (encrypted, cosign's format) and cosign.pub" },
  args: {
    "output-key-prefix": { type: "string", valueHint: "NAME", description: "File names NAME.key and NAME.pub (default cosign)" },
    force: { type: "boolean", description: "Overwrite existing files" },
    ...commonArgs,
  },
  async run({ args }) {
    const prefix = args["output-key-prefix"] ?? "cosign";
    for (const f of [`${prefix}.key`, `${prefix}.pub`]) if (existsSync(f) && !args.force) throw new UsageError(`${f} exists: refusing to overwrite it without --force`);
    const { privatePem, publicPem } = generateKeyPair(await newKeyPassword());
    await Bun.write(`${prefix}.key`, privatePem, { mode: 0o600 });
    await Bun.write(`${prefix}.pub`, publicPem);
    log.success(`wrote ${prefix}.key (private, encrypted) and ${prefix}.pub`);
  },
});
