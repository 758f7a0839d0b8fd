// Test audio fixtures, written at test time: a looping sine tone as a WAV file for Chromium's
// `--use-file-for-fake-audio-capture`.

import { writeFileSync } from 'node:fs';

const RATE = 48_000;

/**
 * Writes one second of a mono 16-bit 48 kHz sine at `hz` (a whole number of cycles, so the file
 * loops without a click) to `path`.
 */
export function writeToneWav(path, hz, amplitude = 0.3) {
  const samples = RATE;
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
