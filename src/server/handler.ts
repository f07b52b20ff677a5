import { IntegrityError, StevedoreError, UpstreamError } from "../core/errors.ts";
import type { Action } from "./access.ts";
import { deleteBlob, getBlob } from "./blobs.ts";
import { isValidRepositoryName } from "../core/reference.ts";
import { type HandlerOptions, type RequestContext, apiVersionHeader } from "./context.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { catalog, listTags, referrers } from "./listing.ts";
import { deleteManifest, getManifest, putManifest } from "./manifests.ts";
import { type Route, allowedMethods, matchRoute, routeAnswers } from "./routes.ts";
import { tokenPath } from "./token.ts";
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from "./uploads.ts";

export type { HandlerOptions } from "./context.ts";

/** The handler's account of a request, as the answer is made (before its body goes out): who asked, what failed; no credentials, no bodies. serve joins it to the listener's (ServeLogEntry) for its log line. */
export interface AccessLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly user?: string;
  readonly ms: number;
  /** For a 500: what went wrong, for the operator. */
  readonly error?: string;
}

const writes = new Set<Action>(["push", "delete"]);

/** Probes' paths (Kubernetes' names, as zot answers them), answered without credentials, saying nothing else. */
const probePaths = new Set(["/livez", "/readyz"]);

/**
 * The OCI distribution API as a plain `(Request) => Promise<Response>`, to mount in Bun.serve or any
 * fetch-style server. Every route asks the access policy; read-only and disabled deletes hold
 * whatever the policy says.
 */
export function createHandler(options: HandlerOptions, onLog?: (entry: AccessLogEntry, request: Request) => void): (request: Request) => Promise<Response> {
  return async (request) => {
    const started = performance.now();
    const url = new URL(request.url);
    const route = matchRoute(url.pathname);
    let user: string | undefined;
    let response: Response;
    let error: string | undefined;
    const challenge = (scope?: string) => {
      const value = options.policy.challenge?.(request, scope);
      return value ? { "WWW-Authenticate": value } : undefined;
    };
    const answer = async (): Promise<Response> => {
      // the token endpoint (a Bearer policy's) checks its own credentials
      if (url.pathname === tokenPath && options.policy.token) {
        const { response, principal } = await options.policy.token(request);
        user = principal?.username;
        return response;
      }
      // a registry with users answers /v2/ 401, which a load balancer's or Kubernetes' probe takes for down
      if (probePaths.has(url.pathname) && (request.method === "GET" || request.method === "HEAD")) {
        const draining = url.pathname === "/readyz" && options.stopping?.();
        return new Response(draining ? "stopping\n" : "ok\n", { status: draining ? 503 : 200, headers: { "Content-Type": "text/plain" } });
      }
      // UNSUPPORTED, not NAME_UNKNOWN: no repository is missing
      if (!route) throw new ApiError("UNSUPPORTED", "no such endpoint", 404);
      if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: { ...apiVersionHeader, Allow: allowedMethods(route, options).join(", ") } });
      if (!routeAnswers(route, request.method)) throw new ApiError("UNSUPPORTED", `${request.method} is not a method of ${url.pathname}`, 405);
      // where tokens are issued, /v2/ tells a caller without one to fetch one (it may then pull anonymously or push with credentials)
      if (route.kind === "base" && options.policy.token && !request.headers.has("authorization")) throw new ApiError("UNAUTHORIZED", "authentication required", 401, challenge());
      const principal = await options.policy.authenticate(request);
      if (!principal) throw new ApiError("UNAUTHORIZED", "invalid credentials", 401, challenge());
      user = principal.username;
      const ctx: RequestContext = {
        request,
        url,
        options,
        principal,
        async require(action, repo) {
          if (writes.has(action) && options.readOnly) throw new ApiError("UNSUPPORTED", "the registry is read-only");
          if (action === "delete" && !options.allowDelete) throw new ApiError("UNSUPPORTED", "deletes are disabled (serve --delete)");
          if (await options.policy.authorize(principal, action, repo)) return;
          if (principal.username === undefined && options.policy.challenge) throw new ApiError("UNAUTHORIZED", "authentication required", 401, challenge(scopeOf(action, repo)));
          throw new ApiError("DENIED", `${action} on ${repo ?? "the registry"} is not allowed`);
        },
      };
      return dispatch(ctx, route, request.method);
    };
    try {
      response = await answer();
    } catch (err) {
      response = toErrorResponse(err);
      if (response.status >= 500) error = err instanceof Error ? err.message : String(err);
      // a 405 says what the route does answer here (RFC 9110 §15.5.6), read-only and disabled deletes included
      if (response.status === 405 && route) response.headers.set("Allow", allowedMethods(route, options).join(", "));
    }
    onLog?.({ method: request.method, path: url.pathname, status: response.status, user, ms: performance.now() - started, ...(error ? { error } : {}) }, request);
    return response;
  };
}

/** The token scope an action needs, as Docker's token protocol names it. */
function scopeOf(action: Action, repo?: string): string | undefined {
  if (action === "catalog") return "registry:catalog:*";
  if (!repo) return undefined;
  return `repository:${repo}:${action === "push" ? "pull,push" : action === "delete" ? "delete" : "pull"}`;
}

function toErrorResponse(err: unknown): Response {
  if (err instanceof ApiError) return err.toResponse();
  if (err instanceof UpstreamError) return errorResponse("UNKNOWN", err.message, { status: 502 });
  if (err instanceof IntegrityError) return errorResponse("DIGEST_INVALID", err.message);
  if (err instanceof StevedoreError) return errorResponse("BLOB_UPLOAD_INVALID", err.message);
  return errorResponse("UNSUPPORTED", "internal error", { status: 500 });
}

/** The route's answer to `method`: only methods the route answers reach here (routeAnswers). */
async function dispatch(ctx: RequestContext, route: Route, method: string): Promise<Response> {
  const read = method === "GET" || method === "HEAD";
  switch (route.kind) {
    case "base":
      await ctx.require("pull");
      return new Response("{}", { headers: { ...apiVersionHeader, "Content-Type": "application/json" } });
    case "catalog":
      return catalog(ctx);
  }
  if (!isValidRepositoryName(route.name)) throw new ApiError("NAME_INVALID", `invalid repository name "${route.name}"`);
  const name = route.name;
  switch (route.kind) {
    case "tags":
      return listTags(ctx, name);
    case "referrers":
      return referrers(ctx, name, route.digest);
    case "manifest":
      if (read) return getManifest(ctx, name, route.reference);
      return method === "PUT" ? putManifest(ctx, name, route.reference) : deleteManifest(ctx, name, route.reference);
    case "blob":
      return read ? getBlob(ctx, name, route.digest) : deleteBlob(ctx, name, route.digest);
    case "uploads":
      return startUpload(ctx, name);
    case "upload":
      if (method === "PATCH") return patchUpload(ctx, name, route.id);
      if (method === "PUT") return putUpload(ctx, name, route.id);
      if (method === "GET") return uploadStatus(ctx, name, route.id);
      return cancelUpload(ctx, name, route.id);
  }
}
