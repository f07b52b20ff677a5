import { expect, test } from "bun:test";
import { UsageError } from "../../src/core/errors.ts";
import { formatPlatform, parsePlatform, platformMatches } from "../../src/core/platform.ts";

test.each([
  ["linux/amd64", "linux/amd64"],
  ["linux/arm64/v8", "linux/arm64"],
  ["linux/arm", "linux/arm/v7"],
  ["linux/x86_64", "linux/amd64"],
  ["windows/amd64", "windows/amd64"],
])("parsePlatform(%s) normalises to %s", (text, expected) => {
  expect(formatPlatform(parsePlatform(text))).toBe(expected);
});

test.each(["linux", "linux/", "Linux/AMD64", "a/b/c/d"])("parsePlatform refuses %p", (text) => {
  expect(() => parsePlatform(text)).toThrow(UsageError);
});

test("arm64 matches an index entry with or without v8; arm/v6 does not match arm/v7", () => {
  expect(platformMatches(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64", variant: "v8" })).toBe(true);
  expect(platformMatches(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v7" })).toBe(false);
  expect(platformMatches(parsePlatform("linux/amd64"), undefined)).toBe(false);
});
