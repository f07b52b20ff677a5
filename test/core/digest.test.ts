import { describe, expect, test } from "bun:test";
import { digestAlgorithm, digestHex, digestOf, parseDigest } from "../../src/core/digest.ts";
import { UsageError } from "../../src/core/errors.ts";

const hex64 = "a".repeat(64);

describe("parseDigest", () => {
  test.each([`sha256:${hex64}`, `sha512:${"0".repeat(128)}`])("accepts %s", (text) => {
    expect(String(parseDigest(text))).toBe(text);
  });

  test.each([
    ["sha256:abc", "needs 64 hex"],
    [`sha256:${"A".repeat(64)}`, "invalid digest"],
    [`sha512:${hex64}`, "needs 128 hex"],
    [`md5:${hex64}`, 'unsupported digest algorithm "md5"'],
    [`sha256:${hex64}/../../etc`, "invalid digest"],
    [hex64, "invalid digest"],
    ["", "invalid digest"],
    [`sha256:${hex64}\n`, "invalid digest"],
  ])("refuses %p", (text, fragment) => {
    expect(() => parseDigest(text)).toThrow(UsageError);
    expect(() => parseDigest(text)).toThrow(fragment);
  });

  test("digestOf hashes the exact bytes and splits into algorithm and hex", () => {
    const d = digestOf(new TextEncoder().encode('{"schemaVersion":2}'));
    expect(digestAlgorithm(d)).toBe("sha256");
    expect(digestHex(d)).toBe(new Bun.CryptoHasher("sha256").update('{"schemaVersion":2}').digest("hex"));
    expect(digestOf("", "sha512")).toStartWith("sha512:cf83e135");
  });
});
