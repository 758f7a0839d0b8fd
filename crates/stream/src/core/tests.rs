use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};

use super::*;
use crate::format::AgentFormat;

fn config(format: AgentFormat, call_rate: CallRate) -> StreamConfig {
    let mut c = StreamConfig::new("MZ1", "AC1", "CA1", format, call_rate);
    c.custom_parameters = BTreeMap::from([("prompt".to_owned(), "Be brief.".to_owned())]);
    c
}

fn core(format: AgentFormat, call_rate: CallRate) -> (StreamCore, Instant) {
    let t0 = Instant::now();
    (StreamCore::new(config(format, call_rate), t0).unwrap(), t0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(core: &mut StreamCore) -> Vec<Value> {
    std::iter::from_fn(|| core.poll_transmit())
        .map(|t| serde_json::from_str(&t).unwrap())
        .collect()
}

/// An agent `media` message with `samples` µ-law samples of `byte`.
fn mulaw_media(byte: u8, samples: usize) -> String {
    let payload = STANDARD.encode(vec![byte; samples]);
    json!({"event": "media", "streamSid": "MZ1", "media": {"payload": payload}}).to_string()
}

fn mark(name: &str) -> String {
    json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": name}}).to_string()
}

fn marks_in(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["event"] == "mark")
        .map(|m| m["mark"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Ticks every 20 ms from `from` for `ticks` ticks; returns how many frames played.
fn play(core: &mut StreamCore, from: Instant, ticks: u64) -> usize {
    (0..ticks)
        .filter(|i| core.next_frame(from + ms(20 * i)).is_some())
        .count()
}

#[test]
fn first_messages_are_connected_then_start() {
    let (mut c, _) = core(AgentFormat::L16 { rate: 16_000 }, CallRate::Hz48000);
    let messages = drain(&mut c);
    assert_eq!(
        messages,
        [
            json!({"event": "connected", "protocol": "Call", "version": "0.2.0"}),
            json!({
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": "MZ1",
                "start": {
                    "streamSid": "MZ1",
                    "accountSid": "AC1",
                    "callSid": "CA1",
                    "tracks": ["inbound"],
                    "customParameters": {"prompt": "Be brief."},
                    "mediaFormat": {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}
                }
            }),
        ]
    );
    let (mut c, _) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    let start = &drain(&mut c)[1];
    assert_eq!(
        start["start"]["mediaFormat"],
        json!({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1})
    );
}

#[test]
fn caller_frames_become_media_in_order() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz48000);
    drain(&mut c);
    let frame = [1000i16; 960];
    for i in 0..5 {
        c.caller_audio(&frame, t0 + ms(20 * i));
    }
    let media = drain(&mut c);
    assert_eq!(
        media.len(),
        5,
        "one media message per 20 ms frame, from the first"
    );
    for (i, m) in media.iter().enumerate() {
        assert_eq!(m["event"], "media");
        assert_eq!(m["streamSid"], "MZ1");
        assert_eq!(m["sequenceNumber"], (i + 2).to_string());
        assert_eq!(m["media"]["track"], "inbound");
        assert_eq!(m["media"]["chunk"], (i + 1).to_string());
        assert_eq!(m["media"]["timestamp"], (20 * i).to_string());
        let payload = STANDARD
            .decode(m["media"]["payload"].as_str().unwrap())
            .unwrap();
        assert_eq!(payload.len(), 160);
    }
    assert_eq!(c.stats().caller_frames_in, 5);
    assert_eq!(c.stats().media_sent, 5);
}

#[test]
fn dtmf_is_sent_in_sequence() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    drain(&mut c);
    assert!(c.caller_dtmf('5', t0));
    assert!(!c.caller_dtmf('x', t0));
    assert_eq!(
        drain(&mut c),
        [
            json!({"event": "dtmf", "sequenceNumber": "2", "streamSid": "MZ1",
                "dtmf": {"track": "inbound_track", "digit": "5"}})
        ]
    );
}

#[test]
fn agent_audio_plays_one_frame_per_20ms() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz48000);
    // 200 ms of audio in one message.
    c.agent_message(&mulaw_media(0x80, 1_600), t0).unwrap();
    assert_eq!(c.queued_audio(), ms(200));
    let frame = c.next_frame(t0).unwrap();
    assert_eq!(frame.pcm.len(), 960);
    assert_eq!(frame.rate, CallRate::Hz48000);
    // Not again within the same 20 ms, however often the shell asks.
    assert!(c.next_frame(t0).is_none());
    assert!(c.next_frame(t0 + ms(5)).is_none());
    // Ticks every 5 ms for the next 180 ms play the other 9 frames, no more.
    let played = (1..=36)
        .filter(|i| c.next_frame(t0 + ms(5 * i)).is_some())
        .count();
    assert_eq!(played, 9);
    assert!(c.next_frame(t0 + ms(400)).is_none(), "queue is dry");
    assert_eq!(c.stats().frames_played, 10);
    assert_eq!(c.stats().late_frames, 0);
}

