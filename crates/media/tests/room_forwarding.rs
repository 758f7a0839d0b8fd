//! Acceptance 1 (multi-slot half), 3, 4 and 5: forwarding in a room of synthetic str0m peers.

mod common;

use std::time::Duration;

use common::*;
use weft_media::MediaConfig;
use weft_media::testkit::{PeerSpec, wait_until};

#[test]
fn three_multi_slot_members_receive_each_other_with_continuous_sequences() {
    let h = Harness::new(1);
    let peers: Vec<_> = (1..=3).map(|tag| h.join(PeerSpec::multi(tag, 2))).collect();
    assert_everyone_receives_everyone(&peers);
}

#[test]
fn late_joiner_gets_a_keyframe_within_a_second() {
    let h = Harness::new(1);
    assert_late_joiner_gets_a_keyframe(&h);
}

#[test]
fn dropped_packet_is_nacked_and_repaired_by_rtx() {
    for owned_egress in [true, false] {
        let h = Harness::with_config(MediaConfig {
            owned_egress,
            ..MediaConfig::loopback(1)
        });
        let resent = nacked_and_repaired(&h);
        assert_eq!(
            resent > 0,
            owned_egress,
            "Weft resends only on its own egress (owned: {owned_egress}, resent {resent})"
        );
        if owned_egress {
            let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
            assert!(
                counters.iter().map(|c| c.rtcp_in[0]).sum::<u64>() > 0,
                "the NACK Weft read is counted"
            );
        }
    }
}

/// A subscriber drops one video datagram; returns how many packets Weft's own egress resent
/// once the gap was repaired.
fn nacked_and_repaired(h: &Harness) -> u64 {
    let _publisher = h.join(PeerSpec::multi(1, 0));
    let subscriber = h.join(PeerSpec::multi(2, 0));
    assert!(wait_until(SETTLE, || subscriber
        .received(true)
        .iter()
        .any(|s| s.packets > 10)));
    let before = subscriber.received(true)[0]
        .seqs
        .last()
        .copied()
        .unwrap_or(0);
    subscriber.drop_incoming_video(1);
    let repaired = wait_until(SETTLE, || {
        let s = &subscriber.received(true)[0];
        s.seqs.last().copied().unwrap_or(0) > before + 30 && s.missing() == 0
    });
    let s = &subscriber.received(true)[0];
    assert_eq!(subscriber.pending_drops(), 0, "a datagram was dropped");
    assert!(repaired, "missing {} after drop", s.missing());
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    counters.iter().map(|c| c.retransmitted).sum()
}

#[test]
fn leaving_member_stops_forwarding_and_frees_shard_state() {
    let h = Harness::new(1);
    let a = h.join(PeerSpec::multi(1, 1));
    let b = h.join(PeerSpec::multi(2, 1));
    let c = h.join(PeerSpec::multi(3, 1));
    assert!(wait_until(SETTLE, || origins(&a, true) == vec![2, 3]));
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].peers, 3);

    h.remove(3);
    let from_c = |p: &weft_media::testkit::TestPeer| {
        p.received(false)
            .iter()
            .chain(p.received(true).iter())
            .filter(|s| s.last_origin == Some(3))
            .map(|s| s.packets)
            .sum::<u64>()
    };
    std::thread::sleep(Duration::from_millis(200));
    let (a_before, b_before) = (from_c(&a), from_c(&b));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(from_c(&a), a_before, "a still receives c");
    assert_eq!(from_c(&b), b_before, "b still receives c");
    assert!(wait_until(SETTLE, || c.is_closed() || c.sent_packets() > 0));

    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].peers, 2);
    // Two peers, each with one ufrag and one learned address.
    assert_eq!(counters[0].demux_entries, 4);
    assert_eq!(h.engine.member_count(), 2);

    h.remove(1);
    h.remove(2);
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].peers, 0);
    assert_eq!(counters[0].demux_entries, 0);
    assert_eq!(h.engine.member_count(), 0);
}
