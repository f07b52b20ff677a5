import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { rawExchange } from "../helpers/raw-http.ts";
import { randomImage, writeImage } from "../helpers/random-image.ts";
import { selfSignedCertificate } from "../helpers/registry.ts";
import { type RunningServe, startServe } from "../helpers/serve.ts";
import { parseImageRef } from "../../src/transport/index.ts";
import { tmpDir } from "../helpers/tmp.ts";

/** What `serve` puts on the wire (server/listen.ts), byte for byte, under clients that misbehave. */

const sha256 = (bytes: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;

for (const store of ["--root", "--memory"] as const) {
  describe(`serve on the wire (${store === "--root" ? "filesystem" : "memory"} store)`, () => {
    const dir = tmpDir();
    let server: RunningServe;
    // 24 MiB and a few bytes: many 1 MiB read blocks, a short last one, more than loopback buffers hold
    const blob = new Uint8Array(randomBytes((24 << 20) + 1234));
    const digest = sha256(blob);
    const url = () => `http://${server.host}/v2/wire/blob/blobs/${digest}`;
    beforeAll(async () => {
      server = await startServe(store === "--root" ? ["--root", join(dir, "root")] : ["--memory"]);
      const pushed = await fetch(`http://${server.host}/v2/wire/blob/blobs/uploads/?digest=${digest}`, { method: "POST", body: blob });
      expect(pushed.status).toBe(201);
    });
    afterAll(() => server?.stop());

    test("a blob GET carries its Content-Length and the exact bytes; ranges across block edges", async () => {
      const whole = await fetch(url());
      expect(whole.headers.get("content-length")).toBe(String(blob.byteLength));
      expect(whole.headers.get("transfer-encoding")).toBeNull();
      expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(digest);
      // read blocks are 1 MiB: a range across an edge, one inside the second block, the short last one
      for (const [first, last] of [[0, 0], [(1 << 20) - 1, 1 << 20], [1000, 3 << 20], [blob.byteLength - 100, blob.byteLength - 1]] as const) {
        const part = await fetch(url(), { headers: { Range: `bytes=${first}-${last}` } });
        expect(part.status).toBe(206);
        expect(part.headers.get("content-length")).toBe(String(last - first + 1));
        expect(new Uint8Array(await part.arrayBuffer())).toEqual(blob.subarray(first, last + 1));
      }
    });

    test("slow readers side by side each get the exact bytes; clients that hang up leave no file open", async () => {
      // files the server holds open under its root (a memory store has none to leak)
      const openFiles = () => readdirSync(`/proc/${server.pid}/fd`).filter((fd) => readlinkSync(`/proc/${server.pid}/fd/${fd}`).startsWith(dir)).length;
      // what the server holds once it has noticed every earlier download end (the last test's may still be closing)
      const settled = async () => {
        for (const deadline = performance.now() + 3000; openFiles() > 0 && performance.now() < deadline; ) await Bun.sleep(20);
        return openFiles();
      };
      const before = await settled();
      const slowRead = async () => {
        const reader = (await fetch(url())).body!.getReader();
        const hasher = new Bun.CryptoHasher("sha256");
        for (let n = 0; ; n++) {
          const { done, value } = await reader.read();
          if (done) break;
          hasher.update(value);
          if (n % 8 === 0) await Bun.sleep(2);
        }
        return `sha256:${hasher.digest("hex")}`;
      };
      const hangUp = async () => {
        const reader = (await fetch(url())).body!.getReader();
        await reader.read();
        await reader.cancel();
      };
      const results = await Promise.all([slowRead(), slowRead(), slowRead(), hangUp(), hangUp(), hangUp()]);
      expect(results.slice(0, 3)).toEqual([digest, digest, digest]);
      if (store === "--root") {
        // a memory store opens no file; the server closes a hung-up download's file as it notices
        expect(await settled()).toBe(before);
      }
      expect(sha256(new Uint8Array(await (await fetch(url())).arrayBuffer()))).toBe(digest);
    });

    // file bodies only: a memory store streams its blobs
    if (store === "--root") {
      test("forty file downloads at once (past the 32 that get 1 MiB blocks) each get the exact bytes", async () => {
        const readSlowly = async () => {
          const reader = (await fetch(url())).body!.getReader();
          const hasher = new Bun.CryptoHasher("sha256");
          for (let first = true; ; first = false) {
            const { done, value } = await reader.read();
            if (done) break;
            hasher.update(value);
            if (first) await Bun.sleep(300); // all forty are in flight at once, each more than the socket buffers hold
          }
          return `sha256:${hasher.digest("hex")}`;
        };
        const digests = await Promise.all(Array.from({ length: 40 }, readSlowly));
        expect(new Set(digests)).toEqual(new Set([digest]));
      });
    }

    test("header names go out as distribution writes them", async () => {
      const answer = await rawExchange(server.host, `HEAD /v2/wire/blob/blobs/${digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { until: /\r\n\r\n/ });
      expect(answer).toStartWith("HTTP/1.1 200");
      expect(answer).toContain(`\r\nDocker-Content-Digest: ${digest}\r\n`);
      expect(answer).toContain("\r\nDocker-Distribution-Api-Version: registry/2.0\r\n");
      expect(answer).toContain(`\r\nContent-Length: ${blob.byteLength}\r\n`);
    });

    test("a 304 for a current copy carries no body: the next request on the connection is answered", async () => {
      const conditional = `GET /v2/wire/blob/blobs/${digest} HTTP/1.1\r\nHost: x\r\nIf-None-Match: "${digest}"\r\n\r\n`;
      const last = `HEAD /v2/wire/blob/blobs/${digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
      const answer = await rawExchange(server.host, conditional + last);
      const [first, second] = answer.split(/(?=HTTP\/1\.1 )/);
      expect(first).toStartWith("HTTP/1.1 304");
      expect(first).toContain(`\r\nEtag: "${digest}"\r\n`);
      expect(first).not.toContain("Content-Length");
      expect(first).toEndWith("\r\n\r\n");
      expect(second).toStartWith("HTTP/1.1 200");
    });

    test("a PATCH whose client hangs up part-way keeps nothing of it; the upload then completes from byte 0", async () => {
      const start = await fetch(`http://${server.host}/v2/wire/cut/blobs/uploads/`, { method: "POST" });
      const location = start.headers.get("location")!;
      const head = `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${blob.byteLength}\r\n\r\n`;
      const [hostname, port] = server.host.split(":");
      const socket = await Bun.connect({ hostname: hostname!, port: Number(port), socket: { data() {} } });
      socket.write(head);
      socket.write(blob.subarray(0, 5 << 20));
      await Bun.sleep(100);
      socket.end();
      // had the cut chunk been kept, the session would hold 5 MiB: the PATCH from byte 0 below would be a 416
      const status = await fetch(`http://${server.host}${location}`);
      expect(status.status).toBe(204);
      expect(status.headers.get("range")).toBe("0-0");
      // a chunked body (no Content-Length) from byte 0 finishes the same session
      const streamed = new ReadableStream({
        start(controller) {
          for (let at = 0; at < blob.byteLength; at += 1 << 20) controller.enqueue(blob.slice(at, at + (1 << 20)));
          controller.close();
        },
      });
      const patched = await fetch(`http://${server.host}${location}`, { method: "PATCH", body: streamed, headers: { "Content-Type": "application/octet-stream" } });
      expect(patched.status).toBe(202);
      const close = new URL(patched.headers.get("location")!, `http://${server.host}`);
      close.searchParams.set("digest", digest);
      const done = await fetch(close, { method: "PUT" });
      expect(done.status).toBe(201);
      expect(sha256(new Uint8Array(await (await fetch(`http://${server.host}/v2/wire/cut/blobs/${digest}`)).arrayBuffer()))).toBe(digest);
    });
  });
}

describe("serve --tls-cert", () => {
  const dir = tmpDir();
  let server: RunningServe;
  const skopeo = requirePeer("skopeo");
  beforeAll(async () => {
    const { certPath, keyPath } = selfSignedCertificate(dir, "serve");
    server = await startServe(["--memory", "--tls-cert", certPath, "--tls-key", keyPath]);
  });
  afterAll(() => server?.stop());

  test("stevedore pushes over HTTPS trusting the certificate (--dest-cert-dir), skopeo inspects and pulls it back; plain HTTP gets nothing", async () => {
    const certDir = join(dir, "certs");
    await Bun.write(join(certDir, "serve.crt"), Bun.file(join(dir, "serve.crt")));
    const image = randomImage({ layers: 2, seed: 77 });
    await writeImage(parseImageRef(`oci:${join(dir, "src")}:v1`), image);
    const pushed = await stevedore(["copy", "-q", "--dest-cert-dir", certDir, `oci:${join(dir, "src")}:v1`, `docker://${server.host}/tls/app:v1`]);
    expect(pushed.exitCode).toBe(0);
    const inspected = await run([skopeo, "inspect", "--raw", "--cert-dir", certDir, `docker://${server.host}/tls/app:v1`]);
    expect(inspected.exitCode).toBe(0);
    expect(sha256(new TextEncoder().encode(inspected.stdout))).toBe(image.top.digest);
    const pulled = await run([skopeo, "--insecure-policy", "copy", "--src-cert-dir", certDir, `docker://${server.host}/tls/app:v1`, `oci:${join(dir, "back")}:v1`]);
    expect(pulled.exitCode).toBe(0);
    // the port speaks TLS only: plain HTTP gets no registry answer
    const plain = await fetch(`http://${server.host}/v2/`).then((r) => r.status, () => 0);
    expect(plain).not.toBe(200);
  });
});
