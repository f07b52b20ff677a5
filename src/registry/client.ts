import { AuthError, StevedoreError } from "../core/errors.ts";
import { isLoopbackHost, registryApiHost } from "../core/reference.ts";
import { userAgent } from "../core/version.ts";
import { readAtMost } from "../stream/read-at-most.ts";
import { type Token, basicHeader, fetchToken } from "./auth.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";
import { type CredentialSources, type Credentials, findCredentials } from "./credentials.ts";
import { RegistryError, registryErrorFrom } from "./errors.ts";
import { type RetryPolicy, backoffMs, defaultRetryPolicy, isRetryableStatus, sleep } from "./retry.ts";

export interface RegistryOptions {
  readonly credentials?: CredentialSources;
  /** false: --tls-verify=false / --insecure (https unverified, falling back to plain http). */
  readonly tlsVerify?: boolean;
  /** Extra CA certificates to trust, PEM. */
  readonly ca?: string;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
  /** Upload large blobs in PATCHes of this many bytes (else one streamed PATCH). */
  readonly uploadChunkSize?: number;
  /** A bearer token to send as it is (skopeo's --registry-token), instead of any challenge's flow. Never logged. */
  readonly registryToken?: string;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | ReadableStream<Uint8Array> | URLSearchParams | Blob;
  /** Token scopes for this request (default: pull on the client's repository). */
  readonly scopes?: readonly string[];
}

const maxRedirects = 5;

/** A request that cannot be sent again (a PATCH) was refused its token; a new one was asked for, so what can resume may. */
export class TokenRefusedError extends AuthError {}

type SendInit = { method?: string; headers?: Record<string, string>; body?: RequestInit["body"] };

