import { createSign } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requirePeer } from "./cli.ts";

/** A port nothing listens on right now. */
export function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as references name it. */
  readonly host: string;
  readonly users: Record<string, string>;
  /** What the token server was asked, for assertions. */
  readonly tokenRequests: { authorization: string | null; scopes: string[]; method: string }[];
  /** For the token registry: an identity token the token server accepts for alice. */
  readonly identityToken?: string;
  stop(): void;
}

export type RegistryAuth = "none" | "htpasswd" | "token";

async function waitForHttp(url: string, proc: { exitCode: number | null }, log: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(log, "utf8")}`);
    try {
      await fetch(url);
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`docker-registry did not answer at ${url}`);
}

/** A self-signed P-256 certificate and key made by openssl, for the token issuer (and TLS tests). */
export function selfSignedCertificate(dir: string, name = "test"): { cert: string; key: string; certPath: string; keyPath: string } {
  const openssl = requirePeer("openssl");
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  const made = Bun.spawnSync([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`openssl: ${made.stderr}`);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/**
 * A token server as distribution's `auth.token` expects: ES256 JWTs whose x5c header carries the
 * certificate the registry trusts. Valid users get the actions they ask for; anyone else, none.
 */
function startTokenServer(dir: string, users: Record<string, string>, requests: TestRegistry["tokenRequests"]) {
  const { cert, key, certPath } = selfSignedCertificate(dir, "token");
  const certDer = Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
  const identityToken = "identity-token-for-alice";
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" "));
      let user: string | undefined;
      const auth = req.headers.get("authorization");
      requests.push({ authorization: auth, scopes, method: req.method });
      if (req.method === "POST") {
        const form = new URLSearchParams(await req.text());
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
        if (form.get("grant_type") !== "refresh_token" || form.get("refresh_token") !== identityToken) return new Response("bad token", { status: 401 });
        user = "alice";
      } else if (auth?.startsWith("Basic ")) {
        const [name, password] = Buffer.from(auth.slice(6), "base64").toString().split(":");
        if (users[name!] !== password) return new Response('{"details":"bad credentials"}', { status: 401 });
        user = name;
      }
      const access = user
        ? scopes.filter((s) => s.startsWith("repository:")).map((s) => {
            const [, name, actions] = /^repository:(.+):([^:]+)$/.exec(s)!;
            return { type: "repository", name, actions: actions!.split(",") };
          })
        : [];
      if (user && scopes.some((s) => s.startsWith("registry:catalog"))) access.push({ type: "registry", name: "catalog", actions: ["*"] });
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: [certDer] }));
      const claims = b64url(JSON.stringify({ iss: "stevedore-test", sub: user ?? "", aud: "stevedore-test-registry", exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access }));
      const signature = createSign("SHA256").update(`${header}.${claims}`).sign({ key, dsaEncoding: "ieee-p1363" });
      return Response.json({ token: `${header}.${claims}.${b64url(signature)}`, expires_in: 300 });
    },
  });
  return { server, certPath, identityToken };
}

/** Debian's docker-registry (distribution 2.8) on a free loopback port, with its own config and storage. */
export async function startRegistry(auth: RegistryAuth = "none", users: Record<string, string> = { alice: "wonderland" }): Promise<TestRegistry> {
  const binary = requirePeer("docker-registry");
  const dir = mkdtempSync(join(tmpdir(), "stevedore-registry-"));
  const stops: (() => void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  mkdirSync(join(dir, "data"));
  const port = freePort();
  const tokenRequests: TestRegistry["tokenRequests"] = [];
  let authConfig = "";
  let identityToken: string | undefined;
  if (auth === "htpasswd") {
    const htpasswd = requirePeer("htpasswd");
    const lines = Object.entries(users).map(([u, p]) => Bun.spawnSync([htpasswd, "-Bbn", u, p]).stdout.toString().trim());
    writeFileSync(join(dir, "htpasswd"), `${lines.join("\n")}\n`);
    authConfig = `auth:\n  htpasswd:\n    realm: stevedore-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (auth === "token") {
    const token = startTokenServer(dir, users, tokenRequests);
    identityToken = token.identityToken;
    stops.unshift(() => token.server.stop(true));
    authConfig = `auth:\n  token:\n    realm: http://127.0.0.1:${token.server.port}/token\n    service: stevedore-test-registry\n    issuer: stevedore-test\n    rootcertbundle: ${token.certPath}\n`;
  }
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authConfig}`,
  );
  const log = join(dir, "registry.log");
  const proc = Bun.spawn([binary, "serve", config], { stdout: Bun.file(log), stderr: Bun.file(log) });
  stops.unshift(() => proc.kill());
  const stop = () => stops.forEach((s) => s());
  try {
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, proc, log);
  } catch (err) {
    stop();
    throw err;
  }
  return { host: `127.0.0.1:${port}`, users, tokenRequests, identityToken, stop };
}
