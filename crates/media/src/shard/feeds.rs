//! Source members ("feeds" inside the shard): audio the engine produces, written every 20 ms
//! into the first audio slot of every other member of the room on this shard.
//!
//! A feed is not a peer: it has no transport, publishes nothing the room forwards, takes no
//! slot and does not count in the room's headcount. While a room has one, its members' first
//! audio slots carry the feed's frames instead of forwarded or mixed audio (see
//! [`Worker::apply_policy`]). All feeds of a shard share one 20 ms tick; each pops at most one
//! frame per tick from its bounded queue, so a stalled producer only leaves gaps.

use std::sync::Arc;
use std::time::Instant;

use str0m::media::Pt;

use super::mixing::MIX_INTERVAL;
use super::worker::Worker;
use crate::audio_source::FrameQueue;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::g711;
use crate::hotpath::Generated;
use crate::ids::{MemberId, RoomId};
use crate::mixer::dbov;
use crate::options::RtpCodec;

/// Frames a late tick sends at most for the ticks it missed (100 ms).
const FEED_CATCH_UP: usize = 5;

/// How many frames the source tick due at `due` sends when it runs at `now`, and when the next
/// one is due: one per missed tick up to [`FEED_CATCH_UP`], so a late wake-up of the shard
/// delays the sources' audio instead of slowing it; after a longer stall the cadence starts
/// again from `now`.
fn catch_up(due: Instant, now: Instant) -> (usize, Instant) {
    let late = now.saturating_duration_since(due);
    let owed = (late.as_nanos() / MIX_INTERVAL.as_nanos()) as usize + 1;
    let sent = owed.min(FEED_CATCH_UP);
    let next = due + MIX_INTERVAL * sent as u32;
    (
        sent,
        if next <= now {
            now + MIX_INTERVAL
        } else {
            next
        },
    )
}

/// The RFC 6464 level sent with Opus frames, which are not decoded to measure one: 127, as
/// for silence.
const OPUS_LEVEL: u8 = 127;

/// One source member.
pub(crate) struct Feed {
    pub member: MemberId,
    /// Index of its room in the shard's room slab.
    pub room: usize,
    pub codec: RtpCodec,
    pub frames: FrameQueue,
    /// The feed's own sequence number (rewritten per listener slot); advances per frame written.
    seq: u64,
    /// The feed's own RTP timestamp; advances by one frame every tick, frame or not.
    ts: u32,
    /// The last tick had no frame: the next frame starts a talkspurt (marker bit).
    gap: bool,
}

