import type { Socket } from "bun";

/** Writes to a socket in order, keeping what the socket did not take until it drains. */
class Sender {
  private readonly queue: Uint8Array[] = [];
  socket?: Socket<unknown>;

  write(chunk: Uint8Array): void {
    this.queue.push(new Uint8Array(chunk)); // the caller's buffer is only lent for the callback
    this.drain();
  }

  drain(): void {
    while (this.socket && this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = this.socket.write(head);
      if (written < head.byteLength) {
        this.queue[0] = head.subarray(Math.max(written, 0));
        return;
      }
      this.queue.shift();
    }
  }
}

interface Link {
  readonly toUpstream: Sender;
  readonly toClient: Sender;
  carried: number;
}

/**
 * A TCP proxy on loopback in front of `upstream` that drops one connection once it has carried
 * `cutAfter` bytes from the client (a dropped link in the middle of an upload); every other
 * connection, and every byte before the cut, passes through untouched.
 */
export function startCuttingProxy(upstream: string, cutAfter: number) {
  const [upstreamHost, upstreamPort] = upstream.split(":") as [string, string];
  let cuts = 0;
  const server = Bun.listen<Link>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        const link: Link = { toUpstream: new Sender(), toClient: new Sender(), carried: 0 };
        client.data = link;
        link.toClient.socket = client as Socket<unknown>;
        link.toUpstream.socket = await Bun.connect({
          hostname: upstreamHost,
          port: Number(upstreamPort),
          socket: {
            data: (_up, chunk) => link.toClient.write(chunk),
            drain: () => link.toUpstream.drain(),
            close: () => void client.end(),
            error: () => void client.end(),
          },
        });
        link.toUpstream.drain();
      },
      data(client, chunk) {
        const link = client.data;
        link.carried += chunk.byteLength;
        if (cuts === 0 && link.carried > cutAfter) {
          cuts++;
          link.toUpstream.socket?.end();
          client.end();
          return;
        }
        link.toUpstream.write(chunk);
      },
      drain: (client) => client.data.toClient.drain(),
      close: (client) => void client.data?.toUpstream.socket?.end(),
    },
  });
  return { host: `127.0.0.1:${server.port}`, cuts: () => cuts, stop: () => server.stop(true) };
}
