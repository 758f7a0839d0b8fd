//! [`StreamCore`]: one call's media stream to an agent, without I/O.
//!
//! The shell owns the WebSocket and the call's media and drives the core with events and a
//! 20 ms tick:
//!
//! - caller audio: [`StreamCore::caller_audio`] per 20 ms PCM frame, [`StreamCore::caller_dtmf`]
//!   per key;
//! - each text frame from the agent: [`StreamCore::agent_message`];
//! - every tick: [`StreamCore::next_frame`] (at most one frame of the agent's audio to play to the
//!   caller), then [`StreamCore::poll_transmit`] until `None`, sending each string as a text
//!   frame;
//! - at the end: [`StreamCore::stop`], drain [`StreamCore::poll_transmit`], close.
//!
//! Time comes only from the `now` arguments.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use crate::config::StreamConfig;
use crate::error::{ConfigError, StreamError};
use crate::format::{CallRate, FRAME, Rechunker};
use crate::protocol::{
    DTMF_TRACK, Decimal, DtmfBody, FromAgent, MarkBody, MediaBody, MediaFormat, PROTOCOL,
    StartBody, StopBody, ToAgent, Track, VERSION,
};
use crate::stats::StreamStats;

/// Standard base64; padding written, and optional when reading.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How early a tick may play the frame due next: half a frame, so a shell timer that fires a
/// little early does not skip every other frame.
const EARLY: Duration = Duration::from_millis(10);

/// One frame of the agent's audio for the caller: 20 ms of mono PCM at the call's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The samples ([`CallRate::frame_samples`] of them).
    pub pcm: &'a [i16],
    /// Their rate.
    pub rate: CallRate,
}

/// A message waiting to be sent.
#[derive(Debug)]
struct Outgoing {
    text: String,
    /// Caller audio, which counts against the backlog cap.
    media: bool,
}

/// One call's media stream: the messages to send to the agent, the agent's audio waiting to be
/// played and its marks, and counters. See the [module documentation](self).
#[derive(Debug)]
pub struct StreamCore {
    config: StreamConfig,
    started: Instant,
    stopped: bool,
    /// The last `sequenceNumber` used.
    sequence: u64,
    /// The last `media.chunk` used.
    chunk: u64,
    outgoing: VecDeque<Outgoing>,
    /// `media` messages in `outgoing`, and their cap.
    backlog: usize,
    max_backlog: usize,

    /// Caller PCM at the call's rate to 20 ms frames at the agent's rate.
    uplink: Rechunker,
    up_frame: Vec<i16>,
    payload: Vec<u8>,
    payload_b64: String,

    /// The agent's audio at the agent's rate, waiting to be played.
    queue: VecDeque<i16>,
    max_queue: usize,
    /// Samples ever queued, and ever taken for playout (or cleared): the marks' positions.
    enqueued: u64,
    consumed: u64,
    /// Marks by the `enqueued` position of the audio before them.
    marks: VecDeque<(u64, String)>,
    decoded: Vec<u8>,
    /// One agent frame to the call's rate.
    downlink: Rechunker,
    agent_frame: Vec<i16>,
    out_frame: Vec<i16>,
    /// When the next frame is due; `None` while the queue is dry.
    next_due: Option<Instant>,
    /// When the last frame was played.
    last_played: Option<Instant>,
    /// A partial frame waited one tick for the rest of it.
    held_partial: bool,
    /// The last frame played emptied the queue: the next one restarts playout.
    ran_dry: bool,

    dropped_samples: u64,
    stats: StreamStats,
}

