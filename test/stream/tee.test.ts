import { describe, expect, test } from "bun:test";
import { lastChunkAfter, teeInStep } from "../../src/stream/tee.ts";

/** A source of `count` one-byte chunks (0, 1, …) that counts how often it was read. */
function countingSource(count: number, failAt?: number) {
  const state = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (failAt !== undefined && state.pulls === failAt) return controller.error(new Error("source broke"));
        if (state.pulls === count) return controller.close();
        controller.enqueue(new Uint8Array([state.pulls++]));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const bytesOf = async (stream: ReadableStream<Uint8Array>) => [...new Uint8Array(await new Response(stream).arrayBuffer())];
const settled = (p: Promise<unknown>, ms = 50) => Promise.race([p.then(() => true), Bun.sleep(ms).then(() => false)]);

describe("teeInStep", () => {
  test("both branches get every chunk", async () => {
    const { stream } = countingSource(10);
    const [a, b] = teeInStep(stream, 5000);
    expect(await Promise.all([bytesOf(a), bytesOf(b)])).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  test("a branch that does not read holds the other one chunk ahead at most: the source is not drained into a queue", async () => {
    const { stream, state } = countingSource(1000);
    const [a] = teeInStep(stream, 5000);
    const reader = a.getReader();
    expect((await reader.read()).value).toEqual(new Uint8Array([0]));
    expect(await settled(reader.read())).toBe(false);
    expect(state.pulls).toBe(1);
  });

  test("a branch that leaves its chunk untaken for the patience given is dropped: the other reads on alone, the dropped one fails", async () => {
    const { stream } = countingSource(4);
    const [a, b] = teeInStep(stream, 100);
    const started = performance.now();
    expect(await bytesOf(a)).toEqual([0, 1, 2, 3]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90); // it waited for b once, then went on
    expect(await bytesOf(b).catch((err: Error) => err.message)).toBe("fell behind the other reader of the stream for 0.1 s");
  });

  test("a branch cancelled while its own read waits leaves the other reading, and reads nothing more itself", async () => {
    const { stream, state } = countingSource(6);
    const [a, b] = teeInStep(stream, 5000);
    const readerA = a.getReader();
    const readerB = b.getReader();
    await Promise.all([readerA.read(), readerB.read()]);
    expect((await readerB.read()).value).toEqual(new Uint8Array([1])); // chunk 1, which a has yet to take
    const waitingB = readerB.read(); // waits for a to take chunk 1
    expect(await settled(waitingB)).toBe(false);
    await readerB.cancel("gone");
    expect((await waitingB).done).toBe(true);
    const rest: number[] = [];
    for (let r = await readerA.read(); !r.done; r = await readerA.read()) rest.push(...r.value);
    expect(rest).toEqual([1, 2, 3, 4, 5]);
    expect(state.pulls).toBe(6);
  });

  test("a cancelled branch drops out and the other reads on alone", async () => {
    const { stream } = countingSource(5);
    const [a, b] = teeInStep(stream, 5000);
    const reader = a.getReader();
    await reader.read();
    await b.cancel("gone");
    const rest: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(...r.value);
    expect(rest).toEqual([1, 2, 3, 4]);
  });

  test("with both branches cancelled the source is cancelled", async () => {
    let cancelled: unknown;
    const source = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(1)), cancel: (reason) => void (cancelled = reason) }, { highWaterMark: 0 });
    const [a, b] = teeInStep(source, 5000);
    await a.cancel("one");
    expect(cancelled).toBeUndefined();
    await b.cancel("both");
    expect(cancelled).toBe("both");
  });

  test("a source error fails both branches after the chunks before it", async () => {
    const { stream } = countingSource(10, 3);
    const [a, b] = teeInStep(stream, 5000);
    const read = async (s: ReadableStream<Uint8Array>) => {
      const got: number[] = [];
      try {
        for await (const chunk of s) got.push(...chunk);
      } catch (err) {
        return [got, (err as Error).message];
      }
      return [got, "no error"];
    };
    expect(await Promise.all([read(a), read(b)])).toEqual([[[0, 1, 2], "source broke"], [[0, 1, 2], "source broke"]]);
  });
});

describe("lastChunkAfter", () => {
  test("the last chunk waits for the verdict", async () => {
    const verdict = Promise.withResolvers<void>();
    const reader = lastChunkAfter(countingSource(3).stream, verdict.promise).getReader();
    expect((await reader.read()).value).toEqual(new Uint8Array([0]));
    expect((await reader.read()).value).toEqual(new Uint8Array([1]));
    const last = reader.read();
    expect(await settled(last)).toBe(false);
    verdict.resolve();
    expect((await last).value).toEqual(new Uint8Array([2]));
    expect((await reader.read()).done).toBe(true);
  });

  test("a verdict that fails before the stream ends fails the reader at once, without waiting for the source", async () => {
    const verdict = Promise.withResolvers<void>();
    let cancelled: unknown;
    const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}), cancel: (reason) => void (cancelled = reason) }, { highWaterMark: 0 });
    const reading = lastChunkAfter(endless, verdict.promise).getReader().read();
    verdict.reject(new Error("the store refused it"));
    expect(await reading.catch((err: Error) => err.message)).toBe("the store refused it");
    expect((cancelled as Error).message).toBe("the store refused it");
  });

  test("a rejected verdict is an error in place of the last chunk", async () => {
    const verdict = Promise.reject(new Error("digest mismatch"));
    verdict.catch(() => {});
    const got: number[] = [];
    let failure = "";
    try {
      for await (const chunk of lastChunkAfter(countingSource(3).stream, verdict)) got.push(...chunk);
    } catch (err) {
      failure = (err as Error).message;
    }
    expect([got, failure]).toEqual([[0, 1], "digest mismatch"]);
  });
});
