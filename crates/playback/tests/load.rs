//! Loading playable URLs against a real HTTP server on loopback: a WAV of a 700 Hz tone is
//! fetched, decoded at the call's rate and cached; refusals, errors and generated forms.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use weft_audio::{WavEncoding, WavWriter, tone};
use weft_fetch::{FetchConfig, Fetcher};
use weft_playback::{LoadError, Loader, LoaderConfig, Speech};

/// A one-second 700 Hz tone at 16 kHz as a WAV file.
fn tone_wav() -> Vec<u8> {
    let pcm = tone(700.0, std::time::Duration::from_secs(1), 16_000, -6.0).expect("tone");
    let mut writer =
        WavWriter::new(Cursor::new(Vec::new()), WavEncoding::Pcm16, 1, 16_000).expect("writer");
    writer.write_samples(&pcm.samples).expect("samples");
    writer.finish().expect("finish").into_inner()
}

/// Serves `/tone.wav`, `/missing.wav` (404) and `/noise.wav` (not audio); counts requests.
async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let wav = tone_wav();
    let counted = hits.clone();
    let app = Router::new()
        .route(
            "/tone.wav",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let wav = wav.clone();
                async move { wav }
            }),
        )
        .route("/missing.wav", get(|| async { StatusCode::NOT_FOUND }))
        .route("/noise.wav", get(|| async { vec![7u8; 4_000] }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

fn loader(allow: &str) -> Loader {
    let config = FetchConfig {
        allow: FetchConfig::parse_allow(allow).expect("rules"),
        ..FetchConfig::default()
    };
    Loader::new(
        Fetcher::new(config).expect("fetcher"),
        LoaderConfig::default(),
    )
}

/// Zero crossings per second of `samples` at `rate`, halved: the frequency of a pure tone.
fn frequency(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / f64::from(rate))
}

#[tokio::test]
async fn a_fetched_wav_plays_at_the_calls_rate_and_is_fetched_once() {
    let (addr, hits) = server().await;
    let loader = loader("127.0.0.1/32");
    let url = format!("http://{addr}/tone.wav");
    let pcm = loader
        .load(&url, &Speech::default(), 8_000)
        .await
        .expect("loads");
    assert_eq!(pcm.rate, 8_000);
    assert!(
        (pcm.samples.len() as i64 - 8_000).abs() <= 2,
        "{}",
        pcm.samples.len()
    );
    let hz = frequency(&pcm.samples, 8_000);
    assert!((hz - 700.0).abs() < 5.0, "{hz} Hz");
    let again = loader
        .load(&url, &Speech::default(), 8_000)
        .await
        .expect("cached");
    assert!(
        Arc::ptr_eq(&pcm, &again),
        "the second play comes from the cache"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let wide = loader
        .load(&url, &Speech::default(), 48_000)
        .await
        .expect("48 kHz");
    assert_eq!(wide.rate, 48_000);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "another rate is another entry"
    );
}

#[tokio::test]
async fn refusals_and_errors_name_the_url_without_secrets() {
    let (addr, hits) = server().await;
    let refused = loader("")
        .load(
            &format!("http://user:pw@{addr}/tone.wav?k=s"),
            &Speech::default(),
            8_000,
        )
        .await
        .expect_err("loopback is refused by default");
    let text = refused.to_string();
    assert!(matches!(refused, LoadError::Fetch { .. }), "{text}");
    assert!(text.contains("loopback"), "{text}");
    assert!(!text.contains("pw") && !text.contains("k=s"), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let allowed = loader("127.0.0.1/32");
    let missing = allowed
        .load(
            &format!("http://{addr}/missing.wav"),
            &Speech::default(),
            8_000,
        )
        .await
        .expect_err("404");
    assert!(
        matches!(missing, LoadError::Status { status: 404, .. }),
        "{missing}"
    );
    let noise = allowed
        .load(
            &format!("http://{addr}/noise.wav"),
            &Speech::default(),
            8_000,
        )
        .await
        .expect_err("not audio");
    assert!(matches!(noise, LoadError::Audio { .. }), "{noise}");
}

#[tokio::test]
async fn generated_forms_need_no_fetch_and_say_needs_a_command() {
    let loader = loader("");
    let silence = loader
        .load("silence:0.5", &Speech::default(), 8_000)
        .await
        .expect("silence");
    assert_eq!(silence.samples.len(), 4_000);
    assert!(silence.samples.iter().all(|&s| s == 0));
    let ring = loader
        .load("ring:2:gb", &Speech::default(), 8_000)
        .await
        .expect("ring");
    assert_eq!(ring.samples.len(), 16_000);
    assert!(ring.samples.iter().any(|&s| s != 0));
    let say = loader
        .load("say:hello", &Speech::default(), 8_000)
        .await
        .expect_err("no TTS");
    assert!(matches!(say, LoadError::NoTts), "{say}");
    let bad = loader
        .load("tone:5", &Speech::default(), 8_000)
        .await
        .expect_err("unknown");
    assert!(matches!(bad, LoadError::Playable(_)), "{bad}");
}

#[tokio::test]
async fn say_speaks_through_the_configured_command() {
    if !weft_audio::tts::installed("espeak-ng") {
        println!("skipped: espeak-ng is not installed");
        return;
    }
    let config = LoaderConfig {
        tts: Some(weft_audio::TtsCommand::parse("espeak-ng").expect("command")),
        ..LoaderConfig::default()
    };
    let loader = Loader::new(
        Fetcher::new(FetchConfig::default()).expect("fetcher"),
        config,
    );
    let speech = Speech {
        voice: Some("Polly.Salli".into()),
        language: Some("en-US".into()),
    };
    let pcm = loader
        .load("say:Welcome to Weft", &speech, 8_000)
        .await
        .expect("speech");
    assert_eq!(pcm.rate, 8_000);
    assert!(pcm.samples.len() > 4_000, "{} samples", pcm.samples.len());
    assert!(
        pcm.samples.iter().any(|&s| s.unsigned_abs() > 1_000),
        "audible"
    );
}
