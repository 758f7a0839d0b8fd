//! Batched UDP sends: the datagrams one pass of the shard produces are sent together at its end,
//! and a run of equal-size datagrams to one destination (the packets of a video frame to one
//! subscriber) leaves as one UDP GSO send (`UDP_SEGMENT`), which costs the kernel about a quarter
//! of separate sends per datagram.
//!
//! The queued bytes live back to back in one arena that keeps its capacity across passes, each
//! described by a small fixed-size record, so queueing allocates nothing once the arena has grown
//! to the shard's working size. [`Outbox::push_with`] lets a caller write (seal) a datagram
//! straight into the arena; a GSO run whose datagrams already lie in order side by side there is
//! sent from the arena without a copy.

use std::net::SocketAddr;

use mio::net::UdpSocket;
use quinn_udp::{Transmit, UdpSocketState};

/// Most datagrams in one GSO send (the kernel allows 64).
const MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (one IP datagram's worth).
const MAX_GSO_BYTES: usize = 64_000;

/// A datagram waiting for the end of the pass: where it goes and where its bytes are.
#[derive(Debug, Clone, Copy)]
struct Record {
    destination: SocketAddr,
    /// Position in the pass, so that sorting by destination keeps each destination's order.
    order: u32,
    /// Its first byte in the arena.
    offset: usize,
    len: usize,
}

impl Record {
    /// One past its last byte in the arena.
    fn end(&self) -> usize {
        self.offset + self.len
    }
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
    /// One per queued datagram, in push order until a flush sorts them.
    records: Vec<Record>,
    /// The queued datagrams' bytes, back to back in push order, are `arena[..used]`. The rest of
    /// `arena` is scratch that earlier passes left initialised: a pass only moves `used`, so the
    /// arena is neither cleared nor zero-filled again once it has grown.
    arena: Vec<u8>,
    used: usize,
    /// Reused buffer a GSO run is copied into when its datagrams are not side by side in the arena.
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
            records: Vec::new(),
            arena: Vec::new(),
            used: 0,
            run: Vec::new(),
            gso,
        }
    }

    /// Queues a datagram, copying it into the arena.
    pub(crate) fn push(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        self.push_with(destination, contents.len(), |tail| {
            tail.copy_from_slice(&contents);
            Some(contents.len())
        });
    }

    /// Queues a datagram written in place: `write` gets exactly `max_len` writable bytes at the end
    /// of the arena (holding whatever earlier datagrams left there) and returns how many it wrote
    /// from their start, or `None` to queue nothing. A length above `max_len` also queues nothing.
    /// Returns whether a datagram was queued. Allocates only while the arena grows to the largest
    /// pass so far (plus `max_len`).
    pub(crate) fn push_with(
        &mut self,
        destination: SocketAddr,
        max_len: usize,
        write: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        let offset = self.used;
        let Some(limit) = offset.checked_add(max_len) else {
            return false;
        };
        if self.arena.len() < limit {
            self.arena.resize(limit, 0);
        }
        let Some(len) = write(&mut self.arena[offset..limit]).filter(|&len| len <= max_len) else {
            return false;
        };
        self.used = offset + len;
        let order = self.records.len() as u32;
        self.records.push(Record {
            destination,
            order,
            offset,
            len,
        });
        true
    }

    /// Sends everything queued: grouped by destination (order kept within each), runs of equal
    /// size joined into GSO sends.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> Flushed {
        let mut done = Flushed::default();
        if self.records.is_empty() {
            return done;
        }
        // Keys are unique, so the unstable (allocation-free) sort keeps each destination's order.
        self.records
            .sort_unstable_by_key(|r| (r.destination, r.order));
        let max_segments = self
            .gso
            .as_ref()
            .map_or(1, |s| s.max_gso_segments().min(MAX_SEGMENTS));
        let mut start = 0;
        while start < self.records.len() {
            let end = run_end(&self.records, start, max_segments);
            let count = (end - start) as u64;
            done.calls += 1;
            if self.send_run(socket, start, end) {
                done.datagrams += count;
            } else {
                done.errors += count;
            }
            start = end;
        }
        self.records.clear();
        self.used = 0;
        done
    }

    /// Sends `records[start..end]`: alone, or as one GSO send.
    fn send_run(&mut self, socket: &UdpSocket, start: usize, end: usize) -> bool {
        let batch = &self.records[start..end];
        let first = batch[0];
        if batch.len() == 1 {
            let contents = &self.arena[first.offset..first.end()];
            return socket.send_to(contents, first.destination).is_ok();
        }
        let Some(gso) = self.gso.as_ref() else {
            return false;
        };
        let contents = match contiguous(batch) {
            Some(span) => &self.arena[span],
            None => {
                self.run.clear();
                for r in batch {
                    self.run.extend_from_slice(&self.arena[r.offset..r.end()]);
                }
                &self.run
            }
        };
        let transmit = Transmit {
            destination: first.destination,
            ecn: None,
            contents,
            segment_size: Some(first.len),
            src_ip: None,
        };
        gso.try_send(socket.into(), &transmit).is_ok()
    }
}

