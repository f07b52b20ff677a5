/** One challenge of a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"`. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses RFC 7235 challenges, quoted strings with escapes included. */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  const re = /\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)(?:\s+|$)|\s*([\w!#$%&'*+.^`|~-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?/gy;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let match: RegExpExecArray | null;
  let last = -1;
  while (re.lastIndex < header.length && re.lastIndex !== last) {
    last = re.lastIndex;
    match = re.exec(header);
    if (!match) break;
    if (match[1]) {
      current = { scheme: match[1].toLowerCase(), params: {} };
      challenges.push(current);
    } else if (current && match[2]) {
      current.params[match[2].toLowerCase()] = match[4] !== undefined ? match[4].replace(/\\(.)/g, "$1") : (match[3] ?? "");
    }
  }
  return challenges;
}
