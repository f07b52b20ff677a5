import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { writeFileAtomic } from "../../stream/file.ts";
import { parseImageRef } from "../../transport/index.ts";
import { convertTo } from "../../verbs/convert.ts";
import { type CopyOptions, copy } from "../../verbs/copy.ts";
import { copyRecompressed } from "../../verbs/recompress.ts";
import { sign } from "../../verbs/sign.ts";
import { commonArgs, jobsArg, jsonArg, platformArg, platformsFrom, positiveInt, required } from "../args.ts";
import { copyOptionsFrom } from "../copy-options.ts";
import { log } from "../log.ts";
import { loadSigningKey } from "../keys.ts";
import { copyRegistryArgs } from "../registry-args.ts";
import { printJson, printLines } from "../render.ts";

export const examples = [
  "stevedore copy docker://alpine:3.20 oci:./alpine:3.20",
  "stevedore copy --all --dest-creds me:$TOKEN oci:./build:app docker://ghcr.io/me/app:1.0",
  "stevedore copy oci:./alpine:3.20 dir:./alpine",
  "stevedore copy --all oci-archive:./multi.tar oci:./layout:multi",
  "stevedore copy --platform linux/arm64 oci:./layout:app docker-archive:./app.tar:app:arm64",
  "stevedore copy --all --format oci docker://localhost:5000/team/app:1.0 docker://localhost:5000/team/app:1.0-oci",
  "stevedore copy --all --dest-compress-format zstd oci:./layout:app docker://localhost:5000/team/app:1.0-zstd",
];

export default defineCommand({
  meta: { name: "copy", description: "Copy an image between any two transports, keeping its digests" },
  args: {
    src: { type: "positional", description: "Source image (transport:reference)" },
    dst: { type: "positional", description: "Destination image (transport:reference)" },
    all: { type: "boolean", alias: "a", description: "Copy every platform of an index" },
    referrers: { type: "boolean", description: "Also copy signatures, SBOMs and attestations (OCI referrers and cosign tags)" },
    "no-fsync": { type: "boolean", description: "Skip fsync before renames (faster; a crash may lose the copy)" },
    format: { type: "string", alias: "f", valueHint: "oci|v2s2", description: "Convert the manifests to OCI or Docker v2s2 (new manifest digests; blobs unchanged)" },
    "dest-compress-format": { type: "string", valueHint: "gzip|zstd", description: "Recompress the layers (new layer and manifest digests; configs unchanged)" },
    "preserve-digests": { type: "boolean", description: "Fail, writing nothing, if the copy would write a manifest the source does not have (as skopeo's)" },
    "multi-arch": { type: "string", valueHint: "system|all", description: "skopeo's spelling: all is --all, system (the default) the host's platform" },
    "sign-by-sigstore-private-key": { type: "string", valueHint: "FILE", description: "Sign what was copied with this cosign key, as skopeo does (a cosign .sig signature)" },
    "sign-passphrase-file": { type: "string", valueHint: "FILE", description: "The signing key's password: this file's first line (else COSIGN_PASSWORD)" },
    digestfile: { type: "string", valueHint: "FILE", description: "Also write the copied manifest's digest to FILE (as skopeo does: no newline)" },
    ...platformArg,
    ...jobsArg,
    ...copyRegistryArgs,
    ...jsonArg,
    ...commonArgs,
  },
  async run({ args, rawArgs }) {
    const format = args.format;
    if (format !== undefined && format !== "oci" && format !== "v2s2") throw new UsageError(`--format takes oci or v2s2, not "${format}"`);
    const compression = args["dest-compress-format"];
    if (compression !== undefined && compression !== "gzip" && compression !== "zstd") throw new UsageError(`--dest-compress-format takes gzip or zstd, not "${compression}"`);
    if (format && compression) throw new UsageError("--format and --dest-compress-format go in two copies, one after the other");
    if ((format || compression) && args.referrers) throw new UsageError("--referrers cannot go with --format or --dest-compress-format: signatures and SBOMs name the digests they change");
    if ((format || compression) && args["preserve-digests"]) throw new UsageError("--preserve-digests cannot go with --format or --dest-compress-format: they change the digests");
    const multiArch = args["multi-arch"];
    if (multiArch !== undefined && multiArch !== "all" && multiArch !== "system") {
      throw new UsageError(`--multi-arch takes all or system${multiArch === "index-only" ? " (index-only, which copies an index without its images, is not supported)" : `, not "${multiArch}"`}`);
    }
    const [src, dst] = [parseImageRef(required(args.src, "SRC")), parseImageRef(required(args.dst, "DST"))];
    const keyPath = args["sign-by-sigstore-private-key"];
    if (args["sign-passphrase-file"] && !keyPath) throw new UsageError("--sign-passphrase-file goes with --sign-by-sigstore-private-key");
    if (keyPath && !dst.withReference) throw new UsageError(`${dst.transport.name}: cannot hold signatures (sign into docker://, oci: or static:)`);
    // the key first: a wrong password stops the run before anything is copied
    const key = keyPath ? await loadSigningKey(keyPath, args["sign-passphrase-file"]) : undefined;
    const run = (options: CopyOptions) =>
      format ? convertTo(src, dst, format, options) : compression ? copyRecompressed(src, dst, compression, options) : copy(src, dst, options);
    const sides = copyOptionsFrom(args, { sources: [src], destination: dst });
    const result = await run({
      all: args.all || multiArch === "all",
      referrers: args.referrers,
      preserveDigests: args["preserve-digests"],
      platforms: platformsFrom(rawArgs),
      jobs: positiveInt(args.jobs, "--jobs"),
      fsync: !args["no-fsync"],
      ...sides,
    });
    if (key) {
      const [signed] = await sign(dst.withReference!({ digest: result.digest }), { key, registry: sides.destinationRegistry, signal: sides.signal });
      log.success(`signed ${result.digest}: ${signed!.signature}`);
    }
    if (args.digestfile) await writeFileAtomic(args.digestfile, new TextEncoder().encode(result.digest));
    if (args.json) return printJson(result);
    const { copied, skipped, mounted } = result.blobs;
    const extras = `${mounted ? `, ${mounted} mounted` : ""}${args.referrers ? `, ${result.referrers} referrers` : ""}`;
    log.success(`copied ${result.source} to ${result.destination}: ${copied} blobs copied, ${skipped} skipped${extras}`);
    printLines([result.digest]);
  },
});