#[test]
fn agent_pcm_is_played_at_the_calls_rate() {
    let (mut c, t0) = core(AgentFormat::L16 { rate: 16_000 }, CallRate::Hz8000);
    let samples = vec![8_000i16; 320 * 10];
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let msg = json!({"event": "media", "media": {"payload": STANDARD.encode(bytes)}}).to_string();
    c.agent_message(&msg, t0).unwrap();
    let mut last = Vec::new();
    for i in 0..10 {
        let f = c.next_frame(t0 + ms(20 * i)).unwrap();
        assert_eq!(f.pcm.len(), 160);
        last = f.pcm.to_vec();
    }
    // After the filter settles, a constant stays that constant.
    assert!(
        last[80..].iter().all(|&s| (s - 8_000).abs() < 100),
        "{last:?}"
    );
}

#[test]
fn a_late_tick_plays_one_frame_and_counts_it() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    c.agent_message(&mulaw_media(0x80, 800), t0).unwrap();
    assert!(c.next_frame(t0).is_some());
    assert!(c.next_frame(t0 + ms(20)).is_some());
    // The shell stalls for 100 ms: one frame, not a burst.
    assert!(c.next_frame(t0 + ms(120)).is_some());
    assert!(c.next_frame(t0 + ms(121)).is_none());
    assert!(c.next_frame(t0 + ms(140)).is_some());
    assert_eq!(c.stats().late_frames, 1);
}

#[test]
fn a_mark_is_acknowledged_after_the_audio_before_it() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz48000);
    drain(&mut c);
    c.agent_message(&mulaw_media(0x80, 800), t0).unwrap(); // 100 ms
    c.agent_message(&mark("first"), t0).unwrap();
    c.agent_message(&mulaw_media(0x80, 800), t0).unwrap(); // 100 ms more
    c.agent_message(&mark("second"), t0).unwrap();
    assert_eq!(c.pending_marks(), 2);
    for i in 0..4 {
        assert!(c.next_frame(t0 + ms(20 * i)).is_some());
        assert!(
            marks_in(&drain(&mut c)).is_empty(),
            "acked after {} frames",
            i + 1
        );
    }
    assert!(c.next_frame(t0 + ms(80)).is_some());
    let acks = drain(&mut c);
    assert_eq!(marks_in(&acks), ["first"]);
    assert_eq!(acks[0]["streamSid"], "MZ1");
    assert_eq!(acks[0]["sequenceNumber"], "2");
    assert_eq!(play(&mut c, t0 + ms(100), 4), 4);
    assert!(marks_in(&drain(&mut c)).is_empty());
    assert!(c.next_frame(t0 + ms(180)).is_some());
    assert_eq!(marks_in(&drain(&mut c)), ["second"]);
    assert_eq!(c.stats().marks_acked, 2);
    // With nothing queued, a mark comes straight back.
    c.agent_message(&mark("idle"), t0 + ms(300)).unwrap();
    assert_eq!(marks_in(&drain(&mut c)), ["idle"]);
}

