import type { Htpasswd } from "./htpasswd.ts";

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
  /** Whether to challenge anonymous callers (else they are simply denied). */
  readonly challenges: boolean;
}

/** No credentials configured: everyone may do everything (the server is on loopback by default). */
export const openPolicy: AccessPolicy = {
  authenticate: async () => ({}),
  authorize: () => true,
  challenges: false,
};

/** htpasswd users may do everything; anonymous callers may pull only with `anonymousRead`. */
export function htpasswdPolicy(users: Htpasswd, options: { anonymousRead?: boolean; authorize?: Authorize } = {}): AccessPolicy {
  return {
    async authenticate(request) {
      const header = request.headers.get("authorization");
      if (!header) return {};
      // the scheme is case-insensitive (RFC 9110 §11.1)
      const [, scheme, credentials] = /^(\S+)\s+(\S+)$/.exec(header.trim()) ?? [];
      if (scheme?.toLowerCase() !== "basic" || !credentials) return null;
      // an empty user and password is what skopeo sends after a challenge when it has no credentials
      if (Buffer.from(credentials, "base64").toString("utf8") === ":") return {};
      const username = await users.check(credentials);
      return username ? { username } : null;
    },
    authorize:
      options.authorize ??
      ((principal, action) => principal.username !== undefined || (options.anonymousRead === true && (action === "pull" || action === "catalog"))),
    challenges: true,
  };
}
