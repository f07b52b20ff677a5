import { describe, expect, test } from "bun:test";
import { digestOf } from "../../src/core/digest.ts";
import { IntegrityError, UnsupportedError } from "../../src/core/errors.ts";
import { maxManifestBytes, parseManifest, toRawManifest } from "../../src/core/manifest.ts";
import { MediaTypes } from "../../src/core/media-type.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const desc = { mediaType: MediaTypes.ociConfig, digest: `sha256:${"1".repeat(64)}`, size: 2 };

describe("manifests are kept as bytes and parsed strictly", () => {
  test("the digest is over the bytes received, whitespace and key order included", () => {
    const text = `{ "schemaVersion": 2,\n  "mediaType": "${MediaTypes.ociManifest}", "config": ${JSON.stringify(desc)}, "layers": [] }`;
    const raw = toRawManifest(enc(text), undefined, "test");
    expect(raw.digest).toBe(digestOf(enc(text)));
    expect(new TextDecoder().decode(raw.bytes)).toBe(text);
    expect(parseManifest(raw).kind).toBe("manifest");
  });

  test("an index is recognised by its media type or, lacking one, its shape", () => {
    const raw = toRawManifest(enc({ schemaVersion: 2, manifests: [] }), undefined, "test");
    expect(raw.mediaType).toBe(MediaTypes.ociIndex);
    expect(parseManifest(raw).kind).toBe("index");
  });

  test.each([
    ["not JSON", "nope{", IntegrityError, "not valid JSON"],
    ["an array", "[]", IntegrityError, "not a JSON object"],
    ["schema 1", { schemaVersion: 1, fsLayers: [] }, UnsupportedError, "schema 1"],
    ["ambiguous", { schemaVersion: 2, manifests: [], layers: [] }, IntegrityError, "ambiguous"],
    ["unknown type", { schemaVersion: 2, mediaType: "text/plain" }, UnsupportedError, "unsupported manifest media type"],
  ])("refuses %s", (_, body, cls, fragment) => {
    expect(() => toRawManifest(enc(body as never), undefined, "test")).toThrow(cls as never);
    expect(() => toRawManifest(enc(body as never), undefined, "test")).toThrow(fragment as string);
  });

  test("a served Content-Type that contradicts the document is refused", () => {
    const body = enc({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
    expect(() => toRawManifest(body, MediaTypes.dockerManifest, "test")).toThrow("declares");
  });

  test("over 4 MiB is refused before parsing", () => {
    expect(() => toRawManifest(new Uint8Array(maxManifestBytes + 1), undefined, "test")).toThrow("limit");
  });

  test("descriptors with a bad digest or size are refused", () => {
    const bad = (config: unknown) => () => parseManifest(toRawManifest(enc({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [] }), undefined, "t"));
    expect(bad({ ...desc, digest: "sha256:../../x" })).toThrow(IntegrityError);
    expect(bad({ ...desc, size: -1 })).toThrow("invalid size");
  });

  test("annotations map strings to strings, on the manifest and on its descriptors; a deep nesting is refused, not recursed into", () => {
    const parse = (extra: object, config: object = desc) => () => parseManifest(toRawManifest(enc({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [], ...extra }), undefined, "t"));
    expect(parse({ annotations: { a: "1", b: "" } })().annotations).toEqual({ a: "1", b: "" });
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    for (const annotations of [{ a: 1 }, { a: null }, { a: { b: "c" } }, ["a"], "a", { a: deep }]) {
      expect(parse({ annotations })).toThrow("annotations must map strings to strings");
      expect(parse({}, { ...desc, annotations })).toThrow("annotations must map strings to strings");
    }
  });
});
