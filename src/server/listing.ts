import { MediaTypes } from "../core/media-type.ts";
import { parseDigestParam } from "./blobs.ts";
import { type RequestContext, apiVersionHeader } from "./context.ts";
import { ApiError } from "./errors.ts";

/** No request can make the server build an unbounded page. */
const maxPage = 1000;

/** `n` and `last` pagination with a Link header to the next page, as the distribution spec describes; `n` at most maxPage. */
function paginate(ctx: RequestContext, all: readonly string[], path: string): { page: string[]; headers: Record<string, string> } {
  const nText = ctx.url.searchParams.get("n");
  // an `n` that is no count is refused: answering an empty page would read as "no tags"
  if (nText !== null && !/^\d+$/.test(nText)) throw new ApiError("PAGINATION_NUMBER_INVALID", `n "${nText}" is not a count`);
  const n = nText === null ? maxPage : Math.min(maxPage, Number(nText));
  const last = ctx.url.searchParams.get("last");
  const start = last === null ? 0 : all.findIndex((x) => x > last) === -1 ? all.length : all.findIndex((x) => x > last);
  const page = all.slice(start, start + n);
  const more = start + n < all.length && page.length > 0;
  const next = more ? `<${path}?n=${n}&last=${encodeURIComponent(page.at(-1)!)}>; rel="next"` : undefined;
  return { page, headers: { ...apiVersionHeader, ...(next ? { Link: next } : {}) } };
}

export async function listTags(ctx: RequestContext, name: string): Promise<Response> {
  await ctx.require("pull", name);
  const tags = await ctx.options.store.repos.listTags(name);
  if (tags.length === 0 && !(await ctx.options.store.repos.listRepos()).includes(name)) throw new ApiError("NAME_UNKNOWN", `repository ${name} is unknown`);
  const { page, headers } = paginate(ctx, tags, `/v2/${name}/tags/list`);
  return Response.json({ name, tags: page }, { headers });
}

export async function catalog(ctx: RequestContext): Promise<Response> {
  await ctx.require("catalog");
  const repos = await ctx.options.store.repos.listRepos();
  const allowed: string[] = [];
  for (const repo of repos) if (await ctx.options.policy.authorize(ctx.principal, "pull", repo)) allowed.push(repo);
  const { page, headers } = paginate(ctx, allowed, "/v2/_catalog");
  return Response.json({ repositories: page }, { headers });
}

/** The Referrers API: an index of what names the subject, filtered by `artifactType` when asked. */
export async function referrers(ctx: RequestContext, name: string, digestText: string): Promise<Response> {
  await ctx.require("pull", name);
  const subject = parseDigestParam(digestText);
  const artifactType = ctx.url.searchParams.get("artifactType");
  let manifests = await ctx.options.store.repos.referrers(name, subject);
  if (artifactType) manifests = manifests.filter((d) => d.artifactType === artifactType);
  return Response.json(
    { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests },
    { headers: { ...apiVersionHeader, "Content-Type": MediaTypes.ociIndex, ...(artifactType ? { "OCI-Filters-Applied": "artifactType" } : {}) } },
  );
}
