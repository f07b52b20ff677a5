import type { MergedView } from "../fs/merged-view.ts";
import { type GoBuildInfo, scanGoBinary } from "./go-buildinfo.ts";
import { readRpmDatabase } from "./rpm.ts";

/** One package found in an image. */
export interface SbomPackage {
  readonly name: string;
  readonly version: string;
  readonly type: "deb" | "apk" | "rpm" | "npm" | "pypi" | "golang";
  readonly purl: string;
  /** The file it was found in. */
  readonly location: string;
  readonly arch?: string;
}

export interface OsInfo {
  readonly id: string;
  readonly versionId?: string;
  readonly prettyName?: string;
}

export interface SbomResult {
  readonly os?: OsInfo;
  readonly packages: readonly SbomPackage[];
}

const text = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);
const enc = encodeURIComponent;
/** Package databases can be large (dpkg status of a full distribution); manifests are small. */
const maxDatabaseBytes = 64 << 20;
const maxManifestBytes = 1 << 20;
/** Executables larger than this are not scanned for Go build info. */
const maxBinaryBytes = 256 << 20;

function parseOsRelease(content: string): OsInfo | undefined {
  const fields = Object.fromEntries(
    content.split("\n").flatMap((line) => {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      return m ? [[m[1]!, m[2]!.replace(/^"(.*)"$/, "$1")]] : [];
    }),
  );
  return fields.ID ? { id: fields.ID, ...(fields.VERSION_ID ? { versionId: fields.VERSION_ID } : {}), ...(fields.PRETTY_NAME ? { prettyName: fields.PRETTY_NAME } : {}) } : undefined;
}

/** dpkg's status format: RFC 822-like stanzas; only installed packages count. */
function parseDpkg(content: string, location: string, os: OsInfo | undefined): SbomPackage[] {
  const distro = os?.id ?? "debian";
  const qualifier = os?.versionId ? `&distro=${enc(`${distro}-${os.versionId}`)}` : "";
  return content.split(/\n\s*\n/).flatMap((stanza) => {
    const field = (name: string) => new RegExp(`^${name}: *(.*)$`, "m").exec(stanza)?.[1]?.trim();
    const name = field("Package");
    const version = field("Version");
    const status = field("Status");
    if (!name || !version || (status && !status.endsWith(" installed"))) return [];
    const arch = field("Architecture");
    return [{ name, version, type: "deb" as const, arch, location, purl: `pkg:deb/${enc(distro)}/${enc(name)}@${enc(version)}?arch=${enc(arch ?? "all")}${qualifier}` }];
  });
}

/** apk's installed database: records of `X:value` lines, P = name, V = version, A = arch. */
function parseApk(content: string, location: string, os: OsInfo | undefined): SbomPackage[] {
  const distro = os?.id ?? "alpine";
  return content.split(/\n\s*\n/).flatMap((record) => {
    const field = (key: string) => new RegExp(`^${key}:(.*)$`, "m").exec(record)?.[1]?.trim();
    const name = field("P");
    const version = field("V");
    if (!name || !version) return [];
    const arch = field("A");
    return [{ name, version, type: "apk" as const, arch, location, purl: `pkg:apk/${enc(distro)}/${enc(name)}@${enc(version)}${arch ? `?arch=${enc(arch)}` : ""}` }];
  });
}

function rpmPackages(bytes: Uint8Array | undefined, location: string, os: OsInfo | undefined): SbomPackage[] {
  const distro = os?.id ?? "rpm";
  return (bytes ? readRpmDatabase(bytes) : []).map((p) => {
    const version = `${p.version}-${p.release}`;
    const qualifiers = [p.arch ? `arch=${enc(p.arch)}` : "", p.epoch ? `epoch=${p.epoch}` : "", os?.versionId ? `distro=${enc(`${distro}-${os.versionId}`)}` : ""].filter(Boolean).join("&");
    return { name: p.name, version, type: "rpm" as const, arch: p.arch, location, purl: `pkg:rpm/${enc(distro)}/${enc(p.name)}@${enc(version)}${qualifiers ? `?${qualifiers}` : ""}` };
  });
}

