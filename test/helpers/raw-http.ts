/**
 * One raw HTTP/1.1 exchange: `request` (a head, or several pipelined), then `body` written as the
 * socket takes it; returns all the server sent until it closed the connection, `until` matched
 * what came, or 10 s passed (then the text ends in "[no close within 10 s]": a server that hangs
 * fails the test's assertions, not the run).
 */
export async function rawExchange(host: string, request: string, options: { body?: Uint8Array; until?: RegExp } = {}): Promise<string> {
  const [hostname, port] = host.split(":");
  let received = "";
  let pending = options.body;
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: hostname!,
    port: Number(port),
    socket: {
      data(_, data) {
        received += new TextDecoder().decode(data);
        if (options.until?.test(received)) resolve(received);
      },
      drain(s) {
        if (pending) pending = pending.subarray(s.write(pending));
      },
      close: () => resolve(received),
      error: () => resolve(received),
    },
  });
  socket.write(request);
  if (pending) pending = pending.subarray(socket.write(pending));
  // a server that neither closes nor sends what `until` waits for fails the test (an answer that hangs is no cut)
  const timer = setTimeout(() => resolve(`${received}[no close within 10 s]`), 10_000);
  const answer = await promise;
  clearTimeout(timer);
  socket.end();
  return answer;
}
