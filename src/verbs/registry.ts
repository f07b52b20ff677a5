import { chmod, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { homedir } from "node:os";
import { AuthError, NotFoundError, UsageError } from "../core/errors.ts";
import type { Digest } from "../core/digest.ts";
import { isValidTag, parseReference } from "../core/reference.ts";
import { RegistryClient, type RegistryOptions } from "../registry/client.ts";
import { type Credentials, encodeAuthEntry, findCredentials, loginKey } from "../registry/credentials.ts";
import { registryErrorFrom } from "../registry/errors.ts";
import { listRepositories } from "../registry/listing.ts";
import { writeFileAtomic } from "../stream/file.ts";
import type { ImageRef, OpenOptions } from "../transport/types.ts";
import { getRawManifest } from "./inspect.ts";

/** Every tag of the image's repository (or layout, or archive). */
export function listTags(ref: ImageRef, options: OpenOptions = {}): AsyncIterable<string> {
  if (!ref.listTags) throw new UsageError(`${ref.transport.name}: has no tags to list`);
  return ref.listTags(options);
}

/**
 * Adds tags to an image where it is (crane tag): its exact manifest bytes written again under each
 * tag of the same repository or layout, nothing else moved. Returns the digest tagged.
 */
export async function tagImage(ref: ImageRef, tags: readonly string[], options: OpenOptions = {}): Promise<Digest> {
  if (!ref.withReference) throw new UsageError(`${ref.transport.name}: has no tags to add (tag docker://, oci: or static: images)`);
  for (const tag of tags) if (!isValidTag(tag)) throw new UsageError(`invalid tag "${tag}": expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  const top = await getRawManifest(ref, options);
  for (const tag of tags) {
    // the blobs and child manifests are in this repository already: only the manifest is written
    const destination = await ref.withReference({ tag }).openDestination(options);
    try {
      await destination.commit(top);
    } finally {
      await destination.close();
    }
  }
  return top.digest;
}

/** Deletes the manifest (registry) or the reference (layout) a reference names. */
export async function deleteImage(ref: ImageRef, options: OpenOptions = {}): Promise<void> {
  if (!ref.delete) throw new UsageError(`${ref.transport.name}: does not support delete`);
  await ref.delete(options);
}

/** `registry.example.com[:port]` as docker writes it; a URL or Docker Hub alias is accepted too. */
export function parseRegistryHost(text: string): string {
  const host = text.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (host === "index.docker.io" || host === "registry-1.docker.io") return "docker.io";
  let registry: string | undefined;
  try {
    registry = parseReference(`${host}/x`).registry;
  } catch {
    registry = undefined;
  }
  if (registry !== host) throw new UsageError(`"${text}" is not a registry host (like registry.example.com or localhost:5000)`);
  return host;
}

/** Repositories a registry lists in `_catalog`. */
export function catalog(registry: string, options: RegistryOptions = {}): AsyncIterable<string> {
  return listRepositories(new RegistryClient(registry, "", options));
}

/** Checks credentials against the registry's /v2/ endpoint (the full challenge and token flow). */
export async function verifyLogin(registry: string, credentials: Credentials, options: RegistryOptions = {}): Promise<void> {
  const client = new RegistryClient(registry, "", { ...options, credentials: { explicit: credentials } });
  const response = await client.request("GET", "/v2/", { scopes: [] });
  if (!response.ok) throw await registryErrorFrom(response, `login to ${registry}`);
  await response.body?.cancel();
  // an anonymous token let /v2/ answer: the credentials were never checked, so they are not stored
  if (client.withheld) throw new AuthError(`login to ${registry}: ${client.withheld}; nothing stored`);
}

/** docker's config.json, or the file given: where login writes and logout removes. */
export function loginFile(authFile?: string): string {
  return authFile ?? process.env.REGISTRY_AUTH_FILE ?? join(process.env.DOCKER_CONFIG ?? join(process.env.HOME ?? homedir(), ".docker"), "config.json");
}

async function updateConfig(file: string, update: (auths: Record<string, unknown>) => boolean): Promise<boolean> {
  const existing = Bun.file(file);
  const config = (await existing.exists()) ? ((await existing.json()) as Record<string, unknown>) : {};
  const auths = { ...((config.auths as Record<string, unknown> | undefined) ?? {}) };
  if (!update(auths)) return false;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify({ ...config, auths }, null, "\t")}\n`), { fsync: true });
  await chmod(file, 0o600);
  return true;
}

/** Verifies, then stores, credentials for a registry; returns the file written. */
export async function login(registry: string, username: string, password: string, options: RegistryOptions & { authFile?: string } = {}): Promise<string> {
  await verifyLogin(registry, { username, password }, options);
  const file = loginFile(options.authFile);
  await updateConfig(file, (auths) => {
    auths[loginKey(registry)] = encodeAuthEntry(username, password);
    return true;
  });
  return file;
}

/** The user name the credential sources hold for a registry (podman and skopeo's `login --get-login`); AuthError when none. */
export async function loggedInAs(registry: string, options: { authFile?: string } = {}): Promise<string> {
  const found = await findCredentials(registry, undefined, { authFile: options.authFile });
  if (!found) throw new AuthError(`not logged in to ${registry}`);
  return "username" in found ? found.username : "<token>";
}

/** Removes a registry's stored credentials; NotFoundError when there were none. */
export async function logout(registry: string, options: { authFile?: string } = {}): Promise<string> {
  const file = loginFile(options.authFile);
  const keys = [loginKey(registry), registry, `https://${registry}`];
  const removed = await updateConfig(file, (auths) => {
    const present = keys.filter((k) => k in auths);
    for (const k of present) delete auths[k];
    return present.length > 0;
  });
  if (!removed) throw new NotFoundError(`not logged in to ${registry} (${file})`);
  return file;
}
