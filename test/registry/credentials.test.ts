import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseChallenges } from "../../src/registry/challenge.ts";
import { realmMayReceiveCredentials } from "../../src/registry/auth.ts";
import { credentialFiles, credentialKeys, findCredentials, parseCredentialsFlag } from "../../src/registry/credentials.ts";
import { nextLink } from "../../src/registry/listing.ts";
import { backoffMs, defaultRetryPolicy, parseRetryAfter } from "../../src/registry/retry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const auth = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString("base64");

describe("credentials", () => {
  const dir = tmpDir();
  const home = join(dir, "home");
  const env = (extra: Record<string, string> = {}) => ({ HOME: home, ...extra });

  test("keys go from the most specific namespace to the registry; Docker Hub has its aliases", () => {
    expect(credentialKeys("quay.io", "org/team/repo")).toEqual(["quay.io/org/team/repo", "quay.io/org/team", "quay.io/org", "quay.io"]);
    expect(credentialKeys("docker.io", "library/alpine")).toContain("https://index.docker.io/v1/");
  });

  test("files in order: --authfile (or REGISTRY_AUTH_FILE), XDG runtime and config auth.json, then docker's config.json", () => {
    expect(credentialFiles({ env: env({ XDG_RUNTIME_DIR: "/run/u" }) })).toEqual(["/run/u/containers/auth.json", `${home}/.config/containers/auth.json`, `${home}/.docker/config.json`]);
    expect(credentialFiles({ authFile: "/a.json", env: env({ REGISTRY_AUTH_FILE: "/b.json" }) })[0]).toBe("/a.json");
    expect(credentialFiles({ env: env({ REGISTRY_AUTH_FILE: "/b.json", DOCKER_CONFIG: "/d" }) })).toEqual(["/b.json", "/d/config.json"]);
  });

  test("the most specific namespace key wins; schemes in keys are understood; explicit creds win over files", async () => {
    const file = join(dir, "auth.json");
    writeFileSync(file, JSON.stringify({ auths: { "https://quay.io": { auth: auth("general", "g") }, "quay.io/org": { auth: auth("org", "o") }, "quay.io/org/repo": { auth: auth("repo", "r") } } }));
    const sources = { authFile: file, env: env() };
    expect(await findCredentials("quay.io", "org/repo", sources)).toEqual({ username: "repo", password: "r" });
    expect(await findCredentials("quay.io", "org/other", sources)).toEqual({ username: "org", password: "o" });
    expect(await findCredentials("quay.io", "elsewhere/x", sources)).toEqual({ username: "general", password: "g" });
    expect(await findCredentials("ghcr.io", "x/y", sources)).toBeUndefined();
    expect(await findCredentials("quay.io", "org/repo", { ...sources, explicit: { username: "flag", password: "f" } })).toEqual({ username: "flag", password: "f" });
  });

  test("docker's https://index.docker.io/v1/ key serves docker.io; identity tokens are kept as such", async () => {
    const config = join(dir, "docker");
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: auth("hub", "h") }, "ghcr.io": { identitytoken: "tok" } } }));
    const sources = { env: env({ DOCKER_CONFIG: config }) };
    expect(await findCredentials("docker.io", "library/alpine", sources)).toEqual({ username: "hub", password: "h" });
    expect(await findCredentials("ghcr.io", "me/app", sources)).toEqual({ identityToken: "tok" });
  });

  test("credHelpers and credsStore run docker-credential-NAME get", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "docker-credential-fake"), '#!/bin/sh\nread server\nif [ "$server" = "helped.example.com" ]; then echo "{\\"Username\\":\\"helper\\",\\"Secret\\":\\"s3cret\\"}"; else echo "credentials not found" >&2; exit 1; fi\n');
    chmodSync(join(bin, "docker-credential-fake"), 0o755);
    const config = join(dir, "helpers");
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "config.json"), JSON.stringify({ credHelpers: { "helped.example.com": "fake" }, credsStore: "fake" }));
    const sources = { env: env({ DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` }) };
    expect(await findCredentials("helped.example.com", "a/b", sources)).toEqual({ username: "helper", password: "s3cret" });
    expect(await findCredentials("other.example.com", "a/b", sources)).toBeUndefined();
  });

  test("--creds splits at the first colon", () => {
    expect(parseCredentialsFlag("me:pa:ss", "--creds")).toEqual({ username: "me", password: "pa:ss" });
    expect(() => parseCredentialsFlag("nopassword", "--creds")).toThrow("USERNAME:PASSWORD");
  });
});

describe("protocol pieces", () => {
  test("a token realm on an unrelated domain gets no credentials; https never hands them to http", () => {
    const registry = new URL("https://registry-1.docker.io");
    expect(realmMayReceiveCredentials(registry, new URL("https://auth.docker.io/token"))).toBe(true);
    expect(realmMayReceiveCredentials(registry, new URL("https://evil.example.com/token"))).toBe(false);
    expect(realmMayReceiveCredentials(registry, new URL("http://auth.docker.io/token"))).toBe(false);
    expect(realmMayReceiveCredentials(new URL("http://127.0.0.1:5000"), new URL("http://127.0.0.1:6000/token"))).toBe(true);
    // the registrable domain by the Public Suffix List: not two labels from the end
    expect(realmMayReceiveCredentials(new URL("https://registry.gitlab.com"), new URL("https://gitlab.com/jwt/auth"))).toBe(true);
    expect(realmMayReceiveCredentials(new URL("https://registry.example.co.uk"), new URL("https://auth.example.co.uk/token"))).toBe(true);
    expect(realmMayReceiveCredentials(new URL("https://registry.example.co.uk"), new URL("https://attacker.co.uk/token"))).toBe(false);
    expect(realmMayReceiveCredentials(new URL("https://team.github.io"), new URL("https://attacker.github.io/token"))).toBe(false);
  });

  test("WWW-Authenticate challenges are parsed, quoted commas included", () => {
    expect(parseChallenges('Bearer realm="https://a/token",service="reg",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: "bearer", params: { realm: "https://a/token", service: "reg", scope: "repository:a/b:pull,push" } },
    ]);
    expect(parseChallenges('Basic realm="x"')[0]!.scheme).toBe("basic");
  });

  test("Link headers and Retry-After are read; backoff grows and stays bounded", () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe("/v2/a/tags/list?n=2&last=b");
    expect(nextLink(null)).toBeUndefined();
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(backoffMs(defaultRetryPolicy, 1)).toBeLessThanOrEqual(250);
    expect(backoffMs(defaultRetryPolicy, 20)).toBeLessThanOrEqual(30_000);
    expect(backoffMs(defaultRetryPolicy, 1, "2")).toBe(2000);
  });
});
