import { defineCommand } from "citty";
import { UsageError } from "../../core/errors.ts";
import { isLoopbackHost } from "../../core/reference.ts";
import { defaultCheckTimeoutMs } from "../../verbs/pull-through.ts";
import { parseRegistryHost } from "../../verbs/registry.ts";
import { type ServeLogEntry, serve } from "../../verbs/serve.ts";
import { commonArgs, positiveInt } from "../args.ts";
import { log } from "../log.ts";
import { registryOptionsFrom } from "../registry-args.ts";
import { cliSignal } from "../signal.ts";

/**
 * `127.0.0.1 alice GET /v2/app/blobs/sha256:… 200 268436992B 85.3ms "skopeo/1.13.3"`: the client,
 * the user (- when anonymous), the request without its query, the status, the body bytes sent, the
 * time to the last byte, the user agent; then `cut` when the body did not go out whole, and what
 * failed (a 5xx's cause, or why the body stopped).
 */
function accessLine(e: ServeLogEntry): string {
  const tail = `${e.cut ? " cut" : ""}${e.error ? ` error=${JSON.stringify(e.error)}` : ""}`;
  return `${e.remote} ${e.user ?? "-"} ${e.method} ${e.path} ${e.status} ${e.bytes}B ${e.ms.toFixed(1)}ms ${JSON.stringify(e.userAgent ?? "-")}${tail}`;
}

/**
 * Access log lines in consola's plain form, gathered and written once per turn of the event loop:
 * at tens of thousands of requests a second, a consola call and a write per line cost a fifth of
 * serve's manifest GETs (scripts/bench/serve.ts).
 */
function accessLogWriter(): (entry: ServeLogEntry) => void {
  let pending = "";
  const flush = () => {
    process.stderr.write(pending);
    pending = "";
  };
  return (entry) => {
    if (pending === "") setImmediate(flush);
    pending += `[info] ${accessLine(entry)}\n`;
  };
}

export const examples = [
  "stevedore serve                                   # 127.0.0.1:5000, images under ~/.local/share/stevedore/registry",
  "stevedore serve --addr 0.0.0.0:5000 --root /srv/registry --htpasswd /etc/stevedore/htpasswd --anonymous-read",
  "stevedore serve --memory --addr 127.0.0.1:0       # a throwaway registry for a CI job",
  "stevedore serve --addr 0.0.0.0:5443 --tls-cert registry.crt --tls-key registry.key   # HTTPS (clients: --cert-dir)",
  "stevedore serve --proxy registry-1.docker.io --root /srv/hub-cache   # a Docker Hub pull-through cache",
];

export default defineCommand({
  meta: { name: "serve", description: "Run an OCI registry (distribution-spec 1.1) on a filesystem or memory store" },
  args: {
    addr: { type: "string", valueHint: "host:port", description: "Listen address (default 127.0.0.1:5000)" },
    root: { type: "string", valueHint: "DIR", description: "Store images here (default: ~/.local/share/stevedore/registry)" },
    memory: { type: "boolean", description: "Keep images in memory only" },
    htpasswd: { type: "string", valueHint: "FILE", description: "Require Basic auth from these bcrypt users (htpasswd -B)" },
    "anonymous-read": { type: "boolean", description: "With --htpasswd: let anyone pull; pushing still needs credentials (clients get tokens from /token)" },
    "token-realm": { type: "string", valueHint: "URL", description: "With --anonymous-read behind a proxy: the token URL clients use (default <scheme>://<Host>/token)" },
    "read-only": { type: "boolean", description: "Refuse pushes and deletes" },
    delete: { type: "boolean", description: "Allow deleting manifests, tags and blobs" },
    "no-fsync": { type: "boolean", description: "Do not fsync blobs before publishing them (faster; a crash may lose recent pushes)" },
    "tls-cert": { type: "string", valueHint: "FILE", description: "Serve HTTPS with this certificate (PEM)" },
    "tls-key": { type: "string", valueHint: "FILE", description: "… and this key (PEM)" },
    proxy: { type: "string", valueHint: "HOST", description: "Be a pull-through cache of this registry: fetch what clients pull, keep it, refuse pushes" },
    "proxy-creds": { type: "string", valueHint: "user:password", description: "Credentials for the upstream registry (else from auth files)" },
    "proxy-tls-verify": { type: "string", valueHint: "true|false", description: "Verify the upstream's TLS certificate (false: also allow plain http)" },
    "proxy-check-timeout": { type: "string", valueHint: "SECONDS", description: "How long a pull of a cached tag waits for upstream before the cached copy is served (default 5)" },
    ...commonArgs,
  },
  async run({ args }) {
    if (Boolean(args["tls-cert"]) !== Boolean(args["tls-key"])) throw new UsageError("--tls-cert and --tls-key go together");
    const upstreamFlag = ["proxy-creds", "proxy-tls-verify", "proxy-check-timeout"].find((flag) => args[flag] !== undefined);
    if (upstreamFlag && !args.proxy) throw new UsageError(`--${upstreamFlag} is for a pull-through cache: give --proxy HOST with it`);
    const server = await serve({
      addr: args.addr,
      root: args.root,
      memory: args.memory,
      htpasswd: args.htpasswd,
      anonymousRead: args["anonymous-read"],
      tokenRealm: args["token-realm"],
      onWarning: (message) => log.warn(message),
      readOnly: args["read-only"],
      allowDelete: args.delete,
      fsync: !args["no-fsync"],
      tls: args["tls-cert"] ? { cert: args["tls-cert"], key: args["tls-key"]! } : undefined,
      proxy: args.proxy
        ? {
            registry: parseRegistryHost(args.proxy),
            options: registryOptionsFrom({ creds: args["proxy-creds"], "tls-verify": args["proxy-tls-verify"] }),
            checkTimeoutMs: (positiveInt(args["proxy-check-timeout"], "--proxy-check-timeout") ?? defaultCheckTimeoutMs / 1000) * 1000,
          }
        : undefined,
      // -q: no line is even made
      ...(log.level >= 3 ? { onLog: accessLogWriter() } : {}),
    });
    log.start(`serving ${server.url.host} (${server.root ? `root ${server.root}` : "in memory"}${args.proxy ? `, a pull-through cache of ${args.proxy}` : ""})`);
    if (!args.htpasswd && !args.proxy && !args["read-only"] && !isLoopbackHost(server.url.host)) {
      log.warn(`no --htpasswd: anyone who can reach ${server.url.host} may push${args.delete ? " and delete" : ""}`);
    }
    if (args.proxy && args.memory) log.warn("a cache in memory grows with every image pulled through it, until the server stops: give --root for a lasting one");
    process.stdout.write(`${server.url.host}\n`);
    await new Promise<void>((resolve) => cliSignal.addEventListener("abort", () => resolve(), { once: true }));
    log.info("stopping: letting requests in flight finish");
    await server.stop();
  },
});
