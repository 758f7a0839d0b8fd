// Test audio, written and measured at test time: a looping sine tone as a WAV file for Chromium's
// `--use-file-for-fake-audio-capture`, a PCMU tone pcap for SIPp, and the reading and spectrum of
// the WAV files a SIP peer records.

import { readFileSync, writeFileSync } from 'node:fs';

const RATE = 48_000;

/**
 * Writes `seconds` (whole, default one) of a mono 16-bit 48 kHz sine at `hz` (a whole number of
 * cycles, so the file loops without a click) to `path`.
 */
export function writeToneWav(path, hz, amplitude = 0.3, seconds = 1) {
  const samples = RATE * seconds;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / RATE));
    data.writeInt16LE(v, i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([header, data]));
}

/**
 * Reads a 16-bit PCM WAV file (channels averaged to mono) as {samples (Float64Array, ±1), rate}.
 * Tolerates a recording still being written: a data size of 0 or past the end of the file means
 * the data runs to the end of the file.
 */
export function readWav(path) {
  const data = readFileSync(path);
  if (data.length < 12 || data.toString('latin1', 0, 4) !== 'RIFF' || data.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error(`${path} is not a WAV file`);
  }
  let offset = 12;
  let fmt = null;
  while (offset + 8 <= data.length) {
    const id = data.toString('latin1', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      fmt = { format: data.readUInt16LE(body), channels: data.readUInt16LE(body + 2), rate: data.readUInt32LE(body + 4), bits: data.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) break;
      if (![1, 0xfffe].includes(fmt.format) || fmt.bits !== 16) throw new Error(`${path} is not 16-bit PCM`);
      const end = size > 0 && size <= data.length - body ? body + size : data.length;
      const frames = Math.floor((end - body) / (2 * fmt.channels));
      const samples = new Float64Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < fmt.channels; c++) sum += data.readInt16LE(body + 2 * (i * fmt.channels + c));
        samples[i] = sum / fmt.channels / 32768;
      }
      return { samples, rate: fmt.rate };
    }
    offset = body + size + (size & 1);
  }
  throw new Error(`${path} has no fmt or data chunk`);
}

/** In-place iterative radix-2 FFT of `re`/`im` (their length a power of two). */
function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = (-2 * Math.PI) / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = Math.cos(step * k);
        const wi = Math.sin(step * k);
        const a = start + k;
        const b = a + half;
        const br = re[b] * wr - im[b] * wi;
        const bi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - br;
        im[b] = im[a] - bi;
        re[a] += br;
        im[a] += bi;
      }
    }
  }
}

/**
 * The level of `samples` at each of `freqs` (dB, peak of ±3 bins, power-averaged over
 * Hann-windowed blocks of `blockSize` samples) and the spectrum's median level (the floor): the
 * shape the Fabric page's `h.tones` returns, so that both sides are judged alike (`judgeTones`).
 */
export function toneLevels(samples, rate, freqs, blockSize = 2048) {
  const power = new Float64Array(blockSize / 2);
  const re = new Float64Array(blockSize);
  const im = new Float64Array(blockSize);
  let blocks = 0;
  for (let start = 0; start + blockSize <= samples.length; start += blockSize) {
    for (let i = 0; i < blockSize; i++) {
      re[i] = samples[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (blockSize - 1)));
      im[i] = 0;
    }
    fft(re, im);
    for (let i = 0; i < power.length; i++) power[i] += (re[i] ** 2 + im[i] ** 2) / blockSize ** 2;
    blocks++;
  }
  if (blocks === 0) throw new Error(`too few samples for a spectrum: ${samples.length} < ${blockSize}`);
  const db = Array.from(power, (p) => 10 * Math.log10(p / blocks + 1e-30));
  const hzPerBin = rate / blockSize;
  const levels = {};
  for (const f of freqs) {
    const c = Math.round(f / hzPerBin);
    levels[f] = Math.max(...db.slice(Math.max(0, c - 3), c + 4));
  }
  const floor = [...db].sort((a, b) => a - b)[Math.floor(db.length / 2)];
  return { levels, floor, seconds: samples.length / rate };
}

/**
 * Judges measured levels ({levels, floor}, from `toneLevels` or the page's `h.tones`): the tones of
 * `present` that do not stand `presentDb` above the floor (`missing`), and the tones of `absent`
 * that are not `absentDb` below the weakest present one (`extra`).
 */
export function judgeTones(heard, present, absent = [], { presentDb = 25, absentDb = 30 } = {}) {
  const weakest = Math.min(...present.map((f) => heard.levels[f]));
  return {
    missing: present.filter((f) => !(heard.levels[f] > heard.floor + presentDb)),
    extra: absent.filter((f) => !(heard.levels[f] < weakest - absentDb)),
  };
}

/** G.711 µ-law encoding of one 16-bit linear sample (on its top 14 bits, as G.711 does). */
function linearToUlaw(sample) {
  let value = sample >> 2;
  let mask = 0xff;
  if (value < 0) {
    value = -value;
    mask = 0x7f;
  }
  value = Math.min(value, 8159) + 0x21;
  const segment = Math.max(0, 32 - Math.clz32(value) - 6);
  if (segment > 7) return 0x7f ^ mask;
  return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

/** The one's-complement checksum of an IPv4 header. */
function ipv4Checksum(header) {
  let total = 0;
  for (let i = 0; i < header.length; i += 2) total += header.readUInt16BE(i);
  while (total > 0xffff) total = (total & 0xffff) + (total >> 16);
  return ~total & 0xffff;
}

/**
 * Writes a pcap (Ethernet/IPv4/UDP) of a PCMU RTP stream (payload type 0, 20 ms packets, 8 kHz)
 * carrying a `hz` sine for `seconds`, for SIPp's `play_pcap_audio` (which replaces the addresses
 * and ports).
 */
export function writePcmuTonePcap(path, hz, seconds, amplitude = 8000, ssrc = 0x5eed7001) {
  const perPacket = 160;
  const records = [];
  for (let n = 0; n < Math.floor(seconds * 50); n++) {
    const first = n * perPacket;
    const rtp = Buffer.alloc(12 + perPacket);
    rtp.writeUInt8(0x80, 0);
    rtp.writeUInt8(n === 0 ? 0x80 : 0, 1);
    rtp.writeUInt16BE(n & 0xffff, 2);
    rtp.writeUInt32BE(first >>> 0, 4);
    rtp.writeUInt32BE(ssrc >>> 0, 8);
    for (let i = 0; i < perPacket; i++) {
      rtp[12 + i] = linearToUlaw(Math.round(amplitude * Math.sin((2 * Math.PI * hz * (first + i)) / 8000)));
    }
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(10000, 0);
    udp.writeUInt16BE(20000, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    ip.writeUInt16BE(20 + udp.length + rtp.length, 2);
    ip.writeUInt16BE(n & 0xffff, 4);
    ip.writeUInt16BE(ipv4Checksum(ip), 10);
    const ethernet = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]);
    const frame = Buffer.concat([ethernet, ip, udp, rtp]);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(Math.floor((n * 20_000) / 1_000_000), 0);
    record.writeUInt32LE((n * 20_000) % 1_000_000, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    records.push(record, frame);
  }
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  writeFileSync(path, Buffer.concat([header, ...records]));
}
