import { NotFoundError } from "../core/errors.ts";
import type { RegistryClient } from "./client.ts";
import { registryErrorFrom } from "./errors.ts";

/** Pages at most this long; the registry may send fewer and a `Link` to the next page. */
const defaultPageSize = 1000;
/** A registry that keeps sending `Link` to itself must not keep us forever. */
const maxPages = 10_000;

/** The `<…>; rel="next"` target of a Link header. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const match = /<([^>]*)>\s*;(?:.*;)?\s*rel="?next"?/.exec(part.trim());
    if (match) return match[1];
  }
  return undefined;
}

async function* paginate<T>(client: RegistryClient, first: string, field: string, what: string, scopes?: string[]): AsyncGenerator<T> {
  let next: string | undefined = first;
  const seen = new Set<string>();
  for (let page = 0; next && page < maxPages; page++) {
    if (seen.has(next)) return;
    seen.add(next);
    const response = await client.request("GET", next, { scopes });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new NotFoundError(`${what}: not found`);
    }
    if (!response.ok) throw await registryErrorFrom(response, what);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    yield* ((body[field] as T[] | null) ?? []);
    next = nextLink(response.headers.get("link"));
  }
}

/** Every tag of the repository, following pagination (`n`, `last`, `Link`). */
export function listTags(client: RegistryClient, pageSize = defaultPageSize): AsyncIterable<string> {
  return paginate<string>(client, `/v2/${client.repository}/tags/list?n=${pageSize}`, "tags", `tags of ${client.registry}/${client.repository}`);
}

/** Every repository the registry lists in `_catalog`. */
export function listRepositories(client: RegistryClient): AsyncIterable<string> {
  return paginate<string>(client, `/v2/_catalog?n=${defaultPageSize}`, "repositories", `catalog of ${client.registry}`, ["registry:catalog:*"]);
}
