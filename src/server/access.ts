import type { Htpasswd } from "./htpasswd.ts";
import { type TokenAnswer, TokenIssuer, authorizationOf, basicChallenge, tokenPath, tokenResponse } from "./token.ts";

export type Action = "pull" | "push" | "delete" | "catalog";

/** Who is asking: a user proven by the Authorization header, or anonymous. */
export interface Principal {
  readonly username?: string;
}

/** The hook deciding each access; `repo` is absent for the catalog and the /v2/ check. */
export type Authorize = (principal: Principal, action: Action, repo?: string) => boolean | Promise<boolean>;

export interface AccessPolicy {
  /** Decode the request's credentials: a principal, or null when they are wrong. */
  authenticate(request: Request): Promise<Principal | null>;
  authorize: Authorize;
  /** The WWW-Authenticate value asking an anonymous caller for credentials (absent: such callers are simply denied); `scope` names what was asked. */
  challenge?(request: Request, scope?: string): string;
  /** Answers the token endpoint (`/token`), for a policy whose challenge is Bearer (token.ts). */
  token?(request: Request): Promise<TokenAnswer>;
}

/** No credentials configured: everyone may do everything (the server is on loopback by default). */
export const openPolicy: AccessPolicy = {
  authenticate: async () => ({}),
  authorize: () => true,
};

/** Basic credentials (base64 `user:password`) against the htpasswd users; an empty user and password is anonymous. */
function basicAuthenticator(users: Htpasswd): (credentials: string) => Promise<Principal | null> {
  return async (credentials) => {
    // what skopeo sends after a challenge when it has no credentials
    if (Buffer.from(credentials, "base64").toString("utf8") === ":") return {};
    const username = await users.check(credentials);
    return username ? { username } : null;
  };
}

export interface HtpasswdPolicyOptions {
  /** Anonymous callers may pull (and list); then clients authenticate with tokens from `/token` (token.ts). */
  readonly anonymousRead?: boolean;
  /** Decides each access in place of "users may do everything". */
  readonly authorize?: Authorize;
  /** The scheme clients reach the server by, for the token realm (default http; a proxy's X-Forwarded-Proto wins). */
  readonly scheme?: "http" | "https";
  /** The token URL clients are sent to, when the request's Host and scheme do not say it (behind a proxy). */
  readonly realm?: string;
  /** The key tokens are signed with (default: drawn now, so tokens end with the process). */
  readonly tokenKey?: Uint8Array;
  /** Told, once, when a request's Host could not name the token realm (a proxy that rewrites it). */
  readonly onWarning?: (message: string) => void;
}

/**
 * htpasswd users may do everything; anonymous callers may pull only with `anonymousRead`. Without
 * it the challenge is Basic, as distribution's htpasswd mode; with it Bearer, the server issuing
 * its own tokens, so that clients with credentials send them and clients without get on (token.ts).
 */
export function htpasswdPolicy(users: Htpasswd, options: HtpasswdPolicyOptions = {}): AccessPolicy {
  const basic = basicAuthenticator(users);
  const tokens = options.anonymousRead ? new TokenIssuer(options.tokenKey) : undefined;
  let warned = false;
  const realmOf = (request: Request): string => {
    const realm = realmFromRequest(request, options.scheme ?? "http");
    if (realm.fallback && !warned) {
      warned = true;
      options.onWarning?.(`a request's Host (${JSON.stringify(request.headers.get("host") ?? "")}) names no token URL: clients were sent to ${realm.url}; behind a proxy, pass the client's Host through or give --token-realm`);
    }
    return realm.url;
  };
  return {
    async authenticate(request) {
      const authorization = authorizationOf(request);
      if (authorization === undefined) return {};
      if (authorization?.scheme === "basic") return basic(authorization.credentials);
      if (authorization?.scheme === "bearer" && tokens) return tokens.verify(authorization.credentials);
      return null;
    },
    authorize:
      options.authorize ??
      ((principal, action) => principal.username !== undefined || (options.anonymousRead === true && (action === "pull" || action === "catalog"))),
    challenge(request, scope) {
      if (!tokens) return basicChallenge;
      return `Bearer realm="${options.realm ?? realmOf(request)}",service="stevedore"${scope ? `,scope="${scope}"` : ""}`;
    },
    ...(tokens ? { token: (request: Request) => tokenResponse(request, tokens, basic) } : {}),
  };
}

/** The token URL on the host and scheme the request came by (a proxy's X-Forwarded-Proto: https wins over `scheme`). */
function realmFromRequest(request: Request, scheme: "http" | "https"): { url: string; fallback: boolean } {
  const proto = request.headers.get("x-forwarded-proto") === "https" ? "https" : scheme;
  // the Host becomes a URL clients send credentials to: only a plain host[:port] is taken
  const host = request.headers.get("host") ?? "";
  const plain = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host);
  return { url: `${proto}://${plain ? host : "localhost"}${tokenPath}`, fallback: !plain };
}
