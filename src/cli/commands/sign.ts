import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { parseImageRef } from "../../transport/index.ts";
import { type SignatureFormat, sign } from "../../verbs/sign.ts";
import { annotationsFrom, commonArgs, jsonArg, required } from "../args.ts";
import { loadSigningKey } from "../keys.ts";
import { log } from "../log.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore sign --key cosign.key docker://localhost:5000/team/app:1.0",
  "stevedore sign --key cosign.key --format referrers -a ci=github docker://localhost:5000/team/app@sha256:…",
];

export default defineCommand({
  meta: { name: "sign", description: "Sign an image with an ECDSA P-256 key, as cosign does (signatures readable by cosign verify)" },
  args: {
    image: { type: "positional", description: "Image (docker://, oci:, static:)" },
    key: { type: "string", valueHint: "FILE", description: "Private key (cosign.key, PKCS#8 or SEC1 PEM)" },
    format: { type: "enum", options: ["legacy", "referrers", "bundle"], description: "legacy: the sha256-<hex>.sig tag (default); referrers: an OCI 1.1 referrer; bundle: cosign v3's Sigstore bundle" },
    annotation: { type: "string", alias: "a", valueHint: "key=value", description: "Signed annotation (repeatable)" },
    recursive: { type: "boolean", description: "Also sign each image of an index" },
    ...jsonArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.key) throw new UsageError("missing --key FILE");
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const results = await sign(ref, {
      key: await loadSigningKey(args.key),
      format: (args.format as SignatureFormat | undefined) ?? "legacy",
      annotations: annotationsFrom(rawArgs),
      recursive: args.recursive,
      registry: registryOptionsFrom(args),
      signal: cliSignal,
    });
    for (const r of results) log.success(`signed ${r.digest}${ref.tag ? ` (what ${ref.tag} points to now)` : ""}`);
    if (args.json) printJson(results);
    else printLines(results.map((r) => r.signature));
  },
});
