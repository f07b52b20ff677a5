/**
 * skopeo sync's sources, for `stevedore sync --src docker|yaml|dir`: a registry repository (one
 * image, or every tag), a YAML file naming registries and their images, each with its own TLS and
 * credential settings, or the dir: images `--dest dir` wrote. All become sync jobs whose
 * destination is named as skopeo names it: the destination base plus the source's last path
 * component and tag, or with `scoped` its whole registry/repository path.
 */
import { readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { UsageError } from "../core/errors.ts";
import { type Reference, formatReference, parseReference } from "../core/reference.ts";
import { certificatesIn } from "../registry/certificates.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { type SyncJob, type SyncLineResult, failedLine } from "./sync.ts";
import { repositoryTags } from "./tag-patterns.ts";

/** Where skopeo-style sync writes: `docker` (a registry and path) or `dir` (a directory of dir: images). */
export interface SyncTarget {
  readonly transport: "docker" | "dir";
  readonly base: string;
  /** Keep the source's registry and whole repository path under the base, not only its last component. */
  readonly scoped?: boolean;
}

/** A source image and what reaching its registry needs. */
interface SourceImage {
  readonly reference: Reference;
  readonly registry: RegistryOptions;
}

interface Expanded {
  readonly jobs: SyncJob[];
  readonly errors: SyncLineResult[];
}

/** `--src docker REGISTRY/REPO[:TAG|@DIGEST]`: that image, or every tag of the repository. */
export async function dockerSourceJobs(source: string, target: SyncTarget, registry: RegistryOptions, signal?: AbortSignal): Promise<Expanded> {
  const reference = parseReference(source, { defaultTag: false });
  if (reference.tag || reference.digest) return { jobs: [job(1, { reference, registry }, target)], errors: [] };
  return expand([{ reference, registry, tags: "all" }], target, signal);
}

/**
 * `--src dir PATH`: a skopeo `dir:` image, or every one below PATH (what `--dest dir` wrote), each
 * pushed under the destination with its path below PATH (`team/app:1.0`; no tag: `latest`).
 */
export async function dirSourceJobs(path: string, target: SyncTarget): Promise<Expanded> {
  if (target.transport === "dir") throw new UsageError("--src dir goes to --dest docker (a directory to a directory is a copy of files)");
  const images = await dirImagesBelow(path);
  if (images.length === 0) throw new UsageError(`${path}: no dir: images (directories holding manifest.json) in it`);
  const jobs = images.map(({ dir, name }, i) => {
    const named = name || basename(resolve(path)); // PATH is itself the image
    return { line: i + 1, source: `dir:${dir}`, destination: destinationOf(target, /:[^/]*$/.test(named) ? named : `${named}:latest`) };
  });
  return { jobs, errors: [] };
}

/** The dir: images at or below `root`, each with its path below it ("" for `root` itself). */
async function dirImagesBelow(root: string): Promise<{ dir: string; name: string }[]> {
  const found: { dir: string; name: string }[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(root, relative), { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.isFile() && e.name === "manifest.json")) {
      found.push({ dir: join(root, relative), name: relative });
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) await walk(relative ? `${relative}/${entry.name}` : entry.name);
    }
  };
  await walk("");
  return found;
}

/** `--src yaml FILE`: skopeo's format (`images`, `images-by-tag-regex`, `images-by-semver`, `credentials`, `tls-verify`, `cert-dir` per registry). */
export async function yamlSourceJobs(text: string, target: SyncTarget, registry: RegistryOptions, signal?: AbortSignal): Promise<Expanded> {
  return expand(parseSyncYaml(text, registry), target, signal);
}

/** One repository of a YAML file or a --src docker argument, with the tags wanted from it. */
interface Wanted {
  readonly reference: Reference;
  readonly registry: RegistryOptions;
  /** Tags or digests; "all"; or a pattern the tags must match. */
  readonly tags: readonly string[] | "all" | ((tag: string) => boolean);
}

const registryKeys = new Set(["images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir"]);

