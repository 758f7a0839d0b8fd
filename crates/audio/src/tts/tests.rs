use std::f64::consts::TAU;
use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::decode::fit_streamed_wav_sizes;
use crate::goertzel::Goertzel;
use crate::wav::{WavEncoding, WavWriter};

const HOSTILE: &str = "\"; rm -rf / #";

fn words(line: &str) -> Vec<String> {
    TtsCommand::parse(line)
        .map(|c| {
            let mut all = vec![c.program().to_owned()];
            all.extend(c.fixed_arguments().iter().cloned());
            all
        })
        .expect("a valid command line")
}

fn bad_command(line: &str) -> String {
    match TtsCommand::parse(line) {
        Err(AudioError::Tts(TtsError::BadCommand(reason))) => reason,
        other => panic!("{line:?}: expected a bad command, got {other:?}"),
    }
}

fn strings(argv: &[OsString]) -> Vec<&str> {
    argv.iter()
        .map(|a| a.to_str().expect("UTF-8 argument"))
        .collect()
}

#[test]
fn command_lines_split_at_white_space_with_simple_quoting() {
    assert_eq!(words("espeak-ng"), ["espeak-ng"]);
    assert_eq!(words("  espeak-ng \t -s  150 "), ["espeak-ng", "-s", "150"]);
    assert_eq!(
        words("/opt/tts/say --voice 'my voice' \"a \\\"b\\\" \\\\ \\n\""),
        ["/opt/tts/say", "--voice", "my voice", "a \"b\" \\ \\n"]
    );
    assert_eq!(
        words("say it\\ all 'x'\"y\"z ''"),
        ["say", "it all", "xyz", ""]
    );
    assert_eq!(words("say 'a \\ b'"), ["say", "a \\ b"]);
}

#[test]
fn shell_characters_are_ordinary_in_command_lines() {
    assert_eq!(
        words("espeak-ng ; rm -rf / | cat $HOME *"),
        ["espeak-ng", ";", "rm", "-rf", "/", "|", "cat", "$HOME", "*"]
    );
}

#[test]
fn bad_command_lines_are_refused() {
    assert_eq!(bad_command(""), "it is empty");
    assert_eq!(bad_command(" \t "), "it is empty");
    assert_eq!(bad_command("say 'oops"), "a single quote is not closed");
    assert_eq!(bad_command("say \"oops"), "a double quote is not closed");
    assert_eq!(bad_command("say \"oops\\"), "a double quote is not closed");
    assert_eq!(bad_command("say oops\\"), "it ends with a backslash");
    assert_eq!(bad_command("say o\0ps"), "it contains a NUL character");
    assert_eq!(bad_command("'' -s 150"), "the program name is empty");
    let message = TtsCommand::parse("say 'oops").unwrap_err().to_string();
    assert_eq!(
        message,
        "text-to-speech: invalid command line: a single quote is not closed"
    );
}

#[test]
fn arguments_follow_espeak_ng_with_the_text_last_after_a_double_dash() {
    let espeak = TtsCommand::parse("espeak-ng").expect("valid");
    let argv = espeak.arguments(Some("Polly.Salli"), Some("en-US"), "Hello there");
    assert_eq!(
        strings(&argv),
        ["--stdout", "-v", "en-us", "--", "Hello there"]
    );
    let tuned = TtsCommand::parse("espeak-ng -s 150 -a 120").expect("valid");
    let argv = tuned.arguments(None, Some("fr-FR"), "Bonjour");
    assert_eq!(
        strings(&argv),
        [
            "-s", "150", "-a", "120", "--stdout", "-v", "fr", "--", "Bonjour"
        ]
    );
    let argv = espeak.arguments(None, None, "hi");
    assert_eq!(strings(&argv), ["--stdout", "--", "hi"]);
}

#[test]
fn the_text_stays_one_argument_whatever_it_contains() {
    let espeak = TtsCommand::parse("espeak-ng").expect("valid");
    for text in [HOSTILE, "-v xx --help", "$(reboot) `id` 'a' \"b\" \\", "--"] {
        let argv = espeak.arguments(None, Some("en-US"), text);
        assert_eq!(argv.len(), 5, "{text:?}");
        assert_eq!(argv[3], "--");
        assert_eq!(argv[4], text);
    }
    let argv = espeak.arguments(None, None, "line one\nline\0two\t.");
    assert_eq!(argv[2], "line one line two .");
}

