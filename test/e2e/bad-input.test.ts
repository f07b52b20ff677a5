import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { Exit } from "../../src/core/errors.ts";
import { TarWriter } from "../../src/archive/tar-writer.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { artifactFor } from "../helpers/artifact.ts";
import { tmpDir } from "../helpers/tmp.ts";

/**
 * What a reader of the layout can see: index.json's bytes, and any file that is not a whole,
 * verified blob (temporaries, corrupt blobs). A failed copy may leave verified blobs nothing
 * references (as skopeo does), never a new reference or a partial file.
 */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = { "index.json": digestOf(readFileSync(join(root, "index.json"))) };
  for (const name of readdirSync(join(root, "blobs/sha256"))) {
    const bytes = readFileSync(join(root, "blobs/sha256", name));
    if (digestOf(bytes) !== `sha256:${name}`) out[name] = "not a whole verified blob";
  }
  return out;
}

function expectOneLineError(result: { exitCode: number; stderr: string }, code: number, fragment: string | RegExp) {
  expect(result.exitCode).toBe(code);
  const lines = result.stderr.trim().split("\n");
  expect(lines.at(-1)).toMatch(fragment);
  expect(result.stderr).not.toContain("    at ");
}

describe("bad input: one line on stderr, a documented exit code, the destination unchanged", () => {
  const dir = tmpDir();

  async function sourceAndDestination(name: string) {
    const src = join(dir, `${name}-src`);
    const dst = join(dir, `${name}-dst`);
    await writeImage(parseImageRef(`oci:${src}:app`), randomImage({ layers: 2, size: 100_000, seed: 7 }));
    await writeImage(parseImageRef(`oci:${dst}:old`), randomImage({ layers: 1, seed: 8 }));
    return { src, dst, before: snapshot(dst) };
  }

  const largestBlob = (layout: string) => {
    const blobs = join(layout, "blobs/sha256");
    return join(blobs, readdirSync(blobs).sort((a, b) => Bun.file(join(blobs, b)).size - Bun.file(join(blobs, a)).size)[0]!);
  };

  test("a corrupted blob fails the copy naming the blob (exit 5)", async () => {
    const { src, dst, before } = await sourceAndDestination("corrupt");
    const blob = largestBlob(src);
    const bytes = readFileSync(blob);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(blob, bytes);
    const result = await stevedore(["copy", "-q", `oci:${src}:app`, `oci:${dst}:app`]);
    expectOneLineError(result, Exit.integrity, /blob sha256:[0-9a-f]{12}: digest mismatch/);
    expect(snapshot(dst)).toEqual(before);
  });

  test("a truncated blob fails the copy with a size mismatch (exit 5)", async () => {
    const { src, dst, before } = await sourceAndDestination("truncated");
    const blob = largestBlob(src);
    writeFileSync(blob, readFileSync(blob).subarray(0, 1000));
    const result = await stevedore(["copy", "-q", `oci:${src}:app`, `oci:${dst}:app`]);
    expectOneLineError(result, Exit.integrity, /size mismatch \(got 1000 of \d+ bytes\)/);
    expect(snapshot(dst)).toEqual(before);
  });

  test("a manifest that is not JSON is refused (exit 5)", async () => {
    const { src, dst, before } = await sourceAndDestination("notjson");
    const garbage = new TextEncoder().encode("this is not json {");
    const digest = digestOf(garbage);
    writeFileSync(join(src, "blobs/sha256", digest.slice(7)), garbage);
    const index = JSON.parse(readFileSync(join(src, "index.json"), "utf8"));
    index.manifests[0] = { ...index.manifests[0], digest, size: garbage.byteLength };
    writeFileSync(join(src, "index.json"), JSON.stringify(index));
    const result = await stevedore(["copy", "-q", `oci:${src}:app`, `oci:${dst}:app`]);
    expectOneLineError(result, Exit.integrity, /manifest is not valid JSON/);
    expect(snapshot(dst)).toEqual(before);
  });

  test("a layout without index.json is not found (exit 3)", async () => {
    const { src, dst, before } = await sourceAndDestination("noindex");
    rmSync(join(src, "index.json"));
    const result = await stevedore(["copy", "-q", `oci:${src}:app`, `oci:${dst}:app`]);
    expectOneLineError(result, Exit.notFound, /no index.json \(not an OCI image layout\)/);
    expect(snapshot(dst)).toEqual(before);
  });

  test("an unknown tag is not found (exit 3)", async () => {
    const { src, dst } = await sourceAndDestination("notag");
    expectOneLineError(await stevedore(["copy", "-q", `oci:${src}:nope`, `oci:${dst}:x`]), Exit.notFound, /oci:.*:nope: no such image/);
  });

  test("an unknown transport prefix is a usage error (exit 2)", async () => {
    expectOneLineError(await stevedore(["copy", "foo:bar", `oci:${dir}/x`]), Exit.usage, /unknown transport "foo" in "foo:bar"/);
    expectOneLineError(await stevedore(["inspect", "alpine"]), Exit.usage, /no transport prefix.*docker:\/\/alpine/);
  });

  test("a missing argument is a usage error (exit 2)", async () => {
    expectOneLineError(await stevedore(["copy", "oci:/x"]), Exit.usage, /DST/);
  });

  test.each(["dir", "oci"])("writing %s: into a non-empty directory that is no image layout is refused (exit 2)", async (transport) => {
    const { src } = await sourceAndDestination(`plain-${transport}`);
    const plain = join(dir, `plain-${transport}`);
    Bun.spawnSync(["mkdir", "-p", plain]);
    writeFileSync(join(plain, "notes.txt"), "mine");
    const result = await stevedore(["copy", "-q", `oci:${src}:app`, `${transport}:${plain}`]);
    expectOneLineError(result, Exit.usage, /refusing to write into a non-empty directory/);
    expect(readdirSync(plain)).toEqual(["notes.txt"]);
  });

  test("an archive with a ../ entry is refused before anything is written (exit 5)", async () => {
    const { dst, before } = await sourceAndDestination("traversal");
    const archive = join(dir, "evil.tar");
    const chunks: Uint8Array[] = [];
    const writer = new TarWriter({ write: (c: Uint8Array) => chunks.push(new Uint8Array(c)) });
    const header = { type: "file" as const, mode: 0o644, uid: 0, gid: 0, mtime: 0 };
    await writer.add({ ...header, path: "oci-layout", size: 30 }, new TextEncoder().encode('{"imageLayoutVersion":"1.0.0"}'));
    await writer.add({ ...header, path: "../../evil", size: 4 }, new TextEncoder().encode("evil"));
    await writer.finish();
    writeFileSync(archive, Buffer.concat(chunks));
    for (const transport of ["oci-archive", "docker-archive"]) {
      const result = await stevedore(["copy", "-q", `${transport}:${archive}`, `oci:${dst}:app`]);
      expectOneLineError(result, Exit.integrity, /tar entry "..\/..\/evil": path escapes the root/);
    }
    expect(snapshot(dst)).toEqual(before);
  });

  test("a file that is not a tar archive is refused (exit 5)", async () => {
    const notTar = join(dir, "not.tar");
    writeFileSync(notTar, "hello, I am not a tar archive".repeat(40));
    expectOneLineError(await stevedore(["inspect", `oci-archive:${notTar}`]), Exit.integrity, /checksum mismatch/);
  });

  test("--debug adds the stack trace", async () => {
    const result = await stevedore(["copy", "--debug", `oci:${dir}/none:x`, `oci:${dir}/y`]);
    expect(result.exitCode).toBe(Exit.notFound);
    expect(result.stderr).toContain("    at ");
  });
});

