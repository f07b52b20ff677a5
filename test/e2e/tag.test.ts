/** `stevedore tag`: tags added where the image is, as crane tag adds them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Exit } from "../../src/core/errors.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { readBack } from "../helpers/read-image.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const multi = randomImage({ seed: 1501, platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
let server: RunningServe;

beforeAll(async () => {
  server = await startServe(["--memory"]);
  await writeImage(parseImageRef(`docker://${server.host}/team/app:build-42`), multi);
});
afterAll(() => server?.stop());

describe("tag", () => {
  test("an index gets two more tags in its registry: the same digest under each, only manifests sent, skopeo agrees", async () => {
    const tagged = await stevedore(["tag", `docker://${server.host}/team/app:build-42`, "latest", "stable"]);
    expect(tagged.stdout.trim()).toBe(multi.top.digest);
    expect((await stevedore(["tags", `docker://${server.host}/team/app`])).stdout.trim().split("\n").sort()).toEqual(["build-42", "latest", "stable"]);
    expect((await readBack(`docker://${server.host}/team/app:stable`)).digest).toBe(multi.top.digest);
    const skopeo = requirePeer("skopeo");
    const inspected = JSON.parse((await run([skopeo, "inspect", "--raw", "--tls-verify=false", `docker://${server.host}/team/app:latest`])).stdout || "{}");
    expect(inspected.manifests?.length).toBe(2);
    await server.stop();
    const log = (await server.stderr()).split("\n");
    // the tag command's requests: from its first manifest PUT to the tags listing this test made next
    const tagging = log.slice(log.findIndex((l) => l.includes("PUT /v2/team/app/manifests/latest")), log.findIndex((l) => l.includes("/tags/list")));
    expect(tagging.filter((l) => l.includes("/manifests/")).length).toBeGreaterThanOrEqual(2);
    expect(tagging.filter((l) => l.includes("/blobs/"))).toEqual([]); // no blob read, checked or sent
    server = await startServe(["--memory"]);
  });

  test("in a layout, by digest", async () => {
    const layout = `oci:${join(dir, "layout")}`;
    await writeImage(parseImageRef(`${layout}:1.0`), multi);
    expect((await stevedore(["tag", "-q", `${layout}:@${multi.top.digest}`, "release"])).exitCode).toBe(0);
    expect((await stevedore(["tags", layout])).stdout.trim().split("\n").sort()).toEqual(["1.0", "release"]);
    expect((await readBack(`${layout}:release`)).digest).toBe(multi.top.digest);
  });

  test("bad input: a tag outside the grammar (exit 2), an unknown image (exit 3), a transport without tags (exit 2), no tag (exit 2)", async () => {
    const layout = `oci:${join(dir, "layout")}`;
    expect((await stevedore(["tag", `${layout}:1.0`, "not a tag"])).exitCode).toBe(Exit.usage);
    expect((await stevedore(["tag", `${layout}:nope`, "x"])).exitCode).toBe(Exit.notFound);
    expect((await stevedore(["tag", `dir:${join(dir, "d")}`, "x"])).exitCode).toBe(Exit.usage);
    expect((await stevedore(["tag", `${layout}:1.0`])).exitCode).toBe(Exit.usage);
    expect((await stevedore(["tags", layout])).stdout.trim().split("\n").sort()).toEqual(["1.0", "release"]);
  });
});
