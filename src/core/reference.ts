import { type Digest, parseDigest } from "./digest.ts";
import { UsageError } from "./errors.ts";

/** A docker image reference, normalised as docker does (`alpine` → `docker.io/library/alpine:latest`). */
export interface Reference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export const defaultRegistry = "docker.io";
const legacyRegistry = "index.docker.io";
const nameTotalLengthMax = 255;

// distribution/reference's grammar (regexp.go)
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const repositoryPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainPattern = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const tagPattern = /^[\w][\w.-]{0,127}$/;
const hex64 = /^[a-f0-9]{64}$/;

/** A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export const isValidTag = (tag: string): boolean => tagPattern.test(tag);

export interface ParseReferenceOptions {
  /** Add `latest` when neither tag nor digest is given (default true). */
  readonly defaultTag?: boolean;
}

/** Parses and normalises like docker's ParseNormalizedNamed, refusing what docker refuses. */
export function parseReference(text: string, options: ParseReferenceOptions = {}): Reference {
  const fail = (why: string): never => {
    throw new UsageError(`invalid image reference "${text}": ${why}`);
  };
  if (text === "") fail("empty");
  if (/\s/.test(text)) fail("contains white space");
  if (hex64.test(text)) fail("cannot specify 64-byte hexadecimal strings");

  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (err) {
      fail((err as Error).message);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!isValidTag(tag)) fail(`invalid tag "${tag}"`);
  }
  if (rest === "") fail("missing repository name");
  if (rest.length > nameTotalLengthMax) fail(`repository name longer than ${nameTotalLengthMax} characters`);

  const { registry, repository } = splitRegistry(rest);
  if (!domainPattern.test(registry)) fail(`invalid registry "${registry}"`);
  if (repository !== repository.toLowerCase()) fail(`repository name "${repository}" must be lowercase`);
  if (!repositoryPattern.test(repository)) fail(`invalid repository name "${repository}"`);

  if (!tag && !digest && options.defaultTag !== false) tag = "latest";
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** docker's splitDockerDomain: the first component is a registry only if it looks like a host. */
function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf("/");
  const first = slash === -1 ? "" : name.slice(0, slash);
  let registry = defaultRegistry;
  let repository = name;
  if (slash !== -1 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase())) {
    registry = first;
    repository = name.slice(slash + 1);
  }
  if (registry === legacyRegistry) registry = defaultRegistry;
  if (registry === defaultRegistry && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository };
}

/** `registry/repository[:tag][@digest]`: parses back to the same reference. */
export function formatReference(ref: Reference): string {
  return `${referenceName(ref)}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

export function referenceName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** docker's short form: `alpine:3.20`, `me/app`, `ghcr.io/me/app:1`. */
export function familiarName(ref: Reference): string {
  if (ref.registry !== defaultRegistry) return referenceName(ref);
  return ref.repository.startsWith("library/") && ref.repository.split("/").length === 2 ? ref.repository.slice(8) : ref.repository;
}

export function familiarReference(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** A `host[:port]` on this machine's loopback (localhost, 127.x.y.z, [::1]). */
export const isLoopbackHost = (host: string): boolean => /^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$/.test(host);

/** The host that answers the registry API for a registry name. */
export function registryApiHost(registry: string): string {
  return registry === defaultRegistry ? "registry-1.docker.io" : registry;
}

/** Whether `text` is a bare repository path as the distribution spec allows it in URLs (`team/app`). */
export const isValidRepositoryName = (text: string): boolean => text.length <= nameTotalLengthMax && repositoryPattern.test(text);

/** A bare repository path as the distribution spec allows it in URLs (`team/app`). */
export function parseRepositoryName(text: string): string {
  if (!isValidRepositoryName(text)) {
    throw new UsageError(`invalid repository name "${text}"`);
  }
  return text;
}
