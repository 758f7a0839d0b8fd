//! Batched UDP sends: the datagrams one pass of the shard produces are sent together at its end.
//!
//! On Linux the whole pass leaves in as few `sendmmsg(2)` calls as possible (one per 1024
//! messages), so a publisher packet fanned out to a hundred subscribers costs one system call,
//! not a hundred. Each message is one destination's run: a run of equal-size datagrams to one
//! destination (the packets of a video frame to one subscriber) is one UDP GSO message
//! (`UDP_SEGMENT`), which costs the kernel about a quarter of separate sends per datagram.
//! Elsewhere every datagram is sent with its own call.
//!
//! The queued bytes live back to back in one arena that keeps its capacity across passes, each
//! described by a small fixed-size record, so queueing allocates nothing once the arena has grown
//! to the shard's working size. [`Outbox::push_with`] lets a caller write (seal) a datagram
//! straight into the arena, and the kernel gathers every message from there (datagrams of a run
//! that lie side by side share one iovec), so nothing is copied before the send.

use std::net::SocketAddr;
use std::ops::AddAssign;

use mio::net::UdpSocket;

#[cfg(target_os = "linux")]
use mmsg::Sender;
#[cfg(not(target_os = "linux"))]
use single::Sender;

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
    /// System calls made to send them (`sendmmsg`, or `sendto` for a datagram sent alone),
    /// including refused and interrupted ones: `calls / datagrams` is the syscall cost per
    /// datagram, well below one when a pass reaches many destinations in one `sendmmsg`.
    pub calls: u64,
    /// Datagrams the kernel refused (socket buffer full, unreachable).
    pub errors: u64,
}

impl AddAssign for Flushed {
    fn add_assign(&mut self, other: Self) {
        self.datagrams += other.datagrams;
        self.calls += other.calls;
        self.errors += other.errors;
    }
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
    /// Hands a pass to the kernel, keeping the buffers that takes from pass to pass.
    sender: Sender,
}

impl Outbox {
    /// An outbox for `socket`, using GSO when the kernel supports it.
    pub(crate) fn new(socket: &UdpSocket) -> Self {
        Self {
            records: Vec::new(),
            arena: Vec::new(),
            used: 0,
            sender: Sender::new(socket),
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

    /// Sends everything queued, grouped by destination with the order kept within each: on Linux
    /// as `sendmmsg` batches of one message per run (see the module docs), elsewhere one call per
    /// datagram.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> Flushed {
        if self.records.is_empty() {
            return Flushed::default();
        }
        // Keys are unique, so the unstable (allocation-free) sort keeps each destination's order.
        self.records
            .sort_unstable_by_key(|r| (r.destination, r.order));
        let done = self
            .sender
            .send(socket, &self.records, &self.arena[..self.used]);
        self.records.clear();
        self.used = 0;
        done
    }
}

/// Linux: `sendmmsg` with one message per destination run, GSO for runs longer than one.
#[cfg(target_os = "linux")]
mod mmsg {
    use std::io;
    use std::mem;
    use std::net::{SocketAddr, SocketAddrV6};
    use std::ops::Range;
    use std::os::fd::{AsRawFd, RawFd};
    use std::ptr;

    use mio::net::UdpSocket;
    use quinn_udp::UdpSocketState;
    use socket2::SockAddr;

    use super::{Flushed, Record};

    /// Most datagrams in one GSO message (the kernel allows 64).
    const MAX_SEGMENTS: usize = 64;
    /// Most bytes in one GSO message (one IP datagram's worth).
    const MAX_GSO_BYTES: usize = 64_000;
    /// Most messages in one `sendmmsg` call: the kernel sends no more than `UIO_MAXIOV` a call.
    const MAX_BATCH: usize = libc::UIO_MAXIOV as usize;

    /// `CMSG_LEN` of a `u16`: the control message header plus the segment size.
    // SAFETY: CMSG_LEN only does arithmetic on its argument and the size of `cmsghdr`.
    const SEGMENT_LEN: usize = unsafe { libc::CMSG_LEN(mem::size_of::<u16>() as u32) } as usize;
    /// `CMSG_SPACE` of a `u16`: `SEGMENT_LEN` rounded up to the control message alignment.
    // SAFETY: CMSG_SPACE only does arithmetic on its argument and the size of `cmsghdr`.
    const SEGMENT_SPACE: usize = unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;