impl StreamCore {
    /// A stream starting at `now`, with `connected` and `start` queued to send.
    pub fn new(config: StreamConfig, now: Instant) -> Result<Self, ConfigError> {
        let format = config.format.validate()?;
        let agent_rate = format.rate();
        let call_rate = config.call_rate;
        let agent_frame = format.frame_samples();
        let call_frame = call_rate.frame_samples();
        let max_queue = samples_in(config.max_queue, agent_rate);
        let max_backlog = (config.max_backlog.as_millis() / FRAME.as_millis()) as usize;
        let mut core = Self {
            uplink: Rechunker::new(call_rate.hz(), agent_rate, agent_frame)?,
            downlink: Rechunker::new(agent_rate, call_rate.hz(), call_frame)?,
            config,
            started: now,
            stopped: false,
            sequence: 0,
            chunk: 0,
            outgoing: VecDeque::new(),
            backlog: 0,
            max_backlog,
            up_frame: Vec::with_capacity(agent_frame),
            payload: Vec::with_capacity(agent_frame * format.bytes_per_sample()),
            payload_b64: String::new(),
            queue: VecDeque::new(),
            max_queue,
            enqueued: 0,
            consumed: 0,
            marks: VecDeque::new(),
            decoded: Vec::new(),
            agent_frame: Vec::with_capacity(agent_frame),
            out_frame: Vec::with_capacity(call_frame),
            next_due: None,
            last_played: None,
            held_partial: false,
            ran_dry: false,
            dropped_samples: 0,
            stats: StreamStats::default(),
        };
        core.queue_connected_and_start();
        Ok(core)
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        let frame = self.config.format.frame_samples() as u64;
        StreamStats {
            agent_frames_dropped: self.dropped_samples.div_ceil(frame),
            ..self.stats
        }
    }

    /// The agent's audio waiting to be played.
    pub fn queued_audio(&self) -> Duration {
        let rate = u64::from(self.config.format.rate());
        Duration::from_micros(self.queue.len() as u64 * 1_000_000 / rate)
    }

    /// Marks waiting for their audio to play.
    pub fn pending_marks(&self) -> usize {
        self.marks.len()
    }

    /// Whether [`StreamCore::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the stream is stopped and everything, `stop` included, was handed out: the shell
    /// may close the socket.
    pub fn is_finished(&self) -> bool {
        self.stopped && self.outgoing.is_empty()
    }

    /// The next text frame to send to the agent, in order.
    pub fn poll_transmit(&mut self) -> Option<String> {
        let next = self.outgoing.pop_front()?;
        if next.media {
            self.backlog -= 1;
        }
        Some(next.text)
    }

    /// One frame of the caller's audio (mono PCM at the call's rate, normally 20 ms): queues the
    /// `media` messages it completes. When the agent is not reading and the backlog is full, the
    /// audio is dropped and counted instead.
    pub fn caller_audio(&mut self, pcm: &[i16], now: Instant) {
        if self.stopped {
            return;
        }
        self.stats.caller_frames_in += 1;
        self.uplink.push(pcm);
        while self.uplink.pop(&mut self.up_frame) {
            if self.backlog >= self.max_backlog {
                self.stats.media_dropped += 1;
                continue;
            }
            self.payload.clear();
            self.config.format.encode(&self.up_frame, &mut self.payload);
            self.payload_b64.clear();
            BASE64.encode_string(&self.payload, &mut self.payload_b64);
            self.chunk += 1;
            let sequence_number = self.next_sequence();
            let timestamp = now.saturating_duration_since(self.started).as_millis();
            let text = ToAgent::Media {
                sequence_number,
                stream_sid: self.config.stream_sid.as_str().into(),
                media: MediaBody {
                    track: Track::Inbound,
                    chunk: Decimal(self.chunk),
                    timestamp: Decimal(u64::try_from(timestamp).unwrap_or(u64::MAX)),
                    payload: self.payload_b64.as_str().into(),
                },
            }
            .to_json();
            self.outgoing.push_back(Outgoing { text, media: true });
            self.backlog += 1;
            self.stats.media_sent += 1;
        }
    }

