//! `record_call` and `record`: the caller's audio (tapped once per call, [`CallerAudio`]) written
//! to a file under the data
//! directory's `recordings/<project>/`, registered with the store so that the REST API lists
//! and serves it. `record_call` runs in the background until stopped or until the caller's
//! member goes; `record` runs in the foreground and ends on a terminator key, silence after
//! speech, no speech at all, or its longest length.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opus_rs::OpusDecoder;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use weft_audio::g711::{self, Law};
use weft_media::{MemberId, RtpCodec, TapPacket};

use crate::front::ScriptsEnv;
use crate::recorder::{Format, Recorder};
use crate::store::RecordingRow;

/// Mean square (of samples in ±1) above which a frame counts as speech: about -40 dBov.
const SPEECH_MEAN_SQUARE: f32 = 1e-4;
/// Packets a recording may fall behind the caller's audio before it loses some.
const LISTENER_QUEUE: usize = 256;

/// The caller's audio, tapped once per call and shared by the call's recordings.
pub type Listener = broadcast::Receiver<TapPacket>;

/// Taps `member` once and hands out listeners to its audio until the member goes.
pub struct CallerAudio {
    packets: broadcast::Sender<TapPacket>,
}

impl CallerAudio {
    /// Taps `member`'s audio.
    pub async fn tap(env: &ScriptsEnv, member: &str) -> Result<CallerAudio, String> {
        let mut tap = env
            .engine
            .tap(&MemberId::from(member))
            .await
            .map_err(|e| format!("the caller's audio cannot be tapped: {e}"))?;
        let (packets, _) = broadcast::channel(LISTENER_QUEUE);
        let fan_out = packets.clone();
        tokio::spawn(async move {
            while let Some(packet) = tap.recv().await {
                // No listener at the moment is fine: the next recording subscribes.
                let _ = fan_out.send(packet);
            }
        });
        Ok(CallerAudio { packets })
    }

    /// A new listener, from the next packet on.
    pub fn listen(&self) -> Listener {
        self.packets.subscribe()
    }
}

