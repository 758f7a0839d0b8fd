#!/usr/bin/env python3
"""CPU per 20 ms frame of the system's libopus (the C library FreeSWITCH's mod_opus and Asterisk's
codec_opus link), with the settings and the voice-like input of
`cargo bench -p weft-benches --bench transcode`, for comparing Weft's opus-rs with it on the
same machine.

Encodes 500 frames of 48 kHz mono audio (`opus_encode_float`, OPUS_APPLICATION_VOIP,
32 kbit/s, each complexity given) and decodes them again (`opus_decode_float`), through ctypes;
reports the best of 5 repetitions in thread CPU time, minus the cost of an empty ctypes call
(measured, printed). Needs Debian's `libopus0` (installed with `opus-tools`, for example).

    python3 loadtest/libopus_cost.py            # complexities 5 and 10
    python3 loadtest/libopus_cost.py 0 5 10
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
import time
from array import array

RATE = 48_000
FRAME = 960
FRAMES = 500
REPEATS = 5
BITRATE = 32_000
APPLICATION_VOIP = 2048
SET_BITRATE = 4002
SET_COMPLEXITY = 4010


def voice_frames() -> list[array]:
    """The voice-like signal of benches/benches/transcode.rs: a gliding 110–220 Hz fundamental
    with harmonics below 3.4 kHz, a 4 Hz syllable envelope and a pause every 1.5 s."""
    frames = []
    for f in range(FRAMES):
        frame = array("f")
        for n in range(f * FRAME, (f + 1) * FRAME):
            t = n / RATE
            envelope = (0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)) * (1.0 if t % 1.5 < 1.2 else 0.0)
            f0 = 165 + 55 * math.sin(2 * math.pi * 0.3 * t)
            phase = 2 * math.pi * (165 * t - 55 / (2 * math.pi * 0.3) * math.cos(2 * math.pi * 0.3 * t))
            voiced = sum(math.sin(phase * h) / h for h in range(1, 9) if f0 * h < 3400)
            frame.append(0.25 * envelope * voiced)
        frames.append(frame)
    return frames


def load() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    lib = ctypes.CDLL(name)
    lib.opus_get_version_string.restype = ctypes.c_char_p
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode_float.restype = ctypes.c_int32
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int32]
    lib.opus_decode_float.restype = ctypes.c_int
    lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


def encoder(lib: ctypes.CDLL, complexity: int) -> int:
    error = ctypes.c_int(0)
    enc = lib.opus_encoder_create(RATE, 1, APPLICATION_VOIP, ctypes.byref(error))
    if error.value != 0 or not enc:
        raise RuntimeError(f"opus_encoder_create: {error.value}")
    for request, value in ((SET_BITRATE, BITRATE), (SET_COMPLEXITY, complexity)):
        if lib.opus_encoder_ctl(ctypes.c_void_p(enc), ctypes.c_int(request), ctypes.c_int32(value)) != 0:
            raise RuntimeError(f"opus_encoder_ctl({request}, {value}) failed")
    return enc


def decoder(lib: ctypes.CDLL) -> int:
    error = ctypes.c_int(0)
    dec = lib.opus_decoder_create(RATE, 1, ctypes.byref(error))
    if error.value != 0 or not dec:
        raise RuntimeError(f"opus_decoder_create: {error.value}")
    return dec


def empty_call_ns(lib: ctypes.CDLL) -> float:
    """Thread CPU ns of one ctypes call that does nothing (opus_get_version_string)."""
    best = math.inf
    for _ in range(REPEATS):
        start = time.thread_time_ns()
        for _ in range(FRAMES):
            lib.opus_get_version_string()
        best = min(best, (time.thread_time_ns() - start) / FRAMES)
    return best


def rms(values) -> float:
    values = list(values)
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0


def measure(lib: ctypes.CDLL, frames: list[array], complexity: int, overhead: float) -> tuple[float, float, float, float]:
    """(µs per encode, µs per decode, mean packet bytes, output rms ÷ input rms)."""
    inputs = [(ctypes.c_float * FRAME).from_buffer(frame) for frame in frames]
    packet = (ctypes.c_ubyte * 1275)()
    packets: list[bytes] = []
    best_encode = math.inf
    for _ in range(REPEATS):
        enc = encoder(lib, complexity)
        out = []
        start = time.thread_time_ns()
        for pcm in inputs:
            n = lib.opus_encode_float(enc, pcm, FRAME, packet, 1275)
            if n < 0:
                raise RuntimeError(f"opus_encode_float: {n}")
            out.append(bytes(packet[:n]))
        best_encode = min(best_encode, (time.thread_time_ns() - start) / FRAMES)
        lib.opus_encoder_destroy(enc)
        packets = out
    buffers = [(ctypes.c_ubyte * len(p)).from_buffer_copy(p) for p in packets]
    pcm = (ctypes.c_float * FRAME)()
    best_decode = math.inf
    for _ in range(REPEATS):
        dec = decoder(lib)
        start = time.thread_time_ns()
        for buffer in buffers:
            n = lib.opus_decode_float(dec, buffer, len(buffer), pcm, FRAME, 0)
            if n != FRAME:
                raise RuntimeError(f"opus_decode_float: {n}")
        best_decode = min(best_decode, (time.thread_time_ns() - start) / FRAMES)
        lib.opus_decoder_destroy(dec)
    # The level check, untimed: decode once more and compare with the input.
    dec = decoder(lib)
    energy = 0.0
    for buffer in buffers:
        lib.opus_decode_float(dec, buffer, len(buffer), pcm, FRAME, 0)
        energy += sum(v * v for v in pcm)
    lib.opus_decoder_destroy(dec)
    level = math.sqrt(energy / (FRAMES * FRAME)) / rms(v for frame in frames for v in frame)
    if not 0.7 < level < 1.3:
        raise RuntimeError(f"libopus changed the level: output rms ÷ input rms = {level:.2f}")
    mean_bytes = sum(map(len, packets)) / len(packets)
    return (best_encode - overhead) / 1000, (best_decode - overhead) / 1000, mean_bytes, level


def main() -> int:
    complexities = [int(a) for a in sys.argv[1:]] or [5, 10]
    lib = load()
    frames = voice_frames()
    overhead = empty_call_ns(lib)
    print(f"{lib.opus_get_version_string().decode()}, 48 kHz mono VoIP, {BITRATE // 1000} kbit/s, 20 ms frames, "
          f"voice-like input, best of {REPEATS} × {FRAMES} frames, thread CPU; an empty ctypes call "
          f"({overhead / 1000:.2f} µs) subtracted")
    print(f"{'complexity':>10} {'encode µs':>10} {'decode µs':>10} {'bytes/frame':>12} {'level kept':>11}")
    for complexity in complexities:
        encode, decode, size, level = measure(lib, frames, complexity, overhead)
        print(f"{complexity:>10} {encode:>10.1f} {decode:>10.1f} {size:>12.0f} {level:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
