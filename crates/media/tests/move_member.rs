//! Moving a member to another room: its connection stays, its room changes.

mod common;

use common::{Harness, SETTLE};
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{MediaError, MemberOptions, RoomId, RoomOptions};

/// Audio packets `peer` received from the member with `tag`, on any stream.
fn heard_from(peer: &TestPeer, tag: u32) -> u64 {
    peer.received(false)
        .iter()
        .filter(|s| s.last_origin == Some(tag))
        .map(|s| s.packets)
        .sum()
}

/// Audio packets `peer` received in all.
fn heard(peer: &TestPeer) -> u64 {
    peer.received(false).iter().map(|s| s.packets).sum()
}

/// Joins a multi-slot peer (each other member on a stream of its own) into `room`.
fn join_into(h: &Harness, room: &RoomId, tag: u32) -> TestPeer {
    let (pending, offer) = TestPeer::offer(PeerSpec::multi(tag, 1)).expect("offer");
    let answer =
        h.rt.block_on(h.engine.join(
            room,
            &Harness::member(tag),
            &offer,
            MemberOptions::default(),
        ))
        .expect("join");
    let peer = pending.connect(&answer).expect("connect");
    assert!(wait_until(SETTLE, || peer.is_connected()), "{tag} connects");
    peer
}

/// Member 1 and 2 talk in the harness room, 3 in room "b"; 1 moves to "b".
fn moves_to_the_other_room(h: &Harness) {
    let b = RoomId::from("b");
    h.rt.block_on(h.engine.create_room(&b, RoomOptions::default()))
        .expect("room b");
    let (one, two) = (join_into(h, &h.room, 1), join_into(h, &h.room, 2));
    let three = join_into(h, &b, 3);
    assert!(wait_until(SETTLE, || heard_from(&two, 1) > 20
        && heard_from(&one, 2) > 20));

    h.rt.block_on(h.engine.move_member(&Harness::member(1), &b))
        .expect("move");
    assert!(
        wait_until(SETTLE, || heard_from(&one, 3) > 20
            && heard_from(&three, 1) > 20),
        "1 hears 3 ({}) and 3 hears 1 ({})",
        heard_from(&one, 3),
        heard_from(&three, 1)
    );
    // 2 no longer hears 1: nothing more arrives while 1 and 3 exchange another second.
    let (before, from_three) = (heard(&two), heard_from(&one, 3));
    assert!(wait_until(SETTLE, || heard_from(&one, 3) > from_three + 50));
    assert_eq!(heard(&two), before, "2 stopped receiving 1");
    assert!(
        one.is_connected() && !one.is_closed(),
        "the same connection"
    );

    // A missing room: refused, and 1 stays where it is.
    assert_eq!(
        h.rt.block_on(h.engine.move_member(&Harness::member(1), &"nowhere".into())),
        Err(MediaError::NoSuchRoom("nowhere".into()))
    );
    let from_three = heard_from(&one, 3);
    assert!(wait_until(SETTLE, || heard_from(&one, 3) > from_three + 20));
    assert_eq!(h.engine.member_count(), 3);
    // Closing room b closes 1 with it, wherever b's replicas are.
    h.rt.block_on(h.engine.close_room(&b)).expect("close b");
    assert_eq!(h.engine.member_count(), 1, "1 went with room b");
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(
        counters.iter().map(|c| c.peers).sum::<usize>(),
        1,
        "only 2 is left"
    );
}

#[test]
fn a_moved_member_hears_its_new_room_and_leaves_the_old() {
    let h = Harness::new(1);
    moves_to_the_other_room(&h);
}

#[test]
fn a_member_moves_into_a_room_on_another_shard() {
    // Rooms alternate between the shards: the harness room is on shard 0, room b on shard 1.
    let h = Harness::new(2);
    moves_to_the_other_room(&h);
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert!(
        counters.iter().all(|c| c.relayed_in > 0),
        "room b spanned both shards"
    );
}

#[test]
fn a_full_room_refuses_a_move() {
    let h = Harness::new(1);
    let small = RoomId::from("small");
    h.rt.block_on(h.engine.create_room(
        &small,
        RoomOptions {
            max_members: Some(1),
        },
    ))
    .expect("room");
    let one = join_into(&h, &h.room, 1);
    let two = join_into(&h, &h.room, 2);
    let _three = join_into(&h, &small, 3);
    assert_eq!(
        h.rt.block_on(h.engine.move_member(&Harness::member(1), &small)),
        Err(MediaError::RoomFull(small.clone()))
    );
    let (from_two, from_one) = (heard_from(&one, 2), heard_from(&two, 1));
    assert!(
        wait_until(SETTLE, || heard_from(&one, 2) > from_two + 20
            && heard_from(&two, 1) > from_one + 20),
        "1 and 2 still talk"
    );
}
