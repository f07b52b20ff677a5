import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/core/errors.ts";
import { familiarReference, formatReference, parseReference, parseRepositoryName } from "../../src/core/reference.ts";

const d = `sha256:${"f".repeat(64)}`;

describe("parseReference normalises like docker", () => {
  test.each([
    ["alpine", "docker.io", "library/alpine", "latest", undefined, "alpine:latest"],
    ["alpine:3.20", "docker.io", "library/alpine", "3.20", undefined, "alpine:3.20"],
    ["docker.io/library/foo", "docker.io", "library/foo", "latest", undefined, "foo:latest"],
    ["index.docker.io/library/foo:1", "docker.io", "library/foo", "1", undefined, "foo:1"],
    ["docker.io/foo", "docker.io", "library/foo", "latest", undefined, "foo:latest"],
    ["foo/bar:tag", "docker.io", "foo/bar", "tag", undefined, "foo/bar:tag"],
    ["foo/bar/baz", "docker.io", "foo/bar/baz", "latest", undefined, "foo/bar/baz:latest"],
    ["localhost/foo", "localhost", "foo", "latest", undefined, "localhost/foo:latest"],
    ["localhost:5000/foo/bar", "localhost:5000", "foo/bar", "latest", undefined, "localhost:5000/foo/bar:latest"],
    [`localhost:5000/foo/bar@${d}`, "localhost:5000", "foo/bar", undefined, d, `localhost:5000/foo/bar@${d}`],
    [`registry.com:8080/myapp@${d}`, "registry.com:8080", "myapp", undefined, d, `registry.com:8080/myapp@${d}`],
    [`registry.com:8080/myapp:tag@${d}`, "registry.com:8080", "myapp", "tag", d, `registry.com:8080/myapp:tag@${d}`],
    ["127.0.0.1:5000/x/y:tag", "127.0.0.1:5000", "x/y", "tag", undefined, "127.0.0.1:5000/x/y:tag"],
    ["[::1]:5000/a", "[::1]:5000", "a", "latest", undefined, "[::1]:5000/a:latest"],
    ["a.b.c/d-e_f/g__h:1.2.3", "a.b.c", "d-e_f/g__h", "1.2.3", undefined, "a.b.c/d-e_f/g__h:1.2.3"],
    ["ghcr.io/me/app:v1", "ghcr.io", "me/app", "v1", undefined, "ghcr.io/me/app:v1"],
    ["quay.io/org/repo.with.dots", "quay.io", "org/repo.with.dots", "latest", undefined, "quay.io/org/repo.with.dots:latest"],
    ["foo--bar/baz", "docker.io", "foo--bar/baz", "latest", undefined, "foo--bar/baz:latest"],
    ["Example.com/foo", "Example.com", "foo", "latest", undefined, "Example.com/foo:latest"],
    ["foo:Tag_1.-x", "docker.io", "library/foo", "Tag_1.-x", undefined, "foo:Tag_1.-x"],
  ])("%s", (text, registry, repository, tag, digest, familiar) => {
    const ref = parseReference(text);
    expect(ref).toEqual({ registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) } as never);
    expect(familiarReference(ref)).toBe(familiar);
    expect(parseReference(formatReference(ref))).toEqual(ref);
  });

  test("defaultTag: false leaves a bare name without a tag", () => {
    expect(parseReference("alpine", { defaultTag: false })).toEqual({ registry: "docker.io", repository: "library/alpine" });
  });
});

describe("parseReference refuses what docker refuses", () => {
  test.each([
    ["", "empty"],
    ["Uppercase:tag", "must be lowercase"],
    ["example.com/UPPER", "must be lowercase"],
    ["a//b", "invalid repository name"],
    ["-foo", "invalid repository name"],
    ["foo-", "invalid repository name"],
    ["foo_/bar", "invalid repository name"],
    ["foo/", "invalid repository name"],
    [":tag", "missing repository name"],
    ["foo:", "invalid tag"],
    [`foo:${"a".repeat(129)}`, "invalid tag"],
    ["foo:-bad", "invalid tag"],
    ["foo@sha256:abc", "needs 64 hex"],
    [`foo@md5:${"a".repeat(64)}`, "unsupported digest algorithm"],
    ["f".repeat(64), "64-byte hexadecimal"],
    [`${"a/".repeat(128)}b`, "longer than 255"],
    ["foo bar", "white space"],
    ["foo$bar", "invalid"],
    ["-registry.com/foo", "invalid registry"],
    ["registry.com:port/foo", "invalid registry"],
  ])("%p", (text, fragment) => {
    expect(() => parseReference(text)).toThrow(UsageError);
    expect(() => parseReference(text)).toThrow(fragment);
  });
});

test.each([["team/app"], ["a"], ["a.b-c__d/e"]])("parseRepositoryName accepts %s", (name) => {
  expect(parseRepositoryName(name)).toBe(name);
});
test.each([["Team/app"], ["/a"], ["a/"], ["a..b"], ["x".repeat(256)]])("parseRepositoryName refuses %p", (name) => {
  expect(() => parseRepositoryName(name)).toThrow(UsageError);
});
