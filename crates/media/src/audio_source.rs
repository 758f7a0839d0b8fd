//! Source members: audio Weft produces (a script's prompts) and writes into the room, through a
//! bounded queue between the producer ([`AudioSource`]) and the shard ([`FrameQueue`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::error::MediaError;
use crate::ids::MemberId;
use crate::options::RtpCodec;
use crate::shard::{Command, CommandSender};

/// Frames one source may have queued: [`AudioSource::send`] waits while this many are.
pub const SOURCE_QUEUE: usize = 3;

/// A frame and the clear epoch it was sent in (frames of an earlier epoch were cleared).
type Queued = (Arc<[u8]>, u64);

/// The producer's handle on a source member (see [`crate::MediaEngine::add_source`]): queues
/// 20 ms frames already encoded in the source's codec. `Send + Sync`; not `Clone` (one producer).
pub struct AudioSource {
    member: MemberId,
    codec: RtpCodec,
    frames: mpsc::Sender<Queued>,
    epoch: Arc<AtomicU64>,
    shard: CommandSender,
}

impl AudioSource {
    /// A handle on `member` whose frames go to `frames`; `shard` hears about clears.
    pub(crate) fn new(
        member: MemberId,
        codec: RtpCodec,
        frames: mpsc::Sender<Queued>,
        epoch: Arc<AtomicU64>,
        shard: CommandSender,
    ) -> Self {
        Self {
            member,
            codec,
            frames,
            epoch,
            shard,
        }
    }

    /// Queues one 20 ms frame encoded in [`AudioSource::codec`] (an Opus packet, or 160 bytes of
    /// µ-law or A-law). Waits while [`SOURCE_QUEUE`] frames are queued; fails with
    /// [`MediaError::NoSuchMember`] once the member was removed or its room closed.
    pub async fn send(&self, frame: Arc<[u8]>) -> Result<(), MediaError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        self.frames
            .send((frame, epoch))
            .await
            .map_err(|_| MediaError::NoSuchMember(self.member.clone()))
    }

    /// Drops the queued frames at once (barge-in): none of them is played, and their places in
    /// the queue are free as soon as the shard reads its inbox. A frame already written is not
    /// called back.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let _ = self.shard.send(Command::ClearSource {
            member: self.member.clone(),
        });
    }

    /// The codec the source's frames are encoded in.
    pub fn codec(&self) -> RtpCodec {
        self.codec
    }

    /// The source's member id.
    pub fn member(&self) -> &MemberId {
        &self.member
    }
}

/// A new queue: the producer's end and the shard's.
pub(crate) fn frame_queue() -> (mpsc::Sender<Queued>, Arc<AtomicU64>, FrameQueue) {
    let (sender, receiver) = mpsc::channel(SOURCE_QUEUE);
    let epoch = Arc::new(AtomicU64::new(0));
    let queue = FrameQueue {
        receiver,
        epoch: epoch.clone(),
        held: None,
    };
    (sender, epoch, queue)
}

/// The shard's end of a source's queue. Frames sent before the latest clear are skipped.
pub(crate) struct FrameQueue {
    receiver: mpsc::Receiver<Queued>,
    epoch: Arc<AtomicU64>,
    /// A frame sent after a clear, met while dropping the cleared ones.
    held: Option<Arc<[u8]>>,
}

impl FrameQueue {
    /// The next frame to play, if any (never waits).
    pub(crate) fn pop(&mut self) -> Option<Arc<[u8]>> {
        if let Some(frame) = self.held.take() {
            return Some(frame);
        }
        let current = self.epoch.load(Ordering::Acquire);
        while let Ok((frame, epoch)) = self.receiver.try_recv() {
            if epoch >= current {
                return Some(frame);
            }
        }
        None
    }

    /// Drops the frames queued before the latest clear, freeing their places; keeps the first
    /// later one, if any, for [`FrameQueue::pop`].
    pub(crate) fn drop_cleared(&mut self) {
        if self.held.is_none() {
            self.held = self.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use super::*;

    fn frame(n: u8) -> Arc<[u8]> {
        Arc::from(&[n; 4][..])
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// A source handle whose clears go to a shard that is not running.
    fn handle() -> (AudioSource, FrameQueue, std_mpsc::Receiver<Command>) {
        let (frames, epoch, queue) = frame_queue();
        let (shard, inbox) = CommandSender::detached();
        let source = AudioSource::new(MemberId::from("s"), RtpCodec::Pcmu, frames, epoch, shard);
        (source, queue, inbox)
    }

    #[test]
    fn a_full_queue_makes_send_wait_until_a_frame_is_played() {
        let rt = runtime();
        let (source, mut queue, _inbox) = handle();
        rt.block_on(async {
            for n in 0..SOURCE_QUEUE as u8 {
                source.send(frame(n)).await.expect("room in the queue");
            }
            let blocked = tokio::time::timeout(Duration::from_millis(50), source.send(frame(9)));
            assert!(blocked.await.is_err(), "a full queue makes send wait");
            assert_eq!(queue.pop(), Some(frame(0)));
            tokio::time::timeout(Duration::from_secs(10), source.send(frame(3)))
                .await
                .expect("a played frame makes room")
                .expect("sent");
        });
        let played: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(played, vec![frame(1), frame(2), frame(3)]);
    }

    #[test]
    fn clear_drops_the_queued_frames_and_frees_their_places() {
        let rt = runtime();
        let (source, mut queue, inbox) = handle();
        rt.block_on(async {
            for n in 0..SOURCE_QUEUE as u8 {
                source.send(frame(n)).await.expect("sent");
            }
            source.clear();
            assert!(matches!(
                inbox.try_recv(),
                Ok(Command::ClearSource { member }) if member.as_str() == "s"
            ));
            // The shard handles the clear: the places are free at once.
            queue.drop_cleared();
            for n in 10..10 + SOURCE_QUEUE as u8 {
                tokio::time::timeout(Duration::from_secs(10), source.send(frame(n)))
                    .await
                    .expect("cleared places are free")
                    .expect("sent");
            }
        });
        let played: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(played, vec![frame(10), frame(11), frame(12)]);
    }

    #[test]
    fn frames_cleared_before_the_shard_noticed_are_never_played() {
        let rt = runtime();
        let (source, mut queue, _inbox) = handle();
        rt.block_on(async {
            source.send(frame(1)).await.expect("sent");
            source.clear();
            source.send(frame(2)).await.expect("sent");
        });
        assert_eq!(queue.pop(), Some(frame(2)));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn send_fails_once_the_shard_dropped_the_queue() {
        let rt = runtime();
        let (source, queue, _inbox) = handle();
        drop(queue);
        let sent = rt.block_on(source.send(frame(1)));
        assert_eq!(sent, Err(MediaError::NoSuchMember(MemberId::from("s"))));
    }
}
