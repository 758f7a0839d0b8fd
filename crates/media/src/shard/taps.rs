//! Taps on the shard: a copy of each audio packet a tapped member sends, offered to its tap
//! without waiting (see [`crate::MediaEngine::tap`]).

use super::worker::Worker;
use crate::error::MediaError;
use crate::hotpath::Forwarded;
use crate::ids::MemberId;
use crate::options::{MediaKind, RtpCodec};
use crate::tap::{TapPacket, TapSender, Tapped};

impl Worker {
    /// Taps the audio `member` sends, replacing an earlier tap (whose reader then ends).
    pub(super) fn set_tap(&mut self, member: &MemberId, tap: TapSender) -> Result<(), MediaError> {
        if self.feed_ids.contains_key(member) {
            return Err(MediaError::State(format!(
                "{member} is a source member: it sends nothing to tap"
            )));
        }
        let transports = self.transports_of(member)?;
        let audio = transports
            .iter()
            .copied()
            .find(|&t| {
                self.peers
                    .get(t)
                    .is_some_and(|p| p.published(MediaKind::Audio).is_some())
            })
            .unwrap_or(transports[0]);
        let p = self
            .peers
            .get_mut(audio)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
        p.tap = Some(tap);
        Ok(())
    }
}

/// Offers a copy of an audio packet (its payload shared) to a tap; ends a tap whose reader is
/// gone.
pub(super) fn tap_packet(tap: &mut Option<TapSender>, f: &Forwarded) {
    let Some(sender) = tap else { return };
    let Some(codec) = RtpCodec::of(f.spec.codec) else {
        return;
    };
    let packet = TapPacket {
        payload: f.payload.clone(),
        sequence: f.seq,
        timestamp: f.ts,
        codec,
    };
    if sender.offer(packet) == Tapped::Closed {
        *tap = None;
    }
}
