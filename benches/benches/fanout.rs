//! Fan-out of one publisher packet to K subscribers through the real str0m path on one core.
//!
//! Per publisher packet: SRTP ingress on the publisher's server `Rtc`, then for each subscriber the
//! engine's own forwarding step (`SlotWriter::write`: rewrite + `write_rtp` of the shared payload),
//! one tick and a drain of the subscriber's `Rtc` (SRTP AES-GCM seal, `Transmit`). No sockets:
//! datagrams stay in memory. Reports thread CPU time and allocations per subscriber-packet.
//!
//! Run: `cargo bench -p weft-benches --bench fanout [-- K...]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::media::{Direction, MediaKind};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Event, Input, Output, Rtc};
use weft_benches::{CountingAllocator, thread_cpu_time};
use weft_media::hotpath::{Forwarded, SlotWriter};
use weft_media::testkit::{MemoryPair, vp8_payload};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Subscriber-packets per measured run.
const SUBSCRIBER_PACKETS: u64 = 400_000;
/// Publisher packets per batch (between batches the clients' keepalives are delivered, untimed).
const BATCH: usize = 50;
/// Simulated time between publisher packets.
const PACKET_INTERVAL: Duration = Duration::from_micros(200);
const REPEATS: usize = 3;

struct Run {
    ns_per_packet: f64,
    allocs_per_packet: f64,
    allocs_in_write: f64,
    ingress_ns: f64,
    delivered: u64,
}

fn main() {
    let ks: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ks = if ks.is_empty() {
        vec![1, 16, 128, 1024]
    } else {
        ks
    };
    println!("fan-out, 1200-byte VP8 packets, AES-GCM SRTP, one core, best of {REPEATS}");
    println!(
        "{:>5} {:>14} {:>16} {:>18} {:>12} {:>10}",
        "K", "ns/sub-packet", "allocs/sub-pkt", "allocs in write()", "ingress ns", "delivered"
    );
    for k in ks {
        match bench(k) {
            Ok(run) => println!(
                "{:>5} {:>14.0} {:>16.2} {:>18.3} {:>12.0} {:>10}",
                k,
                run.ns_per_packet,
                run.allocs_per_packet,
                run.allocs_in_write,
                run.ingress_ns,
                run.delivered
            ),
            Err(e) => println!("{k:>5} failed: {e}"),
        }
    }
}

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), port)
}

fn bench(k: usize) -> Result<Run, String> {
    let provider = str0m::crypto::from_feature_flags();
    let cert = provider
        .dtls_provider
        .generate_certificate()
        .ok_or("no certificate")?;
    let server = addr(1, 5000);
    let mut now = Instant::now();
    let (mut publisher, t) = MemoryPair::connect(
        &cert,
        MediaKind::Video,
        Direction::SendOnly,
        server,
        addr(2, 4000),
        now,
    )?;
    now = t;
    let mut subscribers = Vec::with_capacity(k);
    for i in 0..k {
        let client = addr(3 + (i / 60000) as u8, 10000 + (i % 50000) as u16);
        let (pair, t) = MemoryPair::connect(
            &cert,
            MediaKind::Video,
            Direction::RecvOnly,
            server,
            client,
            now,
        )?;
        now = t;
        subscribers.push(pair);
    }
    let mut slots: Vec<SlotWriter> = (0..k).map(|_| SlotWriter::default()).collect();
    let packets_per_run = (SUBSCRIBER_PACKETS / k as u64).max(200) as usize;
    let mut seq = 1u64;
    let mut best: Option<Run> = None;
    for _ in 0..REPEATS {
        let mut cpu = Duration::ZERO;
        let mut ingress_cpu = Duration::ZERO;
        let mut allocs = 0u64;
        let mut write_allocs = 0u64;
        let mut delivered = 0u64;
        let mut sent = 0usize;
        while sent < packets_per_run {
            let batch = BATCH.min(packets_per_run - sent);
            let datagrams = publish(&mut publisher, batch, &mut seq, &mut now)?;
            let c0 = thread_cpu_time();
            let a0 = CountingAllocator::allocations();
            for d in &datagrams {
                now += PACKET_INTERVAL;
                let i0 = thread_cpu_time();
                let packets = ingress(&mut publisher, d, now)?;
                ingress_cpu += thread_cpu_time() - i0;
                for packet in &packets {
                    let spec = publisher
                        .server
                        .codec_config()
                        .iter()
                        .find(|c| c.pt() == packet.header.payload_type)
                        .map(|c| c.spec())
                        .ok_or("unknown pt")?;
                    let forwarded = Forwarded::from_rtp(packet, spec, true);
                    let w0 = CountingAllocator::allocations();
                    for (pair, slot) in subscribers.iter_mut().zip(slots.iter_mut()) {
                        slot.write(&mut pair.server, pair.mid, &forwarded, now);
                    }
                    write_allocs += CountingAllocator::allocations() - w0;
                    for pair in subscribers.iter_mut() {
                        pair.server
                            .handle_input(Input::Timeout(now))
                            .map_err(|e| e.to_string())?;
                        delivered += drain_media(&mut pair.server)?;
                    }
                }
            }
            allocs += CountingAllocator::allocations() - a0;
            cpu += thread_cpu_time() - c0;
            sent += batch;
            keepalive(&mut subscribers, now)?;
        }
        let sub_packets = (packets_per_run * k) as f64;
        let run = Run {
            ns_per_packet: cpu.as_nanos() as f64 / sub_packets,
            allocs_per_packet: allocs as f64 / sub_packets,
            allocs_in_write: write_allocs as f64 / sub_packets,
            ingress_ns: ingress_cpu.as_nanos() as f64 / packets_per_run as f64,
            delivered,
        };
        if delivered < (packets_per_run * k) as u64 * 99 / 100 {
            return Err(format!(
                "only {delivered} of {} subscriber-packets came out",
                packets_per_run * k
            ));
        }
        if best
            .as_ref()
            .is_none_or(|b| run.ns_per_packet < b.ns_per_packet)
        {
            best = Some(run);
        }
    }
    best.ok_or_else(|| "no run".into())
}