describe("bad flags and arguments of the image-writing commands: one line, a documented exit code, nothing written", () => {
  const dir = tmpDir();
  const src = `oci:${join(dir, "src")}:app`;
  const artifact = `oci:${join(dir, "artifact")}:sbom`;
  const written = (name: string) => readdirSync(dir).includes(name);

  beforeAll(async () => {
    const image = randomImage({ layers: 1, seed: 21 });
    await writeImage(parseImageRef(src), image);
    await writeImage(parseImageRef(artifact), artifactFor(image.top, "application/spdx+json", "{}"));
  });

  test.each([
    ["a --tls-verify that is not a boolean", ["copy", "-q", "--tls-verify", "maybe", src, `oci:${join(dir, "out-tls")}:x`], Exit.usage, '--tls-verify takes true or false, not "maybe"', "out-tls"],
    ["flatten with two platforms", ["flatten", "-q", "--platform", "linux/amd64", "--platform", "linux/arm64", "-t", `oci:${join(dir, "out-flat")}:x`, src], Exit.usage, "flatten takes one --platform", "out-flat"],
    ["rebase without its bases", ["rebase", "-q", "-t", `oci:${join(dir, "out-rebase")}:x`, src], Exit.usage, "rebase needs --old-base, --new-base and -t DST", "out-rebase"],
    ["an index of an artifact, whose config names no platform", ["index", "-q", "-t", `oci:${join(dir, "out-index")}:x`, artifact], Exit.usage, "its config names no platform", "out-index"],
    ["an artifact converted to Docker v2s2", ["copy", "-q", "--format", "v2s2", artifact, `oci:${join(dir, "out-v2s2")}:x`], Exit.failed, "has no Docker v2s2 image form", "out-v2s2"],
    ["a blob the image does not name", ["blob", "-o", join(dir, "out-blob"), src, `sha256:${"0".repeat(64)}`], Exit.notFound, "names no blob sha256:0000", "out-blob"],
    ["a sync spec that does not exist", ["sync", join(dir, "no-spec.txt")], Exit.usage, "no-spec.txt: no such spec file", "no-spec.txt"],
    ["--preserve-digests into docker-archive, which rewrites the manifest", ["copy", "-q", "--preserve-digests", src, `docker-archive:${join(dir, "out-preserve.tar")}:app:1`], Exit.failed, "stores layers uncompressed, so the manifest's digest changes: it cannot be preserved", "out-preserve.tar"],
    ["--preserve-digests with --format", ["copy", "-q", "--preserve-digests", "--format", "v2s2", src, `oci:${join(dir, "out-preserve-format")}:x`], Exit.usage, "--preserve-digests cannot go with --format", "out-preserve-format"],
    ["--multi-arch index-only", ["copy", "-q", "--multi-arch", "index-only", src, `oci:${join(dir, "out-multi-arch")}:x`], Exit.usage, "index-only, which copies an index without its images, is not supported", "out-multi-arch"],
    ["--sign-passphrase-file without a key", ["copy", "-q", "--sign-passphrase-file", join(dir, "pass"), src, `oci:${join(dir, "out-passphrase")}:x`], Exit.usage, "--sign-passphrase-file goes with --sign-by-sigstore-private-key", "out-passphrase"],
    ["sync with an unknown --src", ["sync", "--src", "ftp", "--dest", "docker", join(dir, "spec"), "localhost:5000/x"], Exit.usage, '--src takes docker, yaml or dir, not "ftp"', "spec"],
    ["sync in skopeo's form without its destination", ["sync", "--src", "yaml", "--dest", "dir", join(dir, "no.yml")], Exit.usage, "missing DESTINATION", "no.yml"],
    ["serve --proxy naming no registry host", ["serve", "--memory", "--addr", "127.0.0.1:0", "--proxy", "not a host"], Exit.usage, '"not a host" is not a registry host', "not a host"],
    ["serve --proxy-creds without --proxy, which would be ignored", ["serve", "--memory", "--addr", "127.0.0.1:0", "--proxy-creds", "alice:s3cret"], Exit.usage, "--proxy-creds is for a pull-through cache: give --proxy HOST with it", "s3cret"],
    ["serve --proxy-check-timeout that is no whole number of seconds", ["serve", "--memory", "--addr", "127.0.0.1:0", "--proxy", "registry.example", "--proxy-check-timeout", "0.5s"], Exit.usage, '--proxy-check-timeout needs a positive whole number, not "0.5s"', "0.5s"],
    ["serve --anonymous-read without users, which would leave pushes and deletes open", ["serve", "--memory", "--addr", "127.0.0.1:0", "--anonymous-read"], Exit.usage, "--anonymous-read needs --htpasswd", "anonymous"],
    ["serve --token-realm that is no http(s) URL", ["serve", "--memory", "--addr", "127.0.0.1:0", "--htpasswd", join(dir, "no-users"), "--anonymous-read", "--token-realm", "ftp://r.example/token"], Exit.usage, "expected an http(s) URL", "r.example"],
    ["serve --token-realm without --anonymous-read, which issues no tokens", ["serve", "--memory", "--addr", "127.0.0.1:0", "--token-realm", "https://r.example/token"], Exit.usage, "--token-realm goes with --anonymous-read", "r.example"],
    ["serve with a TLS certificate file that is not there", ["serve", "--memory", "--addr", "127.0.0.1:0", "--tls-cert", join(dir, "no.crt"), "--tls-key", join(dir, "no.key")], Exit.notFound, `${join(dir, "no.crt")}: no such file`, "no.crt"],
  ] as const)("%s", async (_, args, code, message, output) => {
    const result = await stevedore(args);
    expectOneLineError(result, code, message);
    expect(written(output)).toBe(false);
  });

  test.each([
    ["a source with no name", [`${src}=team/app`, `dir:${join(dir, "no-name")}`], `dir:${join(dir, "no-name")}: has no repository name; give it one as dir:${join(dir, "no-name")}=NAME[:TAG]`],
    ["a tag pattern given a tag", [`${src}=team/app`, `${src.replace(":app", ":a*")}=team/app:1`], ":a*=team/app:1: a tag pattern keeps each tag; give a name only (=NAME)"],
  ] as const)("mirror refuses %s before copying any source", async (_, sources, message) => {
    const result = await stevedore(["mirror", "-q", "--to", join(dir, "tree"), ...sources]);
    expectOneLineError(result, Exit.usage, message);
    expect(written("tree")).toBe(false);
  });
});

