import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "../core/errors.ts";
import { parseRepositoryName } from "../core/reference.ts";
import { parseImageRef } from "../transport/index.ts";
import { StaticRef, ensureStaticTree } from "../transport/static.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { type TagPattern, matchingTags, splitTagPattern } from "./tag-patterns.ts";
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

/** A source, checked, and the name it gets in the tree; a tag pattern stands for each tag it matches. */
interface PlannedSource {
  readonly text: string;
  readonly source: string;
  readonly name: string;
  readonly tag?: string;
  readonly pattern?: TagPattern;
}

/** A source's syntax and name, checked before anything is copied: a typo fails the command, not one image of it. */
function planSource(text: string): PlannedSource {
  const parsed = parseMirrorSource(text);
  const pattern = splitTagPattern(parsed.source);
  if (pattern && parsed.tag) throw new UsageError(`${text}: a tag pattern keeps each tag; give a name only (=NAME)`);
  const name = parsed.name ?? parseImageRef(pattern ? `${pattern.repository}:latest` : parsed.source).repository;
  if (!name) throw new UsageError(`${parsed.source}: has no repository name; give it one as ${parsed.source}=NAME[:TAG]`);
  return { text, ...parsed, name, ...(pattern ? { pattern } : {}) };
}

/** The images a planned source stands for: itself, or one per tag its pattern matches (each mirrored under that tag). */
async function expandSource(plan: PlannedSource, options: MirrorOptions): Promise<{ source: string; tag?: string }[]> {
  if (!plan.pattern) return [{ source: plan.source, ...(plan.tag ? { tag: plan.tag } : {}) }];
  const { repository } = plan.pattern;
  return (await matchingTags(plan.pattern, options)).map((tag) => ({ source: `${repository}:${tag}`, tag }));
}

/**
 * Copies each source into the static tree at `dir` under its repository path (or the name given
 * as `SRC=NAME[:TAG]`), then regenerates the web-server configurations. Every source is checked
 * first (a malformed or unnamed one is a UsageError before anything is written); then one failed
 * source does not stop the others, and each result says what happened.
 */
export async function mirror(sources: readonly string[], dir: string, options: MirrorOptions = {}): Promise<MirrorResult[]> {
  const plans = sources.map(planSource);
  const root = resolve(dir);
  await ensureStaticTree(root);
  const results: MirrorResult[] = [];
  for (const plan of plans) {
    let expanded: Awaited<ReturnType<typeof expandSource>>;
    try {
      expanded = await expandSource(plan, options);
    } catch (error) {
      results.push({ source: plan.text, destination: `static:${root}`, ok: false, error: error as Error });
      continue;
    }
    for (const { source, tag } of expanded) {
      const src = parseImageRef(source);
      const dst = new StaticRef(root, plan.name, { tag: tag ?? src.tag ?? "latest" });
      try {
        results.push({ source, destination: String(dst), ok: true, result: await copy(src, dst, options) });
      } catch (error) {
        results.push({ source, destination: String(dst), ok: false, error: error as Error });
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