/// The publisher's client writes `n` 1200-byte VP8 packets; returns the SRTP datagrams.
fn publish(
    p: &mut MemoryPair,
    n: usize,
    seq: &mut u64,
    now: &mut Instant,
) -> Result<Vec<Vec<u8>>, String> {
    let pt = p
        .client
        .codec_config()
        .iter()
        .find(|c| c.spec().codec == str0m::format::Codec::Vp8)
        .map(|c| c.pt())
        .ok_or("no VP8")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut payload = vp8_payload((*seq & 0x7fff) as u16, *seq == 1, 7);
        payload.resize(1200, 0x42);
        let mut api = p.client.direct_api();
        let tx = api
            .stream_tx_by_mid(p.mid, None)
            .ok_or("no publisher stream")?;
        tx.write_rtp(
            RtpWrite::new(pt, (*seq).into(), (*seq * 3000) as u32, *now, payload).marker(true),
        );
        *seq += 1;
        p.client
            .handle_input(Input::Timeout(*now))
            .map_err(|e| e.to_string())?;
        out.extend(p.client_datagrams()?.into_iter().filter(|d| d.len() > 1000));
    }
    Ok(out)
}

/// Feeds one datagram to the publisher's server `Rtc`; returns the RTP packets it emitted.
fn ingress(p: &mut MemoryPair, datagram: &[u8], now: Instant) -> Result<Vec<RtpPacket>, String> {
    p.deliver_to_server(datagram, now)?;
    let mut packets = Vec::new();
    loop {
        match p.server.poll_output().map_err(|e| e.to_string())? {
            Output::Timeout(_) => return Ok(packets),
            Output::Event(Event::RtpPacket(packet)) => packets.push(packet),
            _ => {}
        }
    }
}

/// Drains a subscriber's server `Rtc`; returns the number of media datagrams it produced.
fn drain_media(rtc: &mut Rtc) -> Result<u64, String> {
    let mut n = 0;
    loop {
        match rtc.poll_output().map_err(|e| e.to_string())? {
            Output::Timeout(_) => return Ok(n),
            Output::Transmit(t) => n += u64::from(t.contents.len() > 1000),
            Output::Event(_) => {}
        }
    }
}

/// Untimed: lets clients and servers exchange keepalives so ICE stays up.
fn keepalive(subscribers: &mut [MemoryPair], now: Instant) -> Result<(), String> {
    for pair in subscribers {
        pair.client
            .handle_input(Input::Timeout(now))
            .map_err(|e| e.to_string())?;
        for d in pair.client_datagrams()? {
            pair.deliver_to_server(&d, now)?;
        }
        drain_media(&mut pair.server)?;
    }
    Ok(())
}
