import { expect, test } from "bun:test";
import * as stevedore from "../src/index.ts";
import { randomImage, writeImage } from "./helpers/random-image.ts";
import { tmpDir } from "./helpers/tmp.ts";

test("the library façade copies and inspects without the CLI", async () => {
  const dir = tmpDir();
  const image = randomImage({ seed: 5 });
  await writeImage(stevedore.parseImageRef(`oci:${dir}/a:x`), image);
  const result = await stevedore.copy(stevedore.parseImageRef(`oci:${dir}/a:x`), stevedore.parseImageRef(`dir:${dir}/b`), { fsync: false });
  expect(result.digest).toBe(image.top.digest);
  expect((await stevedore.inspect(stevedore.parseImageRef(`dir:${dir}/b`))).Digest).toBe(image.top.digest);
});

test("the façade serves a registry in-process and pushes, signs and verifies through it", async () => {
  const dir = tmpDir();
  const server = await stevedore.serve({ memory: true, addr: "127.0.0.1:0" });
  try {
    const image = randomImage({ seed: 6 });
    await writeImage(stevedore.parseImageRef(`oci:${dir}/src:x`), image);
    const ref = stevedore.parseImageRef(`docker://${server.url.host}/lib/app:1`);
    await stevedore.copy(stevedore.parseImageRef(`oci:${dir}/src:x`), ref, { fsync: false });
    const { privatePem, publicPem } = stevedore.generateKeyPair("");
    await stevedore.sign(ref, { key: stevedore.parsePrivateKey(privatePem, "", "key") });
    const verified = await stevedore.verify(ref, { keys: [stevedore.parsePublicKey(publicPem, "pub")] });
    expect(verified).toHaveLength(1);
  } finally {
    await server.stop();
  }
});
