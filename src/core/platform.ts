import { UsageError } from "./errors.ts";

/** An image platform as OCI indexes describe it. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly "os.version"?: string;
  readonly "os.features"?: readonly string[];
}

/** `os/arch[/variant]`, as docker's `--platform` spells it. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new UsageError(`invalid platform "${text}": expected os/arch[/variant], like linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return normalizePlatform(variant ? { os, architecture, variant } : { os, architecture });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

const archAliases: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm", i386: "386" };

/** containerd's normalisation: aliases, arm64's implied v8, arm's implied v7. */
export function normalizePlatform(p: Platform): Platform {
  const architecture = archAliases[p.architecture] ?? p.architecture;
  let variant = p.variant;
  if (architecture === "arm64" && variant === "v8") variant = undefined;
  if (architecture === "arm" && !variant) variant = "v7";
  if (p.architecture === "armel") variant = "v6";
  const { variant: _drop, ...rest } = p;
  return variant ? { ...rest, architecture, variant } : { ...rest, architecture };
}

/** True when `candidate` (from an index) can serve `wanted`. */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  return w.os === c.os && w.architecture === c.architecture && (!w.variant || w.variant === c.variant);
}

/** The platform of the machine running stevedore, in OCI spelling. */
export function hostPlatform(): Platform {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" }[process.arch as string] ?? process.arch;
  return normalizePlatform({ os, architecture: arch });
}