#[test]
fn a_partial_last_frame_plays_before_its_mark() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    drain(&mut c);
    c.agent_message(&mulaw_media(0x80, 250), t0).unwrap(); // 31.25 ms
    c.agent_message(&mark("end"), t0).unwrap();
    assert!(c.next_frame(t0).is_some());
    let tail = c
        .next_frame(t0 + ms(20))
        .expect("padded tail plays at once");
    assert_eq!(tail.pcm.len(), 160);
    assert_eq!(marks_in(&drain(&mut c)), ["end"]);
}

#[test]
fn a_partial_frame_waits_one_tick_for_the_rest() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    c.agent_message(&mulaw_media(0x80, 80), t0).unwrap(); // 10 ms
    assert!(c.next_frame(t0).is_none());
    c.agent_message(&mulaw_media(0x80, 80), t0 + ms(10))
        .unwrap();
    assert!(c.next_frame(t0 + ms(20)).is_some());
    assert!(c.queued_audio().is_zero());
    c.agent_message(&mulaw_media(0x80, 40), t0 + ms(30))
        .unwrap(); // 5 ms, and no more
    assert!(c.next_frame(t0 + ms(40)).is_none());
    assert!(
        c.next_frame(t0 + ms(60)).is_some(),
        "played padded after one tick"
    );
    assert_eq!(c.stats().late_frames, 0);
}

