import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RegistryClient } from "../../src/registry/client.ts";
import { listReferrers, referrersTag } from "../../src/registry/referrers.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { stevedore } from "../helpers/cli.ts";
import { artifactFor, cosignStyleSignature } from "../helpers/artifact.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { startRegistry } from "../helpers/registry.ts";
import { startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const kinds = [
  ["a registry without the Referrers API (docker-registry 2.8: fallback tag)", false],
  ["a registry with the Referrers API (stevedore serve)", true],
] as const;

for (const [kind, hasApi] of kinds) describe(`copy --referrers against ${kind}`, () => {
  let registry: { host: string; stop(): unknown };
  beforeAll(async () => {
    registry = hasApi ? await startServe(["--memory"]) : await startRegistry("none");
  });
  afterAll(() => registry?.stop());
  const dir = tmpDir();
  const image = randomImage({ layers: 1, seed: 31 });
  const sbom = artifactFor(image.top, "application/spdx+json", '{"spdxVersion":"SPDX-2.3"}');
  const attestation = artifactFor(sbom.top, "application/vnd.in-toto+json", '{"_type":"https://in-toto.io/Statement/v1"}');
  const signature = cosignStyleSignature(image.top);

  test("pushing an artifact with a subject keeps the sha256-<hex> index up to date", async () => {
    const repo = `${registry.host}/app/main`;
    await writeImage(parseImageRef(`docker://${repo}:v1`), image);
    await writeImage(parseImageRef(`docker://${repo}@${sbom.top.digest}`), sbom);
    await writeImage(parseImageRef(`docker://${repo}@${attestation.top.digest}`), attestation);
    await writeImage(parseImageRef(`docker://${repo}:${referrersTag(image.top.digest)}.sig`), signature);
    const client = new RegistryClient(registry.host, "app/main");
    expect((await listReferrers(client, image.top.digest)).map((d) => [d.digest, d.artifactType])).toEqual([[sbom.top.digest, "application/spdx+json"]]);
    expect(await listReferrers(client, image.top.digest, "application/other")).toEqual([]);
    // with the API, nothing needs the fallback tag; without it, the tag is what lists the SBOM
    const fallback = await fetch(`http://${registry.host}/v2/app/main/manifests/${referrersTag(image.top.digest)}`, { method: "HEAD", headers: { Accept: "application/vnd.oci.image.index.v1+json" } });
    expect(fallback.status).toBe(hasApi ? 404 : 200);
  });

  test("registry to registry: the SBOM, its attestation and the cosign signature come along", async () => {
    const result = await stevedore(["copy", "-q", "--json", "--referrers", `docker://${registry.host}/app/main:v1`, `docker://${registry.host}/app/mirror:v1`]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout).referrers).toBe(3);
    const client = new RegistryClient(registry.host, "app/mirror");
    expect((await listReferrers(client, image.top.digest)).map((d) => d.digest)).toEqual([sbom.top.digest]);
    expect((await listReferrers(client, sbom.top.digest)).map((d) => d.digest)).toEqual([attestation.top.digest]);
    expect((await readBack(`docker://${registry.host}/app/mirror:${referrersTag(image.top.digest)}.sig`)).digest).toBe(signature.top.digest);
  });

  test("registry to an OCI layout: referrers become untagged entries, listed again when copied onwards", async () => {
    const layout = join(dir, "layout");
    const result = await stevedore(["copy", "-q", "--json", "--referrers", `docker://${registry.host}/app/main:v1`, `oci:${layout}:v1`]);
    expect(JSON.parse(result.stdout).referrers).toBe(3);
    const onwards = await stevedore(["copy", "-q", "--json", "--referrers", `oci:${layout}:v1`, `docker://${registry.host}/app/from-layout:v1`]);
    expect(JSON.parse(onwards.stdout).referrers).toBe(3);
    const client = new RegistryClient(registry.host, "app/from-layout");
    expect((await listReferrers(client, image.top.digest)).map((d) => d.digest)).toEqual([sbom.top.digest]);
  });

  test("without --referrers nothing else is copied", async () => {
    const result = await stevedore(["copy", "--json", `docker://${registry.host}/app/main:v1`, `docker://${registry.host}/app/plain:v1`]);
    expect(JSON.parse(result.stdout).referrers).toBe(0);
    expect(await listReferrers(new RegistryClient(registry.host, "app/plain"), image.top.digest)).toEqual([]);
  });
});
