import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestOf } from "../../src/core/digest.ts";
import { Exit } from "../../src/core/errors.ts";
import { encodeManifest, parseManifest } from "../../src/core/manifest.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { startRegistry } from "../helpers/registry.ts";
import { startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const openssl = requirePeer("openssl");
const dir = tmpDir();
const env = { COSIGN_PASSWORD: "correct horse" };
const key = join(dir, "cosign.key");
const pub = join(dir, "cosign.pub");

beforeAll(async () => {
  const made = await stevedore(["generate-key-pair", "--output-key-prefix", join(dir, "cosign")], { env });
  if (made.exitCode !== 0) throw new Error(made.stderr);
  await stevedore(["generate-key-pair", "--output-key-prefix", join(dir, "other")], { env });
});

const targets: [string, () => Promise<{ prefix: string; stop(): unknown }>][] = [
  ["an oci: layout", async () => ({ prefix: `oci:${join(dir, "layout")}:`, stop: () => {} })],
  ["docker-registry (fallback tag)", async () => {
    const r = await startRegistry("none");
    return { prefix: `docker://${r.host}/signed/app:`, stop: r.stop };
  }],
  ["stevedore serve (Referrers API)", async () => {
    const s = await startServe(["--memory"]);
    return { prefix: `docker://${s.host}/signed/app:`, stop: s.stop };
  }],
];

for (const [name, start] of targets) {
  describe(`sign and verify against ${name}`, () => {
    let target: { prefix: string; stop(): unknown };
    beforeAll(async () => {
      target = await start();
    });
    afterAll(() => target?.stop());

    test.each(["legacy", "referrers", "bundle"])("%s: sign then verify passes; another key, a missing annotation and an unsigned image fail", async (format) => {
      const image = randomImage({ seed: 60 + ["legacy", "referrers", "bundle"].indexOf(format) });
      const ref = `${target.prefix}${format}`;
      await writeImage(parseImageRef(ref), image);
      const unsigned = await stevedore(["verify", "--key", pub, ref]);
      expect(unsigned.exitCode).toBe(Exit.integrity);
      expect(unsigned.stderr).toContain("no signatures found");
      const signed = await stevedore(["sign", "-q", "--key", key, "--format", format, "-a", "pipeline=ci", ref], { env });
      expect(signed.exitCode).toBe(0);
      const ok = await stevedore(["verify", "-q", "--key", pub, "-a", "pipeline=ci", ref]);
      expect(ok.exitCode).toBe(0);
      const payload = JSON.parse(ok.stdout)[0];
      if (format === "bundle") expect(payload.subject[0].digest.sha256).toBe(image.top.digest.slice(7));
      else expect(payload.critical.image["docker-manifest-digest"]).toBe(image.top.digest);
      const otherKey = await stevedore(["verify", "--key", join(dir, "other.pub"), ref]);
      expect(otherKey.exitCode).toBe(Exit.integrity);
      expect(otherKey.stderr).toContain("does not verify with the key");
      const annotation = await stevedore(["verify", "--key", pub, "-a", "pipeline=prod", ref]);
      expect(annotation.exitCode).toBe(Exit.integrity);
      expect(annotation.stderr).toContain("annotation pipeline=prod is missing");
    });

    test("copy --sign-by-sigstore-private-key signs what it copied (skopeo's flags); a wrong passphrase copies nothing", async () => {
      const image = randomImage({ seed: 75 });
      const origin = `oci:${join(dir, `copy-sign-origin-${name.replace(/\W+/g, "-")}`)}:v1`;
      await writeImage(parseImageRef(origin), image);
      const passphrase = join(dir, "passphrase");
      writeFileSync(passphrase, `${env.COSIGN_PASSWORD}\nsecond line ignored\n`);
      const copied = await stevedore(["copy", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file", passphrase, origin, `${target.prefix}copy-signed`]);
      expect(copied.exitCode).toBe(0);
      expect(copied.stdout.trim()).toBe(image.top.digest);
      expect((await stevedore(["verify", "-q", "--key", pub, `${target.prefix}copy-signed`])).exitCode).toBe(0);
      writeFileSync(passphrase, "not the password\n");
      const refused = await stevedore(["copy", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file", passphrase, origin, `${target.prefix}not-copied`]);
      expect(refused.exitCode).not.toBe(0);
      expect((await stevedore(["inspect", "--no-tags", `${target.prefix}not-copied`])).exitCode).toBe(Exit.notFound);
    });

    test("a signature moved from another image, or a modified payload, is refused", async () => {
      const a = randomImage({ seed: 71 });
      const b = randomImage({ seed: 72 });
      await writeImage(parseImageRef(`${target.prefix}a`), a);
      await writeImage(parseImageRef(`${target.prefix}b`), b);
      expect((await stevedore(["sign", "-q", "--key", key, `${target.prefix}a`], { env })).exitCode).toBe(0);
      const sigOfA = parseImageRef(`${target.prefix}${a.top.digest.replace(":", "-")}.sig`);
      const source = await sigOfA.openSource();
      const sigManifest = await source.getManifest();
      const parsed = parseManifest(sigManifest);
      if (parsed.kind !== "manifest") throw new Error("fixture");
      const payload = new Uint8Array(await new Response(await source.getBlob(parsed.layers[0]!)).arrayBuffer());
      const config = new Uint8Array(await new Response(await source.getBlob(parsed.config)).arrayBuffer());
      await source.close();
      // replay: A's signature under B's .sig tag
      const replay = { top: sigManifest, images: [sigManifest], blobs: new Map([[parsed.layers[0]!.digest, { desc: parsed.layers[0]!, bytes: payload }], [parsed.config.digest, { desc: parsed.config, bytes: config }]]) };
      await writeImage(parseImageRef(`${target.prefix}${b.top.digest.replace(":", "-")}.sig`), replay);
      const moved = await stevedore(["verify", "--key", pub, `${target.prefix}b`]);
      expect(moved.exitCode).toBe(Exit.integrity);
      expect(moved.stderr).toContain(`signature is for ${a.top.digest}`);
      // tamper: a payload that says B, under A's signature bytes
      const forged = new TextEncoder().encode(new TextDecoder().decode(payload).replace(a.top.digest, b.top.digest));
      const layer = { ...parsed.layers[0]!, digest: digestOf(forged), size: forged.byteLength };
      const manifest = encodeManifest({ schemaVersion: 2, mediaType: sigManifest.mediaType, config: parsed.config, layers: [layer] }, sigManifest.mediaType);
      await writeImage(parseImageRef(`${target.prefix}${b.top.digest.replace(":", "-")}.sig`), { top: manifest, images: [manifest], blobs: new Map([[layer.digest, { desc: layer, bytes: forged }], [parsed.config.digest, { desc: parsed.config, bytes: config }]]) });
      const tampered = await stevedore(["verify", "--key", pub, `${target.prefix}b`]);
      expect(tampered.exitCode).toBe(Exit.integrity);
      expect(tampered.stderr).toContain("does not verify with the key");
    });
  });
}

describe("keys and interoperability without cosign", () => {
  test("openssl verifies stevedore's signature over the exact payload bytes", async () => {
    const image = randomImage({ seed: 81 });
    const ref = `oci:${join(dir, "openssl")}:v1`;
    await writeImage(parseImageRef(ref), image);
    expect((await stevedore(["sign", "-q", "--key", key, ref], { env })).exitCode).toBe(0);
    const source = await parseImageRef(`oci:${join(dir, "openssl")}:${image.top.digest.replace(":", "-")}.sig`).openSource();
    const m = parseManifest(await source.getManifest());
    if (m.kind !== "manifest") throw new Error("fixture");
    const layer = m.layers[0]!;
    writeFileSync(join(dir, "payload"), new Uint8Array(await new Response(await source.getBlob(layer)).arrayBuffer()));
    writeFileSync(join(dir, "sig.der"), Buffer.from(layer.annotations!["dev.cosignproject.cosign/signature"]!, "base64"));
    await source.close();
    const checked = await run([openssl, "dgst", "-sha256", "-verify", pub, "-signature", join(dir, "sig.der"), join(dir, "payload")]);
    expect(checked.stdout.trim()).toBe("Verified OK");
  });

  test("keys made by openssl (SEC1 and PKCS#8) sign, and their public keys verify", async () => {
    const sec1 = join(dir, "ec.pem");
    await run([openssl, "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", sec1]);
    await run([openssl, "pkcs8", "-topk8", "-nocrypt", "-in", sec1, "-out", join(dir, "pkcs8.pem")]);
    await run([openssl, "ec", "-in", sec1, "-pubout", "-out", join(dir, "ec.pub")]);
    for (const [i, k] of [sec1, join(dir, "pkcs8.pem")].entries()) {
      const image = randomImage({ seed: 90 + i });
      const ref = `oci:${join(dir, "openssl-keys")}:k${i}`;
      await writeImage(parseImageRef(ref), image);
      expect((await stevedore(["sign", "-q", "--key", k, ref])).exitCode).toBe(0);
      expect((await stevedore(["verify", "-q", "--key", join(dir, "ec.pub"), ref])).exitCode).toBe(0);
    }
  });

  test("bad keys: not PEM, a wrong password, a P-384 key; and an image that does not exist", async () => {
    const image = randomImage({ seed: 95 });
    const ref = `oci:${join(dir, "bad")}:v1`;
    await writeImage(parseImageRef(ref), image);
    writeFileSync(join(dir, "garbage.key"), "not a key at all");
    const notPem = await stevedore(["sign", "--key", join(dir, "garbage.key"), ref]);
    expect(notPem.exitCode).toBe(Exit.usage);
    expect(notPem.stderr).toContain("not a PEM file");
    const wrong = await stevedore(["sign", "--key", key, ref], { env: { COSIGN_PASSWORD: "wrong" } });
    expect(wrong.exitCode).toBe(Exit.auth);
    expect(wrong.stderr).toContain("wrong password");
    await run([openssl, "ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", join(dir, "p384.pem")]);
    const p384 = await stevedore(["sign", "--key", join(dir, "p384.pem"), ref]);
    expect(p384.exitCode).not.toBe(0);
    expect(p384.stderr).toContain("only ECDSA P-256 keys are supported");
    const missing = await stevedore(["verify", "--key", pub, `oci:${join(dir, "bad")}:nope`]);
    expect(missing.exitCode).toBe(Exit.notFound);
    for (const r of [notPem, wrong, p384, missing]) expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("--recursive signs the index and each of its images", async () => {
    const image = randomImage({ seed: 97, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
    const layout = join(dir, "recursive");
    await writeImage(parseImageRef(`oci:${layout}:multi`), image);
    const signed = await stevedore(["sign", "-q", "--json", "--recursive", "--key", key, `oci:${layout}:multi`], { env });
    expect(JSON.parse(signed.stdout).map((r: { digest: string }) => r.digest)).toEqual([image.top.digest, ...image.images.map((m) => m.digest)]);
    for (const child of image.images) expect((await stevedore(["verify", "-q", "--key", pub, `oci:${layout}:@${child.digest}`])).exitCode).toBe(0);
  });

  test("generate-key-pair refuses to overwrite without --force", async () => {
    const again = await stevedore(["generate-key-pair", "--output-key-prefix", join(dir, "cosign")], { env });
    expect(again.exitCode).toBe(Exit.usage);
    expect(again.stderr).toContain("refusing to overwrite");
  });
});
