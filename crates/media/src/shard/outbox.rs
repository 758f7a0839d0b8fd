//! Batched UDP sends: the datagrams one pass of the shard produces are sent together at its end,
//! and a run of equal-size datagrams to one destination (the packets of a video frame to one
//! subscriber) leaves as one UDP GSO send (`UDP_SEGMENT`), which costs the kernel about a quarter
//! of separate sends per datagram.

use std::net::SocketAddr;

use mio::net::UdpSocket;
use quinn_udp::{Transmit, UdpSocketState};

/// Most datagrams in one GSO send (the kernel allows 64).
const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (one IP datagram's worth).
const MAX_GSO_BYTES: usize = 64_000;

/// A datagram waiting for the end of the pass.
struct Queued {
    destination: SocketAddr,
    order: u32,
    contents: Vec<u8>,
}

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Datagrams handed to the kernel.
    pub datagrams: u64,
    /// Send calls made (fewer than `datagrams` when GSO joined runs).
    pub calls: u64,
    /// Datagrams the kernel refused (socket buffer full, unreachable).
    pub errors: u64,
}

/// The shard's pending datagrams.
pub(crate) struct Outbox {
    queued: Vec<Queued>,
    /// Reused buffer a GSO run is copied into.
    run: Vec<u8>,
    /// `None` when the platform offers no GSO: every datagram is sent alone.
    gso: Option<UdpSocketState>,
}

impl Outbox {
    /// An outbox for `socket`, using GSO when the kernel supports it.
    pub(crate) fn new(socket: &UdpSocket) -> Self {
        let gso = UdpSocketState::new(socket.into())
            .ok()
            .filter(|state| state.max_gso_segments() > 1);
        Self {
            queued: Vec::new(),
            run: Vec::new(),
            gso,
        }
    }

    /// Queues a datagram.
    pub(crate) fn push(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        let order = self.queued.len() as u32;
        self.queued.push(Queued {
            destination,
            order,
            contents,
        });
    }

    /// Sends everything queued: grouped by destination (order kept within each), runs of equal
    /// size joined into GSO sends.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> Flushed {
        let mut done = Flushed::default();
        if self.queued.is_empty() {
            return done;
        }
        // Keys are unique, so the unstable (allocation-free) sort keeps each destination's order.
        self.queued
            .sort_unstable_by_key(|q| (q.destination, q.order));
        let max_segments = self
            .gso
            .as_ref()
            .map_or(1, |s| s.max_gso_segments().min(MAX_SEGMENTS));
        let mut start = 0;
        while start < self.queued.len() {
            let end = run_end(&self.queued, start, max_segments);
            let count = (end - start) as u64;
            done.calls += 1;
            if self.send_run(socket, start, end) {
                done.datagrams += count;
            } else {
                done.errors += count;
            }
            start = end;
        }
        self.queued.clear();
        done
    }

    fn send_run(&mut self, socket: &UdpSocket, start: usize, end: usize) -> bool {
        let first = &self.queued[start];
        if end - start == 1 {
            return socket.send_to(&first.contents, first.destination).is_ok();
        }
        let Some(gso) = self.gso.as_ref() else {
            return false;
        };
        self.run.clear();
        for q in &self.queued[start..end] {
            self.run.extend_from_slice(&q.contents);
        }
        let transmit = Transmit {
            destination: first.destination,
            ecn: None,
            contents: &self.run,
            segment_size: Some(first.contents.len()),
            src_ip: None,
        };
        gso.try_send(socket.into(), &transmit).is_ok()
    }
}

/// The end of the run starting at `start`: same destination, every datagram the size of the
/// first except possibly a shorter last one, within the segment and byte limits.
fn run_end(queued: &[Queued], start: usize, max_segments: usize) -> usize {
    let first = &queued[start];
    let size = first.contents.len();
    let mut end = start + 1;
    while end < queued.len() && end - start < max_segments {
        let next = &queued[end];
        if next.destination != first.destination
            || next.contents.len() > size
            || (end - start + 1) * size > MAX_GSO_BYTES
            || size == 0
        {
            break;
        }
        end += 1;
        if next.contents.len() < size {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(destination: u16, len: usize, order: u32) -> Queued {
        Queued {
            destination: SocketAddr::from(([127, 0, 0, 1], destination)),
            order,
            contents: vec![order as u8; len],
        }
    }

    #[test]
    fn runs_join_equal_sizes_to_one_destination_and_end_after_a_shorter_one() {
        let q = vec![
            queued(1, 100, 0),
            queued(1, 100, 1),
            queued(1, 60, 2),
            queued(1, 100, 3),
            queued(2, 100, 4),
        ];
        assert_eq!(run_end(&q, 0, 64), 3, "two full and a shorter last");
        assert_eq!(run_end(&q, 3, 64), 4, "the next destination starts a run");
        assert_eq!(run_end(&q, 0, 2), 2, "segment limit");
        let big: Vec<Queued> = (0..100).map(|i| queued(1, 1200, i)).collect();
        assert_eq!(run_end(&big, 0, 64), 53, "64 000 bytes at most");
    }

    #[test]
    fn a_flush_delivers_every_datagram_in_order_per_destination() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers: Vec<std::net::UdpSocket> = (0..2)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut outbox = Outbox::new(&sender);
        let mut expected = [Vec::new(), Vec::new()];
        for i in 0..20u8 {
            let r = usize::from(i % 3 == 0);
            let len = if i == 19 { 40 } else { 300 };
            outbox.push(receivers[r].local_addr().unwrap(), vec![i; len]);
            expected[r].push((i, len));
        }
        let flushed = outbox.flush(&sender);
        assert_eq!(flushed.datagrams, 20);
        assert_eq!(flushed.errors, 0);
        if outbox.gso.is_some() {
            assert!(flushed.calls < 20, "GSO joined runs: {flushed:?}");
        }
        for (r, socket) in receivers.iter().enumerate() {
            socket
                .set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 2048];
            for &(tag, len) in &expected[r] {
                let n = socket.recv(&mut buf).unwrap();
                assert_eq!((buf[0], n), (tag, len), "receiver {r}");
            }
        }
        assert_eq!(outbox.flush(&sender), Flushed::default(), "nothing left");
    }
}
