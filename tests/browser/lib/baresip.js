// A real SIP phone for the browser tests: one baresip 1.0.0 user agent (Debian `baresip-core`),
// headless on loopback, with a sine tone as its microphone, what it decodes recorded to WAV, and
// the `ctrl_tcp` module so a test can dial, answer, hang up and send DTMF, and wait for its events.
// The Node counterpart of tests/e2e/sip_peers.py's Baresip (same config and quirks).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import { freePort, freeSipPort, freeUdpPorts } from './weft.js';
import { readWav, toneLevels, judgeTones } from './tone.js';
import { waitUntil, exitedWithin, stopChild } from './child.js';

const LOOPBACK = '127.0.0.1';
const MODULE_DIR = '/usr/lib/baresip/modules';
const READY_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 5_000;
const QUIT_TIMEOUT_MS = 5_000;
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;
const CODEC_MODULES = { pcmu: 'g711.so', pcma: 'g711.so', opus: 'opus.so', g722: 'g722.so' };

/**
 * A client of baresip's `ctrl_tcp`: netstring-framed JSON over TCP. A command is
 * `{command, params, token}`; baresip answers `{response: true, ok, data, token}` and pushes
 * every UA event as `{event: true, type, param, …}`.
 */
class CtrlTcp {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.pending = new Map();
    this.waiters = new Set();
    this.closed = false;
    this.nextToken = 1;
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const colon = buffer.indexOf(':');
        if (colon <= 0) break;
        const end = colon + 1 + Number(buffer.subarray(0, colon).toString());
        if (buffer.length <= end) break;
        if (buffer[end] !== 0x2c) {
          socket.destroy(new Error(`bad netstring from baresip: ${buffer.subarray(0, 80)}`));
          return;
        }
        this.#dispatch(JSON.parse(buffer.subarray(colon + 1, end).toString()));
        buffer = buffer.subarray(end + 1);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const { fail } of this.pending.values()) fail(new Error('baresip closed ctrl_tcp'));
      this.pending.clear();
      this.#notify();
    });
  }

  /** Connects to ctrl_tcp on `port`. */
  static open(port) {
    return new Promise((ok, fail) => {
      const socket = connect(port, LOOPBACK);
      socket.once('connect', () => ok(new CtrlTcp(socket)));
      socket.once('error', fail);
    });
  }

  #dispatch(message) {
    if (message.response) {
      const waiter = this.pending.get(String(message.token));
      this.pending.delete(String(message.token));
      waiter?.ok(message);
    } else if (message.event) {
      this.events.push(message);
      this.#notify();
    }
  }

  #notify() {
    for (const wake of this.waiters) wake();
  }

  /** Sends one command; resolves to baresip's response (rejects if none comes within `timeoutMs`). */
  command(name, params = '', timeoutMs = COMMAND_TIMEOUT_MS) {
    const token = `t${this.nextToken++}`;
    const payload = Buffer.from(JSON.stringify({ command: name, params, token }));
    return new Promise((ok, fail) => {
      if (this.closed) return fail(new Error('baresip closed ctrl_tcp'));
      const timer = setTimeout(() => {
        this.pending.delete(token);
        fail(new Error(`baresip did not answer the ctrl_tcp command ${name} ${params} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (f) => (v) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(token, { ok: done(ok), fail: done(fail) });
      this.socket.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
    });
  }

  /**
   * The first `count` events of `type` at index `from` or later for which `match(event)` holds,
   * waiting up to `timeoutMs` for them.
   */
  waitEvents(type, count, { from = 0, match = () => true, timeoutMs = 10_000 } = {}) {
    const found = () => this.events.slice(from).filter((e) => e.type === type && match(e));
    return new Promise((ok, fail) => {
      const check = () => {
        const events = found();
        if (events.length >= count) {
          finish();
          ok(events.slice(0, count));
        } else if (this.closed) {
          finish();
          fail(new Error(`baresip closed ctrl_tcp before ${count} ${type} events`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        const seen = this.events.map((e) => `${e.type}${e.param ? ` ${e.param}` : ''}`);
        fail(new Error(`not ${count} baresip ${type} events within ${timeoutMs} ms; events: ${JSON.stringify(seen)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  close() {
    this.socket.destroy();
  }
}

/**
 * One baresip process with a config dir of its own under `workDir`.
 *
 * - SIP on a free port of 127.0.0.1 (UDP), RTP on `rtpPortCount` free ports.
 * - Its microphone is `ausine` at `toneHz` (which needs 48 kHz stereo); nothing is played; with
 *   `record`, `sndfile` writes `dump-<time>-dec.wav` (what it decoded) and `-enc.wav` (what it sent).
 * - Account `"displayName" <sip:user@domain>`: `domain` defaults to its own address;
 *   `password` is the digest password; `outbound` (e.g. `sip:127.0.0.1:5060`) is the proxy every
 *   request goes to; `regint` > 0 registers every `regint` seconds; `autoAnswer` answers
 *   incoming calls at once (otherwise `accept()` answers, `hangup()` refuses); `codecs` in
 *   preference order (`PCMU`, `PCMA`, `opus/48000/2`).
 * - Everything it prints goes to `baresip.log`.
 */
export class Baresip {
  constructor({
    workDir,
    user,
    password = null,
    domain = null,
    displayName = null,
    outbound = null,
    regint = 0,
    autoAnswer = false,
    toneHz = 440,
    codecs = ['PCMU'],
    record = true,
    rtpPortCount = 10,
  }) {
    this.dir = mkdtempSync(join(workDir, `baresip-${user}-`));
    this.configDir = join(this.dir, 'config');
    this.recordingsDir = join(this.dir, 'recordings');
    this.logPath = join(this.dir, 'baresip.log');
    Object.assign(this, { user, password, domain, displayName, outbound, regint, autoAnswer, toneHz, codecs, record, rtpPortCount });
    this.process = null;
    this.ctrl = null;
  }

  /** The account's address of record. */
  get aor() {
    return `sip:${this.user}@${this.domain}`;
  }

  /** The `accounts` file line. */
  accountLine() {
    const params = [
      `regint=${this.regint}`,
      `audio_codecs=${this.codecs.join(',')}`,
      `answermode=${this.autoAnswer ? 'auto' : 'manual'}`,
    ];
    if (this.password !== null) params.push(`auth_pass=${this.password}`);
    if (this.outbound) params.push(`outbound="${this.outbound}"`);
    const name = this.displayName ? `"${this.displayName}" ` : '';
    return `${name}<${this.aor}>;${params.join(';')}`;
  }

  /** The `config` file. */
  configText() {
    const modules = [];
    for (const codec of this.codecs) {
      const module = CODEC_MODULES[codec.split('/')[0].toLowerCase()];
      if (!module) throw new Error(`no baresip module known for codec ${codec}`);
      if (!modules.includes(module)) modules.push(module);
    }
    modules.push('ausine.so');
    if (this.record) modules.push('sndfile.so');
    const lines = [
      `module_path ${MODULE_DIR}`,
      'poll_method epoll',
      `sip_listen ${LOOPBACK}:${this.sipPort}`,
      // An interface name such as `lo` fails with "No such device" in 1.0.0: use the IP.
      `net_interface ${LOOPBACK}`,
      `rtp_ports ${this.rtpPorts[0]}-${this.rtpPorts[1]}`,
      `audio_source ausine,${this.toneHz}`,
      // ausine only produces audio at 48 kHz stereo.
      'ausrc_srate 48000',
      'ausrc_channels 2',
      'audio_player none,none',
      'audio_alert none,none',
      // Without this the menu module rewrites a status line on stdout many times a second.
      'statmode_default off',
      ...modules.map((m) => `module ${m}`),
      'module_app account.so',
      'module_app menu.so',
      'module_app ctrl_tcp.so',
      `ctrl_tcp_listen ${LOOPBACK}:${this.ctrlPort}`,
    ];
    // Relative to baresip's working directory: sndfile 1.0.0 cuts the file name at 128 bytes (a
    // long absolute path loses its ".wav").
    if (this.record) lines.push('snd_path recordings');
    return `${lines.join('\n')}\n`;
  }

  /**
   * Picks its ports, writes the config dir, starts baresip and waits until it is ready and
   * ctrl_tcp is connected; throws (with the log) if it exits or a module fails to load.
   */
  async start() {
    this.sipPort = await freeSipPort();
    this.ctrlPort = await freePort();
    const first = await freeUdpPorts(this.rtpPortCount);
    this.rtpPorts = [first, first + this.rtpPortCount - 1];
    this.domain ??= `${LOOPBACK}:${this.sipPort}`;
    mkdirSync(this.configDir, { recursive: true });
    mkdirSync(this.recordingsDir, { recursive: true });
    writeFileSync(join(this.configDir, 'config'), this.configText());
    writeFileSync(join(this.configDir, 'accounts'), `${this.accountLine()}\n`);
    writeFileSync(join(this.configDir, 'contacts'), '');
    const log = openSync(this.logPath, 'a');
    this.process = spawn('baresip', ['-f', this.configDir], { cwd: this.dir, stdio: ['ignore', log, log] });
    closeSync(log);
    try {
      await waitUntil(
        async () => {
          if (this.process.exitCode !== null) throw new Error(`baresip exited with ${this.process.exitCode}; log:\n${this.log()}`);
          if (!this.log().includes('baresip is ready.')) return false;
          return CtrlTcp.open(this.ctrlPort).catch(() => null);
        },
        READY_TIMEOUT_MS,
        'baresip to be ready',
        () => this.log(),
      ).then((ctrl) => {
        this.ctrl = ctrl;
      });
      const failed = this.log().match(/^module \S+: .*$/gm);
      if (failed) throw new Error(`baresip failed to load modules: ${failed}\n${this.log()}`);
    } catch (e) {
      await this.stop();
      throw e;
    }
    return this;
  }

  /**
   * Runs one baresip command (as typed after `/` in its console: `dial`, `accept`, `hangup`,
   * `sndcode`, `reginfo`, `quit`) over ctrl_tcp; resolves to its output, throws if it failed.
   */
  async command(name, params = '', timeoutMs = COMMAND_TIMEOUT_MS) {
    if (!this.ctrl) throw new Error('baresip is not started');
    const response = await this.ctrl.command(name, params, timeoutMs);
    if (!response.ok) throw new Error(`baresip command ${name} ${params} failed: ${response.data}`);
    return response.data ?? '';
  }

  /** Starts a call to `uri` (wait for CALL_ESTABLISHED). */
  dial(uri) {
    return this.command('dial', uri);
  }

  /** Answers the ringing call. */
  accept() {
    return this.command('accept');
  }

  /** Hangs up the current call (refuses it while it rings in). */
  hangup() {
    return this.command('hangup');
  }

  /** Sends `digits` in the current call as RFC 4733 telephone-events (about 180 ms each). */
  sendDigits(digits) {
    return this.command('sndcode', digits);
  }

  /** The UA events received so far (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_DTMF_START`, …). */
  events() {
    return this.ctrl ? [...this.ctrl.events] : [];
  }

  /** The first event of `type` (from index `from`, matching `match`), waiting up to `timeoutMs`. */
  async waitEvent(type, options = {}) {
    return (await this.waitEvents(type, 1, options))[0];
  }

  /** The first `count` events of `type` (from index `from`, matching `match`), waiting up to `timeoutMs`. */
  async waitEvents(type, count, options = {}) {
    if (!this.ctrl) throw new Error('baresip is not started');
    try {
      return await this.ctrl.waitEvents(type, count, options);
    } catch (e) {
      throw new Error(`${e.message}\n--- baresip log ---\n${this.log().split('\n').slice(-40).join('\n')}`);
    }
  }

  /** Waits until the account is registered (`reginfo` says OK); fails at once when it failed. */
  async waitRegistered(timeoutMs = 10_000) {
    await waitUntil(
      async () => {
        // "reg: <aor>: 403 Forbidden", or "reg: <aor>: Register: <error>" when it gave up itself.
        const refused = this.log().match(/reg: \S+: ((?:[1-6]\d\d|Register:) .*)/);
        if (refused) throw new Error(`registration of ${this.aor} refused: ${refused[1]}\n${this.log()}`);
        return /\bOK\b/.test((await this.command('reginfo')).replace(ANSI_ESCAPE, ''));
      },
      timeoutMs,
      `registration of ${this.aor}`,
      () => this.log(),
    );
  }

  /** The WAV files sndfile wrote, oldest first: `dec` what it decoded, `enc` what it sent. */
  recordings(kind = 'dec') {
    return readdirSync(this.recordingsDir)
      .filter((f) => f.startsWith('dump-') && f.endsWith(`-${kind}.wav`))
      .sort()
      .map((f) => join(this.recordingsDir, f));
  }

  /** What it decoded in the newest call that started after `known` (a `recordings()` list). */
  newRecording(known) {
    return this.recordings().find((f) => !known.includes(f)) ?? null;
  }

  /**
   * Waits until the newest recording not in `known` has `seconds` of audio whose last `seconds`
   * hold the tones `present` (25 dB over the floor) and not `absent` (30 dB under the weakest
   * present); resolves to the levels, throws after `timeoutMs` with the last levels.
   */
  async waitHears(known, present, absent = [], { seconds = 1, timeoutMs = 10_000 } = {}) {
    let last = null;
    try {
      return await waitUntil(
        () => {
          const file = this.newRecording(known);
          if (!file) return false;
          let wav;
          try {
            wav = readWav(file);
          } catch {
            return false; // the header is not written yet
          }
          const window = Math.round(seconds * wav.rate);
          if (wav.samples.length < window) return false;
          last = toneLevels(wav.samples.subarray(wav.samples.length - window), wav.rate, [...present, ...absent]);
          const { missing, extra } = judgeTones(last, present, absent);
          return missing.length === 0 && extra.length === 0 && last;
        },
        timeoutMs,
        `baresip ${this.user} to hear ${present.join(', ')} Hz and not ${absent.join(', ') || '-'} Hz`,
        () => `last levels: ${JSON.stringify(last)}`,
      );
    } catch (e) {
      throw new Error(`${e.message}\n--- baresip log ---\n${this.log().split('\n').slice(-30).join('\n')}`);
    }
  }

  /** Everything baresip printed so far, without colour escapes. */
  log() {
    try {
      return readFileSync(this.logPath, 'utf8').replace(ANSI_ESCAPE, '');
    } catch {
      return '(no log)';
    }
  }

  /** Asks baresip to quit (ends calls, unregisters, closes recordings), then SIGTERM/SIGKILL by PID. */
  async stop() {
    const child = this.process;
    if (this.ctrl && child && child.exitCode === null) {
      await this.ctrl.command('quit', '', 1_000).catch(() => {});
      await exitedWithin(child, QUIT_TIMEOUT_MS);
    }
    this.ctrl?.close();
    this.ctrl = null;
    await stopChild(child);
  }
}
