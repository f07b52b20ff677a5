import { shortDigest } from "../core/digest.ts";
import type { CopyEvent } from "../verbs/copy.ts";
import { log } from "./log.ts";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** What the plain lines call a blob and a manifest that went through: copied and written, or (validate) checked. */
const wording = { copy: { blob: "copied", manifest: "wrote" }, check: { blob: "checked", manifest: "checked" } } as const;

/** Live bars on a TTY, one plain line per blob elsewhere, nothing with --quiet. */
export function progressFor(args: { quiet?: boolean }, mode: keyof typeof wording = "copy"): ((event: CopyEvent) => void) | undefined {
  if (args.quiet) return undefined;
  return process.stderr.isTTY ? new LiveBars().handle : (event) => plainLine(event, mode);
}

function plainLine(event: CopyEvent, mode: keyof typeof wording = "copy"): void {
  switch (event.type) {
    case "platform":
      log.info(`chose ${event.platform} from the index (the host's platform; --platform or --all to change)`);
      break;
    case "blob":
      if (event.state !== "start") log.info(`${event.state === "done" ? wording[mode].blob : event.state} blob ${shortDigest(event.digest)} (${formatBytes(event.size)})`);
      break;
    case "manifest":
      log.info(`${wording[mode].manifest} manifest ${shortDigest(event.digest)}`);
      break;
    case "referrer":
      log.info(`copied ${event.tag ? `tag ${event.tag}` : `referrer ${shortDigest(event.digest)}`} of ${shortDigest(event.subject)}`);
      break;
  }
}

interface Bar {
  size: number;
  bytes: number;
  state: "copying" | "done" | "skipped" | "mounted";
  started: number;
}

/** Redraws at most ten times a second, so per-chunk events cost a counter update, not a write. */
class LiveBars {
  private readonly bars = new Map<string, Bar>();
  private drawn = 0;
  private timer?: ReturnType<typeof setTimeout>;

  readonly handle = (event: CopyEvent): void => {
    switch (event.type) {
      case "platform":
      case "manifest":
      case "referrer":
        plainLine(event);
        return;
      case "bytes": {
        const bar = this.bars.get(event.digest);
        if (bar) bar.bytes = event.bytes;
        break;
      }
      case "blob": {
        const state = event.state === "start" ? "copying" : event.state;
        const bar = this.bars.get(event.digest) ?? { size: event.size, bytes: 0, state, started: performance.now() };
        bar.state = state;
        if (state !== "copying") bar.bytes = bar.size;
        this.bars.set(event.digest, bar);
        if (state !== "copying") return this.draw();
      }
    }
    this.timer ??= setTimeout(() => this.draw(), 100);
  };

  private draw(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = [...this.bars].map(([digest, bar]) => this.line(digest, bar));
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : "";
    process.stderr.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join("\n")}\n`);
    this.drawn = lines.length;
  }

  private line(digest: string, bar: Bar): string {
    const width = 24;
    const fraction = bar.size === 0 ? 1 : Math.min(1, bar.bytes / bar.size);
    const filled = Math.round(fraction * width);
    const seconds = (performance.now() - bar.started) / 1000;
    const rate = bar.state === "copying" && seconds > 0 ? `  ${formatBytes(bar.bytes / seconds)}/s` : "";
    const label = bar.state === "copying" ? `${formatBytes(bar.bytes)} / ${formatBytes(bar.size)}${rate}` : `${bar.state} ${formatBytes(bar.size)}`;
    return `${shortDigest(digest)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${label}`;
  }
}
