import type { ArgDef } from "citty";
import { UsageError } from "../core/errors.ts";
import { wholeNumber } from "./args.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { parseImageRef } from "../transport/index.ts";
import type { ImageRef } from "../transport/types.ts";
import { certificatesIn } from "../registry/certificates.ts";
import { parseCredentialsFlag } from "../registry/credentials.ts";
import { defaultRetryPolicy } from "../registry/retry.ts";

/** docker:// flags with skopeo's spellings; `--src-*`/`--dest-*` variants for copy. */
export const registryArgs = {
  creds: { type: "string", valueHint: "user:password", description: "Registry credentials (else from auth files; see README)" },
  authfile: { type: "string", valueHint: "FILE", description: "Credentials file (docker config.json or containers auth.json)" },
  "tls-verify": { type: "string", valueHint: "true|false", description: "Verify TLS certificates (false: also allow plain http)" },
  insecure: { type: "boolean", description: "Same as --tls-verify=false" },
  "cert-dir": { type: "string", valueHint: "DIR", description: "Trust the CA certificates (*.crt, *.pem) in DIR" },
  "retry-times": { type: "string", valueHint: "N", description: "Retries of a request after a connection error, 5xx or 429 (default 4)" },
  "registry-token": { type: "string", valueHint: "TOKEN", description: "A bearer token to send as it is, instead of credentials" },
} as const satisfies Record<string, ArgDef>;

export const copyRegistryArgs = {
  ...registryArgs,
  "src-creds": { type: "string", valueHint: "user:password", description: "Credentials for the source registry" },
  "dest-creds": { type: "string", valueHint: "user:password", description: "Credentials for the destination registry" },
  "src-authfile": { type: "string", valueHint: "FILE", description: "Credentials file for the source registry" },
  "dest-authfile": { type: "string", valueHint: "FILE", description: "Credentials file for the destination registry" },
  "src-registry-token": { type: "string", valueHint: "TOKEN", description: "Bearer token for the source registry" },
  "dest-registry-token": { type: "string", valueHint: "TOKEN", description: "Bearer token for the destination registry" },
  "src-no-creds": { type: "boolean", description: "Read the source anonymously" },
  "dest-no-creds": { type: "boolean", description: "Write the destination anonymously" },
  "src-tls-verify": { type: "string", valueHint: "true|false", description: "TLS verification for the source" },
  "dest-tls-verify": { type: "string", valueHint: "true|false", description: "TLS verification for the destination" },
  "src-cert-dir": { type: "string", valueHint: "DIR", description: "CA certificates for the source" },
  "dest-cert-dir": { type: "string", valueHint: "DIR", description: "CA certificates for the destination" },
  "upload-chunk-size": { type: "string", valueHint: "SIZE", description: "Push large blobs in chunks of SIZE (64M, 512K…) for proxies that limit request bodies" },
} as const satisfies Record<string, ArgDef>;

/** `64M`, `512K`, `1G` (powers of 1024, an optional `i`/`B`) or plain bytes. */
function byteSize(value: string, flag: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const size = match ? Number(match[1]) * 1024 ** " kmg".indexOf((match[2] || " ").toLowerCase()) : Number.NaN;
  if (!Number.isSafeInteger(size) || size < 1) throw new UsageError(`${flag} takes a size such as 64M or 512K, not "${value}"`);
  return size;
}

function parseBool(value: unknown, flag: string): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new UsageError(`${flag} takes true or false, not "${value}"`);
}

/** Registry settings from flags; `side` picks the `--src-`/`--dest-` variants, which win over the plain ones. */
export function registryOptionsFrom(args: Record<string, unknown>, side?: "src" | "dest"): RegistryOptions {
  const pick = (name: string) => (side && args[`${side}-${name}`] !== undefined ? [args[`${side}-${name}`], `--${side}-${name}`] : [args[name], `--${name}`]) as [unknown, string];
  const [creds, credsFlag] = pick("creds");
  const [tls, tlsFlag] = pick("tls-verify");
  const [certDir] = pick("cert-dir");
  const [authFile] = pick("authfile");
  const [registryToken, tokenFlag] = pick("registry-token");
  const retries = wholeNumber(args["retry-times"], "--retry-times");
  const tlsVerify = args.insecure ? false : parseBool(tls, tlsFlag);
  const anonymous = side !== undefined && args[`${side}-no-creds`] === true;
  if (anonymous && (typeof creds === "string" || typeof registryToken === "string")) {
    throw new UsageError(`--${side}-no-creds and ${typeof creds === "string" ? credsFlag : tokenFlag} contradict each other`);
  }
  if (typeof registryToken === "string" && typeof creds === "string") throw new UsageError(`${tokenFlag} and ${credsFlag} are two ways to authenticate: give one`);
  return {
    credentials: {
      explicit: typeof creds === "string" ? parseCredentialsFlag(creds, credsFlag) : undefined,
      authFile: typeof authFile === "string" ? authFile : undefined,
      ...(anonymous ? { anonymous } : {}),
    },
    ...(tlsVerify !== undefined ? { tlsVerify } : {}),
    ...(typeof registryToken === "string" ? { registryToken } : {}),
    ...(retries !== undefined ? { retry: { ...defaultRetryPolicy, attempts: 1 + retries } } : {}),
    ...(typeof certDir === "string" ? { ca: certificatesIn(certDir, "--cert-dir") } : {}),
    ...(side !== "src" && typeof args["upload-chunk-size"] === "string" ? { uploadChunkSize: byteSize(args["upload-chunk-size"], "--upload-chunk-size") } : {}),
  };
}

/** The credential flag given for a side (`src-creds`, `dest-registry-token`), or the plain one (`creds`) without a side. */
export function credentialFlag(args: Record<string, unknown>, side?: "src" | "dest"): string | undefined {
  const prefix = side ? `${side}-` : "";
  return [`${prefix}creds`, `${prefix}registry-token`].find((f) => typeof args[f] === "string");
}

/**
 * A credential flag goes to every image of its side (the plain one to both sides): refused when
 * those are on more than one registry, since each registry may only get its own credentials
 * (`--src-*` / `--dest-*` name them per side; auth files per registry).
 */
export function checkPlainCredentials(args: Record<string, unknown>, images: { readonly sources: readonly ImageRef[]; readonly destinations: readonly ImageRef[] }): void {
  const registriesOf = (refs: readonly ImageRef[]) => [...new Set(refs.flatMap((r) => (r.transport.name === "docker" && r.registry ? [r.registry] : [])))];
  for (const [side, refs] of [[undefined, [...images.sources, ...images.destinations]], ["src", images.sources], ["dest", images.destinations]] as const) {
    const flag = credentialFlag(args, side);
    const registries = registriesOf(refs);
    if (!flag || registries.length < 2) continue;
    const remedy = side ? "put the credentials in an auth file (stevedore login) so each registry gets its own" : `give each side its own (--src-${flag}, --dest-${flag})`;
    throw new UsageError(`--${flag} would reach ${registries.join(" and ")}: ${remedy}`);
  }
}

/** The images a list of references reaches, for checkPlainCredentials: tag patterns (`:1.*`) name their repository; what does not parse is left to the command to report. */
export function reachedRefs(references: readonly string[]): ImageRef[] {
  return references.flatMap((reference) => {
    for (const text of [reference, reference.replace(/:[^:/]*[*?][^:/]*$/, "")]) {
      try {
        return [parseImageRef(text)];
      } catch {
        // the next form, or nothing
      }
    }
    return [];
  });
}
