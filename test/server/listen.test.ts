import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { bytesResponse, fileResponse } from "../../src/server/known-body.ts";
import { type Listener, type SentAnswer, listen } from "../../src/server/listen.ts";
import { rawExchange } from "../helpers/raw-http.ts";
import { selfSignedCertificate } from "../helpers/registry.ts";
import { tmpDir } from "../helpers/tmp.ts";

/** The listener (src/server/listen.ts) with handlers that misbehave the ways a registry's requests and answers can. */

const dir = tmpDir();
const listeners: Listener[] = [];
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.stop()));
});

async function serve(handler: (request: Request) => Promise<Response>, options: { tls?: { cert: string; key: string } } = {}): Promise<Listener> {
  const listener = await listen(handler, { hostname: "127.0.0.1", port: 0, ...options });
  listeners.push(listener);
  return listener;
}

/** The listener's answer when a body failed before anything went out: a 500 without a body, and the connection closed. */
function bareFailure(text: string): boolean {
  return text.startsWith("HTTP/1.1 500") && /\r\nContent-Length: 0\r\n/i.test(text) && text.endsWith("\r\n\r\n");
}

describe("listen", () => {
  test("a body the handler refuses unread: a client that writes it all before reading still gets the answer, on a connection that carries on", async () => {
    const listener = await serve(async (request) => new Response('{"errors":[]}', { status: new URL(request.url).pathname === "/next" ? 200 : 401 }));
    const body = new Uint8Array(40 << 20);
    const socket = connect({ host: "127.0.0.1", port: listener.port });
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.pause(); // reads nothing until every byte is written, as Python's http.client does
    socket.write(`PATCH /refused HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.byteLength}\r\n\r\n`);
    await new Promise<void>((resolve, reject) => socket.write(body, (err) => (err ? reject(err) : resolve())));
    socket.write("GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let text = "";
    socket.on("data", (data: Buffer) => {
      text += data.toString();
    });
    socket.resume();
    await new Promise((resolve) => socket.once("close", resolve));
    expect(text).toStartWith("HTTP/1.1 401");
    expect(text).toContain("HTTP/1.1 200"); // the refused body was dropped, and the next request read after it
  });

  test("a client that half-closes after its request gets the answer, ready before the FIN or after it, with a body or without", async () => {
    const listener = await serve(async (request) => {
      const body = await request.text();
      await Bun.sleep(Number(new URL(request.url).searchParams.get("wait")));
      return new Response(`got ${body.length}`, { status: 201 });
    });
    for (const wait of [0, 50]) {
      for (const body of ["", "hello"]) {
        const socket = connect({ host: "127.0.0.1", port: listener.port });
        let text = "";
        socket.on("data", (data: Buffer) => {
          text += data.toString();
        });
        await new Promise((resolve) => socket.once("connect", resolve));
        socket.end(`POST /?wait=${wait} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`); // the write side closes here
        await new Promise((resolve) => socket.once("close", resolve));
        expect([wait, body, text.split("\r\n")[0], text.split("\r\n\r\n")[1]]).toEqual([wait, body, "HTTP/1.1 201 Created", `got ${body.length}`]);
      }
    }
  });

  test("a handler working longer than the idle timeout on a bodiless request still answers; a client stalling its body is cut", async () => {
    const listener = await listen(
      async (request) => {
        if (request.body) await request.arrayBuffer();
        else await Bun.sleep(800); // a pull-through cache fetching the layer
        return new Response("late");
      },
      { hostname: "127.0.0.1", port: 0, idleMs: 300 },
    );
    listeners.push(listener);
    expect(await (await fetch(`http://127.0.0.1:${listener.port}/slow`)).text()).toBe("late");
    // a body that stops half-way: the client idles, and the connection goes at the timeout
    const stalled = await rawExchange(`127.0.0.1:${listener.port}`, "PATCH /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf");
    expect(stalled).toBe("");
  });

  test("a handler that gives up on a chunked body part-way still gets its answer out", async () => {
    const listener = await serve(async (request) => {
      const reader = request.body!.getReader();
      await reader.read();
      await reader.cancel();
      return new Response('{"errors":[{"code":"SIZE_INVALID"}]}', { status: 413 });
    });
    const chunk = new Uint8Array(1 << 20);
    const chunked = Buffer.concat(Array.from({ length: 5 }, () => Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])));
    const text = await rawExchange(`127.0.0.1:${listener.port}`, "PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n", { body: Buffer.concat([chunked, Buffer.from("0\r\n\r\n")]) });
    expect(text).toStartWith("HTTP/1.1 413");
    expect(text).toContain("SIZE_INVALID");
  });

  test("a streamed body longer or shorter than its Content-Length cuts the connection; nothing spills into the next answer", async () => {
    const stream = (parts: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < parts; i++) controller.enqueue(new Uint8Array(1000).fill(65 + i));
          controller.close();
        },
      });
    const listener = await serve(async (request) => {
      const parts = Number(new URL(request.url).searchParams.get("parts"));
      return new Response(stream(parts), { headers: { "Content-Length": "3000" } });
    });
    for (const parts of [2, 4]) {
      const text = await rawExchange(`127.0.0.1:${listener.port}`, `GET /?parts=${parts} HTTP/1.1\r\nHost: x\r\n\r\nGET /?parts=3 HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(1); // the pipelined second request never gets an answer on this connection
      const body = text.slice(text.indexOf("\r\n\r\n") + 4);
      expect(body.length).toBeLessThanOrEqual(3000);
    }
    const ok = await fetch(`http://127.0.0.1:${listener.port}/?parts=3`);
    expect((await ok.arrayBuffer()).byteLength).toBe(3000);
  });

  test("lengths: a body in one piece gets one, a stream without one goes chunked, HEAD gets the GET's, bodiless statuses none", async () => {
    const listener = await serve(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/json") return new Response('{"a":1}', { headers: { "Content-Type": "application/json" } });
      if (path === "/accepted") return new Response(null, { status: 202 });
      if (path === "/nothing") return new Response(null, { status: 204 });
      if (path === "/throws") throw new Error("a bug");
      if (path === "/bytes") return bytesResponse(new TextEncoder().encode("in memory"), { headers: { "Content-Length": "9" } });
      if (path === "/bytes-misdeclared") return bytesResponse(new TextEncoder().encode("in memory"), { headers: { "Content-Length": "99" } });
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("one,"));
            controller.enqueue(new TextEncoder().encode("two"));
            controller.close();
          },
        }),
      );
    });
    const base = `http://127.0.0.1:${listener.port}`;
    const json = await fetch(`${base}/json`);
    expect(json.headers.get("content-length")).toBe("7");
    expect(await json.text()).toBe('{"a":1}');
    const head = await rawExchange(`127.0.0.1:${listener.port}`, "HEAD /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(head).toContain("\r\nContent-Length: 7\r\n");
    expect(head).toEndWith("\r\n\r\n");
    const streamed = await fetch(`${base}/stream`);
    expect(streamed.headers.get("transfer-encoding")).toBe("chunked");
    expect(await streamed.text()).toBe("one,two");
    expect((await fetch(`${base}/accepted`)).headers.get("content-length")).toBe("0");
    const nothing = await rawExchange(`127.0.0.1:${listener.port}`, "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(nothing).toStartWith("HTTP/1.1 204");
    expect(nothing.toLowerCase()).not.toContain("content-length");
    expect((await fetch(`${base}/throws`)).status).toBe(500);
    // bytes in memory go out as they are, HEAD without them; a length that is not theirs gets a bare 500, never a wrong body
    const bytes = await rawExchange(`127.0.0.1:${listener.port}`, "GET /bytes HTTP/1.1\r\nHost: x\r\n\r\nHEAD /bytes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const [get, headOfBytes] = bytes.split(/(?=HTTP\/1\.1 )/);
    expect(get).toContain("\r\nContent-Length: 9\r\n");
    expect(get).toEndWith("\r\n\r\nin memory");
    expect(headOfBytes).toContain("\r\nContent-Length: 9\r\n");
    expect(headOfBytes).toEndWith("\r\n\r\n");
    expect(bareFailure(await rawExchange(`127.0.0.1:${listener.port}`, "GET /bytes-misdeclared HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe(true);
  });

  test("a file body whose declared length is not its range's gets a bare 500, not a wrong answer", async () => {
    const path = join(dir, "ten");
    writeFileSync(path, "0123456789");
    const listener = await serve(async () => fileResponse({ path, start: 0, end: 10 }, { headers: { "Content-Length": "9" } }));
    expect(bareFailure(await rawExchange(`127.0.0.1:${listener.port}`, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe(true);
  });

  test("a body stream that fails before its first byte is a bare 500 (not an empty 200); one that fails later cuts the answer", async () => {
    const failing = (goodChunks: number) => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < goodChunks) controller.enqueue(new Uint8Array(1000).fill(66));
          else controller.error(new Error("the digest did not match"));
        },
      });
    };
    const seen: SentAnswer[] = [];
    const listener = await listen(async (request) => new Response(failing(Number(new URL(request.url).searchParams.get("good"))), { headers: { "Content-Length": "5000" } }), {
      hostname: "127.0.0.1",
      port: 0,
      onSent: (sent) => void seen.push(sent),
    });
    listeners.push(listener);
    expect(bareFailure(await rawExchange(`127.0.0.1:${listener.port}`, "GET /?good=0 HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe(true);
    const later = await rawExchange(`127.0.0.1:${listener.port}`, "GET /?good=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(later).toStartWith("HTTP/1.1 200");
    expect(later.slice(later.indexOf("\r\n\r\n") + 4).length).toBeLessThan(5000);
    expect(later).not.toContain("[no close within 10 s]");
    expect(seen.map((s) => [s.status, s.cut, s.failure])).toEqual([
      [500, false, "the digest did not match"],
      [200, true, "the digest did not match"],
    ]);
  });

  test("stop lets a request in flight finish", async () => {
    const entered = Promise.withResolvers<void>();
    const slow = await serve(async () => {
      entered.resolve();
      await Bun.sleep(300);
      return new Response("done");
    });
    const answer = fetch(`http://127.0.0.1:${slow.port}/`);
    await entered.promise;
    await slow.stop();
    expect(await (await answer).text()).toBe("done");
  });

  test("stop closes a connection still sending its head at once, while a large answer in flight arrives whole", async () => {
    const entered = Promise.withResolvers<void>();
    const big = new Uint8Array(16 << 20).fill(120);
    const listener = await serve(async () => {
      entered.resolve();
      await Bun.sleep(200);
      return bytesResponse(big, {});
    });
    const trickling = Promise.withResolvers<void>();
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: listener.port, socket: { data() {}, close: () => trickling.resolve() } });
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
    const answer = fetch(`http://127.0.0.1:${listener.port}/`).then((r) => r.arrayBuffer());
    await entered.promise;
    const started = performance.now();
    await listener.stop();
    expect(performance.now() - started).toBeLessThan(3000); // Bun alone drops such a head after ~10 s
    expect(await Promise.race([trickling.promise.then(() => "closed"), Bun.sleep(1000).then(() => "open")])).toBe("closed");
    expect((await answer).byteLength).toBe(big.byteLength); // Bun's closeIdleConnections cut it
  });

  test("over TLS, file bodies read by slow clients arrive exact (the two read buffers are reused under backpressure)", async () => {
    const { cert, key } = selfSignedCertificate(dir, "listen");
    const bytes = new Uint8Array(randomBytes((12 << 20) + 321));
    const path = join(dir, "blob");
    writeFileSync(path, bytes);
    const listener = await serve(async (request) => {
      const range = /bytes=(\d+)-(\d+)/.exec(request.headers.get("range") ?? "");
      const [start, end] = range ? [Number(range[1]), Number(range[2]) + 1] : [0, bytes.byteLength];
      return fileResponse({ path, start, end }, { status: range ? 206 : 200, headers: { "Content-Length": String(end - start) } });
    }, { tls: { cert, key } });
    const read = async (range?: string) => {
      const response = await fetch(`https://127.0.0.1:${listener.port}/`, { headers: range ? { Range: range } : {}, tls: { rejectUnauthorized: false } });
      const reader = response.body!.getReader();
      const parts: Uint8Array[] = [];
      for (let n = 0; ; n++) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        if (n % 16 === 0) await Bun.sleep(3);
      }
      return Buffer.concat(parts);
    };
    const [a, b, c] = await Promise.all([read(), read(), read("bytes=1048570-3145730")]);
    expect(a.equals(bytes)).toBe(true);
    expect(b.equals(bytes)).toBe(true);
    expect(c.equals(bytes.subarray(1048570, 3145731))).toBe(true);
  });
});