    /// A `UDP_SEGMENT` control message, laid out as `CMSG_FIRSTHDR`/`CMSG_DATA` expect: header,
    /// segment size, then explicit (initialised) padding up to `CMSG_SPACE`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct SegmentSize {
        header: libc::cmsghdr,
        size: u16,
        padding: [u8; SEGMENT_SPACE - SEGMENT_LEN],
    }

    const _: () = {
        assert!(mem::offset_of!(SegmentSize, size) + mem::size_of::<u16>() == SEGMENT_LEN);
        assert!(mem::size_of::<SegmentSize>() == SEGMENT_SPACE);
    };

    impl SegmentSize {
        fn new(size: u16) -> Self {
            // SAFETY: `cmsghdr` holds only integers (and, on some libcs, integer padding
            // fields), for which all-zero bytes are a valid value.
            let mut header: libc::cmsghdr = unsafe { mem::zeroed() };
            header.cmsg_len = SEGMENT_LEN as _;
            header.cmsg_level = libc::SOL_UDP;
            header.cmsg_type = libc::UDP_SEGMENT;
            Self {
                header,
                size,
                padding: [0; SEGMENT_SPACE - SEGMENT_LEN],
            }
        }
    }

    /// One `mmsghdr` of a pass: a run of `datagrams` records starting at `first`, whose bytes are
    /// described by `iovecs` iovecs starting at `iovec`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Message {
        first: usize,
        datagrams: usize,
        iovec: usize,
        iovecs: usize,
    }

    /// Sends a pass with `sendmmsg`. Its vectors keep their capacity from pass to pass, so a
    /// pass allocates nothing once they have grown to the shard's working size. Message `i` uses
    /// `addresses[i]` and `segment_sizes[i]`, and `headers[i]` points at them, its iovecs and the
    /// arena; those pointers are only valid during [`Sender::send`].
    pub(super) struct Sender {
        /// Most datagrams in one message: 1 without GSO, so every run is one datagram.
        max_segments: usize,
        /// Whether the socket is IPv6 (then IPv4 destinations are given to it IPv4-mapped).
        v6: bool,
        messages: Vec<Message>,
        addresses: Vec<SockAddr>,
        iovecs: Vec<libc::iovec>,
        segment_sizes: Vec<SegmentSize>,
        headers: Vec<libc::mmsghdr>,
    }

    // SAFETY: the raw pointers in `iovecs` and `headers` are the only thing that keeps `Sender`
    // from being `Send`. They are written and dereferenced (by the kernel) only inside `send`,
    // which holds `&mut self` and the arena borrowed for the whole call, and every pass rewrites
    // them before use, so no pointer is ever followed on another thread or after `send` returns.
    unsafe impl Send for Sender {}

    impl Sender {
        /// A sender for `socket`, with GSO when quinn-udp finds the kernel supports it (quinn-udp
        /// also sets the socket up as it would for its own sends).
        pub(super) fn new(socket: &UdpSocket) -> Self {
            let max_segments = UdpSocketState::new(socket.into())
                .map_or(1, |state| state.max_gso_segments())
                .clamp(1, MAX_SEGMENTS);
            Self {
                max_segments,
                v6: socket.local_addr().is_ok_and(|a| a.is_ipv6()),
                messages: Vec::new(),
                addresses: Vec::new(),
                iovecs: Vec::new(),
                segment_sizes: Vec::new(),
                headers: Vec::new(),
            }
        }

        /// Sends `records` (sorted by destination, their bytes in `arena`): one message per run,
        /// batched into `sendmmsg` calls.
        pub(super) fn send(
            &mut self,
            socket: &UdpSocket,
            records: &[Record],
            arena: &[u8],
        ) -> Flushed {
            self.gather(records, arena);
            self.write_headers();
            let fd = socket.as_raw_fd();
            let v6 = self.v6;
            let headers = &mut self.headers;
            let (done, gso_refused) = drive(
                &self.messages,
                // SAFETY: `write_headers` has just pointed every header at this pass's entries of
                // `addresses`, `iovecs` and `segment_sizes` and at bytes of `arena`, and none of
                // them changes or moves until `drive` returns.
                |range| unsafe { sendmmsg(fd, &mut headers[range]) },
                |message| {
                    send_singly(
                        socket,
                        &records[message.first..message.first + message.datagrams],
                        arena,
                        v6,
                    )
                },
            );
            if gso_refused && self.max_segments > 1 {
                tracing::warn!(
                    "the kernel refused UDP GSO (UDP_SEGMENT) on the shard socket; \
                     sending one datagram per message from now on"
                );
                self.max_segments = 1;
            }
            done
        }

        /// Describes the pass: one message per run, its destination, its bytes as iovecs into
        /// the arena (adjacent datagrams share one) and its segment size.
        fn gather(&mut self, records: &[Record], arena: &[u8]) {
            self.messages.clear();
            self.addresses.clear();
            self.iovecs.clear();
            self.segment_sizes.clear();
            let mut start = 0;
            while start < records.len() {
                let end = run_end(records, start, self.max_segments);
                let run = &records[start..end];
                let iovec = self.iovecs.len();
                for (i, r) in run.iter().enumerate() {
                    let len = arena[r.offset..r.end()].len();
                    match self.iovecs.last_mut() {
                        Some(last) if i > 0 && run[i - 1].end() == r.offset => last.iov_len += len,
                        _ => self.iovecs.push(libc::iovec {
                            // Derived from the whole arena, so that it may cover the datagrams
                            // that follow.
                            iov_base: arena.as_ptr().wrapping_add(r.offset).cast_mut().cast(),
                            iov_len: len,
                        }),
                    }
                }
                let first = run[0];
                self.addresses
                    .push(SockAddr::from(kernel_address(first.destination, self.v6)));
                // Only runs of several datagrams carry it, and their size is below 64 000.
                self.segment_sizes.push(SegmentSize::new(
                    u16::try_from(first.len).unwrap_or(u16::MAX),
                ));
                self.messages.push(Message {
                    first: start,
                    datagrams: run.len(),
                    iovec,
                    iovecs: self.iovecs.len() - iovec,
                });
                start = end;
            }
        }

        /// Writes one `mmsghdr` per gathered message. The vectors it points into do not change
        /// again until the pass has been sent.
        fn write_headers(&mut self) {
            self.headers.clear();
            for (i, message) in self.messages.iter().enumerate() {
                // SAFETY: an all-zero `mmsghdr` is valid: null pointers, zero lengths and flags.
                let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
                let msg = &mut header.msg_hdr;
                let address = &self.addresses[i];
                msg.msg_name = address.as_ptr().cast_mut().cast();
                msg.msg_namelen = address.len();
                msg.msg_iov = self.iovecs[message.iovec..].as_ptr().cast_mut();
                msg.msg_iovlen = message.iovecs as _;
                if message.datagrams > 1 {
                    msg.msg_control = ptr::from_ref(&self.segment_sizes[i]).cast_mut().cast();
                    msg.msg_controllen = mem::size_of::<SegmentSize>() as _;
                }
                self.headers.push(header);
            }
        }

        /// Most datagrams one message may carry now.
        #[cfg(test)]
        pub(super) fn max_segments(&self) -> usize {
            self.max_segments
        }

        /// How the last pass was sent: messages and iovecs.
        #[cfg(test)]
        pub(super) fn shape(&self) -> (usize, usize) {
            (self.messages.len(), self.iovecs.len())
        }

        /// Capacities of the reused vectors, which stop growing once warmed up.
        #[cfg(test)]
        pub(super) fn capacities(&self) -> [usize; 5] {
            [
                self.messages.capacity(),
                self.addresses.capacity(),
                self.iovecs.capacity(),
                self.segment_sizes.capacity(),
                self.headers.capacity(),
            ]
        }
    }

    /// One `sendmmsg(2)` call on `batch`: how many of its messages (from the first) the kernel
    /// took; an error means it took none, and it is the first message's error.
    ///
    /// # Safety
    /// Every header in `batch` must point at a valid address, iovecs describing readable bytes
    /// and (if any) a valid control message, all alive for the call.
    unsafe fn sendmmsg(fd: RawFd, batch: &mut [libc::mmsghdr]) -> io::Result<usize> {
        // SAFETY: the caller guarantees what the headers point at; the kernel writes only each
        // header's `msg_len`, and `batch.len()` (at most MAX_BATCH) fits a `c_uint`.
        let sent =
            unsafe { libc::sendmmsg(fd, batch.as_mut_ptr(), batch.len() as libc::c_uint, 0) };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }

    /// Sends the datagrams of a GSO message the kernel refused one by one.
    fn send_singly(socket: &UdpSocket, run: &[Record], arena: &[u8], v6: bool) -> Flushed {
        let mut done = Flushed::default();
        for r in run {
            done.calls += 1;
            let destination = kernel_address(r.destination, v6);
            match socket.send_to(&arena[r.offset..r.end()], destination) {
                Ok(_) => done.datagrams += 1,
                Err(_) => done.errors += 1,
            }
        }
        done
    }

    /// Sends `messages` in batches of at most [`MAX_BATCH`] with `send` (one `sendmmsg` call on
    /// a range of them, returning how many it took), so that no message is sent twice and every
    /// one is counted as sent or refused:
    /// - a partial return resumes at the first message not taken;
    /// - a full socket buffer (`EAGAIN`, `ENOBUFS`) counts the rest of the pass as refused;
    /// - a GSO message refused with `EIO` or `EINVAL` (a device without segmentation offload,
    ///   or a destination the kernel refuses anyway) is sent again datagram by datagram with
    ///   `singly`;
    /// - any other refusal counts the message's datagrams and goes on with the next.
    ///
    /// Also returns whether GSO itself was refused: a GSO message failed but its datagrams went
    /// through one by one.
    fn drive(
        messages: &[Message],
        mut send: impl FnMut(Range<usize>) -> io::Result<usize>,
        mut singly: impl FnMut(&Message) -> Flushed,
    ) -> (Flushed, bool) {
        let datagrams = |range: &[Message]| range.iter().map(|m| m.datagrams as u64).sum::<u64>();
        let mut done = Flushed::default();
        let mut gso_refused = false;
        let mut next = 0;
        while next < messages.len() {
            let end = messages.len().min(next + MAX_BATCH);
            done.calls += 1;
            match send(next..end) {
                // The kernel reports an error rather than taking none; should it ever return 0,
                // counting the first message as refused keeps the loop finite.
                Ok(0) => {
                    done.errors += messages[next].datagrams as u64;
                    next += 1;
                }
                Ok(taken) => {
                    let taken = taken.min(end - next);
                    done.datagrams += datagrams(&messages[next..next + taken]);
                    next += taken;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    done.errors += datagrams(&messages[next..]);
                    break;
                }
                Err(e)
                    if messages[next].datagrams > 1
                        && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) =>
                {
                    let alone = singly(&messages[next]);
                    gso_refused |= alone.datagrams > 0;
                    done += alone;
                    next += 1;
                }
                Err(_) => {
                    done.errors += messages[next].datagrams as u64;
                    next += 1;
                }
            }
        }
        (done, gso_refused)
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

    /// `destination` as the socket takes it: IPv4-mapped when the socket is IPv6.
    fn kernel_address(destination: SocketAddr, v6_socket: bool) -> SocketAddr {
        match destination {
            SocketAddr::V4(v4) if v6_socket => {
                SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0).into()
            }
            _ => destination,
        }
    }

    #[cfg(test)]
    mod tests {
        use std::cell::RefCell;
        use std::collections::VecDeque;

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
        fn adjacent_datagrams_of_a_run_share_an_iovec() {
            let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let mut sender = Sender::new(&socket);
            sender.max_segments = MAX_SEGMENTS;
            let arena = vec![0u8; 100];
            let at = |port, offset, len| Record {
                destination: addr(port),
                order: 0,
                offset,
                len,
            };
            let records = [
                // Side by side: one iovec.
                at(1, 10, 5),
                at(1, 15, 5),
                at(1, 20, 3),
                // A gap, then out of order: three iovecs.
                at(2, 30, 5),
                at(2, 40, 5),
                at(2, 35, 5),
                // Another destination right after: its own message and iovec.
                at(3, 45, 5),
            ];
            sender.gather(&records, &arena);
            let spans: Vec<(usize, usize)> = sender
                .iovecs
                .iter()
                .map(|v| (v.iov_base as usize - arena.as_ptr() as usize, v.iov_len))
                .collect();
            assert_eq!(spans, [(10, 13), (30, 5), (40, 5), (35, 5), (45, 5)]);
            let message = |first, datagrams, iovec, iovecs| Message {
                first,
                datagrams,
                iovec,
                iovecs,
            };
            assert_eq!(
                sender.messages,
                [
                    message(0, 3, 0, 1),
                    message(3, 3, 1, 3),
                    message(6, 1, 4, 1)
                ]
            );
        }

        #[test]
        fn ipv4_destinations_are_mapped_only_for_an_ipv6_socket() {
            let v4 = addr(5004);
            let mapped: SocketAddr = "[::ffff:127.0.0.1]:5004".parse().unwrap();
            let v6: SocketAddr = "[::1]:5004".parse().unwrap();
            assert_eq!(kernel_address(v4, true), mapped);
            assert_eq!(kernel_address(v4, false), v4);
            assert_eq!(kernel_address(v6, true), v6);
            assert_eq!(
                kernel_address(v6, false),
                v6,
                "refused by an IPv4 socket, counted"
            );
        }

        fn messages(datagrams: &[usize]) -> Vec<Message> {
            let mut first = 0;
            datagrams
                .iter()
                .map(|&n| {
                    let m = Message {
                        first,
                        datagrams: n,
                        iovec: first,
                        iovecs: n,
                    };
                    first += n;
                    m
                })
                .collect()
        }

        fn os_error(code: i32) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(code))
        }

        /// Runs `drive` against scripted `sendmmsg` results and single-send outcomes, returning
        /// its result, the ranges it asked to send and the messages it sent singly.
        fn scripted(
            datagrams: &[usize],
            calls: Vec<io::Result<usize>>,
            singles: Vec<Flushed>,
        ) -> ((Flushed, bool), Vec<Range<usize>>, Vec<usize>) {
            let messages = messages(datagrams);
            let mut calls = VecDeque::from(calls);
            let mut singles = VecDeque::from(singles);
            let asked = RefCell::new(Vec::new());
            let alone = RefCell::new(Vec::new());
            let result = drive(
                &messages,
                |range| {
                    asked.borrow_mut().push(range);
                    calls.pop_front().expect("an unscripted call")
                },
                |m| {
                    alone.borrow_mut().push(m.first);
                    singles.pop_front().expect("an unscripted single send")
                },
            );
            assert!(calls.is_empty(), "scripted calls left: {calls:?}");
            assert!(singles.is_empty(), "scripted single sends left");
            (result, asked.into_inner(), alone.into_inner())
        }

        fn flushed(datagrams: u64, calls: u64, errors: u64) -> Flushed {
            Flushed {
                datagrams,
                calls,
                errors,
            }
        }

        #[test]
        fn a_partial_return_resumes_at_the_first_message_not_taken() {
            let (result, asked, _) = scripted(&[1, 3, 1, 2, 1], vec![Ok(2), Ok(3)], vec![]);
            assert_eq!(result, (flushed(8, 2, 0), false));
            assert_eq!(asked, [0..5, 2..5]);
        }

        #[test]
        fn a_pass_is_cut_into_batches_of_at_most_uio_maxiov_messages() {
            let (result, asked, _) = scripted(&[1; 1500], vec![Ok(1024), Ok(476)], vec![]);
            assert_eq!(result, (flushed(1500, 2, 0), false));
            assert_eq!(asked, [0..1024, 1024..1500]);
        }

        #[test]
        fn a_refused_message_is_counted_and_skipped() {
            let (result, asked, alone) = scripted(
                &[1, 1, 2, 1],
                vec![Ok(1), os_error(libc::ENETUNREACH), Ok(2)],
                vec![],
            );
            assert_eq!(result, (flushed(4, 3, 1), false));
            assert_eq!(asked, [0..4, 1..4, 2..4]);
            assert!(alone.is_empty(), "a refusal other than EIO/EINVAL is final");
        }

        #[test]
        fn a_full_socket_buffer_counts_the_rest_of_the_pass_as_refused() {
            for code in [libc::EAGAIN, libc::ENOBUFS] {
                let (result, asked, _) =
                    scripted(&[1, 3, 1, 2], vec![Ok(1), os_error(code)], vec![]);
                assert_eq!(result, (flushed(1, 2, 6), false), "errno {code}");
                assert_eq!(asked, [0..4, 1..4]);
            }
        }

        #[test]
        fn an_interrupted_call_is_made_again() {
            let (result, asked, _) = scripted(&[2, 1], vec![os_error(libc::EINTR), Ok(2)], vec![]);
            assert_eq!(result, (flushed(3, 2, 0), false));
            assert_eq!(asked, [0..2, 0..2]);
        }

        #[test]
        fn a_gso_message_the_device_refuses_goes_datagram_by_datagram_and_turns_gso_off() {
            for code in [libc::EIO, libc::EINVAL] {
                let (result, asked, alone) = scripted(
                    &[1, 3, 2],
                    vec![Ok(1), os_error(code), Ok(1)],
                    vec![flushed(3, 3, 0)],
                );
                assert_eq!(result, (flushed(6, 6, 0), true), "errno {code}");
                assert_eq!(asked, [0..3, 1..3, 2..3]);
                assert_eq!(alone, [1], "only the refused GSO message, once");
            }
        }

        #[test]
        fn a_gso_message_to_a_refused_destination_leaves_gso_on() {
            let (result, _, alone) = scripted(
                &[3, 1],
                vec![os_error(libc::EINVAL), Ok(1)],
                vec![flushed(0, 3, 3)],
            );
            assert_eq!(result, (flushed(1, 5, 3), false));
            assert_eq!(alone, [0]);
            let (result, _, alone) = scripted(&[1, 1], vec![os_error(libc::EINVAL), Ok(1)], vec![]);
            assert_eq!(result, (flushed(1, 2, 1), false));
            assert!(alone.is_empty(), "a single datagram is not sent again");
        }
    }
}

