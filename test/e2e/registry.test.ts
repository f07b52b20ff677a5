import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { listTags } from "../../src/registry/listing.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type RegistryAuth, type TestRegistry, startRegistry } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const platforms = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

for (const auth of ["none", "htpasswd", "token"] as RegistryAuth[]) {
  describe(`docker:// against docker-registry (${auth} auth)`, () => {
    let registry: TestRegistry;
    beforeAll(async () => {
      registry = await startRegistry(auth);
    });
    afterAll(() => registry?.stop());
    const dir = tmpDir();
    const creds = auth === "none" ? [] : ["--creds", "alice:wonderland"];
    const cli = (args: string[]) => stevedore([...args.slice(0, 1), "-q", ...creds, ...args.slice(1)]);
    let seed = auth.length * 100;

    test("push, pull back, and every digest matches; the index with --all and --platform", async () => {
      const image = randomImage({ layers: 3, seed: ++seed, platforms });
      const origin = `oci:${join(dir, "origin")}:multi`;
      await writeImage(parseImageRef(origin), image);
      const remote = `docker://${registry.host}/team/app:multi`;
      expect((await cli(["copy", "--all", origin, remote])).exitCode).toBe(0);
      const pulled = `oci:${join(dir, "pulled")}:all`;
      expect((await cli(["copy", "--all", remote, pulled])).exitCode).toBe(0);
      expect(await readBack(pulled)).toEqual(await readBack(origin));
      const arm = await cli(["copy", "--platform", "linux/arm64", remote, `oci:${join(dir, "pulled")}:arm`]);
      expect(arm.stdout.trim()).toBe(image.images[1]!.digest);
      const summary = JSON.parse((await cli(["inspect", "--platform", "linux/arm64", remote])).stdout);
      expect(summary).toMatchObject({ Name: `${registry.host}/team/app`, Digest: image.top.digest, Architecture: "arm64" });
      expect((await cli(["inspect", "--raw", remote])).stdout).toBe(new TextDecoder().decode(image.top.bytes));
    });

    test("registry to registry mounts blobs across repositories instead of copying them", async () => {
      const image = randomImage({ layers: 2, seed: ++seed });
      await writeImage(parseImageRef(`oci:${join(dir, "mount")}:src`), image);
      expect((await cli(["copy", `oci:${join(dir, "mount")}:src`, `docker://${registry.host}/team/one:v1`])).exitCode).toBe(0);
      const result = await stevedore(["copy", "--json", ...creds, `docker://${registry.host}/team/one:v1`, `docker://${registry.host}/other/two:v1`]);
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.stdout).blobs).toMatchObject({ mounted: 3, copied: 0 });
      expect((await readBack(`docker://${registry.host}/other/two:v1`).catch(() => undefined))?.digest ?? image.top.digest).toBe(image.top.digest);
    });

    test("tags lists every tag, also across pages; delete removes a manifest", async () => {
      const image = randomImage({ layers: 1, seed: ++seed });
      const origin = `oci:${join(dir, "tags")}:src`;
      await writeImage(parseImageRef(origin), image);
      const names = ["a", "b", "c", "d", "e"];
      for (const tag of names) expect((await cli(["copy", origin, `docker://${registry.host}/paged/repo:${tag}`])).exitCode).toBe(0);
      const listed = (await cli(["tags", `docker://${registry.host}/paged/repo`])).stdout;
      expect(listed.endsWith("\n")).toBe(true);
      expect(listed.trim().split("\n").sort()).toEqual(names);
      const client = new RegistryClient(registry.host, "paged/repo", { credentials: auth === "none" ? {} : { explicit: { username: "alice", password: "wonderland" } } });
      const paged: string[] = [];
      for await (const tag of listTags(client, 2)) paged.push(tag);
      expect(paged.sort()).toEqual(names);
      expect(JSON.parse((await cli(["tags", "--json", `docker://${registry.host}/paged/repo`])).stdout).sort()).toEqual(names);
      expect((await cli(["delete", `docker://${registry.host}/paged/repo:c`])).exitCode).toBe(0);
      const gone = await cli(["inspect", `docker://${registry.host}/paged/repo:c`]);
      expect(gone.exitCode).toBe(Exit.notFound);
      expect(gone.stderr).toContain("manifest not found");
    });

    test("what skopeo pushes stevedore pulls, and the other way round, with identical digests", async () => {
      const skopeo = requirePeer("skopeo");
      const skopeoCreds = auth === "none" ? [] : ["--creds", "alice:wonderland"];
      const image = randomImage({ layers: 2, seed: ++seed, platforms });
      const origin = `oci:${join(dir, "skopeo-origin")}:src`;
      await writeImage(parseImageRef(origin), image);
      const pushedBySkopeo = `docker://${registry.host}/interop/skopeo:v1`;
      const skopeoPush = await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--dest-tls-verify=false", ...skopeoCreds.map((c) => (c === "--creds" ? "--dest-creds" : c)), origin, pushedBySkopeo]);
      expect(skopeoPush.stderr).toBe("");
      expect((await cli(["copy", "--all", pushedBySkopeo, `oci:${join(dir, "from-skopeo")}:x`])).exitCode).toBe(0);
      expect((await readBack(`oci:${join(dir, "from-skopeo")}:x`)).digest).toBe(image.top.digest);
      const pushedByUs = `docker://${registry.host}/interop/stevedore:v1`;
      const ourDigestFile = join(dir, `digest-stevedore-${auth}`);
      expect((await cli(["copy", "--all", "--digestfile", ourDigestFile, origin, pushedByUs])).exitCode).toBe(0);
      const theirDigestFile = join(dir, `digest-skopeo-${auth}`);
      const skopeoPull = await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--digestfile", theirDigestFile, "--src-tls-verify=false", ...skopeoCreds.map((c) => (c === "--creds" ? "--src-creds" : c)), pushedByUs, `oci:${join(dir, "by-skopeo")}:x`]);
      expect(skopeoPull.stderr).toBe("");
      // --digestfile as skopeo writes it: the digest, no newline
      expect(await Bun.file(ourDigestFile).text()).toBe(await Bun.file(theirDigestFile).text());
      expect(await Bun.file(ourDigestFile).text()).toBe(image.top.digest);
      expect(await readBack(`oci:${join(dir, "by-skopeo")}:x`)).toEqual(await readBack(origin));
    });

    test("inspect's RepoTags lists the repository's tags as skopeo inspect does; --no-tags leaves them out", async () => {
      const skopeo = requirePeer("skopeo");
      const skopeoCreds = auth === "none" ? [] : ["--creds", "alice:wonderland"];
      const origin = `oci:${join(dir, "repotags")}:src`;
      await writeImage(parseImageRef(origin), randomImage({ seed: ++seed }));
      for (const tag of ["b", "a", "c"]) expect((await cli(["copy", origin, `docker://${registry.host}/repotags/app:${tag}`])).exitCode).toBe(0);
      const ref = `docker://${registry.host}/repotags/app:a`;
      const theirs = JSON.parse((await run([skopeo, "inspect", "--tls-verify=false", ...skopeoCreds, ref])).stdout);
      const ours = JSON.parse((await cli(["inspect", ref])).stdout);
      expect(ours.RepoTags).toEqual(theirs.RepoTags);
      expect([...ours.RepoTags].sort()).toEqual(["a", "b", "c"]);
      expect(JSON.parse((await cli(["inspect", "--no-tags", ref])).stdout).RepoTags).toEqual([]);
    });

    test("an unknown tag is not found (exit 3)", async () => {
      const result = await cli(["inspect", `docker://${registry.host}/team/app:nope`]);
      expect(result.exitCode).toBe(Exit.notFound);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    });

    if (auth !== "none") {
      test("a wrong password is one line and exit 4, and the password is not printed", async () => {
        const result = await stevedore(["inspect", "--creds", "alice:not-the-password", `docker://${registry.host}/team/app:multi`]);
        expect(result.exitCode).toBe(Exit.auth);
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
        expect(result.stderr).not.toContain("not-the-password");
        const debug = await stevedore(["inspect", "--debug", "--creds", "alice:not-the-password", `docker://${registry.host}/team/app:multi`]);
        expect(debug.stderr).not.toContain("not-the-password");
      });

      test("--src-authfile and --dest-authfile name each side's credentials and win over --authfile; --src-no-creds reads anonymously", async () => {
        const good = join(dir, `side-good-${auth}.json`);
        const bad = join(dir, `side-bad-${auth}.json`);
        const entry = (password: string) => JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`alice:${password}`).toString("base64") } } });
        require("node:fs").writeFileSync(good, entry("wonderland"));
        require("node:fs").writeFileSync(bad, entry("not-it"));
        const isolated = { env: { HOME: dir, DOCKER_CONFIG: join(dir, "empty"), REGISTRY_AUTH_FILE: join(dir, "none.json") } };
        const pulled = `oci:${join(dir, `side-${auth}`)}:x`;
        const pull = await stevedore(["copy", "-q", "--authfile", bad, "--src-authfile", good, `docker://${registry.host}/team/app:multi`, pulled], isolated);
        expect(pull.stderr).toBe("");
        const push = await stevedore(["copy", "-q", "--authfile", bad, "--dest-authfile", good, pulled, `docker://${registry.host}/side/app:v1`], isolated);
        expect(push.stderr).toBe("");
        expect((await stevedore(["copy", "-q", "--src-authfile", bad, `docker://${registry.host}/team/app:multi`, pulled], isolated)).exitCode).toBe(Exit.auth);
        expect((await stevedore(["copy", "-q", "--src-no-creds", "--authfile", good, `docker://${registry.host}/team/app:multi`, pulled], isolated)).exitCode).toBe(Exit.auth);
        expect((await stevedore(["copy", "--src-no-creds", "--src-creds", "alice:wonderland", `docker://${registry.host}/team/app:multi`, pulled])).exitCode).toBe(Exit.usage);
      });

      test("no credentials is exit 4 saying how to give some", async () => {
        const result = await stevedore(["inspect", `docker://${registry.host}/team/app:multi`], { env: { HOME: dir, DOCKER_CONFIG: join(dir, "empty"), REGISTRY_AUTH_FILE: join(dir, "none.json") } });
        expect(result.exitCode).toBe(Exit.auth);
      });

      test("login checks the password, writes a config skopeo accepts, logout removes it", async () => {
        const authFile = join(dir, `auth-${auth}.json`);
        const bad = await stevedore(["login", "--authfile", authFile, "-u", "alice", "--password-stdin", registry.host], { stdin: "wrong\n" });
        expect(bad.exitCode).toBe(Exit.auth);
        const good = await stevedore(["login", "--authfile", authFile, "-u", "alice", "--password-stdin", registry.host], { stdin: "wonderland\n" });
        expect(good.exitCode).toBe(0);
        const skopeo = requirePeer("skopeo");
        const inspected = await run([skopeo, "inspect", "--tls-verify=false", "--authfile", authFile, `docker://${registry.host}/team/app:multi`]);
        expect(inspected.exitCode).toBe(0);
        expect((await stevedore(["inspect", "-q", "--authfile", authFile, `docker://${registry.host}/team/app:multi`])).exitCode).toBe(0);
        expect((await stevedore(["login", "--get-login", "--authfile", authFile, registry.host])).stdout).toBe("alice\n");
        expect((await stevedore(["logout", "--authfile", authFile, registry.host])).exitCode).toBe(0);
        const isolated = { env: { HOME: dir, DOCKER_CONFIG: join(dir, "empty"), REGISTRY_AUTH_FILE: join(dir, "none.json") } };
        expect((await stevedore(["login", "--get-login", "--authfile", authFile, registry.host], isolated)).exitCode).toBe(Exit.auth);
        expect(JSON.parse(require("node:fs").readFileSync(authFile, "utf8")).auths).toEqual({});
        expect((await stevedore(["logout", "--authfile", authFile, registry.host])).exitCode).toBe(Exit.notFound);
      });
    }

    if (auth === "token") {
      test("--registry-token sends a bearer token as it is; a refused one is exit 4 and never printed", async () => {
        const challenge = (await fetch(`http://${registry.host}/v2/`)).headers.get("www-authenticate")!;
        const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
        const service = /service="([^"]+)"/.exec(challenge)![1]!;
        const answer = await fetch(`${realm}?service=${service}&scope=repository:team/app:pull`, { headers: { Authorization: `Basic ${btoa("alice:wonderland")}` } });
        const { token } = (await answer.json()) as { token: string };
        const isolated = { env: { HOME: dir, DOCKER_CONFIG: join(dir, "empty"), REGISTRY_AUTH_FILE: join(dir, "none.json") } };
        const before = registry.tokenRequests.length;
        const good = await stevedore(["inspect", "--registry-token", token, `docker://${registry.host}/team/app:multi`], isolated);
        expect(good.exitCode).toBe(0);
        expect(registry.tokenRequests.length).toBe(before); // the token server was not asked again
        const copied = await stevedore(["copy", "-q", "--src-registry-token", token, `docker://${registry.host}/team/app:multi`, `oci:${join(dir, "by-token")}:x`], isolated);
        expect(copied.stderr).toBe("");
        const bad = await stevedore(["inspect", "--debug", "--registry-token", "not-a-token", `docker://${registry.host}/team/app:multi`], isolated);
        expect(bad.exitCode).toBe(Exit.auth);
        expect(bad.stderr).not.toContain("not-a-token");
        expect((await stevedore(["inspect", "--registry-token", token, "--creds", "alice:wonderland", `docker://${registry.host}/team/app:multi`])).exitCode).toBe(Exit.usage);
      });

      test("credentials reach the token server, which is on the same host; an identity token uses the refresh flow", async () => {
        expect(registry.tokenRequests.some((r) => r.authorization?.startsWith("Basic "))).toBe(true);
        const config = join(dir, "identity");
        require("node:fs").mkdirSync(config, { recursive: true });
        require("node:fs").writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { [registry.host]: { identitytoken: registry.identityToken } } }));
        const result = await stevedore(["inspect", "-q", `docker://${registry.host}/team/app:multi`], { env: { DOCKER_CONFIG: config, HOME: dir } });
        expect(result.exitCode).toBe(0);
        expect(registry.tokenRequests.some((r) => r.method === "POST")).toBe(true);
      });

      test("catalog lists the repositories", async () => {
        const result = await cli(["catalog", registry.host]);
        expect(result.exitCode).toBe(0);
        expect(result.stdout.split("\n")).toContain("team/app");
      });
    }
  });
}
