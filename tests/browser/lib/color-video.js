// Test video fixtures, written at test time: a solid-colour Y4M clip for Chromium's
// `--use-file-for-fake-video-capture`, so a page can tell whose video it receives.

import { writeFileSync } from 'node:fs';

const WIDTH = 160;
const HEIGHT = 120;
const FRAMES = 15;

/** The colours a page can tell apart after VP8, as RGB. */
export const COLORS = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
};

/** Full-range BT.601 Y'CbCr of an RGB colour (what `C420jpeg` means). */
function ycbcr([r, g, b]) {
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  return [
    clamp(0.299 * r + 0.587 * g + 0.114 * b),
    clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b),
    clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b),
  ];
}

/** Writes one second of 160×120 at 15 fps in `color` (a key of COLORS) to `path`. */
export function writeColorY4m(path, color) {
  const [y, u, v] = ycbcr(COLORS[color]);
  const luma = WIDTH * HEIGHT;
  const chroma = (WIDTH / 2) * (HEIGHT / 2);
  const frame = Buffer.concat([
    Buffer.from('FRAME\n'),
    Buffer.alloc(luma, y),
    Buffer.alloc(chroma, u),
    Buffer.alloc(chroma, v),
  ]);
  const header = Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F${FRAMES}:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(path, Buffer.concat([header, ...Array(FRAMES).fill(frame)]));
}
