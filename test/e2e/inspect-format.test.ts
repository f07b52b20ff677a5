import { afterAll, beforeAll, expect, test } from "bun:test";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { type TestRegistry, startRegistry } from "../helpers/registry.ts";

const skopeo = requirePeer("skopeo");
let registry: TestRegistry;
const ref = () => `docker://${registry.host}/format/app:1.0`;

beforeAll(async () => {
  registry = await startRegistry("none");
  await writeImage(parseImageRef(ref()), randomImage({ seed: 1801 }));
});
afterAll(() => registry?.stop());

test("inspect --format prints what skopeo inspect --format prints, for the templates scripts use", async () => {
  const templates = ["{{.Digest}}", "{{.Architecture}}/{{.Os}}", "{{.Labels}}", "{{.Env}}", "{{.Layers}}", "{{.RepoTags}}", '{{index .Labels "org.example.seed"}}', "{{.Labels.missing}}", "digest={{.Digest}} name={{.Name}}"];
  for (const template of templates) {
    const ours = await stevedore(["inspect", "--format", template, ref()]);
    const theirs = await run([skopeo, "inspect", "--tls-verify=false", "--format", template, ref()]);
    expect(ours.stdout).toBe(theirs.stdout);
  }
});

test("{{json .Field}} prints JSON with sorted keys; an action it cannot read is a usage error", async () => {
  expect((await stevedore(["inspect", "--format", "{{json .Labels}}", ref()])).stdout).toBe('{"org.example.seed":"1801"}\n');
  const bad = await stevedore(["inspect", "--format", "{{range .Layers}}x{{end}}", ref()]);
  expect(bad.exitCode).toBe(Exit.usage);
});