    /// A key the caller pressed (`0`-`9`, `*`, `#`, `A`-`D`): queues a `dtmf`. Other characters
    /// are ignored; returns whether the digit was queued.
    pub fn caller_dtmf(&mut self, digit: char, _now: Instant) -> bool {
        if self.stopped || !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
            return false;
        }
        let mut buf = [0u8; 4];
        let sequence_number = self.next_sequence();
        let text = ToAgent::Dtmf {
            sequence_number,
            stream_sid: self.config.stream_sid.as_str().into(),
            dtmf: DtmfBody {
                track: DTMF_TRACK.into(),
                digit: (&*digit.encode_utf8(&mut buf)).into(),
            },
        }
        .to_json();
        self.push_control(text);
        self.stats.dtmf_sent += 1;
        true
    }

    /// One text frame from the agent.
    ///
    /// - `media`: the payload is decoded and queued for playout; audio beyond
    ///   [`StreamConfig::max_queue`] is dropped and counted.
    /// - `mark`: acknowledged once the audio queued before it has been played (at once if none).
    /// - `clear`: all queued audio is dropped at once and every pending mark acknowledged, as
    ///   Twilio does ("empties all buffered audio and causes any mark messages to be sent back").
    /// - other events: counted in [`StreamStats::unknown_messages`].
    ///
    /// A frame over [`StreamConfig::max_message_bytes`], malformed JSON, a missing field, bad
    /// base64 or a payload of the wrong shape is an error (counted in
    /// [`StreamStats::bad_messages`]) and changes nothing. After [`StreamCore::stop`] frames are
    /// ignored.
    pub fn agent_message(&mut self, text: &str, _now: Instant) -> Result<(), StreamError> {
        if self.stopped {
            return Ok(());
        }
        let result = self.handle_agent_message(text);
        if result.is_err() {
            self.stats.bad_messages += 1;
        }
        result
    }

    /// The next 20 ms of the agent's audio to play to the caller, if one is due at `now`.
    ///
    /// A playout clock paces the frames: one per 20 ms of `now` (a tick up to 10 ms early plays
    /// the frame due next; a tick a whole frame late plays one frame, counts it late and
    /// restarts the clock, so nothing bursts). With the queue dry it returns `None`; playout
    /// restarts at once when audio arrives. A final partial frame is padded with silence when a
    /// mark follows it or after it waited one tick for the rest.
    pub fn next_frame(&mut self, now: Instant) -> Option<Frame<'_>> {
        if self.stopped {
            return None;
        }
        let frame = self.config.format.frame_samples();
        let queued = self.queue.len();
        if queued == 0 {
            self.next_due = None;
            self.held_partial = false;
            return None;
        }
        if self.next_due.is_some_and(|due| now + EARLY < due) {
            return None;
        }
        // Pending marks lie beyond the audio played, so within this partial frame.
        let mark_follows = !self.marks.is_empty();
        if queued < frame && !mark_follows && !self.held_partial {
            self.held_partial = true;
            return None;
        }
        let held = std::mem::take(&mut self.held_partial);
        self.advance_clock(now, held);

        self.agent_frame.clear();
        self.agent_frame
            .extend(self.queue.drain(..queued.min(frame)));
        self.consumed += self.agent_frame.len() as u64;
        self.ran_dry = self.queue.is_empty();
        self.agent_frame.resize(frame, 0);
        self.downlink.push(&self.agent_frame);
        if !self.downlink.pop(&mut self.out_frame) {
            self.out_frame.clear();
            self.out_frame
                .resize(self.config.call_rate.frame_samples(), 0);
        }
        self.ack_played_marks();
        self.stats.frames_played += 1;
        Some(Frame {
            pcm: &self.out_frame,
            rate: self.config.call_rate,
        })
    }

    /// Ends the stream: queues `stop`, after which nothing else is queued and the agent's audio
    /// is dropped.
    pub fn stop(&mut self, _now: Instant) {
        if self.stopped {
            return;
        }
        let sequence_number = self.next_sequence();
        let text = ToAgent::Stop {
            sequence_number,
            stream_sid: self.config.stream_sid.as_str().into(),
            stop: StopBody {
                account_sid: self.config.account_sid.as_str().into(),
                call_sid: self.config.call_sid.as_str().into(),
            },
        }
        .to_json();
        self.push_control(text);
        self.stopped = true;
        self.queue.clear();
        self.marks.clear();
    }

    fn queue_connected_and_start(&mut self) {
        let connected = ToAgent::Connected {
            protocol: PROTOCOL.into(),
            version: VERSION.into(),
        }
        .to_json();
        self.push_control(connected);
        let sequence_number = self.next_sequence();
        let c = &self.config;
        let start = ToAgent::Start {
            sequence_number,
            stream_sid: c.stream_sid.as_str().into(),
            start: StartBody {
                stream_sid: c.stream_sid.as_str().into(),
                account_sid: c.account_sid.as_str().into(),
                call_sid: c.call_sid.as_str().into(),
                tracks: c.tracks.clone(),
                custom_parameters: c.custom_parameters.clone(),
                media_format: MediaFormat {
                    encoding: c.format.encoding().into(),
                    sample_rate: c.format.rate(),
                    channels: 1,
                },
            },
        }
        .to_json();
        self.push_control(start);
    }

    fn handle_agent_message(&mut self, text: &str) -> Result<(), StreamError> {
        let max = self.config.max_message_bytes;
        if text.len() > max {
            return Err(StreamError::TooLarge {
                len: text.len(),
                max,
            });
        }
        match FromAgent::parse(text)? {
            FromAgent::Media { payload } => self.queue_media(&payload)?,
            FromAgent::Mark { name } => self.queue_mark(name.into_owned())?,
            FromAgent::Clear => self.clear(),
            FromAgent::Unknown { .. } => self.stats.unknown_messages += 1,
        }
        Ok(())
    }

    fn queue_media(&mut self, payload_b64: &str) -> Result<(), StreamError> {
        self.decoded.clear();
        if let Err(e) = BASE64.decode_vec(payload_b64, &mut self.decoded) {
            self.decoded.clear();
            return Err(e.into());
        }
        let room = self.max_queue.saturating_sub(self.queue.len());
        let total = self
            .config
            .format
            .decode(&self.decoded, &mut self.queue, room)?;
        let accepted = total.min(room);
        self.enqueued += accepted as u64;
        self.dropped_samples += (total - accepted) as u64;
        self.stats.agent_media_in += 1;
        Ok(())
    }

    fn queue_mark(&mut self, name: String) -> Result<(), StreamError> {
        let max = self.config.max_mark_name;
        if name.len() > max {
            return Err(StreamError::MarkNameTooLong {
                len: name.len(),
                max,
            });
        }
        if self.enqueued == self.consumed {
            self.ack_mark(&name);
            return Ok(());
        }
        if self.marks.len() >= self.config.max_pending_marks {
            return Err(StreamError::TooManyMarks(self.config.max_pending_marks));
        }
        self.marks.push_back((self.enqueued, name));
        Ok(())
    }

    fn clear(&mut self) {
        self.stats.clears += 1;
        self.queue.clear();
        self.consumed = self.enqueued;
        self.downlink.reset();
        self.next_due = None;
        self.held_partial = false;
        self.ack_played_marks();
    }

    /// Moves the playout clock past a frame played at `now`; `held` says the frame waited a tick
    /// for more audio (so it is not late).
    fn advance_clock(&mut self, now: Instant, held: bool) {
        let next = match self.next_due {
            Some(due) if !self.ran_dry => {
                if !held && now.saturating_duration_since(due) >= FRAME {
                    self.stats.late_frames += 1;
                    now + FRAME
                } else if held {
                    now + FRAME
                } else {
                    due + FRAME
                }
            }
            _ => {
                let gap = self
                    .last_played
                    .map(|last| now.saturating_duration_since(last + FRAME));
                if gap.is_some_and(|g| g > self.config.underrun_after) {
                    self.stats.underruns += 1;
                }
                now + FRAME
            }
        };
        self.next_due = Some(next);
        self.last_played = Some(now);
    }

    fn ack_played_marks(&mut self) {
        while let Some((position, _)) = self.marks.front() {
            if *position > self.consumed {
                break;
            }
            if let Some((_, name)) = self.marks.pop_front() {
                self.ack_mark(&name);
            }
        }
    }

    fn ack_mark(&mut self, name: &str) {
        let sequence_number = self.next_sequence();
        let text = ToAgent::Mark {
            sequence_number,
            stream_sid: self.config.stream_sid.as_str().into(),
            mark: MarkBody { name: name.into() },
        }
        .to_json();
        self.push_control(text);
        self.stats.marks_acked += 1;
    }

    fn push_control(&mut self, text: String) {
        self.outgoing.push_back(Outgoing { text, media: false });
    }

    fn next_sequence(&mut self) -> Decimal {
        self.sequence += 1;
        Decimal(self.sequence)
    }
}

/// Samples in `d` at `rate` Hz.
fn samples_in(d: Duration, rate: u32) -> usize {
    (d.as_micros() * u128::from(rate) / 1_000_000) as usize
}

#[cfg(test)]
mod tests;
