import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "../core/errors.ts";
import { parseRepositoryName } from "../core/reference.ts";
import { parseImageRef } from "../transport/index.ts";
import { StaticRef, ensureStaticTree } from "../transport/static.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { matchingTags, splitTagPattern } from "./tag-patterns.ts";
import { caddyfile, manifestRoutes, nginxConfig } from "./web-config.ts";

export interface MirrorOptions extends CopyOptions {
  /** Write a standalone nginx.conf serving the tree here. */
  readonly nginxConf?: string;
  /** Write a Caddyfile serving the tree here. */
  readonly caddyfile?: string;
  /** Where the generated configurations listen (default 0.0.0.0:8080). */
  readonly listen?: string;
}

export type MirrorResult = { readonly source: string; readonly destination: string } & ({ readonly ok: true; readonly result: CopyResult } | { readonly ok: false; readonly error: Error });

/** `SRC` or `SRC=NAME[:TAG]`: the name a source gets in the tree. */
export function parseMirrorSource(text: string): { source: string; name?: string; tag?: string } {
  const eq = text.lastIndexOf("=");
  if (eq <= 0) return { source: text };
  const [name, tag] = text.slice(eq + 1).split(":") as [string, string | undefined];
  return { source: text.slice(0, eq), name: parseRepositoryName(name), ...(tag ? { tag } : {}) };
}

/** A source whose tag is a pattern (`docker://HOST/team/app:*`) stands for each tag it matches, mirrored under that tag. */
async function expandSource(text: string, options: MirrorOptions): Promise<{ source: string; name?: string; tag?: string }[]> {
  const parsed = parseMirrorSource(text);
  const pattern = splitTagPattern(parsed.source);
  if (!pattern) return [parsed];
  if (parsed.tag) throw new UsageError("a tag pattern keeps each tag; give a name only (=NAME)");
  return (await matchingTags(pattern, options)).map((tag) => ({ source: `${pattern.repository}:${tag}`, ...(parsed.name ? { name: parsed.name } : {}), tag }));
}

/**
 * Copies each source into the static tree at `dir` under its repository path (or the name given
 * as `SRC=NAME[:TAG]`), then regenerates the web-server configurations. One failed source does not
 * stop the others; each result says what happened.
 */
export async function mirror(sources: readonly string[], dir: string, options: MirrorOptions = {}): Promise<MirrorResult[]> {
  const root = resolve(dir);
  await ensureStaticTree(root);
  const results: MirrorResult[] = [];
  for (const text of sources) {
    let expanded: Awaited<ReturnType<typeof expandSource>>;
    try {
      expanded = await expandSource(text, options);
    } catch (error) {
      results.push({ source: text, destination: `static:${root}`, ok: false, error: error as Error });
      continue;
    }
    for (const { source, name, tag } of expanded) {
      let destination = `static:${root}`;
      try {
        const src = parseImageRef(source);
        const repository = name ?? src.repository;
        if (!repository) throw new UsageError(`has no repository name; give it one as ${source}=NAME[:TAG]`);
        const dst = new StaticRef(root, repository, { tag: tag ?? src.tag ?? "latest" });
        destination = String(dst);
        results.push({ source, destination, ok: true, result: await copy(src, dst, options) });
      } catch (error) {
        results.push({ source, destination, ok: false, error: error as Error });
      }
    }
  }
  await writeWebConfigs(root, options);
  return results;
}

async function writeWebConfigs(root: string, options: MirrorOptions): Promise<void> {
  if (!options.nginxConf && !options.caddyfile) return;
  const routes = await manifestRoutes(root);
  const listen = options.listen ?? "0.0.0.0:8080";
  if (options.nginxConf) {
    const runDir = join(dirname(resolve(options.nginxConf)), "nginx-run");
    await mkdir(runDir, { recursive: true });
    await writeFile(options.nginxConf, nginxConfig(root, routes, { listen, runDir }));
  }
  if (options.caddyfile) await writeFile(options.caddyfile, caddyfile(root, routes, { listen }));
}