#[test]
fn cloud_voices_are_ignored_and_espeak_voices_are_used() {
    assert_eq!(
        espeak_voice(Some("Polly.Salli"), Some("en-GB")).as_deref(),
        Some("en-gb")
    );
    assert_eq!(
        espeak_voice(Some("en-US-Standard-C"), Some("de-DE")).as_deref(),
        Some("de")
    );
    assert_eq!(
        espeak_voice(Some("gcloud.en-US-Wavenet-D"), None),
        None,
        "no language, no voice: espeak-ng's default"
    );
    assert_eq!(
        espeak_voice(Some("espeak.en-us+f3"), Some("fr-FR")).as_deref(),
        Some("en-us+f3")
    );
    assert_eq!(
        espeak_voice(Some("ESPEAK.mb-en1"), None).as_deref(),
        Some("mb-en1")
    );
    for unusable in ["espeak.", "espeak.../../x", "espeak.en us", "espeak.-v/x"] {
        assert_eq!(
            espeak_voice(Some(unusable), Some("it-IT")).as_deref(),
            Some("it"),
            "{unusable:?}"
        );
    }
}

#[test]
fn languages_map_to_espeak_ng_voices() {
    for (tag, voice) in [
        ("en-US", "en-us"),
        ("en_us", "en-us"),
        ("en-GB", "en-gb"),
        ("en-AU", "en"),
        ("en", "en"),
        ("es-ES", "es"),
        ("es", "es"),
        ("es-MX", "es-419"),
        ("es-US", "es-419"),
        ("es-419", "es-419"),
        ("pt-BR", "pt-br"),
        ("pt-PT", "pt"),
        ("fr-FR", "fr"),
        ("fr-CA", "fr"),
        ("fr-BE", "fr-be"),
        ("fr-CH", "fr-ch"),
        ("zh-CN", "cmn"),
        ("zh-TW", "cmn"),
        ("cmn", "cmn"),
        ("zh-HK", "yue"),
        ("yue", "yue"),
        ("de-DE", "de"),
        ("it-IT", "it"),
        ("ja-JP", "ja"),
        (" nl-NL ", "nl"),
    ] {
        assert_eq!(language_voice(tag).as_deref(), Some(voice), "{tag}");
    }
    for not_a_tag in [
        "",
        "e",
        "english",
        "en US",
        "en--us",
        "en-",
        "1e-US",
        "en-us; rm",
        "../en",
        "en-us-0123456789012345678901234567890123456789012345678901234567890",
    ] {
        assert_eq!(language_voice(not_a_tag), None, "{not_a_tag:?}");
    }
}

#[test]
fn text_must_be_present_and_short() {
    assert!(check_text("hello").is_ok());
    assert!(check_text(&"a".repeat(MAX_TEXT_BYTES)).is_ok());
    assert!(matches!(check_text(" \n\t"), Err(TtsError::EmptyText)));
    match check_text(&"é".repeat(MAX_TEXT_BYTES / 2 + 1)) {
        Err(TtsError::TextTooLong { size, limit }) => {
            assert_eq!((size, limit), (MAX_TEXT_BYTES + 2, MAX_TEXT_BYTES));
        }
        other => panic!("expected TextTooLong, got {other:?}"),
    }
}