function parseSyncYaml(text: string, base: RegistryOptions): Wanted[] {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (err) {
    throw new UsageError(`sync YAML: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw new UsageError("sync YAML: expected a mapping of registries");
  // the command line's credential goes to the registries without their own in the file: to one at most, or it would reach them all
  const without = Object.entries(doc).filter(([, entry]) => !isRecord(entry) || entry.credentials === undefined).map(([host]) => host);
  if ((base.credentials?.explicit || base.registryToken) && without.length !== 1) {
    if (without.length === 0) throw new UsageError("sync YAML: every registry has credentials in the file: --src-creds or --src-registry-token would go to none");
    throw new UsageError(`sync YAML: --src-creds or --src-registry-token would go to ${without.length} registries (${without.join(", ")}): give all but one their credentials in the file (credentials: username, password)`);
  }
  const wanted: Wanted[] = [];
  for (const [host, entry] of Object.entries(doc)) {
    const where = `sync YAML, registry ${host}`;
    if (!isRecord(entry)) throw new UsageError(`${where}: expected a mapping`);
    const unknown = Object.keys(entry).filter((k) => !registryKeys.has(k));
    if (unknown.length > 0) throw new UsageError(`${where}: unknown key ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${[...registryKeys].join(", ")})`);
    const registry = registryOptionsOf(entry, base, where);
    const reference = (name: string) => parseReference(`${host}/${name}`, { defaultTag: false });
    for (const [name, tags] of Object.entries(optionalRecord(entry.images, `${where}: images`))) {
      if (tags === null || (Array.isArray(tags) && tags.length === 0)) {
        wanted.push({ reference: reference(name), registry, tags: "all" });
        continue;
      }
      if (!Array.isArray(tags)) throw new UsageError(`${where}: images.${name} must be a list of tags or digests`);
      for (const tag of tags) {
        if (typeof tag !== "string") throw new UsageError(`${where}: images.${name} has ${JSON.stringify(tag)}, which YAML reads as a ${typeof tag}: quote it`);
      }
      wanted.push({ reference: reference(name), registry, tags });
    }
    for (const [name, pattern] of Object.entries(optionalRecord(entry["images-by-tag-regex"], `${where}: images-by-tag-regex`))) {
      if (typeof pattern !== "string") throw new UsageError(`${where}: images-by-tag-regex.${name} must be a regular expression`);
      let regex: RegExp;
      try {
        regex = new RegExp(pattern);
      } catch (err) {
        throw new UsageError(`${where}: images-by-tag-regex.${name}: ${(err as Error).message}`);
      }
      wanted.push({ reference: reference(name), registry, tags: (tag) => regex.test(tag) });
    }
    for (const [name, range] of Object.entries(optionalRecord(entry["images-by-semver"], `${where}: images-by-semver`))) {
      if (typeof range !== "string") throw new UsageError(`${where}: images-by-semver.${name} must be a version range such as ">= 1.2.0"`);
      wanted.push({ reference: reference(name), registry, tags: (tag) => satisfiesRange(tag, range) });
    }
  }
  return wanted;
}

/** The registry's settings from the file over the command line's (as skopeo applies them). */
function registryOptionsOf(entry: Record<string, unknown>, base: RegistryOptions, where: string): RegistryOptions {
  const { credentials, "tls-verify": tlsVerify, "cert-dir": certDir } = entry;
  if (tlsVerify !== undefined && typeof tlsVerify !== "boolean") throw new UsageError(`${where}: tls-verify must be true or false`);
  if (certDir !== undefined && typeof certDir !== "string") throw new UsageError(`${where}: cert-dir must be a directory`);
  let explicit: { username: string; password: string } | undefined;
  if (credentials !== undefined) {
    if (!isRecord(credentials) || typeof credentials.username !== "string" || typeof credentials.password !== "string") {
      throw new UsageError(`${where}: credentials needs username and password`);
    }
    explicit = { username: credentials.username, password: credentials.password };
  }
  return {
    ...base,
    // the file's credentials for this registry, not a token the command line gave for others
    ...(explicit ? { credentials: { ...base.credentials, explicit, anonymous: false }, registryToken: undefined } : {}),
    ...(tlsVerify !== undefined ? { tlsVerify } : {}),
    ...(certDir !== undefined ? { ca: certificatesIn(certDir, `${where}: cert-dir`) } : {}),
  };
}

/** Every wanted image as a job, listing tags where asked; a repository whose tags cannot be listed fails alone. */
async function expand(wanted: readonly Wanted[], target: SyncTarget, signal?: AbortSignal): Promise<Expanded> {
  const jobs: SyncJob[] = [];
  const errors: SyncLineResult[] = [];
  for (const want of wanted) {
    const images: SourceImage[] = [];
    try {
      for (const tag of await tagsOf(want, signal)) images.push({ reference: withTagOrDigest(want.reference, tag), registry: want.registry });
    } catch (err) {
      errors.push(failedLine({ line: jobs.length + errors.length + 1, source: `docker://${formatReference(want.reference)}`, destination: target.base }, err));
      continue;
    }
    for (const image of images) jobs.push(job(jobs.length + errors.length + 1, image, target));
  }
  return { jobs, errors };
}

async function tagsOf(want: Wanted, signal?: AbortSignal): Promise<readonly string[]> {
  if (Array.isArray(want.tags)) return want.tags;
  const wanted = want.tags === "all" ? () => true : (want.tags as (tag: string) => boolean);
  return repositoryTags(`docker://${want.reference.registry}/${want.reference.repository}`, wanted, { signal, registry: want.registry });
}

/**
 * Whether a tag is a version in `range`, as skopeo's images-by-semver reads tags: a leading `v`
 * allowed, `1` and `1.2` read as `1.0.0` and `1.2.0`; tags that are no version never match.
 */
function satisfiesRange(tag: string, range: string): boolean {
  const short = /^(v?\d+)(\.\d+)?$/.exec(tag);
  const version = short ? `${short[1]}${short[2] ?? ".0"}.0` : tag;
  try {
    // Masterminds' comma (skopeo's library) is npm's space: both mean "and"
    return Bun.semver.satisfies(version, range.replaceAll(",", " "));
  } catch {
    return false;
  }
}

function withTagOrDigest(reference: Reference, tagOrDigest: string): Reference {
  const { registry, repository } = reference;
  return parseReference(`${registry}/${repository}${tagOrDigest.includes(":") ? "@" : ":"}${tagOrDigest}`);
}

/** The job copying one image, its destination named as skopeo names it. */
function job(line: number, image: SourceImage, target: SyncTarget): SyncJob {
  const name = formatReference(image.reference);
  const suffix = target.scoped ? name : name.slice(name.lastIndexOf("/") + 1);
  return { line, source: `docker://${name}`, destination: destinationOf(target, suffix), sourceRegistry: image.registry };
}

/** `suffix` (`app:1.0`, `team/app:1.0`) under the target's base, as a reference of its transport. */
function destinationOf(target: SyncTarget, suffix: string): string {
  const base = target.base.replace(/\/+$/, "");
  return target.transport === "docker" ? `docker://${base}/${suffix}` : `dir:${base}/${suffix}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalRecord(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new UsageError(`${where} must be a mapping of image names`);
  return value;
}
