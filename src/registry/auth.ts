import { getDomain } from "tldts";
import { AuthError } from "../core/errors.ts";
import type { Challenge } from "./challenge.ts";
import type { Credentials } from "./credentials.ts";
import { registryErrorFrom } from "./errors.ts";

export interface Token {
  readonly value: string;
  readonly expiresAt: number;
  /** Why the credentials were kept from the realm (it may not receive them): the token is anonymous. */
  readonly withheld?: string;
}

/**
 * Whether a token realm may receive the registry's Basic credentials: the same host, or the same
 * registrable domain by the Public Suffix List, private suffixes included (auth.docker.io for
 * registry-1.docker.io; not attacker.co.uk for registry.example.co.uk, nor one github.io site for
 * another). A realm elsewhere gets an anonymous request: credentials are for the host they were given for.
 */
export function realmMayReceiveCredentials(registryUrl: URL, realm: URL): boolean {
  if (realm.protocol !== "https:" && registryUrl.protocol === "https:") return false;
  if (realm.hostname === registryUrl.hostname) return true;
  const site = getDomain(registryUrl.hostname, { allowPrivateDomains: true });
  return site !== null && site === getDomain(realm.hostname, { allowPrivateDomains: true });
}

export function basicHeader(credentials: Credentials): string {
  if ("identityToken" in credentials) throw new AuthError("an identity token cannot be used for Basic authentication");
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

/** The bearer-token exchange at a challenge's realm: GET with Basic (or anonymous), or the OAuth2 refresh-token POST. */
export async function fetchToken(
  challenge: Challenge,
  scopes: readonly string[],
  registryUrl: URL,
  credentials: Credentials | undefined,
  fetchImpl: (url: URL, init: RequestInit) => Promise<Response>,
): Promise<Token> {
  const realmText = challenge.params.realm;
  if (!realmText) throw new AuthError(`${registryUrl.host}: bearer challenge without a realm`);
  let realm: URL;
  try {
    realm = new URL(realmText);
  } catch {
    throw new AuthError(`${registryUrl.host}: invalid token realm "${realmText}"`);
  }
  const service = challenge.params.service;
  const allScopes = [...new Set([...scopes, ...(challenge.params.scope ? challenge.params.scope.split(" ") : [])])];
  const trusted = credentials && realmMayReceiveCredentials(registryUrl, realm);
  const realmName = `${realm.origin}${realm.pathname}`;
  const withheld = credentials && !trusted ? `credentials not sent to the token realm ${realmName}, which is not on ${registryUrl.host} over ${registryUrl.protocol.slice(0, -1)}` : undefined;
  let response: Response;
  if (trusted && "identityToken" in credentials) {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credentials.identityToken, client_id: "stevedore" });
    if (service) form.set("service", service);
    if (allScopes.length) form.set("scope", allScopes.join(" "));
    response = await fetchImpl(realm, { method: "POST", body: form, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  } else {
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    for (const scope of allScopes) url.searchParams.append("scope", scope);
    const headers: Record<string, string> = {};
    if (trusted) headers.Authorization = basicHeader(credentials);
    response = await fetchImpl(url, { headers });
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new AuthError(`${registryUrl.host}: ${withheld ?? (credentials ? `credentials refused by the token server ${realm.host}` : `anonymous access refused by the token server ${realm.host}`)}`);
  }
  if (!response.ok) throw await registryErrorFrom(response, `token from ${realm.host}`);
  const body = (await response.json().catch(() => ({}))) as { token?: string; access_token?: string; expires_in?: number };
  const value = body.token ?? body.access_token;
  if (!value) throw new AuthError(`${realm.host}: token response holds no token`);
  const lifetime = Math.max(60, body.expires_in ?? 60) * 1000;
  return { value, expiresAt: Date.now() + lifetime - 10_000, ...(withheld ? { withheld } : {}) };
}
