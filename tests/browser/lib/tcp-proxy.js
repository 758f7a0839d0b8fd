// A TCP relay the test can cut: it listens on another loopback address with the same port as
// weft's TLS listener, so a browser started with
// `--host-resolver-rules=MAP relay.<domain> <proxy ip>` reaches weft's WebSocket through it
// (TLS passes through untouched) and the test can drop that browser's connections mid-call.

import { createServer, connect } from 'node:net';

/** Relays `listenHost:port` to `targetHost:port`; dropAll() resets every open connection. */
export async function startTcpProxy({ listenHost, targetHost, port }) {
  const open = new Set();
  const server = createServer((client) => {
    const upstream = connect(port, targetHost);
    const pair = { client, upstream };
    open.add(pair);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, listenHost, ok);
  });
  return {
    /** Connections open now. */
    get open() {
      return open.size;
    },
    /** Resets every open connection (RST to both sides); returns how many there were. */
    dropAll() {
      const n = open.size;
      for (const { client, upstream } of [...open]) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      open.clear();
      return n;
    },
    close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((r) => server.close(r));
    },
  };
}
