import { Exit, type ExitCode, StevedoreError } from "../core/errors.ts";

/** A registry's answer we cannot use: the status and the spec's error code stay readable as data. */
export class RegistryError extends StevedoreError {
  override readonly exitCode: ExitCode;
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.exitCode = status === 401 || status === 403 ? Exit.auth : status === 404 ? Exit.notFound : Exit.failed;
  }
}

/** The first error of a distribution-spec error body (`{"errors":[{"code","message"}]}`), if any. */
export async function errorBodyOf(response: Response): Promise<{ code?: string; message?: string }> {
  try {
    const text = (await response.text()).slice(0, 4096);
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    return body.errors?.[0] ?? {};
  } catch {
    return {};
  }
}

/** One line from a failed response: `GET …/manifests/x: 404 MANIFEST_UNKNOWN (manifest unknown)`. */
export async function registryErrorFrom(response: Response, what: string): Promise<RegistryError> {
  const { code, message } = await errorBodyOf(response);
  const detail = [code, message && message !== code?.toLowerCase().replace(/_/g, " ") ? `(${message})` : ""].filter(Boolean).join(" ");
  let text = `${what}: ${response.status} ${detail || response.statusText}`.trim();
  if (response.status === 429) {
    const limits = ["ratelimit-limit", "ratelimit-remaining", "docker-ratelimit-source"]
      .map((h) => (response.headers.get(h) ? `${h}: ${response.headers.get(h)}` : ""))
      .filter(Boolean);
    text += ` (rate limited${limits.length ? `; ${limits.join(", ")}` : ""})`;
  }
  return new RegistryError(text, response.status, code);
}