impl Worker {
    /// Adds a source member to `room`: at most one per room on a shard.
    pub(super) fn add_source(
        &mut self,
        room: RoomId,
        member: MemberId,
        codec: RtpCodec,
        frames: FrameQueue,
    ) -> Result<(), MediaError> {
        let room_index = *self
            .room_ids
            .get(&room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if self.members.contains_key(&member) || self.feed_ids.contains_key(&member) {
            return Err(MediaError::MemberExists(member));
        }
        let r = self
            .rooms
            .get_mut(room_index)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if r.feed.is_some() {
            return Err(MediaError::State(format!(
                "room {room} already has a source"
            )));
        }
        let (index, _) = self.feeds.insert(Feed {
            member: member.clone(),
            room: room_index,
            codec,
            frames,
            seq: 1,
            ts: 0,
            gap: true,
        });
        r.feed = Some(index);
        self.feed_ids.insert(member, index);
        self.apply_policy(room_index);
        Ok(())
    }

    /// Removes source member `member`, if it is one: its producer's sends fail from now on.
    /// Returns whether it was.
    pub(super) fn remove_source(&mut self, member: &MemberId) -> bool {
        let Some(index) = self.feed_ids.remove(member) else {
            return false;
        };
        let Some(feed) = self.feeds.remove(index) else {
            return true;
        };
        self.directory.remove_member(member);
        let room = self.rooms.get_mut(feed.room).map(|r| {
            r.feed = None;
            r.id.clone()
        });
        self.apply_policy(feed.room);
        if let Some(room) = room {
            self.io.emit(MediaEvent::MemberState {
                room,
                member: feed.member,
                state: MemberState::Closed,
            });
        }
        true
    }

    /// The producer of `member` cleared its queue: free the places of the cleared frames.
    pub(super) fn clear_source(&mut self, member: &MemberId) {
        if let Some(feed) = self
            .feed_ids
            .get(member)
            .and_then(|&i| self.feeds.get_mut(i))
        {
            feed.frames.drop_cleared();
        }
    }

    /// When the feeds' next tick is due, if there are feeds.
    pub(super) fn schedule_feeds(&mut self, now: Instant) -> Option<Instant> {
        if self.feeds.len() == 0 {
            self.next_feed = None;
            return None;
        }
        Some(*self.next_feed.get_or_insert(now))
    }

    /// One 20 ms tick: each feed with a queued frame writes it to its room's listeners here.
    pub(super) fn feed_tick(&mut self, now: Instant) {
        let Some(due) = self.next_feed else { return };
        let (sent, next) = catch_up(due, now);
        self.next_feed = Some(next);
        for _ in 0..sent {
            self.feed_frames(now);
        }
    }

    /// Sends one frame of every source that has one.
    fn feed_frames(&mut self, now: Instant) {
        for index in self.feeds.indexes() {
            let Some(feed) = self.feeds.get_mut(index) else {
                continue;
            };
            let (codec, ts) = (feed.codec, feed.ts);
            feed.ts = feed.ts.wrapping_add(frame_ticks(codec));
            let Some(payload) = feed.frames.pop() else {
                feed.gap = true;
                continue;
            };
            let mut g = Generated {
                pt: Pt::new_with_value(0),
                seq: feed.seq,
                ts,
                clock_rate: codec.clock_rate(),
                level: level_of(codec, &payload),
                payload,
                marker: std::mem::take(&mut feed.gap),
            };
            feed.seq += 1;
            let room = feed.room;
            let listeners = self.rooms.get(room).map_or(0, |r| r.members.len());
            for i in 0..listeners {
                let Some(&listener) = self.rooms.get(room).and_then(|r| r.members.get(i)) else {
                    break;
                };
                let Some(p) = self.peers.get(listener) else {
                    continue;
                };
                if !p.fed || !p.connected || p.deaf || p.remote().is_some() {
                    continue;
                }
                if self.write_audio(listener, codec, &mut g, now) {
                    self.io.counters.source_frames += 1;
                } else {
                    self.io.counters.source_codec_skipped += 1;
                }
            }
        }
    }
}

/// RTP clock ticks of one 20 ms frame of `codec`.
fn frame_ticks(codec: RtpCodec) -> u32 {
    codec.clock_rate() / 50
}

/// The RFC 6464 level (`-dBov`) of a frame: measured for G.711 (160 samples, cheap),
/// [`OPUS_LEVEL`] for Opus.
fn level_of(codec: RtpCodec, payload: &Arc<[u8]>) -> u8 {
    match codec.law() {
        Some(law) => dbov(g711::mean_square(law, payload)),
        None => OPUS_LEVEL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_tick_sends_the_frames_it_owes_up_to_a_bound() {
        let due = Instant::now();
        let ms = std::time::Duration::from_millis;
        assert_eq!(catch_up(due, due), (1, due + ms(20)), "on time: one frame");
        assert_eq!(catch_up(due, due + ms(5)), (1, due + ms(20)));
        assert_eq!(
            catch_up(due, due + ms(45)),
            (3, due + ms(60)),
            "45 ms late: this tick's frame and the two missed ones"
        );
        let (sent, next) = catch_up(due, due + ms(500));
        assert_eq!(
            sent, FEED_CATCH_UP,
            "a long stall sends at most 100 ms at once"
        );
        assert_eq!(next, due + ms(520), "then starts again from now");
    }

    #[test]
    fn frames_last_20_ms_in_each_clock() {
        assert_eq!(frame_ticks(RtpCodec::Opus), 960);
        assert_eq!(frame_ticks(RtpCodec::Pcmu), 160);
        assert_eq!(frame_ticks(RtpCodec::Pcma), 160);
    }

    #[test]
    fn g711_frames_are_measured_and_opus_frames_are_sent_as_silence() {
        let silence: Arc<[u8]> = Arc::from(&[0xffu8; 160][..]);
        assert_eq!(level_of(RtpCodec::Pcmu, &silence), 127);
        let mut loud = vec![0u8; 160];
        let pcm: Vec<f32> = (0..160)
            .map(|n| if n % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        g711::encode(g711::Law::Mu, &pcm, &mut loud);
        let level = level_of(RtpCodec::Pcmu, &Arc::from(loud));
        assert!((5..=7).contains(&level), "level {level}");
        assert_eq!(level_of(RtpCodec::Opus, &silence), OPUS_LEVEL);
    }
}
