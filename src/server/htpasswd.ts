import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { UsageError } from "../core/errors.ts";
import { ApiError } from "./errors.ts";

/** bcrypt checks at once: all cores but one, which stays for everything else. */
const maxChecks = Math.max(1, availableParallelism() - 1);
/** Checks waiting for a turn beyond which a request is told to come back (429): a flood of guesses queues no further. */
const defaultMaxWaiting = 64;

/**
 * Users from an htpasswd file with bcrypt entries (`htpasswd -B`), as distribution accepts.
 * Verifying bcrypt costs tens of milliseconds, so a successful check is remembered for a while
 * by a hash of the header (never the password itself).
 */
export class Htpasswd {
  private readonly verified = new Map<string, { user: string; until: number }>();
  /** bcrypt checks running, and those waiting for a turn. */
  private checking = 0;
  private readonly waiting: (() => void)[] = [];

  private constructor(
    private readonly users: ReadonlyMap<string, string>,
    /** Checked for a user the file does not have, at the file's highest cost: a wrong name takes as long as a wrong password (no user enumeration by timing). */
    private readonly decoy: string,
    private readonly maxWaiting: number,
  ) {}

  static async load(path: string, options: { readonly maxWaiting?: number } = {}): Promise<Htpasswd> {
    const file = Bun.file(path);
    if (!(await file.exists())) throw new UsageError(`--htpasswd ${path}: no such file`);
    const users = new Map<string, string>();
    for (const [i, line] of (await file.text()).split("\n").entries()) {
      if (line.trim() === "" || line.startsWith("#")) continue;
      const colon = line.indexOf(":");
      const hash = line.slice(colon + 1).trim();
      if (colon <= 0 || !/^\$2[aby]\$/.test(hash)) throw new UsageError(`--htpasswd ${path}:${i + 1}: not a bcrypt entry (use htpasswd -B)`);
      users.set(line.slice(0, colon), hash.replace(/^\$2y\$/, "$2b$"));
    }
    const cost = Math.max(4, ...[...users.values()].map((hash) => Number(hash.split("$")[2]) || 4));
    return new Htpasswd(users, await Bun.password.hash(crypto.randomUUID(), { algorithm: "bcrypt", cost }), options.maxWaiting ?? defaultMaxWaiting);
  }

  /** The user that Basic credentials (`user:password` in base64, as the Authorization header carries them) prove, or null. */
  async check(credentials: string): Promise<string | null> {
    const key = createHash("sha256").update(credentials).digest("hex");
    const cached = this.verified.get(key);
    if (cached && cached.until > Date.now()) return cached.user;
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) return null;
    const user = decoded.slice(0, colon);
    const hash = this.users.get(user);
    const matches = await this.bcrypt(decoded.slice(colon + 1), hash ?? this.decoy);
    if (!hash || !matches) return null;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, { user, until: Date.now() + 5 * 60_000 });
    return user;
  }

  /**
   * One bcrypt verification, at most `maxChecks` at once: each holds a core for tens to hundreds of
   * milliseconds, and a flood of guesses (anyone may send them) must not take every core from the
   * requests that need none, nor queue without end (users checked in the last minutes skip it).
   */
  private async bcrypt(password: string, hash: string): Promise<boolean> {
    if (this.checking < maxChecks) this.checking++;
    else if (this.waiting.length >= this.maxWaiting) throw new ApiError("TOOMANYREQUESTS", "too many password checks waiting: try again shortly", undefined, { "Retry-After": "1" });
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the finishing check hands its turn over
    try {
      return await Bun.password.verify(password, hash, "bcrypt");
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.checking--;
    }
  }
}
