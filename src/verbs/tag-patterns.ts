import { UsageError } from "../core/errors.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { parseImageRef } from "../transport/index.ts";

/** `REF:PATTERN`, a tag with `*` (any run of characters) or `?` (one): the repository part and the pattern. */
const tagPatternSyntax = /^(.*[^:]):([\w.*?-]*[*?][\w.*?-]*)$/;

export interface TagPattern {
  /** The reference without its tag: `docker://HOST/team/app`, `oci:./layout`. */
  readonly repository: string;
  readonly pattern: string;
}

/** A reference whose tag is a pattern (`docker://HOST/team/app:1.*`, `:*`), or undefined for any other. */
export function splitTagPattern(reference: string): TagPattern | undefined {
  const match = tagPatternSyntax.exec(reference);
  return match ? { repository: match[1]!, pattern: match[2]! } : undefined;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\-]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`);
}

/** The tags of `repository` (a reference without its tag: `docker://HOST/team/app`, `oci:./layout`) that `wanted` keeps, sorted. */
export async function repositoryTags(repository: string, wanted: (tag: string) => boolean, options: { signal?: AbortSignal; registry?: RegistryOptions } = {}): Promise<string[]> {
  const listing = parseImageRef(`${repository}:latest`);
  if (!listing.listTags) throw new UsageError(`${repository}: this transport has no tags to list`);
  const tags: string[] = [];
  for await (const tag of listing.listTags(options)) if (wanted(tag)) tags.push(tag);
  return tags.sort();
}

/** The repository's tags the pattern matches, sorted; none is an error that says so. */
export async function matchingTags({ repository, pattern }: TagPattern, options: { signal?: AbortSignal; sourceRegistry?: RegistryOptions } = {}): Promise<string[]> {
  const wanted = globToRegExp(pattern);
  const tags = await repositoryTags(repository, (tag) => wanted.test(tag), { signal: options.signal, registry: options.sourceRegistry });
  if (tags.length === 0) throw new UsageError(`no tag of ${repository} matches "${pattern}"`);
  return tags;
}