#[test]
fn error_output_is_summarized_on_one_bounded_line() {
    assert_eq!(summarize(b""), "no error output");
    assert_eq!(
        summarize(b"Error: no voice\n  try --voices\n"),
        "Error: no voice try --voices"
    );
    let long = summarize(&[b'x'; STDERR_KEPT + 1]);
    assert_eq!(long.len(), STDERR_KEPT + " …".len());
    assert!(long.ends_with(" …"));
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weft-tts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Scratch(dir)
    }

    /// A command running the shell script `body` (by `sh <file>`, not executed directly, so no
    /// executable file is ever written by this multi-threaded process).
    fn script(&self, body: &str) -> TtsCommand {
        let path = self.0.join("tts.sh");
        std::fs::write(&path, format!("{body}\n")).expect("script written");
        TtsCommand::parse(&format!("sh '{}'", path.display())).expect("valid command")
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tone_wav(freq: f64, rate: u32, seconds: f64) -> Vec<u8> {
    let n = (seconds * f64::from(rate)) as usize;
    let samples: Vec<i16> = (0..n)
        .map(|i| (12_000.0 * (TAU * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
        .collect();
    let mut writer =
        WavWriter::new(Cursor::new(Vec::new()), WavEncoding::Pcm16, 1, rate).expect("writer");
    writer.write_samples(&samples).expect("samples");
    writer.finish().expect("finished").into_inner()
}

/// `wav` with the sizes a program writing to a pipe leaves (espeak-ng's: 0x7ffff000 for
/// `data`, 36 more for the RIFF size).
fn as_streamed(mut wav: Vec<u8>) -> Vec<u8> {
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk");
    wav[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
    wav[data + 4..data + 8].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
    wav
}

#[test]
fn streamed_wav_sizes_are_fitted_to_the_bytes_received() {
    let whole = tone_wav(700.0, 8_000, 0.25);
    let mut streamed = as_streamed(whole.clone());
    let decoded = crate::decode(&streamed, Some("wav")).expect("a streamed WAV decodes as it is");
    assert_eq!(decoded.samples.len(), 2_000);
    fit_streamed_wav_sizes(&mut streamed);
    assert_eq!(streamed, whole);
    let mut cut = as_streamed(whole.clone());
    cut.truncate(cut.len() - 100);
    fit_streamed_wav_sizes(&mut cut);
    let pcm = crate::decode(&cut, Some("wav")).expect("decodes");
    assert_eq!(pcm.samples.len(), 2_000 - 50);
    let mut untouched = whole.clone();
    fit_streamed_wav_sizes(&mut untouched);
    assert_eq!(untouched, whole);
    for mut not_wav in [
        Vec::new(),
        b"RIFF".to_vec(),
        b"OggS\0\0\0\0WAVEdata".to_vec(),
    ] {
        let before = not_wav.clone();
        fit_streamed_wav_sizes(&mut not_wav);
        assert_eq!(not_wav, before);
    }
}

const LIMIT: usize = 1 << 20;
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_commands_wav_becomes_pcm_at_the_requested_rate() {
    let scratch = Scratch::new("wav");
    let wav = scratch.path("speech.wav");
    std::fs::write(&wav, as_streamed(tone_wav(700.0, 16_000, 0.5))).expect("WAV written");
    let args = scratch.path("args");
    let canary = scratch.path("canary");
    let command = scratch.script(&format!(
        "printf '%s\\n' \"$@\" > '{args}'\nexec cat '{wav}'"
    ));
    let text = format!("\"; touch '{canary}' #");
    let pcm = command
        .synthesize(
            &text,
            Some("Polly.Salli"),
            Some("en-US"),
            8_000,
            PATIENCE,
            LIMIT,
        )
        .await
        .expect("speech");
    assert_eq!(pcm.rate, 8_000);
    let seconds = pcm.duration().as_secs_f64();
    assert!((seconds - 0.5).abs() < 0.01, "{seconds} s");
    let body = &pcm.samples[800..3_200];
    let at = Goertzel::new(700.0, 8_000).amplitude(body);
    let off = Goertzel::new(1_500.0, 8_000).amplitude(body);
    assert!(at > 10_000.0 && off < 200.0, "700 Hz: {at}, 1500 Hz: {off}");
    let received = std::fs::read_to_string(&args).expect("arguments recorded");
    let received: Vec<&str> = received.lines().collect();
    assert_eq!(received, ["--stdout", "-v", "en-us", "--", text.as_str()]);
    assert!(
        !Path::new(&canary).exists(),
        "the text must never reach a shell"
    );
}

#[tokio::test]
async fn a_failing_command_reports_its_exit_status_and_error_output() {
    let scratch = Scratch::new("fail");
    let command = scratch.script("echo 'Error: The specified voice does not exist.' >&2\nexit 3");
    let error = command
        .synthesize("hello", None, Some("xx-YY"), 8_000, PATIENCE, LIMIT)
        .await
        .expect_err("exit status 3");
    match &error {
        AudioError::Tts(TtsError::Failed { status, stderr, .. }) => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(stderr, "Error: The specified voice does not exist.");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.starts_with("text-to-speech: `sh` failed (exit status: 3): Error: The specified"),
        "{message}"
    );
}

#[tokio::test]
async fn endless_error_output_is_truncated_in_the_message() {
    let scratch = Scratch::new("stderr");
    let command = scratch.script("head -c 100000 /dev/zero | tr '\\0' 'e' >&2\nexit 1");
    match command
        .synthesize("hello", None, None, 8_000, PATIENCE, LIMIT)
        .await
    {
        Err(AudioError::Tts(TtsError::Failed { stderr, .. })) => {
            assert_eq!(stderr, format!("{} …", "e".repeat(STDERR_KEPT)));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_command_is_killed_at_the_timeout() {
    let scratch = Scratch::new("slow");
    let command = scratch.script("exec sleep 60");
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    match command
        .synthesize("hello", None, None, 8_000, limit, LIMIT)
        .await
    {
        Err(AudioError::Tts(TtsError::Timeout { limit: given, .. })) => assert_eq!(given, limit),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let took = started.elapsed();
    assert!(
        took >= limit && took < Duration::from_secs(10),
        "took {took:?}"
    );
}

#[tokio::test]
async fn an_endless_writer_is_stopped_at_the_size_cap() {
    let scratch = Scratch::new("endless");
    let command = scratch.script("exec yes");
    match command
        .synthesize("hello", None, None, 8_000, PATIENCE, 64 * 1024)
        .await
    {
        Err(AudioError::Tts(TtsError::OutputTooLarge { limit, .. })) => {
            assert_eq!(limit, 64 * 1024);
        }
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_programs_silent_commands_and_bad_text_are_errors() {
    let missing = TtsCommand::parse("/nonexistent/weft-tts").expect("valid");
    let error = missing
        .synthesize("hello", None, None, 8_000, PATIENCE, LIMIT)
        .await
        .expect_err("no such program");
    assert!(
        matches!(error, AudioError::Tts(TtsError::Spawn { .. })),
        "{error:?}"
    );
    assert!(!installed("/nonexistent/weft-tts"));
    assert!(installed("sh"));
    let scratch = Scratch::new("silent");
    let silent = scratch.script("exit 0");
    let error = silent
        .synthesize("hello", None, None, 8_000, PATIENCE, LIMIT)
        .await
        .expect_err("no audio");
    assert!(
        matches!(error, AudioError::Tts(TtsError::NoAudio { .. })),
        "{error:?}"
    );
    let long = "a".repeat(MAX_TEXT_BYTES + 1);
    let error = silent
        .synthesize(&long, None, None, 8_000, PATIENCE, LIMIT)
        .await
        .expect_err("too long");
    assert!(
        matches!(error, AudioError::Tts(TtsError::TextTooLong { .. })),
        "{error:?}"
    );
    let error = silent
        .synthesize("hello", None, None, 0, PATIENCE, LIMIT)
        .await
        .expect_err("bad rate");
    assert!(
        matches!(error, AudioError::InvalidParameter(_)),
        "{error:?}"
    );
}

/// The share of the energy of `samples` between 300 and 3,400 Hz, from 20 ms DFT frames.
fn speech_band_share(samples: &[i16], rate: u32) -> f64 {
    let frame = (rate / 50) as usize;
    let (mut band, mut total) = (0.0, 0.0);
    for block in samples.chunks_exact(frame) {
        for k in 1..frame / 2 {
            let freq = (k * 50) as f64;
            let power = Goertzel::new(freq, rate).power(block);
            total += power;
            if (300.0..=3_400.0).contains(&freq) {
                band += power;
            }
        }
    }
    if total == 0.0 { 0.0 } else { band / total }
}

fn sine(freq: f64, rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (10_000.0 * (TAU * freq * i as f64 / f64::from(rate)).sin()) as i16)
        .collect()
}

#[test]
fn the_speech_band_measure_tells_in_band_from_out_of_band() {
    assert!(speech_band_share(&sine(1_000.0, 16_000, 16_000), 16_000) > 0.99);
    assert!(speech_band_share(&sine(5_000.0, 16_000, 16_000), 16_000) < 0.01);
    assert!(speech_band_share(&sine(150.0, 16_000, 16_000), 16_000) < 0.01);
}

#[tokio::test]
async fn espeak_ng_says_hello_in_the_speech_band() {
    if !installed(DEFAULT_PROGRAM) {
        eprintln!("skipped: {DEFAULT_PROGRAM} is not installed (Debian package espeak-ng)");
        return;
    }
    let espeak = TtsCommand::parse(DEFAULT_PROGRAM).expect("valid");
    let pcm = espeak
        .synthesize(
            "hello",
            Some("Polly.Salli"),
            Some("en-US"),
            16_000,
            PATIENCE,
            LIMIT,
        )
        .await
        .expect("espeak-ng speech");
    assert_eq!(pcm.rate, 16_000);
    let seconds = pcm.duration().as_secs_f64();
    assert!((0.2..3.0).contains(&seconds), "{seconds} s of speech");
    let peak = pcm.samples.iter().map(|s| s.unsigned_abs()).max();
    assert!(peak > Some(3_000), "peak {peak:?}");
    let share = speech_band_share(&pcm.samples, pcm.rate);
    assert!(share > 0.5, "speech-band share {share}");
}
