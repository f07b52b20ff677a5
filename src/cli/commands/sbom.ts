import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { toCycloneDx, toSpdx } from "../../sbom/formats.ts";
import { parseImageRef } from "../../transport/index.ts";
import { sbom } from "../../verbs/sbom.ts";
import { commonArgs, platformArg, platformsFrom, required } from "../args.ts";
import { registryArgs, registryOptionsFrom } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";
import { version } from "../../core/version.ts";
import { cliSignal } from "../signal.ts";

export const examples = [
  "stevedore sbom docker://localhost:5000/team/app:1.0",
  "stevedore sbom --format spdx-json oci:./layout:app > sbom.spdx.json",
  "stevedore sbom --format cyclonedx-json docker://localhost:5000/team/app:1.0 | jq '.components | length'",
];

export default defineCommand({
  meta: { name: "sbom", description: "A best-effort software bill of materials: OS, dpkg, apk, npm and Python packages" },
  args: {
    image: { type: "positional", description: "Image" },
    format: { type: "enum", options: ["table", "spdx-json", "cyclonedx-json"], description: "Output (default: table on a terminal, spdx-json otherwise)" },
    ...platformArg,
    ...registryArgs,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const platforms = platformsFrom(rawArgs);
    if (platforms.length > 1) throw new UsageError("sbom takes one --platform");
    const ref = parseImageRef(required(args.image, "IMAGE"));
    const result = await sbom(ref, { platform: platforms[0], registry: registryOptionsFrom(args), signal: cliSignal });
    const format = args.format ?? (process.stdout.isTTY ? "table" : "spdx-json");
    const subject = { name: String(ref), digest: result.digest, tool: `stevedore-${version}` };
    if (format === "spdx-json") return printJson(toSpdx(result, subject));
    if (format === "cyclonedx-json") return printJson(toCycloneDx(result, subject));
    const rows = result.packages.map((p) => [p.name, p.version, p.type, p.purl]);
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ["NAME", "VERSION", "TYPE"][i]!.length));
    const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ");
    printLines([...(result.os ? [`# ${result.os.prettyName ?? result.os.id}`] : []), line(["NAME", "VERSION", "TYPE", "PURL"]), ...rows.map(line)]);
  },
});
