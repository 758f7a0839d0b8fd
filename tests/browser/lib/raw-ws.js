// A minimal WebSocket client over plain TCP (RFC 6455, client side), so a test can send frames
// no well-behaved library would: broken JSON, binary, oversized, and request floods.

import { connect } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One raw WebSocket connection to ws://host:port/ with received text frames collected. */
export class RawWs {
  static async open(host, port, path = '/') {
    const ws = new RawWs();
    await ws.#handshake(host, port, path);
    return ws;
  }

  constructor() {
    this.messages = [];
    this.closed = null;
    this.buffer = Buffer.alloc(0);
  }

  #handshake(host, port, path) {
    return new Promise((ok, fail) => {
      const key = randomBytes(16).toString('base64');
      this.socket = connect(port, host, () => {
        this.socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      let upgraded = false;
      this.socket.on('data', (chunk) => {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        if (!upgraded) {
          const end = this.buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = this.buffer.subarray(0, end).toString();
          this.buffer = this.buffer.subarray(end + 4);
          if (!head.startsWith('HTTP/1.1 101')) {
            fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
            return;
          }
          upgraded = true;
          ok();
        }
        this.#parse();
      });
      this.socket.on('error', (e) => (upgraded ? (this.closed ??= { error: e.message }) : fail(e)));
      this.socket.on('close', () => (this.closed ??= { code: null }));
    });
  }

  #parse() {
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = this.buffer[0] & 0x0f;
      let len = this.buffer[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buffer.length < 4) return;
        len = this.buffer.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buffer.length < 10) return;
        len = Number(this.buffer.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buffer.length < off + len) return;
      const payload = this.buffer.subarray(off, off + len);
      this.buffer = this.buffer.subarray(off + len);
      if (opcode === 1) {
        this.messages.push(JSON.parse(payload.toString()));
      } else if (opcode === 8) {
        this.closed = { code: payload.length >= 2 ? payload.readUInt16BE(0) : null, reason: payload.subarray(2).toString() };
      } else if (opcode === 9) {
        this.#frame(0xa, payload);
      }
    }
  }

  /** Sends one masked frame with `opcode` (1 text, 2 binary); nothing once the server closed. */
  #frame(opcode, payload) {
    if (this.closed) return;
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  sendText(text) {
    this.#frame(1, Buffer.from(text));
  }

  sendBinary(bytes) {
    this.#frame(2, Buffer.from(bytes));
  }

  /** Sends a JSON-RPC request; returns its id. */
  request(method, params = {}, id = randomUUID()) {
    this.sendText(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return id;
  }

  /** The first received message for which `match` holds (waits up to `timeoutMs`). */
  async waitFor(match, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      }
      await sleep(20);
    }
  }

  /** The response to request `id`. */
  reply(id, timeoutMs) {
    return this.waitFor((m) => m.id === id && ('result' in m || 'error' in m), timeoutMs);
  }

  /** Waits until the server closed the connection. */
  async waitClosed(timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await sleep(20);
    return this.closed;
  }

  close() {
    this.socket.destroy();
  }
}
