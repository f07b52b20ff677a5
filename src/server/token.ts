import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Principal } from "./access.ts";
import { readAtMost } from "../stream/read-at-most.ts";

/**
 * Bearer tokens this server issues to itself (Docker's token authentication, with the registry as
 * its own token server). A registry that lets anonymous callers pull but wants credentials for a
 * push cannot use Basic: clients decide from `GET /v2/` whether to send credentials at all, so a
 * /v2/ that answers anonymous callers 200 leaves a pushing client without them (skopeo's push
 * then fails), and one that challenges with Basic stops docker and containerd, which refuse to
 * go on without credentials. With a Bearer challenge every client asks the token endpoint, with
 * its credentials when it has them, and anonymous ones get an anonymous token.
 *
 * A token names its holder and its expiry, signed with a key drawn when the server starts (a
 * restart ends every token; clients ask again). What the holder may do is decided per request by
 * the access policy, as for Basic credentials, not by scopes carried in the token.
 */

/** The challenge for Basic credentials (htpasswd without tokens, and the token endpoint's own refusal). */
export const basicChallenge = 'Basic realm="stevedore"';

/** Where the server hands out tokens: the realm of its Bearer challenges. */
export const tokenPath = "/token";

/** An Authorization header's scheme (lowercased: it is case-insensitive, RFC 9110 §11.1) and credentials. */
export function authorizationOf(request: Request): { scheme: string; credentials: string } | null | undefined {
  const header = request.headers.get("authorization");
  if (header === null) return undefined;
  const [, scheme, credentials] = /^(\S+)\s+(\S+)$/.exec(header.trim()) ?? [];
  return scheme && credentials ? { scheme: scheme.toLowerCase(), credentials } : null;
}

/** A token request's form is a few hundred bytes; anything past this is refused unread. */
const maxFormBytes = 64 << 10;

/** Seconds a token lasts (Docker Hub's lifetime). */
export const tokenLifetime = 300;

export class TokenIssuer {
  /** `key`: 32 bytes to sign with; a kept one lets tokens outlive a restart (serve keeps it under --root). */
  constructor(private readonly key: Uint8Array = randomBytes(32)) {}

  issue(principal: Principal, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ u: principal.username ?? null, exp: Math.floor(now / 1000) + tokenLifetime })).toString("base64url");
    return `${payload}.${this.sign(payload)}`;
  }

  /** The holder of a token this server issued and that has not expired, or null. */
  verify(token: string, now = Date.now()): Principal | null {
    const [payload, signature, extra] = token.split(".");
    if (!payload || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.byteLength !== given.byteLength || !timingSafeEqual(expected, given)) return null;
    try {
      const { u, exp } = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { u: string | null; exp: number };
      if (typeof exp !== "number" || exp * 1000 <= now) return null;
      return typeof u === "string" ? { username: u } : {};
    } catch {
      return null;
    }
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}

/**
 * The token endpoint's answer, in both of the forms clients use: `GET` with Basic credentials or
 * none (Docker's token protocol), and `POST` with a password grant (the OAuth2 form containerd
 * tries first). `authenticate` checks Basic credentials (base64 `user:password`): null when wrong.
 */
export async function tokenResponse(request: Request, issuer: TokenIssuer, authenticate: (credentials: string) => Promise<Principal | null>): Promise<TokenAnswer> {
  let principal: Principal | null = {};
  if (request.method === "POST") {
    // read before any credential is checked: a form is a few hundred bytes, and no caller may make the server hold more
    const body = await readAtMost(request, maxFormBytes);
    if (!body) return { response: Response.json({ error: "invalid_request", error_description: `a token form is at most ${maxFormBytes} bytes` }, { status: 413 }) };
    const form = new URLSearchParams(new TextDecoder().decode(body));
    if (form.get("grant_type") !== "password") return { response: Response.json({ error: "unsupported_grant_type" }, { status: 400 }) };
    principal = await authenticate(Buffer.from(`${form.get("username") ?? ""}:${form.get("password") ?? ""}`).toString("base64"));
  } else if (request.method === "GET" || request.method === "HEAD") {
    const authorization = authorizationOf(request);
    if (authorization !== undefined) principal = authorization?.scheme === "basic" ? await authenticate(authorization.credentials) : null;
  } else {
    return { response: new Response(null, { status: 405, headers: { Allow: "GET, HEAD, POST" } }) };
  }
  if (!principal) return { response: Response.json({ errors: [{ code: "UNAUTHORIZED", message: "invalid credentials", detail: null }] }, { status: 401, headers: { "WWW-Authenticate": basicChallenge } }) };
  const token = issuer.issue(principal);
  const issuedAt = new Date().toISOString();
  return { response: Response.json({ token, access_token: token, expires_in: tokenLifetime, issued_at: issuedAt }), principal };
}

/** The token endpoint's response, and whom it issued a token to (for the access log). */
export interface TokenAnswer {
  readonly response: Response;
  readonly principal?: Principal;
}
