/** Bounded retries with exponential backoff and jitter; `Retry-After` wins when the server sends it. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseMs: 250, maxMs: 30_000 };

/** 429 and 5xx (but 501: a missing feature does not come back) are worth another try. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** Milliseconds to wait before attempt `attempt` (1-based retry count). */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfter?: string | null): number {
  const after = parseRetryAfter(retryAfter);
  if (after !== undefined) return Math.min(after, 60_000);
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return exp / 2 + Math.random() * (exp / 2);
}

/** `Retry-After` as seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
