/** The registry API's routes; `name` may hold slashes, so each pattern anchors on what follows it. */
export type Route =
  | { readonly kind: "base" }
  | { readonly kind: "catalog" }
  | { readonly kind: "tags"; readonly name: string }
  | { readonly kind: "manifest"; readonly name: string; readonly reference: string }
  | { readonly kind: "blob"; readonly name: string; readonly digest: string }
  | { readonly kind: "uploads"; readonly name: string }
  | { readonly kind: "upload"; readonly name: string; readonly id: string }
  | { readonly kind: "referrers"; readonly name: string; readonly digest: string };

const patterns: readonly [RegExp, (m: RegExpExecArray) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: "base" })],
  [/^\/v2\/_catalog$/, () => ({ kind: "catalog" })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: "uploads", name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: "upload", name: m[1]!, id: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: "blob", name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: "manifest", name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: "tags", name: m[1]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: "referrers", name: m[1]!, digest: m[2]! })],
];

export function matchRoute(pathname: string): Route | undefined {
  for (const [pattern, make] of patterns) {
    const match = pattern.exec(pathname);
    if (match) return make(match);
  }
  return undefined;
}

/** The methods each route answers (HEAD wherever GET reads content; an upload's status is a GET alone, as in distribution). */
const routeMethods: Record<Route["kind"], readonly string[]> = {
  base: ["GET", "HEAD"],
  catalog: ["GET", "HEAD"],
  tags: ["GET", "HEAD"],
  referrers: ["GET", "HEAD"],
  manifest: ["GET", "HEAD", "PUT", "DELETE"],
  blob: ["GET", "HEAD", "DELETE"],
  uploads: ["POST"],
  upload: ["GET", "PATCH", "PUT", "DELETE"],
};

/** Whether a route answers `method` at all (else a 405, whatever the server allows). */
export function routeAnswers(route: Route, method: string): boolean {
  return routeMethods[route.kind].includes(method);
}

/**
 * The methods a route answers on this server, for a 405's Allow header (RFC 9110 §15.5.6): no
 * writes when read-only, no deletes of manifests and blobs unless deletes are allowed (cancelling
 * an upload is part of pushing).
 */
export function allowedMethods(route: Route, options: { readonly readOnly?: boolean; readonly allowDelete?: boolean }): string[] {
  // uploads are pushing, even their status: a read-only server answers none of it
  const pushing = route.kind === "uploads" || route.kind === "upload";
  return routeMethods[route.kind].filter((method) => {
    if (options.readOnly) return !pushing && (method === "GET" || method === "HEAD");
    if (method === "GET" || method === "HEAD") return true;
    return method !== "DELETE" || route.kind === "upload" || options.allowDelete === true;
  });
}
