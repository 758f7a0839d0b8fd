//! Messages between the shards of a room that spans several, and the per-destination outbox that
//! batches them: a pass of the shard loop queues messages, and its end sends one batch (one
//! channel send, one wake-up) per destination shard.

use std::sync::{Arc, mpsc};

use mio::Waker;
use str0m::media::{Mid, Rid};

use crate::hotpath::Forwarded;
use crate::ids::{MemberId, RoomId};
use crate::options::MediaKind;

/// A message about a member of a spanning room, from the shard that owns the member to another
/// shard of the room (or, for keyframe requests, back). `from` is the member's peer index on the
/// sending shard; one channel per destination keeps each sender's messages in order, so a
/// `Joined` always precedes the member's sources and packets, and `Left` follows them.
#[derive(Debug)]
pub(crate) enum Relay {
    /// A member of `room` is on the sending shard (sent on join, and for every member when the
    /// destination becomes a shard of the room).
    Joined {
        room: RoomId,
        from: usize,
        member: MemberId,
        audio_muted: bool,
        video_muted: bool,
    },
    /// The member publishes a stream on m-line `mid`.
    SourceAdded {
        from: usize,
        mid: Mid,
        kind: MediaKind,
    },
    /// The member's stream on `mid` is gone (a transport of the member closed).
    SourceRemoved { from: usize, mid: Mid },
    /// The member muted or unmuted what it sends of `kind`.
    Muted {
        from: usize,
        kind: MediaKind,
        muted: bool,
    },
    /// The member left: forget it and its streams.
    Left { from: usize },
    /// One packet of the member's stream on `mid`, to forward as if it were local (the payload is
    /// shared, not copied).
    Rtp {
        from: usize,
        mid: Mid,
        packet: Forwarded,
    },
    /// Subscribers on the sending shard start (`wanted`) or stop receiving `member`'s video on
    /// `mid`; sent to the member's shard, which relays video only to shards that want it.
    Interest {
        member: MemberId,
        mid: Mid,
        wanted: bool,
    },
    /// Subscribers on the sending shard need a keyframe of `member`'s stream on `mid` (layer
    /// `rid` when simulcast); sent to the member's shard.
    KeyframeRequest {
        member: MemberId,
        mid: Mid,
        rid: Option<Rid>,
    },
}

/// The messages one shard sent another in one pass.
pub(crate) struct RelayBatch {
    /// The sending shard.
    pub from: usize,
    pub messages: Vec<Relay>,
}

/// The way to another shard: its relay channel and its loop's waker.
#[derive(Clone)]
pub(crate) struct Link {
    pub sender: mpsc::Sender<RelayBatch>,
    pub waker: Arc<Waker>,
}

/// Messages queued per destination shard during a pass.
#[derive(Default)]
pub(crate) struct RelayOut {
    links: Vec<Option<Link>>,
    queued: Vec<Vec<Relay>>,
}

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flushed {
    pub messages: u64,
    pub batches: u64,
}

impl RelayOut {
    /// Sets the links to the other shards (`None` at the shard's own index).
    pub(crate) fn connect(&mut self, links: Vec<Option<Link>>) {
        self.queued = links.iter().map(|_| Vec::new()).collect();
        self.links = links;
    }

    /// Queues a message for shard `to` (dropped when there is no link to it).
    pub(crate) fn push(&mut self, to: usize, message: Relay) {
        if let Some(queue) = self.queued.get_mut(to)
            && self.links.get(to).is_some_and(Option::is_some)
        {
            queue.push(message);
        }
    }

    /// Sends each destination's queued messages as one batch and wakes it once.
    pub(crate) fn flush(&mut self, from: usize) -> Flushed {
        let mut flushed = Flushed::default();
        for (queue, link) in self.queued.iter_mut().zip(&self.links) {
            let Some(link) = link else { continue };
            if queue.is_empty() {
                continue;
            }
            let capacity = queue.len();
            let messages = std::mem::replace(queue, Vec::with_capacity(capacity));
            flushed.messages += messages.len() as u64;
            flushed.batches += 1;
            // A stopped shard drops its receiver; there is nothing left to tell it.
            if link.sender.send(RelayBatch { from, messages }).is_ok() {
                let _ = link.waker.wake();
            }
        }
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(poll: &mio::Poll) -> (Link, mpsc::Receiver<RelayBatch>) {
        let (sender, receiver) = mpsc::channel();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        (Link { sender, waker }, receiver)
    }

    #[test]
    fn one_batch_per_destination_per_flush() {
        let (p1, p2) = (mio::Poll::new().unwrap(), mio::Poll::new().unwrap());
        let ((l1, r1), (l2, r2)) = (link(&p1), link(&p2));
        let mut out = RelayOut::default();
        out.connect(vec![None, Some(l1), Some(l2)]);
        for from in 0..3 {
            out.push(1, Relay::Left { from });
        }
        out.push(0, Relay::Left { from: 9 });
        assert_eq!(
            out.flush(0),
            Flushed {
                messages: 3,
                batches: 1,
            }
        );
        let batch = r1.try_recv().unwrap();
        assert_eq!(batch.from, 0);
        assert_eq!(batch.messages.len(), 3);
        assert!(r1.try_recv().is_err());
        assert!(r2.try_recv().is_err());
        assert_eq!(out.flush(0), Flushed::default());
    }
}