describe("CLI conventions", () => {
  test("--version prints the version on stdout", async () => {
    const result = await stevedore(["--version"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^stevedore \d+\.\d+\.\d+\n$/);
  });

  test.each(["copy", "inspect", "tags", "tag", "delete", "login", "logout", "catalog", "serve", "gc", "mirror", "sync", "sign", "verify", "generate-key-pair", "attach", "referrers", "digest", "config", "ls", "cat", "export", "sbom", "mutate", "append", "rebase", "diff", "flatten", "index", "blob", "validate", "completion"])("%s --help shows usage, examples and exit codes", async (cmd) => {
    const result = await stevedore([cmd, "--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`stevedore ${cmd}`);
    expect(result.stdout).toMatch(/Examples:\n {2}.*stevedore /);
    expect(result.stdout).toContain("Exit codes:");
    expect(result.stdout).not.toContain("\x1b[");
  });
});

describe("skopeo's --multi-arch and --preserve-digests", () => {
  const dir = tmpDir();
  const multi = randomImage({ seed: 31, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }, { os: "linux", architecture: "arm", variant: "v7" }] });
  const src = `oci:${join(dir, "src")}:multi`;
  beforeAll(() => writeImage(parseImageRef(src), multi));

  test("--multi-arch all copies the index whole, --preserve-digests agreeing; one platform keeps that image's digest", async () => {
    const all = await stevedore(["copy", "--json", "--multi-arch", "all", "--preserve-digests", src, `oci:${join(dir, "all")}:x`]);
    expect(JSON.parse(all.stdout).digest).toBe(multi.top.digest);
    const one = await stevedore(["copy", "--json", "--preserve-digests", "--platform", "linux/arm64", src, `oci:${join(dir, "one")}:x`]);
    expect(JSON.parse(one.stdout).digest).toBe(multi.images[1]!.digest);
  });

  test("digest --platform prints that platform's image digest (crane digest --platform); an absent platform is exit 3", async () => {
    expect((await stevedore(["digest", src])).stdout).toBe(`${multi.top.digest}\n`);
    expect((await stevedore(["digest", "--platform", "linux/arm64", src])).stdout).toBe(`${multi.images[1]!.digest}\n`);
    expect((await stevedore(["digest", "--platform", "linux/arm/v7", src])).stdout).toBe(`${multi.images[2]!.digest}\n`);
    expectOneLineError(await stevedore(["digest", "--platform", "linux/s390x", src]), Exit.notFound, "no image for linux/s390x");
    // an index of one image: a platform asked for by name must still match
    const single = randomImage({ seed: 32, platforms: [{ os: "linux", architecture: "amd64" }] });
    await writeImage(parseImageRef(`oci:${join(dir, "single")}:x`), single);
    expect((await stevedore(["index", "-q", "-t", `oci:${join(dir, "one-entry")}:x`, `oci:${join(dir, "single")}:x`])).exitCode).toBe(0);
    expectOneLineError(await stevedore(["digest", "--platform", "linux/arm64", `oci:${join(dir, "one-entry")}:x`]), Exit.notFound, "no image for linux/arm64");
    expect((await stevedore(["digest", "--platform", "linux/amd64", `oci:${join(dir, "one-entry")}:x`])).stdout).toBe(`${single.top.digest}\n`);
  });

  test("--preserve-digests refuses a smaller index of chosen platforms (a new manifest), writing nothing", async () => {
    const result = await stevedore(["copy", "-q", "--preserve-digests", "--platform", "linux/amd64", "--platform", "linux/arm64", src, `oci:${join(dir, "two")}:x`]);
    expectOneLineError(result, Exit.failed, "an index of the chosen platforms is a new manifest, so its digest cannot be preserved");
    // no image and no blob: at most the empty layout the destination opened
    expect((await stevedore(["tags", `oci:${join(dir, "two")}`])).stdout).toBe("");
    expect(readdirSync(join(dir, "two"), { recursive: true, encoding: "utf8" }).filter((f) => f.startsWith("blobs/sha256/"))).toEqual([]);
  });
});
