import { UsageError } from "../core/errors.ts";

/**
 * skopeo's `--format` for inspect, in the forms scripts use: `{{.Digest}}`, `{{.Labels.version}}`,
 * `{{index .Labels "org.opencontainers.image.version"}}`, printed as Go prints them (lists as
 * `[a b]`, maps as `map[k:v]`, a missing field as `<no value>`), and docker's `{{json .Env}}`.
 * Text outside the braces stays as it is; anything else in braces is a usage error (this is not
 * Go's template language).
 */
export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, action: string) => {
    const json = /^json\s+(\.\S*)$/.exec(action);
    if (json) return JSON.stringify(sortedKeys(lookup(data, json[1]!) ?? null));
    const index = /^index\s+(\.\S*)\s+"([^"]*)"$/.exec(action);
    const value = index ? (lookup(data, index[1]!) as Record<string, unknown> | undefined)?.[index[2]!] : /^\.\S*$/.test(action) ? lookup(data, action) : invalid(action);
    return value === undefined || value === null ? "<no value>" : goValue(value);
  });
}

/** A value as Go's templates print it (`%v`): `[a b]` for a list, `map[k:v]` with keys sorted for a map. */
function goValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goValue).join(" ")}]`;
  if (value !== null && typeof value === "object") {
    const map = value as Record<string, unknown>;
    return `map[${Object.keys(map)
      .sort()
      .map((k) => `${k}:${goValue(map[k])}`)
      .join(" ")}]`;
  }
  return value === null ? "<nil>" : String(value);
}

/** Go's JSON writes a map's keys sorted: so do we, for the same output. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
}

function lookup(data: unknown, path: string): unknown {
  let value = data;
  for (const key of path.split(".").filter(Boolean)) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

function invalid(action: string): never {
  throw new UsageError(`--format: cannot read "{{${action}}}": use {{.Field}}, {{.Map.key}}, {{index .Map "key"}} or {{json .Field}}`);
}