#[test]
fn clear_empties_the_queue_and_acknowledges_marks() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz48000);
    drain(&mut c);
    // 10 s of audio with marks along it.
    for i in 0..10 {
        c.agent_message(&mulaw_media(0x80, 8_000), t0).unwrap();
        c.agent_message(&mark(&format!("m{i}")), t0).unwrap();
    }
    assert_eq!(c.queued_audio(), Duration::from_secs(10));
    assert_eq!(play(&mut c, t0, 50), 50); // 1 s
    assert_eq!(marks_in(&drain(&mut c)), ["m0"]);
    c.agent_message(r#"{"event":"clear","streamSid":"MZ1"}"#, t0 + ms(1_000))
        .unwrap();
    assert!(c.queued_audio().is_zero());
    assert_eq!(c.pending_marks(), 0);
    let acks = marks_in(&drain(&mut c));
    assert_eq!(acks, (1..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert!(c.next_frame(t0 + ms(1_000)).is_none());
    assert!(c.next_frame(t0 + ms(1_020)).is_none());
    assert_eq!(c.stats().clears, 1);
    assert_eq!(c.stats().marks_acked, 10);
    // New audio after the clear plays at once.
    c.agent_message(&mulaw_media(0x80, 160), t0 + ms(1_030))
        .unwrap();
    assert!(c.next_frame(t0 + ms(1_030)).is_some());
}

#[test]
fn a_flood_beyond_max_queue_is_dropped_and_counted() {
    let t0 = Instant::now();
    let mut cfg = config(AgentFormat::Mulaw8k, CallRate::Hz8000);
    cfg.max_queue = Duration::from_secs(1);
    let mut c = StreamCore::new(cfg, t0).unwrap();
    for _ in 0..30 {
        c.agent_message(&mulaw_media(0x80, 800), t0).unwrap(); // 100 ms each
    }
    assert_eq!(c.queued_audio(), Duration::from_secs(1));
    assert_eq!(c.stats().agent_media_in, 30);
    assert_eq!(c.stats().agent_frames_dropped, 100); // 2 s of 20 ms frames
    // Playing frees room again.
    assert_eq!(play(&mut c, t0, 5), 5);
    c.agent_message(&mulaw_media(0x80, 1_600), t0 + ms(100))
        .unwrap();
    assert_eq!(c.queued_audio(), Duration::from_secs(1));
    assert_eq!(c.stats().agent_frames_dropped, 105);
}

#[test]
fn a_silent_agent_backlog_is_bounded() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    let frame = [0i16; 160];
    // 5 s of caller audio, never drained: the 2 s backlog holds 100 media messages.
    for i in 0..250 {
        c.caller_audio(&frame, t0 + ms(20 * i));
    }
    assert_eq!(c.stats().media_sent, 100);
    assert_eq!(c.stats().media_dropped, 150);
    // Control messages still get through, and draining makes room.
    c.agent_message(&mark("m"), t0).unwrap();
    let all = drain(&mut c);
    assert_eq!(all.len(), 2 + 100 + 1);
    c.caller_audio(&frame, t0 + ms(5_000));
    assert_eq!(drain(&mut c)[0]["media"]["chunk"], "101");
}

#[test]
fn bad_messages_are_errors_and_change_nothing() {
    let (mut c, t0) = core(AgentFormat::L16 { rate: 16_000 }, CallRate::Hz48000);
    drain(&mut c);
    let bad_base64 = r#"{"event":"media","media":{"payload":"@@@"}}"#;
    assert!(matches!(
        c.agent_message(bad_base64, t0),
        Err(StreamError::Base64(_))
    ));
    let odd = json!({"event": "media", "media": {"payload": STANDARD.encode([1u8, 2, 3])}});
    assert!(matches!(
        c.agent_message(&odd.to_string(), t0),
        Err(StreamError::Payload(_))
    ));
    assert!(matches!(
        c.agent_message("{not json", t0),
        Err(StreamError::Protocol(_))
    ));
    let huge = json!({"event": "media", "media": {"payload": "A".repeat(70_000)}}).to_string();
    assert!(matches!(
        c.agent_message(&huge, t0),
        Err(StreamError::TooLarge { max: 65_536, .. })
    ));
    let long_name = mark(&"n".repeat(2_000));
    assert!(matches!(
        c.agent_message(&long_name, t0),
        Err(StreamError::MarkNameTooLong { .. })
    ));
    assert_eq!(c.stats().bad_messages, 5);
    assert!(c.queued_audio().is_zero());
    assert!(drain(&mut c).is_empty());
    // Unpadded base64 is accepted.
    let unpadded = r#"{"event":"media","media":{"payload":"AAAAAA"}}"#;
    c.agent_message(unpadded, t0).unwrap();
    assert_eq!(c.stats().agent_media_in, 1);
}

#[test]
fn pending_marks_are_capped() {
    let t0 = Instant::now();
    let mut cfg = config(AgentFormat::Mulaw8k, CallRate::Hz8000);
    cfg.max_pending_marks = 3;
    let mut c = StreamCore::new(cfg, t0).unwrap();
    c.agent_message(&mulaw_media(0x80, 160), t0).unwrap();
    for i in 0..3 {
        c.agent_message(&mark(&i.to_string()), t0).unwrap();
    }
    assert!(matches!(
        c.agent_message(&mark("3"), t0),
        Err(StreamError::TooManyMarks(3))
    ));
    assert_eq!(c.pending_marks(), 3);
}

#[test]
fn unknown_events_are_counted() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    drain(&mut c);
    c.agent_message(r#"{"event":"ping"}"#, t0).unwrap();
    c.agent_message(r#"{"event":"start","start":{}}"#, t0)
        .unwrap();
    assert_eq!(c.stats().unknown_messages, 2);
    assert_eq!(c.stats().bad_messages, 0);
    assert!(drain(&mut c).is_empty());
}

#[test]
fn stop_ends_output() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    drain(&mut c);
    c.agent_message(&mulaw_media(0x80, 1_600), t0).unwrap();
    c.agent_message(&mark("m"), t0).unwrap();
    c.caller_audio(&[0; 160], t0);
    c.stop(t0 + ms(20));
    assert!(!c.is_finished());
    let last = drain(&mut c);
    assert_eq!(last.len(), 2);
    assert_eq!(
        last[1],
        json!({"event": "stop", "sequenceNumber": "3", "streamSid": "MZ1",
               "stop": {"accountSid": "AC1", "callSid": "CA1"}})
    );
    assert!(c.is_finished());
    c.caller_audio(&[0; 160], t0 + ms(40));
    assert!(!c.caller_dtmf('1', t0 + ms(40)));
    c.agent_message(&mark("late"), t0 + ms(40)).unwrap();
    c.stop(t0 + ms(60));
    assert!(c.next_frame(t0 + ms(60)).is_none());
    assert!(c.poll_transmit().is_none());
}

#[test]
fn resumed_playout_after_a_long_gap_counts_an_underrun() {
    let (mut c, t0) = core(AgentFormat::Mulaw8k, CallRate::Hz8000);
    c.agent_message(&mulaw_media(0x80, 320), t0).unwrap();
    assert_eq!(play(&mut c, t0, 3), 2);
    // Resumes 20 ms after the last frame ended: within the threshold.
    c.agent_message(&mulaw_media(0x80, 160), t0 + ms(60))
        .unwrap();
    assert!(c.next_frame(t0 + ms(60)).is_some());
    assert_eq!(c.stats().underruns, 0);
    // Resumes 200 ms later: an underrun.
    c.agent_message(&mulaw_media(0x80, 160), t0 + ms(280))
        .unwrap();
    assert!(c.next_frame(t0 + ms(280)).is_some());
    assert_eq!(c.stats().underruns, 1);
}

#[test]
fn unsupported_formats_are_refused() {
    let cfg = config(AgentFormat::L16 { rate: 11_025 }, CallRate::Hz8000);
    assert_eq!(
        StreamCore::new(cfg, Instant::now()).err(),
        Some(ConfigError::UnsupportedRate(11_025))
    );
}

/// Deterministic pseudo-random numbers for the fuzz test (seeded, so a failure repeats).
struct XorShift(StdRng);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.gen_range(0..n)
    }
}

