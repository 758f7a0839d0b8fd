// Starts and stops a real `weft serve` for the browser tests, and talks to it: admin CLI, REST
// API (HTTP Basic over the plain HTTP listener) and the OAuth endpoints.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, readFileSync, accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { randomUUID, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * The weft binary: $WEFT_BIN (relative to the current directory; the server runs in its temp
 * dir), or the release build.
 */
export function weftBinary() {
  return process.env.WEFT_BIN ? resolve(process.env.WEFT_BIN) : join(REPO_ROOT, 'target/release/weft');
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A UDP socket bound to `host`:`port` (0: any free port); rejects when the port is taken. */
function bindUdp(port, host) {
  return new Promise((ok, fail) => {
    const socket = createSocket('udp4');
    socket.once('error', fail);
    socket.bind(port, host, () => ok(socket));
  });
}

const closeUdp = (socket) => new Promise((r) => socket.close(r));

/**
 * The first of `count` consecutive UDP ports on `host` that are all free right now (the first
 * one even, as RTP ports conventionally are).
 */
export async function freeUdpPorts(count, host = '127.0.0.1') {
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = await bindUdp(0, host);
    const base = probe.address().port & ~1;
    await closeUdp(probe);
    if (base + count > 65535) continue;
    const bound = [];
    try {
      for (let port = base; port < base + count; port++) bound.push(await bindUdp(port, host));
      return base;
    } catch {
      // one of them is taken: try elsewhere
    } finally {
      await Promise.all(bound.map(closeUdp));
    }
  }
  throw new Error(`found no ${count} consecutive free UDP ports on ${host}`);
}

/** A port on `host` free for both UDP and TCP right now (SIP listens on both). */
export async function freeSipPort(host = '127.0.0.1') {
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = await bindUdp(0, host);
    const { port } = probe.address();
    await closeUdp(probe);
    const tcpFree = await new Promise((ok) => {
      const server = createServer();
      server.once('error', () => ok(false));
      server.listen(port, host, () => server.close(() => ok(true)));
    });
    if (tcpFree) return port;
  }
  throw new Error(`found no port free for both UDP and TCP on ${host}`);
}

/** One `weft serve` on a temp data dir with free loopback ports and bootstrap credentials. */
export class Weft {
  constructor({ configToml = null } = {}) {
    this.workDir = mkdtempSync(join(tmpdir(), 'weft-browser-'));
    this.dataDir = join(this.workDir, 'data');
    this.logPath = join(this.workDir, 'weft.log');
    this.projectId = randomUUID();
    this.apiToken = randomBytes(24).toString('base64url');
    this.domain = 'weft.localhost';
    this.configPath = null;
    if (configToml) {
      this.configPath = join(this.workDir, 'weft.toml');
      writeFileSync(this.configPath, configToml);
    }
    this.process = null;
  }

  /** Base URL of the plain HTTP listener. */
  get httpUrl() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The issuer and REST base the browser uses: https://fabric.<domain>:<tls port>. */
  get issuer() {
    return `https://fabric.${this.domain}:${this.tlsPort}`;
  }

  env() {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WEFT_')));
    return {
      ...env,
      WEFT_HTTP_LISTEN: `127.0.0.1:${this.httpPort}`,
      WEFT_TLS_LISTEN: `127.0.0.1:${this.tlsPort}`,
      // SIP binds UDP and TCP on one port: the test picks one with sipPort, else the OS does.
      WEFT_SIP_LISTEN: `127.0.0.1:${this.sipPort ?? 0}`,
      // Several servers may run at once: let the OS pick the metrics port.
      WEFT_METRICS_LISTEN: '127.0.0.1:0',
      WEFT_DOMAIN: this.domain,
      WEFT_BOOTSTRAP_PROJECT_ID: this.projectId,
      WEFT_BOOTSTRAP_API_TOKEN: this.apiToken,
      WEFT_LOG_LEVEL: 'info',
    };
  }

  settings() {
    return ['--data-dir', this.dataDir, ...(this.configPath ? ['--config', this.configPath] : [])];
  }

  /** Starts the server and waits until GET /healthz answers 200. */
  async start() {
    try {
      accessSync(weftBinary(), constants.X_OK);
    } catch {
      throw new Error(`weft binary not found at ${weftBinary()}: build it or set WEFT_BIN`);
    }
    this.httpPort = await freePort();
    this.tlsPort = await freePort();
    const log = openSync(this.logPath, 'a');
    this.process = spawn(weftBinary(), ['serve', ...this.settings()], {
      cwd: this.workDir,
      env: this.env(),
      stdio: ['ignore', log, log],
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) {
        throw new Error(`weft exited with ${this.process.exitCode}; log:\n${this.log()}`);
      }
      try {
        const res = await fetch(`${this.httpUrl}/healthz`);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    await this.stop();
    throw new Error(`weft was not ready within ${READY_TIMEOUT_MS} ms; log:\n${this.log()}`);
  }

  /** SIGTERM, then SIGKILL after a timeout; removes the temp dir. Only our own process. */
  async stop() {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    this.process = null;
  }

  /** Removes the temp dir (after stop). */
  cleanup() {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '(no log)';
    }
  }

  /** Runs `weft admin ARGS… --data-dir DIR` with the server's settings; returns parsed JSON. */
  async admin(...args) {
    const { stdout } = await promisify(execFile)(weftBinary(), ['admin', ...args, ...this.settings()], {
      cwd: this.workDir,
      env: this.env(),
      timeout: 60_000,
    });
    const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    return JSON.parse(line);
  }

  /** A REST call with the bootstrap project's Basic credentials. */
  async api(method, path, body) {
    const auth = Buffer.from(`${this.projectId}:${this.apiToken}`).toString('base64');
    const res = await fetch(`${this.httpUrl}${path}`, {
      method,
      headers: { Authorization: `Basic ${auth}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** Creates a subscriber through the REST API. */
  async createSubscriber({ email, password, first_name, last_name }) {
    const res = await this.api('POST', '/api/fabric/resources/subscribers', {
      email,
      password,
      first_name,
      last_name,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`creating a subscriber: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }
}
