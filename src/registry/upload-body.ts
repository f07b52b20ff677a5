import { IntegrityError, StevedoreError } from "../core/errors.ts";
import { type BlobReopener, type ByteReader, byteReader } from "../stream/byte-reader.ts";
import type { BlobVerifier } from "../stream/verify.ts";

/**
 * A blob's bytes read once, in order, for PATCH bodies, each byte checked against the descriptor
 * as it first passes (the digest is known the moment the last byte is read). A slice that does not
 * start where reading stands (an upload resuming after a cut) reads the source again from there:
 * bytes read a second time are not hashed again, and the registry's own digest check on the
 * closing PUT catches a source that changed in between.
 */
export class UploadBody {
  /** Why reading failed, if it did: a failed check is not a cut to resume from. */
  failure: unknown;
  /** Offset of the next byte a slice gets (the leftover's first byte, else the reader's next). */
  private position = 0;
  private leftover: Uint8Array | undefined;
  private hashed = 0;
  /** The newest slice: an older one still being read by a request that failed is superseded. */
  private newest = 0;
  /** A reader with a read in flight (an older slice's, when a new slice starts). */
  private reading: ByteReader | undefined;

  constructor(
    private reader: ByteReader | undefined,
    private readonly verifier: BlobVerifier,
    private readonly size: number,
    private readonly reopen?: BlobReopener,
  ) {}

  /** Bytes [start, end) as a stream. */
  slice(start: number, end: number): ReadableStream<Uint8Array> {
    const generation = ++this.newest;
    let at = start;
    let cancelled = false;
    const given = () => cancelled || generation !== this.newest;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (at === end) return controller.close();
        if (given()) throw new StevedoreError("a newer request reads this blob");
        const chunk = await this.read(at, end - at).catch((err: unknown) => {
          // a failed check is the upload's failure whichever request read the bytes
          if (!given() || err instanceof IntegrityError) this.failure ??= err;
          throw err;
        });
        at += chunk.byteLength;
        if (!cancelled) controller.enqueue(chunk);
      },
      // the request gave up on this body (a cut, a refusal): what comes next is read afresh
      cancel: () => {
        cancelled = true;
        // only the newest slice's reader is dropped: an older request giving up late must not cut the one reading now
        if (generation === this.newest) return this.drop();
      },
    });
  }

  /** At most `max` bytes starting at `at`. */
  private async read(at: number, max: number): Promise<Uint8Array> {
    if (at !== this.position || !this.reader || this.reading === this.reader) {
      await this.drop();
      if (!this.reopen) throw new StevedoreError(`the blob cannot be read again from byte ${at}`);
      // bytes past those hashed were never sent: a registry claiming them is wrong
      if (at > this.hashed) throw new StevedoreError(`the registry says it holds ${at} bytes, but only ${this.hashed} were sent`);
      this.reader = byteReader(await this.reopen(at));
      this.position = at;
    }
    let chunk = this.leftover;
    this.leftover = undefined;
    if (!chunk) {
      const reader = this.reader!;
      this.reading = reader;
      const next = await reader.read().finally(() => {
        if (this.reading === reader) this.reading = undefined;
      });
      if (reader !== this.reader) throw new StevedoreError("the upload's body was given up while it was read");
      if (next.done) {
        this.verifier.finish(); // ended early: says how many bytes came of how many
        throw new StevedoreError(`the blob ended at byte ${this.position}`);
      }
      chunk = next.value;
      this.check(chunk);
    }
    if (chunk.byteLength > max) {
      this.leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.position += chunk.byteLength;
    return chunk;
  }

  /** Hashes what `chunk` (read at `position`) holds beyond the bytes already hashed. */
  private check(chunk: Uint8Array): void {
    const end = this.position + chunk.byteLength;
    if (end <= this.hashed) return;
    this.verifier.update(chunk.subarray(this.hashed - this.position));
    this.hashed = end;
    if (end === this.size) this.verifier.finish();
  }

  /** Every byte was read and passed the check (a registry may claim the whole upload before it was sent). */
  get complete(): boolean {
    return this.hashed === this.size && this.failure === undefined;
  }

  /** Stops reading (the upload is over, whichever way): the source's connection is let go. */
  close(): Promise<void> {
    return this.drop();
  }

  private async drop(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    this.leftover = undefined;
    await reader?.cancel().catch(() => {});
  }
}