/// A random message: raw bytes, or JSON-ish text built from the protocol's own pieces.
fn random_message(rng: &mut XorShift) -> String {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\"event\"",
        "\"media\"",
        "\"mark\"",
        "\"clear\"",
        "\"payload\"",
        "\"name\"",
        "\"streamSid\"",
        "\"AAAA\"",
        "\"gA==\"",
        "\"@@\"",
        "null",
        "1",
        "-0.5e9",
        "true",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"é\"",
        " ",
    ];
    match rng.below(4) {
        0 => {
            let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => (0..rng.below(40))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect(),
        2 => {
            let payload: Vec<u8> = (0..rng.below(2_000)).map(|_| rng.next() as u8).collect();
            let mut text =
                json!({"event": "media", "media": {"payload": STANDARD.encode(payload)}})
                    .to_string();
            // Damage it sometimes.
            if rng.below(2) == 0 && !text.is_empty() {
                let at = rng.below(text.len());
                if text.is_char_boundary(at) {
                    text.truncate(at);
                }
            }
            text
        }
        _ => match rng.below(3) {
            0 => mark(&rng.next().to_string()),
            1 => r#"{"event":"clear"}"#.to_owned(),
            _ => format!(
                r#"{{"event":"media","media":{{"payload":"{}"}}}}"#,
                rng.next()
            ),
        },
    }
}

#[test]
fn random_input_never_panics() {
    for (seed, format) in [
        (1, AgentFormat::Mulaw8k),
        (2, AgentFormat::L16 { rate: 8_000 }),
        (3, AgentFormat::L16 { rate: 16_000 }),
        (4, AgentFormat::L16 { rate: 24_000 }),
    ] {
        let mut rng = XorShift(StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15 ^ seed));
        let (mut c, t0) = core(format, CallRate::Hz48000);
        let (mut ok, mut bad) = (0u64, 0u64);
        for i in 0..1_500u64 {
            let now = t0 + ms(5 * i);
            match c.agent_message(&random_message(&mut rng), now) {
                Ok(()) => ok += 1,
                Err(_) => bad += 1,
            }
            if let Some(f) = c.next_frame(now) {
                assert_eq!(f.pcm.len(), 960);
            }
            if i % 4 == 0 {
                c.caller_audio(&[0; 960], now);
            }
            while c.poll_transmit().is_some() {}
        }
        assert!(
            ok > 0 && bad > 0,
            "the generator exercises both paths: {ok} ok, {bad} bad"
        );
        assert_eq!(c.stats().bad_messages, bad);
        assert!(c.queued_audio() <= c.config().max_queue);
    }
}
