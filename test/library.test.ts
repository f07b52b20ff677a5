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
