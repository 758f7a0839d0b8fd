//! Which encoder each listener's frames come from, and the resync frames that keep every
//! listener's decoder in step when that changes.
//!
//! A listener hears one continuous stream, made by its own encoder while it speaks and by the
//! encoder shared by everyone else otherwise. An Opus decoder that is handed a second encoder's
//! frames mid-stream predicts from the first encoder's history, and on steady sounds the error
//! lasts (with libopus 1.3.1 too: a 990 Hz tone decoded twice too loud, seconds after one
//! switch). So the first frame from a listener's new encoder is a *resync frame*
//! ([`super::encode_opus_frame`]): coded above the encoder's SILK/CELT threshold, it comes out
//! CELT-only (and at full quality); a decoder entering CELT-only from SILK or Hybrid resets its
//! CELT layer, and leaving it resets SILK, so from the next frame on (the one after, when the old
//! stream was CELT-only too) the decoder computes exactly what the encoder predicts, whatever it
//! decoded before. Checked against libopus 1.3.1 as well.
//!
//! A fresh own encoder's first frame is a resync frame that only its listener hears. The shared
//! encoder is heard by many, so it resyncs at most every [`SHARED_RESYNC_INTERVAL`], and
//! listeners waiting to join it (new listeners, and speakers quiet for [`OWN_HANGOVER`]) keep an
//! own encoder until then. After an interval with no mix at all (nobody sent audio), every
//! encoder's next frame is a resync frame: receivers concealed the gap, which moved their
//! decoders on without the encoders. G.711 keeps no state a switch could upset: its listeners
//! join the shared encode at once.

use std::collections::HashMap;
use std::sync::Arc;

use opus_rs::OpusEncoder;

use super::{MixError, encode_g711, encode_opus_frame, opus_encoder};
use crate::g711::Law;
use crate::options::RtpCodec;
use crate::resample::Downsampler;

/// Frames (20 ms each) a listener keeps its own encoder after it stopped being a speaker.
const OWN_HANGOVER: u32 = 50;
/// Fewest frames between two resync frames of the shared Opus encoder (1 s).
const SHARED_RESYNC_INTERVAL: u32 = 50;

/// A listener's own encoder.
pub(super) struct Own {
    encoder: Encoder,
    /// Frames since the listener last spoke.
    quiet_frames: u32,
    /// The next Opus frame is to be a resync frame.
    resync: bool,
}

enum Encoder {
    Opus(Box<OpusEncoder>),
    G711(Law, Downsampler),
}

impl Own {
    fn new(codec: RtpCodec, quiet_frames: u32) -> Result<Self, MixError> {
        let encoder = match codec.law() {
            Some(law) => Encoder::G711(law, Downsampler::default()),
            None => Encoder::Opus(Box::new(opus_encoder()?)),
        };
        Ok(Self {
            encoder,
            quiet_frames,
            resync: true,
        })
    }

    fn codec(&self) -> RtpCodec {
        match self.encoder {
            Encoder::Opus(_) => RtpCodec::Opus,
            Encoder::G711(Law::Mu, _) => RtpCodec::Pcmu,
            Encoder::G711(Law::A, _) => RtpCodec::Pcma,
        }
    }

    /// Encodes one 48 kHz frame (the first Opus frame as a resync frame); `pcm_8k` and `packet`
    /// are scratch.
    pub(super) fn encode(
        &mut self,
        pcm: &[f32],
        pcm_8k: &mut [f32],
        packet: &mut [u8],
    ) -> Result<Arc<[u8]>, MixError> {
        match &mut self.encoder {
            Encoder::Opus(e) => encode_opus_frame(e, pcm, packet, &mut self.resync),
            Encoder::G711(law, down) => {
                down.process(pcm, pcm_8k);
                Ok(encode_g711(*law, pcm_8k, packet))
            }
        }
    }
}

/// Where a listener's frames come from.
enum Source {
    Own(Own),
    /// The shared encode of this codec.
    Shared(RtpCodec),
}

struct Listener {
    source: Source,
    /// The last mix interval it was a listener in.
    seen: u64,
}

/// What a listener hears this frame.
pub(super) enum Choice<'a> {
    /// Its own encoder.
    Own(&'a mut Own),
    /// The shared encode of its codec.
    Shared,
}

