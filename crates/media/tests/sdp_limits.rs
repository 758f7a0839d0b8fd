//! Hostile SDP sizes: offers have a media-section cap, answers cannot have more sections than the
//! engine offered, and hung-up members give their memory back.

mod common;

use common::{Harness, SETTLE};
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{MAX_OFFER_SECTIONS, MediaError, MemberOptions, OfferOptions};

/// An SDK-shaped peer with extra receive-only video m-lines: `2 + extra` media sections.
fn slots(tag: u32, extra: usize) -> PeerSpec {
    PeerSpec {
        extra_video_slots: extra,
        ..PeerSpec::sdk(tag)
    }
}

/// Live peers of the harness's one shard.
fn live_peers(h: &Harness) -> usize {
    h.rt.block_on(h.engine.shard_counters()).expect("counters")[0].peers
}

fn sections(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

#[test]
fn an_offer_over_the_section_cap_is_refused_and_one_at_the_cap_joins() {
    let h = Harness::new(1);
    let (_, offer) = TestPeer::offer(slots(1, MAX_OFFER_SECTIONS - 1)).expect("offer");
    assert_eq!(sections(&offer), MAX_OFFER_SECTIONS + 1);
    let refused = h.rt.block_on(h.engine.join(
        &h.room,
        &Harness::member(1),
        &offer,
        MemberOptions::default(),
    ));
    match refused {
        Err(MediaError::Sdp(message)) => assert!(
            message.contains(&format!(
                "{} media sections; at most {MAX_OFFER_SECTIONS}",
                MAX_OFFER_SECTIONS + 1
            )),
            "{message}"
        ),
        other => panic!("expected an SDP refusal, got {other:?}"),
    }
    assert_eq!(live_peers(&h), 0);

    let (peer, answer) = h.join_with_answer(slots(2, MAX_OFFER_SECTIONS - 2));
    assert_eq!(sections(&answer), MAX_OFFER_SECTIONS);
    assert!(peer.is_connected());
}

#[test]
fn an_answer_with_more_sections_than_offered_is_refused_before_it_is_split() {
    let h = Harness::new(1);
    let member = Harness::member(1);
    let offer =
        h.rt.block_on(h.engine.create_offer(
            &h.room,
            &member,
            OfferOptions::default(),
            MemberOptions::default(),
        ))
        .expect("offer");
    assert_eq!(sections(&offer), 2);
    // About 128 KiB and 20k m-lines without BUNDLE: split per section, it would copy the session
    // part once per line.
    let session = format!(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n{}",
        "a=x\r\n".repeat(2000)
    );
    let answer = format!("{session}{}", "m=audio 9 X 0\r\n".repeat(20_000));
    match h.rt.block_on(h.engine.accept_answer(&member, &answer)) {
        Err(MediaError::Sdp(message)) => assert!(
            message.contains("20000 media sections; at most 2"),
            "{message}"
        ),
        other => panic!("expected an SDP refusal, got {other:?}"),
    }
}

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[test]
fn hung_up_members_with_the_largest_offers_give_their_memory_back() {
    const PER_ROUND: u32 = 8;
    const ROUNDS: u32 = 6;
    let h = Harness::new(1);
    let mut after_round = Vec::new();
    let mut peak_growth = 0;
    for round in 0..ROUNDS {
        let before = rss();
        let peers: Vec<TestPeer> = (0..PER_ROUND)
            .map(|i| h.join(slots(round * PER_ROUND + i, MAX_OFFER_SECTIONS - 2)))
            .collect();
        peak_growth = peak_growth.max(rss().saturating_sub(before));
        for i in 0..PER_ROUND {
            h.remove(round * PER_ROUND + i);
        }
        drop(peers);
        assert!(
            wait_until(SETTLE, || live_peers(&h) == 0),
            "members left behind"
        );
        after_round.push(rss());
    }
    // The first rounds warm the allocator; after that, every round must reuse what the last one
    // gave back. A leak of one call's state per call would add PER_ROUND calls per round.
    let settled = after_round[1];
    let last = *after_round.last().expect("rounds");
    let per_call = peak_growth / PER_ROUND as usize;
    assert!(
        per_call > 0,
        "joining {PER_ROUND} members did not grow the process: the check measures nothing"
    );
    assert!(
        last.saturating_sub(settled) < per_call * 2,
        "resident size grew from {settled} to {last} bytes over {} rounds of {PER_ROUND} calls \
         (about {per_call} bytes per live call): {after_round:?}",
        ROUNDS - 2
    );
}