/// The next packet of `listener`; `None` once the caller's audio has ended. A listener that
/// fell behind skips what it missed (the file gets silence there).
async fn next_packet(listener: &mut Listener) -> Option<TapPacket> {
    loop {
        match listener.recv().await {
            Ok(packet) => return Some(packet),
            Err(RecvError::Lagged(missed)) => {
                warn!(missed, "a recording fell behind the caller's audio")
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// A recording file being written.
pub struct Writer {
    env: Arc<ScriptsEnv>,
    id: String,
    path: PathBuf,
    recorder: Recorder,
    level: Level,
    /// Where the REST API serves it.
    pub url: String,
}

impl Writer {
    /// Creates the file and its row of a recording of a leg of `codec`.
    pub async fn start(
        env: &Arc<ScriptsEnv>,
        codec: RtpCodec,
        row: RecordingRow,
    ) -> Result<Writer, String> {
        let dir = env
            .recordings_dir
            .clone()
            .ok_or("recordings are not configured on this server")?;
        let path = dir.join(&row.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("recordings directory: {e}"))?;
        }
        let recorder =
            Recorder::create(&path, codec).map_err(|e| format!("recording file: {e}"))?;
        let id = row.id.clone();
        let url = env.store.create_recording(row).await?;
        Ok(Writer {
            env: env.clone(),
            id,
            path,
            recorder,
            level: Level::new(codec),
            url,
        })
    }

    /// Writes a packet; whether it sounded like speech.
    fn write(&mut self, packet: &TapPacket) -> Result<bool, String> {
        self.recorder
            .write(packet.sequence, packet.timestamp, &packet.payload)
            .map_err(|e| format!("writing the recording: {e}"))?;
        Ok(self.level.is_speech(&packet.payload))
    }

    /// Completes the file and its row.
    async fn finish(self, failure: Option<String>) {
        let duration = self.recorder.duration();
        let written = self.recorder.finish().map(|_| ());
        let failure = failure.or_else(|| written.err().map(|e| e.to_string()));
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if let Some(reason) = &failure {
            warn!(recording_id = %self.id, %reason, "recording failed");
        } else {
            info!(recording_id = %self.id, duration_ms = duration.as_millis() as u64, bytes, "recording stored");
        }
        if let Err(e) = self
            .env
            .store
            .finish_recording(&self.id, duration, bytes, failure.is_none())
            .await
        {
            warn!(recording_id = %self.id, error = %e, "the recording's row could not be completed");
        }
    }
}

/// A background recording (`record_call`).
pub struct Background {
    /// The script's id for it.
    pub control_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Background {
    /// Writes what `listener` hears to `writer` until stopped or until the caller's audio ends.
    pub fn spawn(control_id: String, mut writer: Writer, mut listener: Listener) -> Background {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut failure = None;
            loop {
                tokio::select! {
                    packet = next_packet(&mut listener) => match packet {
                        Some(packet) => {
                            if let Err(e) = writer.write(&packet) {
                                failure = Some(e);
                                break;
                            }
                        }
                        None => break,
                    },
                    _ = &mut stopped => break,
                }
            }
            writer.finish(failure).await;
        });
        Background {
            control_id,
            stop: Some(stop),
            task,
        }
    }

    /// Stops the recording and waits until its file is complete.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Why a foreground recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A terminator key.
    Terminator,
    /// Silence after speech.
    Silence,
    /// No speech before the initial timeout.
    NoInput,
    /// The longest length.
    MaxLength,
    /// The caller's audio ended (it hung up or left).
    Ended,
}

/// The foreground recording's clock: when speech was last heard, and whether at all.
pub struct Foreground {
    writer: Writer,
    listener: Listener,
    started: tokio::time::Instant,
    last_speech: Option<tokio::time::Instant>,
    initial_timeout: Duration,
    end_silence: Duration,
    max_length: Option<Duration>,
}

impl Foreground {
    /// A voicemail-style recording with its timeouts.
    pub fn new(
        writer: Writer,
        listener: Listener,
        initial_timeout: Duration,
        end_silence: Duration,
        max_length: Option<Duration>,
    ) -> Self {
        Self {
            writer,
            listener,
            started: tokio::time::Instant::now(),
            last_speech: None,
            initial_timeout,
            end_silence,
            max_length,
        }
    }

    /// When the recording ends unless more speech comes.
    fn deadline(&self) -> tokio::time::Instant {
        let silence = match self.last_speech {
            Some(at) => at + self.end_silence,
            None => self.started + self.initial_timeout,
        };
        match self.max_length {
            Some(max) => silence.min(self.started + max),
            None => silence,
        }
    }

    /// Takes the next packet or times out; `Some` when the recording is over.
    pub async fn step(&mut self) -> Option<Stop> {
        let deadline = self.deadline();
        tokio::select! {
            packet = next_packet(&mut self.listener) => match packet {
                Some(packet) => match self.writer.write(&packet) {
                    Ok(true) => {
                        self.last_speech = Some(tokio::time::Instant::now());
                        None
                    }
                    Ok(false) => None,
                    Err(e) => {
                        warn!(error = %e, "recording write failed");
                        Some(Stop::Ended)
                    }
                },
                None => Some(Stop::Ended),
            },
            () = tokio::time::sleep_until(deadline) => {
                let now = tokio::time::Instant::now();
                Some(match (self.max_length, self.last_speech) {
                    (Some(max), _) if now >= self.started + max => Stop::MaxLength,
                    (_, Some(_)) => Stop::Silence,
                    (_, None) => Stop::NoInput,
                })
            }
        }
    }

    /// Completes the file; its URL.
    pub async fn finish(self) -> String {
        let url = self.writer.url.clone();
        self.writer.finish(None).await;
        url
    }
}

/// Tells speech from silence in a leg's packets (decoding Opus).
enum Level {
    Law(Law),
    Opus(Option<Box<OpusDecoder>>, Vec<f32>),
}

impl Level {
    fn new(codec: RtpCodec) -> Self {
        match codec {
            RtpCodec::Pcmu => Level::Law(Law::Mu),
            RtpCodec::Pcma => Level::Law(Law::A),
            RtpCodec::Opus => Level::Opus(
                OpusDecoder::new(48_000, 1).ok().map(Box::new),
                vec![0.0; 5760],
            ),
        }
    }

    fn is_speech(&mut self, payload: &[u8]) -> bool {
        let mean_square = match self {
            Level::Law(law) => g711::mean_square(*law, payload),
            Level::Opus(Some(decoder), pcm) => match decoder.decode(payload, 960, pcm) {
                Ok(n) if n > 0 => pcm[..n].iter().map(|s| s * s).sum::<f32>() / n as f32,
                _ => 0.0,
            },
            Level::Opus(None, _) => 0.0,
        };
        mean_square > SPEECH_MEAN_SQUARE
    }
}

/// The row of a new recording of `call_id`'s caller.
pub fn row(project_id: &str, call_id: &str, resource_id: &str, codec: RtpCodec) -> RecordingRow {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let format = Format::of(codec);
    RecordingRow {
        path: format!("{project_id}/{id}.{}", format.extension()),
        id,
        project_id: project_id.to_owned(),
        call_id: call_id.to_owned(),
        resource_id: resource_id.to_owned(),
        format,
    }
}
