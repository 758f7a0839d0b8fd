//! WAV files whose sizes overstate their data.

/// A WAV file written to a pipe (a TTS command's output, a file a server streams) cannot go back
/// to write its sizes: espeak-ng leaves the RIFF and `data` sizes near 2 GiB, other tools at
/// 4 GiB. Where they run past the end of `wav`, sets them to what is there, so the decoder does
/// not take the file for hours of audio. [`super::decode_with`] does this to every input.
pub fn fit_streamed_wav_sizes(wav: &mut [u8]) {
    let len = wav.len();
    if len < 12 || &wav[..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return;
    }
    let fit = |wav: &mut [u8], at: usize, available: usize| {
        let declared = read_u32(wav, at);
        if declared > available {
            let size = u32::try_from(available).unwrap_or(u32::MAX);
            wav[at..at + 4].copy_from_slice(&size.to_le_bytes());
        }
    };
    fit(wav, 4, len - 8);
    let mut at = 12;
    while at + 8 <= len {
        let body = at + 8;
        if &wav[at..at + 4] == b"data" {
            fit(wav, at + 4, len - body);
            return;
        }
        let size = read_u32(wav, at + 4);
        at = body.saturating_add(size).saturating_add(size & 1);
    }
}

/// The little-endian `u32` at `at` (which the caller has checked is in `bytes`), as a size.
fn read_u32(bytes: &[u8], at: usize) -> usize {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    usize::try_from(u32::from_le_bytes(word)).unwrap_or(usize::MAX)
}
