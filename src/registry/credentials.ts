import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { AuthError, UsageError } from "../core/errors.ts";

/** What we may present to a registry. Never logged, never put in an error message. */
export type Credentials = { readonly username: string; readonly password: string } | { readonly identityToken: string };

export interface CredentialSources {
  /** --creds / --src-creds / --dest-creds: used alone when given. */
  readonly explicit?: Credentials;
  /** --authfile; REGISTRY_AUTH_FILE when absent. */
  readonly authFile?: string;
  /** --src-no-creds / --dest-no-creds: anonymous, whatever the files hold. */
  readonly anonymous?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Docker Hub is known by several names in config files; `https://index.docker.io/v1/` is docker's own. */
const dockerHubKeys = ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"];
const dockerHubServerUrl = "https://index.docker.io/v1/";

/** `user:password` as skopeo's --creds spells it (the password may contain colons). */
export function parseCredentialsFlag(text: string, flag: string): Credentials {
  const colon = text.indexOf(":");
  if (colon <= 0) throw new UsageError(`${flag} needs USERNAME:PASSWORD`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The credential files in the order they are consulted (first hit wins):
 * --authfile or REGISTRY_AUTH_FILE; else $XDG_RUNTIME_DIR/containers/auth.json, then
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config/…); then docker's $DOCKER_CONFIG/config.json
 * (~/.docker/config.json).
 */
export function credentialFiles(sources: CredentialSources = {}): string[] {
  const env = sources.env ?? process.env;
  const home = env.HOME ?? homedir();
  const files: string[] = [];
  const chosen = sources.authFile ?? env.REGISTRY_AUTH_FILE;
  if (chosen) files.push(chosen);
  else {
    if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers/auth.json"));
    files.push(join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "containers/auth.json"));
  }
  files.push(join(env.DOCKER_CONFIG ?? join(home, ".docker"), "config.json"));
  return files;
}

/** Config keys for an image, most specific first: `quay.io/org/repo`, `quay.io/org`, `quay.io`. */
export function credentialKeys(registry: string, repository?: string): string[] {
  const keys: string[] = [];
  const parts = repository ? repository.split("/") : [];
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join("/")}`);
  keys.push(...(registry === "docker.io" ? dockerHubKeys : [registry]));
  return keys;
}

/** `https://quay.io/v1/` → `quay.io`: config files are written with and without scheme and path. */
function normaliseKey(key: string): string {
  if (key === dockerHubServerUrl) return key;
  return key.replace(/^https?:\/\//, "").replace(/\/v[12]\/?$/, "").replace(/\/$/, "");
}

interface ConfigFile {
  readonly auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  readonly credHelpers?: Record<string, string>;
  readonly credsStore?: string;
}

async function readConfigFile(path: string): Promise<ConfigFile | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await Bun.file(path).text()) as ConfigFile;
  } catch {
    throw new AuthError(`${path}: not a valid credentials file (JSON)`);
  }
}

/** Finds credentials for an image: explicit ones, else the first file and key that has some. */
export async function findCredentials(registry: string, repository: string | undefined, sources: CredentialSources = {}): Promise<Credentials | undefined> {
  if (sources.explicit) return sources.explicit;
  if (sources.anonymous) return undefined;
  const keys = credentialKeys(registry, repository);
  for (const file of credentialFiles(sources)) {
    const config = await readConfigFile(file);
    if (!config) continue;
    const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean);
    if (helper) return runCredentialHelper(helper, registry, sources.env);
    const auths = Object.fromEntries(Object.entries(config.auths ?? {}).map(([k, v]) => [normaliseKey(k), v]));
    for (const key of keys) {
      const entry = auths[normaliseKey(key)];
      if (!entry) continue;
      if (entry.identitytoken) return { identityToken: entry.identitytoken };
      if (entry.auth) return decodeAuth(entry.auth, file);
      if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    }
    if (config.credsStore) {
      const found = await runCredentialHelper(config.credsStore, registry, sources.env, true);
      if (found) return found;
    }
  }
  return undefined;
}

function decodeAuth(auth: string, file: string): Credentials {
  const text = Buffer.from(auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) throw new AuthError(`${file}: an "auth" entry is not base64 of user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

const processEnv = (): Readonly<Record<string, string | undefined>> => process.env;

/** docker-credential-NAME get: the server on stdin, `{Username, Secret}` on stdout. */
async function runCredentialHelper(name: string, registry: string, env = processEnv(), optional = false): Promise<Credentials | undefined> {
  const program = Bun.which(`docker-credential-${name}`, { PATH: env.PATH ?? "" });
  if (!program) {
    if (optional) return undefined;
    throw new AuthError(`credential helper docker-credential-${name} is not installed`);
  }
  const proc = Bun.spawn([program, "get"], { env: { ...env }, stdin: new TextEncoder().encode(registry === "docker.io" ? dockerHubServerUrl : registry), stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) return undefined; // "credentials not found": anonymous, as docker does
  try {
    const { Username, Secret } = JSON.parse(out) as { Username?: string; Secret?: string };
    if (!Secret) return undefined;
    return Username === "<token>" ? { identityToken: Secret } : { username: Username ?? "", password: Secret };
  } catch {
    throw new AuthError(`docker-credential-${name} answered something that is not JSON`);
  }
}

/** The `auths` entry docker and skopeo both read. */
export function encodeAuthEntry(username: string, password: string): { auth: string } {
  return { auth: Buffer.from(`${username}:${password}`).toString("base64") };
}

/** The key `login` writes for a registry: docker's own spelling for Docker Hub. */
export function loginKey(registry: string): string {
  return registry === "docker.io" ? dockerHubServerUrl : registry;
}