/** A Go binary's main module and dependencies, as pkg:golang purls (the standard library as stdlib). */
function goPackages(info: GoBuildInfo, location: string): SbomPackage[] {
  const mod = (path: string, version: string): SbomPackage => ({ name: path, version, type: "golang", location, purl: `pkg:golang/${path.split("/").map(enc).join("/")}@${enc(version)}` });
  return [
    mod("stdlib", info.goVersion.replace(/^go/, "")),
    ...(info.main && info.main.version !== "(devel)" ? [mod(info.main.path, info.main.version)] : []),
    ...info.deps.map((d) => mod(d.path, d.version)),
  ];
}

function parseNpm(content: string, location: string): SbomPackage[] {
  try {
    const { name, version } = JSON.parse(content) as { name?: string; version?: string };
    if (typeof name !== "string" || typeof version !== "string") return [];
    const [scope, bare] = name.startsWith("@") ? (name.split("/") as [string, string]) : [undefined, name];
    return [{ name, version, type: "npm", location, purl: `pkg:npm/${scope ? `${enc(scope)}/` : ""}${enc(bare)}@${enc(version)}` }];
  } catch {
    return [];
  }
}

function parsePython(content: string, location: string): SbomPackage[] {
  const name = /^Name: *(.+)$/m.exec(content)?.[1]?.trim();
  const version = /^Version: *(.+)$/m.exec(content)?.[1]?.trim();
  if (!name || !version) return [];
  return [{ name, version, type: "pypi", location, purl: `pkg:pypi/${enc(name.toLowerCase().replace(/[-_.]+/g, "-"))}@${enc(version)}` }];
}

/** A best-effort bill of materials from the merged view: OS, dpkg, apk, RPM (sqlite), npm and Python packages. */
export async function detectPackages(view: MergedView): Promise<SbomResult> {
  const paths = [...view.nodes.keys()];
  const osPath = ["etc/os-release", "usr/lib/os-release"].find((p) => view.nodes.has(p));
  const dpkg = paths.filter((p) => p === "var/lib/dpkg/status" || p.startsWith("var/lib/dpkg/status.d/"));
  const apk = paths.filter((p) => p === "lib/apk/db/installed");
  const rpm = paths.filter((p) => /^(var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/rpmdb\.sqlite$/.test(p));
  const npm = paths.filter((p) => /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(p));
  const python = paths.filter((p) => /\.dist-info\/METADATA$/.test(p));
  const executables = [...view.nodes].filter(([, n]) => n.header.type === "file" && (n.header.mode & 0o111) !== 0 && n.header.size <= maxBinaryBytes && n.header.size > 1024).map(([p]) => p);
  const golang: SbomPackage[] = [];
  await view.scanFiles(executables, async (path, body) => {
    const info = await scanGoBinary(body as unknown as AsyncIterable<Uint8Array>);
    if (info) golang.push(...goPackages(info, `/${path}`));
  });
  const small = await view.readFiles([...(osPath ? [osPath] : []), ...npm, ...python], maxManifestBytes);
  const databases = await view.readFiles([...dpkg, ...apk, ...rpm], maxDatabaseBytes);
  const os = osPath ? parseOsRelease(text(small.get(osPath)) ?? "") : undefined;
  const packages = [
    ...dpkg.flatMap((p) => parseDpkg(text(databases.get(p)) ?? "", `/${p}`, os)),
    ...apk.flatMap((p) => parseApk(text(databases.get(p)) ?? "", `/${p}`, os)),
    ...rpm.flatMap((p) => rpmPackages(databases.get(p), `/${p}`, os)),
    ...npm.flatMap((p) => parseNpm(text(small.get(p)) ?? "", `/${p}`)),
    ...python.flatMap((p) => parsePython(text(small.get(p)) ?? "", `/${p}`)),
    ...golang,
  ];
  return { ...(os ? { os } : {}), packages };
}
