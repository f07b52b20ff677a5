/** The distribution spec's error codes with the status each answers with. */
export const errorStatus = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  /** the spec writes it as one word */
  TOOMANYREQUESTS: 429,
  /** distribution's code for an `n` that is no count (tags list, catalog). */
  PAGINATION_NUMBER_INVALID: 400,
  /** distribution's code for a failure of its own (here: a pull-through cache's upstream). */
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

const apiVersion = { "Docker-Distribution-API-Version": "registry/2.0" };

/** `{"errors":[{"code","message"}]}` with the code's status (or `status`, e.g. 416, 413). */
export function errorResponse(code: ErrorCode, message: string, options: { status?: number; headers?: Record<string, string> } = {}): Response {
  return Response.json(
    { errors: [{ code, message, detail: null }] },
    { status: options.status ?? errorStatus[code], headers: { ...apiVersion, ...options.headers } },
  );
}

/** Thrown inside handlers to answer with a spec error. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status?: number,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  toResponse(): Response {
    return errorResponse(this.code, this.message, { status: this.status, headers: this.headers });
  }
}
