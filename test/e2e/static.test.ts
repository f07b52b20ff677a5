import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { MediaTypes } from "../../src/core/media-type.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { listReferrers, referrersTag } from "../../src/registry/referrers.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { artifactFor } from "../helpers/artifact.ts";
import { binary, requirePeer, run, stevedore } from "../helpers/cli.ts";
import { type FixtureImage, randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { freePort } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

const nginx = requirePeer("nginx");
const skopeo = requirePeer("skopeo");
const caddy = requirePeer("caddy");
const platforms = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/** Waits until a web server answers /v2/; says why when it never does. */
async function waitForWebServer(host: string, server: ReturnType<typeof Bun.spawn>, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://${host}/v2/`).then(() => true, () => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${name} did not start: ${await new Response(server.stderr as ReadableStream).text()}`);
}

/** What a web server must answer for a mirrored tree holding `single` as team/single:1.0 and `multi` as team/multi:2.0. */
async function expectServedTree(host: string, single: FixtureImage, multi: FixtureImage): Promise<void> {
  expect((await fetch(`http://${host}/v2/`)).headers.get("docker-distribution-api-version")).toBe("registry/2.0");
  for (const ref of ["2.0", multi.top.digest]) {
    const r = await fetch(`http://${host}/v2/team/multi/manifests/${ref}`, { method: "HEAD" });
    expect(r.headers.get("content-type")).toBe(multi.top.mediaType);
    expect(r.headers.get("docker-content-digest")).toBe(multi.top.digest);
  }
  const [blob] = single.blobs.values();
  expect((await fetch(`http://${host}/v2/team/single/blobs/${blob!.desc.digest}`)).headers.get("docker-content-digest")).toBe(blob!.desc.digest);
  expect(await (await fetch(`http://${host}/v2/team/multi/tags/list`)).json()).toEqual({ name: "team/multi", tags: ["2.0"] });
  expect((await fetch(`http://${host}/v2/team/single/manifests/1.0`, { method: "PUT", body: "{}" })).status).toBe(405);
  const missing = await fetch(`http://${host}/v2/team/single/manifests/nope`);
  expect(missing.status).toBe(404);
  expect(((await missing.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("NOT_FOUND");
}

describe("mirror into a static tree served by nginx", () => {
  const dir = tmpDir();
  // nginx's workers run as www-data: the tree must be readable to them, as a served tree would be
  chmodSync(dir, 0o755);
  const tree = join(dir, "tree");
  const single = randomImage({ layers: 2, seed: 801 });
  const multi = randomImage({ layers: 1, seed: 802, platforms });
  const port = freePort();
  const host = `127.0.0.1:${port}`;
  let server: ReturnType<typeof Bun.spawn> | undefined;
  const sk = (args: string[]) => run([skopeo, "--insecure-policy", ...args]);

  beforeAll(async () => {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:single`), single);
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:multi`), multi);
    const result = await stevedore(["mirror", "-q", "--all", `oci:${join(dir, "src")}:single=team/single:1.0`, `oci:${join(dir, "src")}:multi=team/multi:2.0`, "--to", tree, "--nginx-conf", join(dir, "nginx.conf"), "--caddyfile", join(dir, "Caddyfile"), "--listen", host]);
    if (result.exitCode !== 0) throw new Error(result.stderr);
    server = Bun.spawn([nginx, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stderr: "pipe" });
    await waitForWebServer(host, server, "nginx");
  });
  afterAll(() => server?.kill());

  test("/v2/, manifests with their Content-Type and Docker-Content-Digest, blobs, tags/list; writes are 405, unknown names a JSON 404", async () => {
    await expectServedTree(host, single, multi);
  });

  test("skopeo inspects and copies by tag, by digest and with --all; digests identical to the source", async () => {
    const inspected = JSON.parse((await sk(["inspect", "--tls-verify=false", `docker://${host}/team/single:1.0`])).stdout);
    expect(inspected.Digest).toBe(single.top.digest);
    const byTag = `oci:${join(dir, "skopeo")}:tag`;
    expect((await sk(["copy", "-q", "--src-tls-verify=false", `docker://${host}/team/single:1.0`, byTag])).stderr).toBe("");
    expect((await readBack(byTag)).digest).toBe(single.top.digest);
    const byDigest = `oci:${join(dir, "skopeo")}:digest`;
    expect((await sk(["copy", "-q", "--src-tls-verify=false", `docker://${host}/team/single@${single.top.digest}`, byDigest])).stderr).toBe("");
    expect((await readBack(byDigest)).digest).toBe(single.top.digest);
    const all = `oci:${join(dir, "skopeo")}:all`;
    expect((await sk(["copy", "-q", "--all", "--src-tls-verify=false", `docker://${host}/team/multi:2.0`, all])).stderr).toBe("");
    expect((await readBack(all)).children).toEqual(multi.images.map((m) => m.digest));
  });

  test("stevedore's docker:// pulls from it too, and reads the tree directly as static:", async () => {
    expect((await readBack(`docker://${host}/team/multi:2.0`)).children).toEqual(multi.images.map((m) => m.digest));
    expect((await readBack(`static:${tree}/team/single:1.0`)).digest).toBe(single.top.digest);
    expect((await stevedore(["tags", `static:${tree}/team/multi`])).stdout).toBe("2.0\n");
  });

  test("referrers land as a static Referrers API answer and the fallback tag", async () => {
    const sbom = artifactFor(single.top, "application/spdx+json", '{"spdxVersion":"SPDX-2.3"}');
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:@${sbom.top.digest}`), sbom);
    const result = await stevedore(["mirror", "--json", "--referrers", `oci:${join(dir, "src")}:single=team/single:1.0`, "--to", tree]);
    expect(result.exitCode).toBe(0);
    const answer = await fetch(`http://${host}/v2/team/single/referrers/${single.top.digest}`);
    expect(answer.headers.get("content-type")).toBe(MediaTypes.ociIndex);
    expect(((await answer.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sbom.top.digest]);
    expect((await listReferrers(new RegistryClient(host, "team/single"), single.top.digest)).map((d) => d.artifactType)).toEqual(["application/spdx+json"]);
    expect(existsSync(join(tree, "v2/team/single/manifests", referrersTag(single.top.digest)))).toBe(true);
  });

  test("rerunning mirror skips what is there and regenerates the config", async () => {
    const again = await stevedore(["mirror", "--json", "--all", `oci:${join(dir, "src")}:multi=team/multi:2.1`, "--to", tree, "--nginx-conf", join(dir, "nginx.conf"), "--listen", host]);
    expect(again.exitCode).toBe(0);
    expect(readFileSync(join(dir, "nginx.conf"), "utf8")).toContain("/v2/team/multi/manifests/2.1");
    const copied = await stevedore(["copy", "--json", "--all", `oci:${join(dir, "src")}:multi`, `static:${tree}/team/multi:2.2`]);
    expect(JSON.parse(copied.stdout).blobs.copied).toBe(0);
  });
});

describe("mirror into a static tree served by Caddy", () => {
  const dir = tmpDir();
  chmodSync(dir, 0o755);
  const tree = join(dir, "tree");
  const single = randomImage({ layers: 2, seed: 821 });
  const multi = randomImage({ layers: 1, seed: 822, platforms });
  const host = `127.0.0.1:${freePort()}`;
  let server: ReturnType<typeof Bun.spawn> | undefined;

  beforeAll(async () => {
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:single`), single);
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:multi`), multi);
    const result = await stevedore(["mirror", "-q", "--all", `oci:${join(dir, "src")}:single=team/single:1.0`, `oci:${join(dir, "src")}:multi=team/multi:2.0`, "--to", tree, "--caddyfile", join(dir, "Caddyfile"), "--listen", host]);
    if (result.exitCode !== 0) throw new Error(result.stderr);
    // the generated file as a user runs it, beside this test's own global options: no admin port, state kept in dir
    writeFileSync(join(dir, "Caddyfile.test"), `{\n  admin off\n}\nimport ${join(dir, "Caddyfile")}\n`);
    server = Bun.spawn([caddy, "run", "--adapter", "caddyfile", "--config", join(dir, "Caddyfile.test")], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data") },
    });
    await waitForWebServer(host, server, "caddy");
  });
  afterAll(() => server?.kill());

  test("/v2/, manifests with their Content-Type and Docker-Content-Digest, blobs, tags/list; writes are 405, unknown names a JSON 404", async () => {
    await expectServedTree(host, single, multi);
  });

  test("skopeo copies with --all and stevedore pulls, digests identical to the source", async () => {
    const all = `oci:${join(dir, "skopeo")}:all`;
    expect((await run([skopeo, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false", `docker://${host}/team/multi:2.0`, all])).stderr).toBe("");
    expect((await readBack(all)).children).toEqual(multi.images.map((m) => m.digest));
    expect((await readBack(`docker://${host}/team/single:1.0`)).digest).toBe(single.top.digest);
  });

  test("its blob route takes sha256 and sha512 digests, nothing else", () => {
    const blob = new RegExp(/@blob path_regexp blob (\S+)/.exec(readFileSync(join(dir, "Caddyfile"), "utf8"))![1]!);
    expect(blob.exec(`/v2/team/single/blobs/sha256:${"a".repeat(64)}`)?.[1]).toBe(`sha256:${"a".repeat(64)}`);
    expect(blob.exec(`/v2/team/single/blobs/sha512:${"b".repeat(128)}`)?.[1]).toBe(`sha512:${"b".repeat(128)}`);
    expect(blob.test("/v2/team/single/blobs/sha256:../../etc/passwd")).toBe(false);
  });
});

describe("mirror: bad input and interruption", () => {
  const dir = tmpDir();

  test("a tag pattern mirrors every matching tag under its own tag; a pattern that matches nothing is that source's error", async () => {
    for (const [tag, seed] of [["1.0", 911], ["1.1", 912], ["2.0", 913]] as const) await writeImage(parseImageRef(`oci:${join(dir, "many")}:${tag}`), randomImage({ seed }));
    const result = await stevedore(["mirror", "--json", `oci:${join(dir, "many")}:1.*=team/many`, `oci:${join(dir, "many")}:9.*=team/none`, "--to", join(dir, "patterned")]);
    expect(result.exitCode).toBe(1);
    const lines = JSON.parse(result.stdout) as { source: string; destination: string; error?: string }[];
    expect(lines.filter((l) => !l.error).map((l) => l.destination.split(":").at(-1))).toEqual(["1.0", "1.1"]);
    expect(lines.find((l) => l.error)?.error).toContain('matches "9.*"');
    expect((await Bun.file(join(dir, "patterned/v2/team/many/tags/list")).json()).tags).toEqual(["1.0", "1.1"]);
  });

  test("a directory that is not a static tree, or a file, is refused (exit 2)", async () => {
    const image = randomImage({ seed: 901 });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:x`), image);
    mkdirSync(join(dir, "plain"));
    writeFileSync(join(dir, "plain", "notes.txt"), "mine");
    writeFileSync(join(dir, "file"), "x");
    for (const target of [join(dir, "plain"), join(dir, "file")]) {
      const result = await stevedore(["mirror", `oci:${join(dir, "src")}:x=a/b`, "--to", target]);
      expect(result.exitCode).toBe(Exit.usage);
      expect(result.stderr.trim().split("\n").at(-1)).toMatch(/not a static tree|not a directory/);
    }
    expect(existsSync(join(dir, "plain", "v2"))).toBe(false);
  });

  test("a source without a repository name must be given one", async () => {
    const result = await stevedore(["mirror", `oci:${join(dir, "src")}:x`, "--to", join(dir, "tree")]);
    expect(result.exitCode).toBe(Exit.usage);
    expect(result.stderr).toContain("=NAME[:TAG]");
  });

  test("a mirror killed mid-copy leaves every tag that was visible before still pullable", async () => {
    const tree = join(dir, "killed");
    const first = randomImage({ layers: 1, seed: 902 });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:first`), first);
    expect((await stevedore(["mirror", "-q", `oci:${join(dir, "src")}:first=app/one:v1`, "--to", tree])).exitCode).toBe(0);
    const big = randomImage({ layers: 4, size: 24 << 20, seed: 903, gzip: false });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:big`), big);
    const proc = Bun.spawn([binary, "mirror", "-q", `oci:${join(dir, "src")}:big=app/one:v1`, "--to", tree], { stderr: "pipe" });
    await Bun.sleep(150);
    proc.kill("SIGKILL");
    await proc.exited;
    expect((await readBack(`static:${tree}/app/one:v1`)).digest).toBeOneOf([first.top.digest, big.top.digest]);
  });
});
