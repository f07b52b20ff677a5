/** Exit codes of the CLI, carried by every error the library throws. */
export const Exit = { ok: 0, failed: 1, usage: 2, notFound: 3, auth: 4, integrity: 5, interrupted: 130 } as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** Base of every error stevedore throws on purpose: one line, lower case, what then where. */
export class StevedoreError extends Error {
  readonly exitCode: ExitCode = Exit.failed;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command line, reference, flag value or spec line. */
export class UsageError extends StevedoreError {
  override readonly exitCode = Exit.usage;
}

/** The image, tag, blob or file named does not exist. */
export class NotFoundError extends StevedoreError {
  override readonly exitCode = Exit.notFound;
}

/** Credentials missing or refused; never holds a secret. */
export class AuthError extends StevedoreError {
  override readonly exitCode = Exit.auth;
}

/** Bytes that do not match their digest or size, malformed content, a bad signature. */
export class IntegrityError extends StevedoreError {
  override readonly exitCode = Exit.integrity;
}

/** A registry this one relies on failed (a pull-through cache's upstream): answered with a 502. */
export class UpstreamError extends StevedoreError {}

/** Content we understand but refuse: schema 1 manifests, unknown media types, unsafe archives. */
export class UnsupportedError extends StevedoreError {}

/** Stopped by the user (SIGINT/SIGTERM); what was half-written has been removed. */
export class InterruptedError extends StevedoreError {
  override readonly exitCode = Exit.interrupted;
}
