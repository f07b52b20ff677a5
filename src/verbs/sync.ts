import { StevedoreError, UsageError } from "../core/errors.ts";
import type { RegistryOptions } from "../registry/client.ts";
import { mapLimit } from "../stream/limit.ts";
import { parseImageRef } from "../transport/index.ts";
import type { ImageRef } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { matchingTags, splitTagPattern } from "./tag-patterns.ts";

/** One `SRC DST` line of a spec; `line` numbers it for messages. */
export interface SyncJob {
  readonly line: number;
  readonly source: string;
  readonly destination: string;
  /** How to reach this job's source registry, where it differs from the run's (skopeo's sync YAML sets it per registry). */
  readonly sourceRegistry?: RegistryOptions;
}

export interface SyncLineResult {
  readonly line: number;
  readonly source: string;
  readonly destination: string;
  /** With dryRun: what the source resolves to now; else what was written. */
  readonly digest?: string;
  readonly blobs?: CopyResult["blobs"];
  readonly error?: string;
  readonly exitCode?: number;
}

export interface SyncOptions extends CopyOptions {
  /** Images copied at once (default 2). */
  readonly parallel?: number;
  /** Keep going after a failed line (default true); false skips the lines not yet started. */
  readonly continueOnError?: boolean;
  /** Resolve every source and say what would be copied; write nothing. */
  readonly dryRun?: boolean;
}

/** Parses a spec: `SRC DST` per line, `#` comments, blank lines skipped; malformed lines become errors of their own. */
export function parseSyncSpec(text: string): { jobs: SyncJob[]; errors: SyncLineResult[] } {
  const jobs: SyncJob[] = [];
  const errors: SyncLineResult[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) {
      errors.push({ line: i + 1, source: fields[0] ?? "", destination: fields[1] ?? "", error: `line ${i + 1}: expected "SRC DST", got ${fields.length} fields`, exitCode: 2 });
      continue;
    }
    jobs.push({ line: i + 1, source: fields[0]!, destination: fields[1]! });
  }
  return { jobs, errors };
}

/**
 * Runs every job, `parallel` at a time; one failing line never stops the others. Results come
 * back in line order, malformed lines included.
 */
export async function sync(jobs: readonly SyncJob[], options: SyncOptions = {}): Promise<SyncLineResult[]> {
  let stop = false;
  const shared = { ...options, transfers: options.transfers ?? new Map<string, Promise<void>>() };
  const expanded = await Promise.all(jobs.map((job) => expandTagPattern(job, options)));
  const failedExpansions = expanded.filter((e): e is SyncLineResult => !Array.isArray(e));
  const copies = await mapLimit(expanded.filter((e): e is SyncJob[] => Array.isArray(e)).flat(), options.parallel ?? 2, async (job): Promise<SyncLineResult> => {
    const base = { line: job.line, source: job.source, destination: job.destination };
    if (stop) return { ...base, error: `line ${job.line}: skipped after an earlier line failed`, exitCode: 1 };
    try {
      const src = parseImageRef(job.source);
      const dst = parseImageRef(job.destination);
      const own = job.sourceRegistry ? { ...shared, sourceRegistry: job.sourceRegistry } : shared;
      if (options.dryRun) return { ...base, digest: await resolveDigest(src, own) };
      const result = await copy(src, dst, own);
      return { ...base, digest: result.digest, blobs: result.blobs };
    } catch (err) {
      stop = options.continueOnError === false;
      return failedLine(job, err);
    }
  });
  return [...failedExpansions, ...copies].sort((a, b) => a.line - b.line);
}

/**
 * A line whose source tag is a pattern (`docker://HOST/team/app:1.*`, `:*` for every tag) becomes
 * one line per matching tag, each copied to the same tag under the destination repository (which
 * names no tag of its own). Any other line stays as it is.
 */
async function expandTagPattern(job: SyncJob, options: SyncOptions): Promise<SyncJob[] | SyncLineResult> {
  const pattern = splitTagPattern(job.source);
  if (!pattern) return [job];
  const { repository } = pattern;
  try {
    const tags = await matchingTags(pattern, options);
    return tags.map((tag) => {
      const destination = `${job.destination}:${tag}`;
      try {
        parseImageRef(destination);
      } catch {
        throw new UsageError(`${job.destination}: a tag pattern's destination is a repository; each tag is added to it`);
      }
      return { line: job.line, source: `${repository}:${tag}`, destination };
    });
  } catch (err) {
    return failedLine(job, err);
  }
}

/** A line's failure: its message, prefixed with the line number, and the exit code its error carries. */
export function failedLine(job: SyncJob, err: unknown): SyncLineResult {
  const message = err instanceof Error ? err.message : String(err);
  return { line: job.line, source: job.source, destination: job.destination, error: `line ${job.line}: ${message}`, exitCode: err instanceof StevedoreError ? err.exitCode : 1 };
}

async function resolveDigest(src: ImageRef, options: SyncOptions): Promise<string> {
  const source = await src.openSource({ signal: options.signal, registry: options.sourceRegistry });
  try {
    return (await source.resolve()).digest;
  } finally {
    await source.close();
  }
}

/** Reads a spec file, or standard input for `-`. */
export async function readSpec(path: string): Promise<string> {
  if (path === "-") return Bun.stdin.text();
  const file = Bun.file(path);
  if (!(await file.exists())) throw new UsageError(`${path}: no such spec file`);
  return file.text();
}