/// Elsewhere: one `sendto` per datagram (no `sendmmsg` or UDP GSO).
#[cfg(not(target_os = "linux"))]
mod single {
    use mio::net::UdpSocket;

    use super::{Flushed, Record};

    /// Sends a pass one datagram at a time.
    pub(super) struct Sender;

    impl Sender {
        pub(super) fn new(_socket: &UdpSocket) -> Self {
            Self
        }

        /// Sends `records`, their bytes in `arena`, one call each.
        pub(super) fn send(
            &mut self,
            socket: &UdpSocket,
            records: &[Record],
            arena: &[u8],
        ) -> Flushed {
            let mut done = Flushed::default();
            for r in records {
                done.calls += 1;
                match socket.send_to(&arena[r.offset..r.end()], r.destination) {
                    Ok(_) => done.datagrams += 1,
                    Err(_) => done.errors += 1,
                }
            }
            done
        }

        /// Capacities of the reused vectors: there are none.
        #[cfg(test)]
        pub(super) fn capacities(&self) -> [usize; 0] {
            []
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn receiver(ip: &str) -> std::io::Result<std::net::UdpSocket> {
        let socket = std::net::UdpSocket::bind((ip, 0))?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(socket)
    }

    fn receivers(count: usize) -> Vec<std::net::UdpSocket> {
        (0..count).map(|_| receiver("127.0.0.1").unwrap()).collect()
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

    /// Calls a pass of `datagrams` datagrams (fewer than 1024) costs when nothing is refused: one
    /// `sendmmsg` on Linux, one call per datagram elsewhere.
    fn calls_for(datagrams: u64) -> u64 {
        if cfg!(target_os = "linux") {
            1
        } else {
            datagrams
        }
    }

    #[test]
    fn a_flush_delivers_every_datagram_in_order_per_destination() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(2);
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
        assert_eq!(flushed.calls, calls_for(20), "{flushed:?}");
        for (r, socket) in receivers.iter().enumerate() {
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
        // Receivers 1 and 2: interleaved, mixing both ways of queueing (runs gathered from apart).
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
        assert_eq!(flushed.calls, calls_for(total), "{flushed:?}");
        for (r, socket) in receivers.iter().enumerate() {
            assert_received(socket, &expected[r], &format!("receiver {r}"));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn runs_are_sent_from_the_arena_in_one_call_contiguous_or_not() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let receivers = receivers(2);
        let mut outbox = Outbox::new(&sender);
        if outbox.sender.max_segments() == 1 {
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
        assert_eq!(outbox.sender.shape(), (1, 1), "one GSO message, one iovec");
        assert_received(&receivers[0], &frame, "contiguous");

        for datagram in &frame {
            outbox.push(a, datagram.clone());
            outbox.push(b, datagram.clone());
        }
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.calls), (16, 1), "{flushed:?}");
        assert_eq!(
            outbox.sender.shape(),
            (2, 16),
            "two GSO messages gathered from apart"
        );
        assert_received(&receivers[0], &frame, "interleaved, a");
        assert_received(&receivers[1], &frame, "interleaved, b");
    }

    /// Queues 1–3 datagrams for each of `destinations` (equal sizes, sometimes a shorter last
    /// one), flushes once and checks every receiver got its own, byte-exact and in order.
    #[cfg(target_os = "linux")]
    fn fan_out(sender: &UdpSocket, receivers: &[std::net::UdpSocket]) -> Flushed {
        let mut outbox = Outbox::new(sender);
        let mut expected = vec![Vec::new(); receivers.len()];
        let mut index = 0;
        // Round-robin over the destinations, as a pass fanning out packet after packet does.
        for round in 0..3 {
            for (r, socket) in receivers.iter().enumerate() {
                let count = 1 + r % 3;
                if round >= count {
                    continue;
                }
                let shorter = r % 4 == 0 && round + 1 == count;
                let len = if shorter { 100 } else { 200 + r };
                let datagram = pattern(index, len);
                index += 1;
                outbox.push(socket.local_addr().unwrap(), datagram.clone());
                expected[r].push(datagram);
            }
        }
        let flushed = outbox.flush(sender);
        let total: usize = expected.iter().map(Vec::len).sum();
        assert_eq!(
            (flushed.datagrams, flushed.errors),
            (total as u64, 0),
            "{flushed:?}"
        );
        for (r, socket) in receivers.iter().enumerate() {
            assert_received(socket, &expected[r], &format!("receiver {r}"));
        }
        flushed
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pass_to_a_hundred_destinations_takes_at_most_two_calls() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let flushed = fan_out(&sender, &receivers(100));
        assert!(flushed.calls <= 2, "{flushed:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_dual_stack_pass_reaches_ipv4_and_ipv6_destinations_in_at_most_two_calls() {
        let Ok(sender) = UdpSocket::bind("[::]:0".parse().unwrap()) else {
            eprintln!("skipped: no IPv6 socket");
            return;
        };
        let receivers: std::io::Result<Vec<_>> = (0..100)
            .map(|i| receiver(if i % 2 == 0 { "::1" } else { "127.0.0.1" }))
            .collect();
        let Ok(receivers) = receivers else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let flushed = fan_out(&sender, &receivers);
        assert!(flushed.calls <= 2, "{flushed:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_destination_in_the_middle_of_a_batch_costs_only_its_own_datagrams() {
        let sender = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // Destinations sort by address: the refused ones (port 0) fall between the receivers.
        let receivers: Vec<_> = [
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.3",
            "127.0.0.3",
            "127.0.0.5",
        ]
        .into_iter()
        .map(|ip| receiver(ip).unwrap())
        .collect();
        let refused_single = SocketAddr::from(([127, 0, 0, 2], 0));
        let refused_run = SocketAddr::from(([127, 0, 0, 4], 0));
        let mut outbox = Outbox::new(&sender);
        let gso = outbox.sender.max_segments();
        let mut expected = vec![Vec::new(); receivers.len()];
        for i in 0..3 {
            for (r, socket) in receivers.iter().enumerate() {
                let datagram = pattern(i * 10 + r, 300);
                outbox.push(socket.local_addr().unwrap(), datagram.clone());
                expected[r].push(datagram);
            }
            if i == 0 {
                outbox.push(refused_single, pattern(100, 300));
            }
            outbox.push(refused_run, pattern(101 + i, 300));
        }
        let flushed = outbox.flush(&sender);
        assert_eq!((flushed.datagrams, flushed.errors), (15, 4), "{flushed:?}");
        // Sent up to the first refusal, refused, sent up to the second, refused (as one GSO
        // message, then each of its datagrams alone; or as three messages), sent the rest.
        let calls = if gso > 1 { 5 + 3 } else { 7 };
        assert_eq!(flushed.calls, calls, "{flushed:?}");
        for (r, socket) in receivers.iter().enumerate() {
            assert_received(socket, &expected[r], &format!("receiver {r}"));
        }
        assert_eq!(
            outbox.sender.max_segments(),
            gso,
            "a refused destination leaves GSO on"
        );
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
    fn the_buffers_stay_at_their_working_size_across_many_flushes() {
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
            outbox.sender.capacities(),
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
                outbox.sender.capacities(),
            );
            assert_eq!(
                now, working,
                "(arena, records, sender's vectors) capacities"
            );
        }
    }
}
