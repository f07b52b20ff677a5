/**
 * Two readers of one stream that take its chunks in step: the source is read only once every
 * branch still reading has taken the last chunk, so a slow reader slows the other instead of a
 * queue growing without bound (a web stream's tee() buffers whatever the slower branch has not
 * read). A branch that leaves a chunk untaken for `patienceMs` is dropped (its reads fail) and the
 * other reads on alone, as after a cancel: one reader stalled, or never read, stalls no other for
 * good. With both gone the source is cancelled. A source error fails both, after the chunks they
 * were given.
 */
export function teeInStep(source: ReadableStream<Uint8Array>, patienceMs: number): [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>] {
  const reader = source.getReader();
  const waiting: (Uint8Array | undefined)[] = [undefined, undefined];
  const gone = [false, false];
  const dropped: (Error | undefined)[] = [undefined, undefined];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let reading: Promise<void> | undefined;
  let taken = Promise.withResolvers<void>();
  /** A branch took its chunk or dropped out: the other may be free to read on. */
  const noteTaken = () => {
    taken.resolve();
    taken = Promise.withResolvers();
  };
  const leave = (i: number) => {
    gone[i] = true;
    waiting[i] = undefined;
    noteTaken();
  };
  /** Waits for the other branch to take its chunk; drops it when it has not within patienceMs. */
  const waitFor = async (other: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), patienceMs);
    });
    const tooLate = await Promise.race([taken.promise.then(() => false), late]);
    clearTimeout(timer);
    if (tooLate && waiting[other]) {
      dropped[other] = new Error(`fell behind the other reader of the stream for ${patienceMs / 1000} s`);
      leave(other);
    }
  };
  const readSource = () =>
    (reading ??= reader
      .read()
      .then(
        (result) => {
          if (result.done) ended = true;
          else for (const i of [0, 1]) if (!gone[i]) waiting[i] = result.value;
        },
        (error: unknown) => {
          failure = { error };
        },
      )
      .finally(() => {
        reading = undefined;
      }));
  const branch = (i: number) =>
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          for (;;) {
            if (dropped[i]) return controller.error(dropped[i]);
            if (gone[i]) return; // cancelled while this pull waited
            const chunk = waiting[i];
            if (chunk) {
              waiting[i] = undefined;
              controller.enqueue(chunk);
              noteTaken();
              return;
            }
            if (failure) return controller.error(failure.error);
            if (ended) return controller.close();
            if (waiting[1 - i]) await waitFor(1 - i); // the other has not taken the last chunk yet
            else await readSource();
          }
        },
        async cancel(reason) {
          leave(i);
          if (gone[1 - i]) await reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  return [branch(0), branch(1)];
}

/**
 * The stream's chunks with the last held back until `verdict` settles: a reader gets the whole
 * body only when it resolves, and an error in place of the rest as soon as it rejects (a body cut
 * short, never a complete wrong one).
 */
export function lastChunkAfter(stream: ReadableStream<Uint8Array>, verdict: Promise<unknown>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  // settles only by rejecting: raced with each read, a failed verdict ends the stream at once
  const refused = verdict.then(() => new Promise<never>(() => {}));
  refused.catch(() => {}); // heard through the race below
  let held: Uint8Array | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const { done, value } = await Promise.race([reader.read(), refused]).catch(async (err: unknown) => {
            await reader.cancel(err).catch(() => {});
            throw err;
          });
          if (done) {
            await verdict;
            if (held) controller.enqueue(held);
            return controller.close();
          }
          const previous = held;
          held = value;
          if (previous) return controller.enqueue(previous);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