/// The end of the run starting at `start`: same destination, every datagram the size of the
/// first except possibly a shorter last one, within the segment and byte limits.
fn run_end(records: &[Record], start: usize, max_segments: usize) -> usize {
    let first = &records[start];
    let size = first.len;
    let mut end = start + 1;
    while end < records.len() && end - start < max_segments {
        let next = &records[end];
        if next.destination != first.destination
            || next.len > size
            || (end - start + 1) * size > MAX_GSO_BYTES
            || size == 0
        {
            break;
        }
        end += 1;
        if next.len < size {
            break;
        }
    }
    end
}

/// The arena span `batch` covers when its datagrams lie there in order with nothing between them.
fn contiguous(batch: &[Record]) -> Option<std::ops::Range<usize>> {
    let side_by_side = batch.windows(2).all(|w| w[0].end() == w[1].offset);
    match (side_by_side, batch.first(), batch.last()) {
        (true, Some(first), Some(last)) => Some(first.offset..last.end()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn record(destination: u16, len: usize, order: u32) -> Record {
        Record {
            destination: addr(destination),
            order,
            offset: order as usize * 2048,
            len,
        }
    }

    fn receivers(count: usize) -> Vec<std::net::UdpSocket> {
        (0..count)
            .map(|_| {
                let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                socket
            })
            .collect()
    }

    /// Bytes of the `index`th test datagram: every byte depends on both, so a datagram sent with
    /// another's bytes, a shifted start or a stale tail does not match.
    fn pattern(index: usize, len: usize) -> Vec<u8> {
        (0..len).map(|j| (index * 31 + j * 7) as u8).collect()
    }

    fn assert_received(socket: &std::net::UdpSocket, expected: &[Vec<u8>], what: &str) {
        let mut buf = [0u8; 2048];
        for (i, datagram) in expected.iter().enumerate() {
            let n = socket.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &datagram[..], "{what}: datagram {i}");
        }
    }

    #[test]
    fn runs_join_equal_sizes_to_one_destination_and_end_after_a_shorter_one() {
        let q = vec![
            record(1, 100, 0),
            record(1, 100, 1),
            record(1, 60, 2),
            record(1, 100, 3),
            record(2, 100, 4),
        ];
        assert_eq!(run_end(&q, 0, 64), 3, "two full and a shorter last");
        assert_eq!(run_end(&q, 3, 64), 4, "the next destination starts a run");
        assert_eq!(run_end(&q, 0, 2), 2, "segment limit");
        let big: Vec<Record> = (0..100).map(|i| record(1, 1200, i)).collect();
        assert_eq!(run_end(&big, 0, 64), 53, "64 000 bytes at most");
    }

    #[test]
    fn a_run_is_contiguous_only_when_its_datagrams_sit_in_order_side_by_side() {
        let at = |offset, len| Record {
            destination: addr(1),
            order: 0,
            offset,
            len,
        };
        assert_eq!(contiguous(&[at(10, 5), at(15, 5), at(20, 3)]), Some(10..23));
        assert_eq!(contiguous(&[at(10, 5), at(16, 5)]), None, "a gap");
        assert_eq!(contiguous(&[at(15, 5), at(10, 5)]), None, "out of order");
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

    #[test]
    fn written_in_place_and_copied_datagrams_arrive_byte_exact_in_order_per_destination() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(3);
        let mut outbox = Outbox::new(&sender);
        let mut expected = vec![Vec::new(); receivers.len()];
        let mut index = 0;
        let mut queue = |outbox: &mut Outbox, r: usize, len: usize, in_place: bool| {
            let datagram = pattern(index, len);
            index += 1;
            let destination = receivers[r].local_addr().unwrap();
            if in_place {
                let queued = outbox.push_with(destination, 1500, |tail| {
                    assert_eq!(tail.len(), 1500, "max_len writable bytes");
                    tail[..len].copy_from_slice(&datagram);
                    Some(len)
                });
                assert!(queued);
            } else {
                outbox.push(destination, datagram.clone());
            }
            expected[r].push(datagram);
        };
        // Receiver 0: a frame written in place back to back (one contiguous run), then a shorter one.
        for _ in 0..10 {
            queue(&mut outbox, 0, 1200, true);
        }
        queue(&mut outbox, 0, 700, true);
        // Receivers 1 and 2: interleaved, mixing both ways of queueing (runs copied together).
        for i in 0..12 {
            let len = if i == 11 { 90 } else { 1100 };
            queue(&mut outbox, 1 + i % 2, len, i % 3 != 0);
        }
        // A single datagram of each kind.
        queue(&mut outbox, 0, 33, false);
        let total = 10 + 1 + 12 + 1;
        let flushed = outbox.flush(&sender);
        assert_eq!(flushed.datagrams, total);
        assert_eq!(flushed.errors, 0);
        if outbox.gso.is_some() {
            assert!(
                flushed.calls < flushed.datagrams,
                "GSO joined runs: {flushed:?}"
            );
        }
        for (r, socket) in receivers.iter().enumerate() {
            assert_received(socket, &expected[r], &format!("receiver {r}"));
        }
    }

    #[test]
    fn a_contiguous_run_is_sent_from_the_arena_without_a_copy() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(2);
        let mut outbox = Outbox::new(&sender);
        if outbox.gso.is_none() {
            return;
        }
        let [a, b] = [0, 1].map(|r| receivers[r].local_addr().unwrap());
        let frame: Vec<Vec<u8>> = (0..8).map(|i| pattern(i, 1000)).collect();
        for datagram in &frame {
            outbox.push_with(a, 1500, |tail| {
                tail[..datagram.len()].copy_from_slice(datagram);
                Some(datagram.len())
            });
        }
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.calls), (8, 1), "{flushed:?}");
        assert_eq!(outbox.run.capacity(), 0, "no copy into the run buffer");
        assert_received(&receivers[0], &frame, "contiguous");

        for datagram in &frame {
            outbox.push(a, datagram.clone());
            outbox.push(b, datagram.clone());
        }
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.calls), (16, 2), "{flushed:?}");
        assert!(outbox.run.capacity() >= 8000, "interleaved runs are copied");
        assert_received(&receivers[0], &frame, "interleaved, a");
        assert_received(&receivers[1], &frame, "interleaved, b");
    }

    #[test]
    fn a_write_that_gives_up_or_overruns_queues_nothing() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(1);
        let destination = receivers[0].local_addr().unwrap();
        let mut outbox = Outbox::new(&sender);

        let dropped = outbox.push_with(destination, 500, |tail| {
            tail.fill(0xee);
            None
        });
        assert!(!dropped);
        let overrun = outbox.push_with(destination, 500, |tail| {
            tail.fill(0xdd);
            Some(501)
        });
        assert!(!overrun);
        assert!(outbox.records.is_empty());
        assert_eq!(outbox.used, 0);
        assert_eq!(outbox.flush(&sender), Flushed::default(), "nothing queued");

        // Between two queued datagrams, a dropped write leaves no trace in either.
        let first = pattern(1, 200);
        let second = pattern(2, 200);
        outbox.push(destination, first.clone());
        assert!(!outbox.push_with(destination, 500, |tail| {
            tail.fill(0xee);
            None
        }));
        assert!(outbox.push_with(destination, 500, |tail| {
            tail[..200].copy_from_slice(&second);
            Some(200)
        }));
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.errors), (2, 0));
        assert_received(&receivers[0], &[first, second], "around a dropped write");
    }

    #[test]
    fn refused_datagrams_are_counted_as_errors() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(1);
        let mut outbox = Outbox::new(&sender);
        // The kernel refuses port 0 as a destination.
        outbox.push(addr(0), pattern(0, 100));
        outbox.push(receivers[0].local_addr().unwrap(), pattern(1, 100));
        let flushed = outbox.flush(&sender);
        assert_eq!(
            flushed,
            Flushed {
                datagrams: 1,
                calls: 2,
                errors: 1
            }
        );
        assert_received(&receivers[0], &[pattern(1, 100)], "the accepted one");

        let mut outbox = Outbox::new(&sender);
        for i in 0..5 {
            outbox.push(addr(0), pattern(i, 100));
        }
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.errors), (0, 5), "{flushed:?}");
    }

    #[test]
    fn the_arena_stays_at_its_working_size_across_many_flushes() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(3);
        let destinations: Vec<SocketAddr> =
            receivers.iter().map(|r| r.local_addr().unwrap()).collect();
        let mut outbox = Outbox::new(&sender);
        let per_pass = 60;
        let pass = |outbox: &mut Outbox| {
            let mut bytes = 0;
            for i in 0..per_pass {
                let len = 1000 + (i % 4) * 50;
                let destination = destinations[i % destinations.len()];
                if i % 2 == 0 {
                    outbox.push_with(destination, 1500, |tail| {
                        tail[..len].fill(i as u8);
                        Some(len)
                    });
                } else {
                    outbox.push(destination, vec![i as u8; len]);
                }
                bytes += len;
            }
            let flushed = outbox.flush(&sender);
            assert_eq!(flushed.datagrams + flushed.errors, per_pass as u64);
            bytes
        };
        let bytes = pass(&mut outbox);
        let working = (
            outbox.arena.capacity(),
            outbox.records.capacity(),
            outbox.run.capacity(),
        );
        assert!(
            working.0 <= 2 * (bytes + 1500),
            "arena {} for {bytes} bytes",
            working.0
        );
        for _ in 0..300 {
            pass(&mut outbox);
            let now = (
                outbox.arena.capacity(),
                outbox.records.capacity(),
                outbox.run.capacity(),
            );
            assert_eq!(now, working, "(arena, records, run) capacities");
        }
    }
}
