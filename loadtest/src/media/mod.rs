//! The multi-peer media driver: a few worker threads, each owning many str0m peers (one UDP
//! socket per peer, bound to an address spread over 127.0.0.0/8) with one `mio` poll and one
//! timer heap. Signaling tasks build a peer's offer ([`PendingMedia::offer`]), apply the answer
//! and hand the peer over with [`MediaDriver::add`].

mod peer;
mod worker;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use mio::{Poll, Waker};
use str0m::config::DtlsCert;

pub use peer::{MediaPeer, MediaPlan, Milestones, PeerReport, PendingMedia};
use worker::{Command, WAKER, Worker};

/// Counters the workers bump and the sampler reads.
#[derive(Debug, Default)]
pub struct Counters {
    /// RTP packets received by all peers.
    pub rx_packets: AtomicU64,
    /// RTP payload bytes received.
    pub rx_bytes: AtomicU64,
    /// Packets the senders sent on the received streams (by sequence number).
    pub rx_expected: AtomicU64,
    /// RTP packets sent by publishers.
    pub tx_packets: AtomicU64,
    /// Peers that reached ICE + DTLS connected.
    pub connected: AtomicU64,
    /// Datagrams the kernel refused.
    pub send_errors: AtomicU64,
    /// Peers dropped after a panic.
    pub panics: AtomicU64,
    /// DTLS datagrams that arrived before the peer's ICE was connected.
    pub early_dtls: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// See [`Counters::rx_packets`].
    pub rx_packets: u64,
    /// See [`Counters::rx_bytes`].
    pub rx_bytes: u64,
    /// See [`Counters::rx_expected`].
    pub rx_expected: u64,
    /// See [`Counters::tx_packets`].
    pub tx_packets: u64,
    /// See [`Counters::connected`].
    pub connected: u64,
    /// See [`Counters::send_errors`].
    pub send_errors: u64,
    /// See [`Counters::panics`].
    pub panics: u64,
    /// See [`Counters::early_dtls`].
    pub early_dtls: u64,
}

impl Counters {
    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            rx_packets: r(&self.rx_packets),
            rx_bytes: r(&self.rx_bytes),
            rx_expected: r(&self.rx_expected),
            tx_packets: r(&self.tx_packets),
            connected: r(&self.connected),
            send_errors: r(&self.send_errors),
            panics: r(&self.panics),
            early_dtls: r(&self.early_dtls),
        }
    }
}

struct WorkerHandle {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    thread: JoinHandle<Vec<PeerReport>>,
}

/// The worker threads and what they share.
pub struct MediaDriver {
    workers: Vec<WorkerHandle>,
    next: AtomicUsize,
    counters: Arc<Counters>,
    cert: DtlsCert,
}

impl MediaDriver {
    /// Starts `threads` workers and makes the DTLS certificate every peer shares.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| std::io::Error::other("cannot generate a DTLS certificate"))?;
        let counters = Arc::new(Counters::default());
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (commands, inbox) = mpsc::channel();
            let worker = Worker::new(poll, inbox, counters.clone());
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || worker.run())?;
            workers.push(WorkerHandle {
                commands,
                waker,
                thread,
            });
        }
        Ok(Self {
            workers,
            next: AtomicUsize::new(0),
            counters,
            cert,
        })
    }

    /// The certificate for [`PendingMedia::offer`].
    pub fn cert(&self) -> &DtlsCert {
        &self.cert
    }

    /// The shared counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Hands a peer to the next worker (round robin).
    pub fn add(&self, peer: MediaPeer) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let w = &self.workers[i];
        if w.commands.send(Command::Add(Box::new(peer))).is_ok() {
            let _ = w.waker.wake();
        }
    }

    /// Stops every worker; returns every peer's report.
    pub fn stop(self) -> Vec<PeerReport> {
        for w in &self.workers {
            let _ = w.commands.send(Command::Stop);
            let _ = w.waker.wake();
        }
        self.workers
            .into_iter()
            .flat_map(|w| w.thread.join().unwrap_or_default())
            .collect()
    }
}

/// The loopback address of peer `id`: 127.0.x.y with x in 1..=250 and y in 2..=251, so
/// thousands of peers do not share one address's ephemeral ports.
pub fn peer_ip(id: usize) -> IpAddr {
    let x = 1 + (id / 250) % 250;
    let y = 2 + id % 250;
    IpAddr::V4(Ipv4Addr::new(127, 0, x as u8, y as u8))
}

/// Whether `ip` is one [`peer_ip`] hands out.
pub fn is_peer_ip(ip: Ipv4Addr) -> bool {
    let [a, b, x, _] = ip.octets();
    a == 127 && b == 0 && (1..=250).contains(&x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_spread_over_loopback() {
        assert_eq!(peer_ip(0), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2)));
        assert_eq!(peer_ip(249), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 251)));
        assert_eq!(peer_ip(250), IpAddr::V4(Ipv4Addr::new(127, 0, 2, 2)));
        let distinct: std::collections::HashSet<_> = (0..10_000).map(peer_ip).collect();
        assert_eq!(distinct.len(), 10_000);
        assert!((0..100_000).all(|i| peer_ip(i).is_loopback()));
        assert!((0..100_000).all(|i| matches!(peer_ip(i), IpAddr::V4(v4) if is_peer_ip(v4))));
        assert!(!is_peer_ip(Ipv4Addr::LOCALHOST));
    }
}