/** Registry API calls for one repository: scheme, authentication, retries and redirects handled here. */
export class RegistryClient {
  private base?: Promise<URL>;
  private credentials?: Promise<Credentials | undefined>;
  private challenge?: Challenge;
  private readonly tokens = new Map<string, Token>();
  private readonly retry: RetryPolicy;
  private withheldBy?: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly options: RegistryOptions = {},
  ) {
    this.retry = options.retry ?? defaultRetryPolicy;
  }

  /** Why the newest token is anonymous although credentials were given (its realm may not receive them), since the last challenge. */
  get withheld(): string | undefined {
    return this.withheldBy;
  }

  get uploadChunkSize(): number | undefined {
    return this.options.uploadChunkSize;
  }

  get pullScope(): string {
    return `repository:${this.repository}:pull`;
  }

  get pushScope(): string {
    return `repository:${this.repository}:pull,push`;
  }

  /**
   * Registries on loopback, and any with --tls-verify=false, are "insecure" as docker means it:
   * TLS without verification, or plain http when the port does not speak TLS.
   */
  private get insecure(): boolean {
    return this.options.tlsVerify === false || (this.options.tlsVerify === undefined && isLoopbackHost(registryApiHost(this.registry)));
  }

  /** `https://registry-1.docker.io`; for an insecure registry, probed once for whether it speaks TLS. */
  baseUrl(): Promise<URL> {
    this.base ??= this.chooseBase();
    return this.base;
  }

  private async chooseBase(): Promise<URL> {
    const https = new URL(`https://${registryApiHost(this.registry)}`);
    if (!this.insecure) return https;
    try {
      const probe = await this.rawFetch(new URL("/v2/", https), {});
      await probe.body?.cancel();
      return https;
    } catch {
      return new URL(`http://${https.host}`);
    }
  }

  /** A URL on this registry for an API path (`/v2/…`) or an absolute Location it gave us. */
  async url(pathOrUrl: string): Promise<URL> {
    return new URL(pathOrUrl, await this.baseUrl());
  }

  /**
   * Sends a request, authenticating on a 401 challenge, retrying connection errors, 429 and 5xx
   * with backoff (only when the body can be sent again), and following redirects itself.
   */
  async request(method: string, pathOrUrl: string | URL, options: RequestOptions = {}): Promise<Response> {
    // a PATCH appends: sent twice after a cut it would append twice (uploads resume from the upload's status instead)
    const replayable = !(options.body instanceof ReadableStream) && method !== "PATCH";
    const scopes = options.scopes ?? [this.pullScope];
    let authenticated = false;
    const origin = (await this.baseUrl()).origin;
    for (let attempt = 1; ; attempt++) {
      const url = typeof pathOrUrl === "string" ? await this.url(pathOrUrl) : pathOrUrl;
      const headers: Record<string, string> = { ...options.headers };
      // a Link or Location the registry names may be on another host: credentials are for this one only
      const auth = url.origin === origin ? await this.authorization(scopes) : undefined;
      if (auth) headers.Authorization = auth;
      let response: Response;
      try {
        response = await this.send(url, { method, headers, body: options.body as RequestInit["body"] });
      } catch (err) {
        if (err instanceof StevedoreError || this.options.signal?.aborted || !replayable || attempt >= this.retry.attempts) throw this.connectionError(err, url);
        await sleep(backoffMs(this.retry, attempt), this.options.signal);
        continue;
      }
      // only the registry's own answer may set how to authenticate with it (not a Link's or a redirect's host)
      const own = new URL(response.url || url).origin === origin;
      if (response.status === 401 && !authenticated && replayable && own) {
        authenticated = true;
        await this.learnChallenge(response, scopes);
        continue;
      }
      if (response.status === 401 && !replayable && own && this.challenge?.scheme === "bearer") {
        // a token refused part-way (it expired, or the registry rotated its key): the next request gets a new one
        await this.learnChallenge(response, scopes);
        throw new TokenRefusedError(`${this.registry}: the registry refused its token for ${this.repository} part-way (${method} ${url.pathname})`);
      }
      if (response.status === 401) {
        await response.body?.cancel();
        const creds = await this.getCredentials();
        // credentials the realm was not trusted with were never refused: say why they were not sent
        const why = this.withheldBy ?? (creds ? "credentials refused" : "authentication required");
        throw new AuthError(`${this.registry}: ${why} for ${this.repository}`);
      }
      if (isRetryableStatus(response.status) && replayable && attempt < this.retry.attempts) {
        await response.body?.cancel();
        await sleep(backoffMs(this.retry, attempt, response.headers.get("retry-after")), this.options.signal);
        continue;
      }
      return response;
    }
  }

  /** A request that must answer one of `ok`; anything else is a RegistryError saying what and where. */
  async expect(method: string, pathOrUrl: string | URL, ok: readonly number[], what: string, options: RequestOptions = {}): Promise<Response> {
    const response = await this.request(method, pathOrUrl, options);
    if (!ok.includes(response.status)) throw await registryErrorFrom(response, `${what} (${this.registry}/${this.repository})`);
    return response;
  }

  /** One fetch as every request of ours goes: our User-Agent, redirects by hand, the caller's signal, our TLS settings. */
  private rawFetch(url: URL, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    return fetch(url, { ...init, headers: { "User-Agent": userAgent, ...init.headers }, redirect: "manual", signal: this.options.signal, ...this.tlsOptions() } as RequestInit);
  }

  /** A failed connection as a RegistryError saying where (`what`, by default the host; "cannot connect"); an abort stays an abort. */
  private connectionError(err: unknown, url: URL, what = `${url.host}: cannot connect`): unknown {
    if (err instanceof StevedoreError || this.options.signal?.aborted) return err;
    return new RegistryError(`${what} (${(err as Error).message})`, 0, undefined, { cause: err });
  }

  private getCredentials(): Promise<Credentials | undefined> {
    this.credentials ??= findCredentials(this.registry, this.repository, this.options.credentials);
    return this.credentials;
  }

  private async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.options.registryToken) return `Bearer ${this.options.registryToken}`;
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      const creds = await this.getCredentials();
      return creds ? basicHeader(creds) : undefined;
    }
    const key = [...scopes].sort().join(" ");
    let token = this.tokens.get(key);
    if (!token || token.expiresAt < Date.now()) {
      const base = await this.baseUrl();
      // a realm that cannot be reached is named: the registry's own address worked
      const exchange = (u: URL, init: RequestInit) =>
        this.send(u, init as SendInit).catch((err: unknown) => {
          throw this.connectionError(err, u, `${base.host}: cannot reach the token realm ${u.origin}${u.pathname} its challenge names`);
        });
      token = await fetchToken(challenge, scopes, base, await this.getCredentials(), exchange);
      this.tokens.set(key, token);
      this.withheldBy = token.withheld;
    }
    return `Bearer ${token.value}`;
  }

  private async learnChallenge(response: Response, scopes: readonly string[]): Promise<void> {
    await response.body?.cancel();
    const challenges = parseChallenges(response.headers.get("www-authenticate") ?? "");
    const challenge = challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
    if (!challenge) throw new AuthError(`${this.registry}: authentication required, but the registry names no scheme we support`);
    if (challenge.scheme === "basic" && !(await this.getCredentials())) {
      throw new AuthError(`${this.registry}: authentication required for ${this.repository} (no credentials found; use --creds or stevedore login)`);
    }
    this.challenge = challenge;
    this.withheldBy = undefined;
    this.tokens.delete([...scopes].sort().join(" "));
  }

  /**
   * One HTTP exchange, redirects followed by hand: an Authorization header never leaves the
   * registry's origin (storage backends redirect elsewhere), and https never drops to http.
   */
  private async send(url: URL, init: SendInit): Promise<Response> {
    let current = url;
    let headers: Record<string, string> = { ...init.headers };
    let method = init.method ?? "GET";
    let body = init.body;
    const origin = (await this.baseUrl()).origin;
    for (let hop = 0; ; hop++) {
      const response = await this.rawFetch(current, { ...init, method, headers, body });
      const location = response.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) return response;
      await response.body?.cancel();
      if (hop >= maxRedirects) throw new RegistryError(`${url.host}: too many redirects`, response.status);
      const next = new URL(location, current);
      if (current.protocol === "https:" && next.protocol !== "https:") {
        throw new RegistryError(`${url.host}: refusing a redirect from https to ${next.protocol.slice(0, -1)} (${next.host})`, response.status);
      }
      if (next.origin !== current.origin && body instanceof URLSearchParams && (response.status === 307 || response.status === 308)) {
        // a token exchange's form carries a refresh token or a password: it goes to no other host
        throw new RegistryError(`${current.host}: refusing to send a credential form on to ${next.host}`, response.status);
      }
      if (next.origin !== origin) {
        const { Authorization: _a, Cookie: _c, ...rest } = headers;
        headers = rest;
      }
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
      }
      current = next;
    }
  }

  private tlsOptions(): { tls?: { rejectUnauthorized?: boolean; ca?: string } } {
    if (this.insecure) return { tls: { rejectUnauthorized: false } };
    return this.options.ca ? { tls: { ca: this.options.ca } } : {};
  }
}

/** Reads a response body whole, refusing one over `max` bytes before and while reading. */
export async function readCapped(response: Response, max: number, what: string): Promise<Uint8Array> {
  const bytes = await readAtMost(response, max);
  if (bytes) return bytes;
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  throw new RegistryError(`${what}: ${declared > max ? `${declared} bytes, ` : ""}over the ${max}-byte limit`, response.status);
}
