// One SIPp 3.6.1 run (Debian `sip-tester`, /usr/bin/sipp) of a scenario file of tests/e2e/sipp/,
// in a working directory of its own: the Node counterpart of tests/e2e/sip_peers.py's Sipp.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freeSipPort, freeUdpPorts } from './weft.js';
import { writePcmuTonePcap } from './tone.js';
import { exitedWithin, stopChild, waitUntil } from './child.js';

const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../e2e/sipp');
const SYSTEM_PCAP_DIR = '/usr/share/sip-tester';
const READY_TIMEOUT_MS = 10_000;

/** True when a UDP socket is bound to `port` (read from /proc/net/udp, taking nothing away). */
function udpPortBound(port) {
  const lines = readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1);
  return lines.some((line) => {
    const local = line.trim().split(/\s+/)[1];
    return local && parseInt(local.split(':')[1], 16) === port;
  });
}

/**
 * SIPp running `scenario` (a file name in tests/e2e/sipp/ without `.xml`) over UDP toward
 * `target` (`host:port`), from a free port of `ip` (`-i`, also the media address), with `-s
 * service`, `-key` values `keys` (the scenarios' `domain` and `from_user`), `-m 1` and its own
 * `-timeout`. Its working directory holds `pcap/` with SIPp's pcaps (`dtmf_2833_*.pcap`) and
 * `pcmu_tone.pcap` (a `toneHz` PCMU tone of `toneSeconds`), which the scenarios play.
 */
export class Sipp {
  constructor({ workDir, scenario, target, ip = '127.0.0.1', service, keys = {}, toneHz = 1000, toneSeconds = 2, timeoutS = 30 }) {
    this.scenarioPath = join(SCENARIO_DIR, `${scenario}.xml`);
    if (!existsSync(this.scenarioPath)) throw new Error(`no SIPp scenario at ${this.scenarioPath}`);
    this.dir = mkdtempSync(join(workDir, `sipp-${scenario}-`));
    Object.assign(this, { target, ip, service, keys, toneHz, toneSeconds, timeoutS });
    this.logs = {
      stdout: join(this.dir, 'stdout.log'),
      errors: join(this.dir, 'errors.log'),
      messages: join(this.dir, 'messages.log'),
      screen: join(this.dir, 'screen.log'),
    };
    this.process = null;
  }

  /** Prepares the working directory, starts SIPp and waits until its SIP port is bound. */
  async start() {
    this.localPort = await freeSipPort(this.ip);
    this.mediaPort = await freeUdpPorts(4, this.ip);
    // A copy next to pcap/: SIPp 3.6.1 resolves play_pcap_audio paths against the scenario's
    // directory first, then its working directory.
    const scenario = join(this.dir, basename(this.scenarioPath));
    copyFileSync(this.scenarioPath, scenario);
    mkdirSync(join(this.dir, 'pcap'));
    for (const f of readdirSync(SYSTEM_PCAP_DIR).filter((f) => f.endsWith('.pcap'))) {
      copyFileSync(join(SYSTEM_PCAP_DIR, f), join(this.dir, 'pcap', f));
    }
    writePcmuTonePcap(join(this.dir, 'pcap/pcmu_tone.pcap'), this.toneHz, this.toneSeconds);
    const keys = { domain: this.target, from_user: 'sipp', ...this.keys };
    this.args = [
      '-sf', scenario, this.target,
      '-i', this.ip, '-p', String(this.localPort), '-mi', this.ip, '-mp', String(this.mediaPort),
      '-t', 'u1', '-m', '1', '-nostdin',
      ...(this.service ? ['-s', this.service] : []),
      ...Object.entries(keys).flatMap(([k, v]) => ['-key', k, String(v)]),
      '-timeout', `${this.timeoutS}s`, '-timeout_error',
      '-trace_err', '-error_file', this.logs.errors,
      '-trace_msg', '-message_file', this.logs.messages,
      '-trace_screen', '-screen_file', this.logs.screen,
    ];
    const out = openSync(this.logs.stdout, 'a');
    this.process = spawn('sipp', this.args, { cwd: this.dir, stdio: ['ignore', out, out] });
    closeSync(out);
    try {
      await waitUntil(
        () => this.process.exitCode !== null || udpPortBound(this.localPort),
        READY_TIMEOUT_MS,
        `sipp to bind UDP port ${this.localPort}`,
        () => this.summary(),
      );
    } catch (e) {
      await this.stop();
      throw e;
    }
    return this;
  }

  /** Waits up to `timeoutMs` for SIPp to exit on its own; resolves to its exit code. */
  async wait(timeoutMs) {
    if (!(await exitedWithin(this.process, timeoutMs))) {
      await this.stop();
      throw new Error(`sipp did not finish within ${timeoutMs} ms\n${this.summary()}`);
    }
    return this.process.exitCode;
  }

  /** Stops SIPp by its PID (SIGTERM, then SIGKILL). */
  stop() {
    return stopChild(this.process);
  }

  /** The command line, the exit code, unexpected messages and the final screen, for failure messages. */
  summary() {
    const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
    return [
      `sipp ${(this.args ?? []).join(' ')}`,
      `exit code ${this.process?.exitCode ?? 'none yet'}`,
      `--- errors ---\n${read(this.logs.errors).slice(-3000)}`,
      `--- screen ---\n${read(this.logs.screen).slice(-3000) || read(this.logs.stdout).slice(-3000)}`,
    ].join('\n');
  }
}