/// Every listener's source, frame by frame.
pub(super) struct Streams {
    listeners: HashMap<usize, Listener>,
    /// Mix intervals so far, and the one the last frame was made in (0: none yet).
    intervals: u64,
    last_frame_interval: u64,
    since_shared_resync: u32,
    shared_resync: bool,
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            listeners: HashMap::new(),
            intervals: 0,
            last_frame_interval: 0,
            since_shared_resync: SHARED_RESYNC_INTERVAL,
            shared_resync: false,
        }
    }
}

impl Streams {
    /// Counts one mix interval, whether or not it makes a frame.
    pub(super) fn interval(&mut self) {
        self.intervals += 1;
    }

    /// Starts a frame for `listeners`, of whom `speakers` are mixed: the shared Opus encoder
    /// resyncs when a listener is waiting to join it and the last resync is long enough ago, and
    /// every encoder resyncs after intervals without a frame.
    pub(super) fn begin(&mut self, listeners: &[(usize, RtpCodec)], speakers: &[usize]) {
        let after_gap =
            self.last_frame_interval != 0 && self.last_frame_interval + 1 != self.intervals;
        self.last_frame_interval = self.intervals;
        if after_gap {
            for l in self.listeners.values_mut() {
                if let Source::Own(own) = &mut l.source {
                    own.resync = true;
                }
            }
        }
        self.since_shared_resync = self.since_shared_resync.saturating_add(1);
        let due = after_gap || self.since_shared_resync >= SHARED_RESYNC_INTERVAL;
        self.shared_resync = due
            && listeners.iter().any(|&(listener, codec)| {
                codec == RtpCodec::Opus
                    && !speakers.contains(&listener)
                    && (after_gap || self.waits_for_shared(listener, codec))
            });
        if self.shared_resync {
            self.since_shared_resync = 0;
        }
    }

    /// Whether the shared Opus frame of this frame is a resync frame.
    pub(super) fn shared_resync(&self) -> bool {
        self.shared_resync
    }

    fn waits_for_shared(&self, listener: usize, codec: RtpCodec) -> bool {
        match self.listeners.get(&listener).map(|l| &l.source) {
            Some(Source::Own(own)) if own.codec() == codec => own.quiet_frames >= OWN_HANGOVER,
            Some(Source::Shared(shared)) => *shared != codec,
            _ => true,
        }
    }

    /// Chooses the encoder `listener` hears this frame, in `codec`; `speaking` when it is one of
    /// the mixed speakers (who always hear their own encoder: a mix without their voice).
    pub(super) fn choose(
        &mut self,
        listener: usize,
        codec: RtpCodec,
        speaking: bool,
    ) -> Result<Choice<'_>, MixError> {
        let may_share = codec.law().is_some() || self.shared_resync;
        let source = match self.listeners.remove(&listener).map(|l| l.source) {
            Some(Source::Own(mut own)) if own.codec() == codec => {
                if speaking {
                    own.quiet_frames = 0;
                    Source::Own(own)
                } else if own.quiet_frames >= OWN_HANGOVER && may_share {
                    Source::Shared(codec)
                } else {
                    own.quiet_frames = own.quiet_frames.saturating_add(1);
                    Source::Own(own)
                }
            }
            Some(Source::Shared(shared)) if shared == codec && !speaking => Source::Shared(codec),
            // A speaker who had no own encoder, a new listener, or a new codec.
            _ if speaking => Source::Own(Own::new(codec, 0)?),
            _ if may_share => Source::Shared(codec),
            _ => Source::Own(Own::new(codec, OWN_HANGOVER)?),
        };
        let state = Listener {
            source,
            seen: self.intervals,
        };
        let state = self
            .listeners
            .entry(listener)
            .insert_entry(state)
            .into_mut();
        Ok(match &mut state.source {
            Source::Own(own) => Choice::Own(own),
            Source::Shared(_) => Choice::Shared,
        })
    }

    /// Ends a frame: listeners who were not in it are forgotten, so one who comes back (after
    /// being deaf or disconnected, say) starts with a resync frame.
    pub(super) fn end(&mut self) {
        let interval = self.intervals;
        self.listeners.retain(|_, l| l.seen == interval);
    }

    /// Forgets a listener.
    pub(super) fn remove(&mut self, listener: usize) {
        self.listeners.remove(&listener);
    }
}
