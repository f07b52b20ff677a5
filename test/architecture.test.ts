import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Layers may import only layers below them (STYLE.md); the CLI shell alone talks to the terminal. */
const below: Record<string, readonly string[]> = {
  core: [],
  stream: ["core"],
  archive: ["core", "stream"],
  registry: ["core", "stream"],
  store: ["core", "stream"],
  server: ["core", "stream", "store"],
  sign: ["core", "stream"],
  fs: ["core", "stream", "archive", "transport"],
  sbom: ["core", "stream", "archive", "transport", "fs"],
  transport: ["core", "stream", "archive", "registry"],
  verbs: ["core", "stream", "archive", "registry", "transport", "store", "server", "sign", "fs", "sbom"],
  cli: ["core", "stream", "archive", "registry", "transport", "store", "server", "sign", "fs", "sbom", "verbs", "cli"],
};

const src = join(import.meta.dir, "../src");
const files = readdirSync(src, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".ts"));
const transpiler = new Bun.Transpiler({ loader: "ts" });

function importsOf(file: string): { ours: string[]; packages: string[] } {
  const code = readFileSync(join(src, file), "utf8");
  const specs = transpiler.scanImports(code).map((i) => i.path);
  const ours = specs.filter((s) => s.startsWith(".")).map((s) => relative(src, resolve(dirname(join(src, file)), s)));
  return { ours, packages: specs.filter((s) => !s.startsWith(".")) };
}

const layerOf = (path: string): string => path.split("/")[0]!;

describe("architecture", () => {
  test.each(files.filter((f) => f.includes("/")))("%s imports only layers below it", (file) => {
    const layer = layerOf(file);
    const allowed = new Set([layer, ...(below[layer] ?? [])]);
    const offending = importsOf(file).ours.filter((p) => p.startsWith("..") === false && !allowed.has(layerOf(p)) && !p.endsWith("package.json"));
    expect(offending).toEqual([]);
  });

  test("only cli/ and main.ts import citty or consola or write to stdout", () => {
    const offenders = files.filter((f) => !f.startsWith("cli/") && f !== "main.ts").filter((f) => {
      const code = readFileSync(join(src, f), "utf8");
      return importsOf(f).packages.some((p) => p === "citty" || p === "consola") || /process\.(stdout|exit\b|argv)/.test(code);
    });
    expect(offenders).toEqual([]);
  });

  test("transports never import each other", () => {
    const transportFiles = new Set(["oci.ts", "oci-archive.ts", "dir.ts", "docker-archive.ts", "docker.ts", "static.ts", "memory.ts"].map((f) => `transport/${f}`));
    const crossing = [...transportFiles].filter((f) => files.includes(f)).flatMap((f) => importsOf(f).ours.filter((p) => transportFiles.has(p) && p !== f).map((p) => `${f} → ${p}`));
    expect(crossing).toEqual([]);
  });
});
