use super::*;

fn info(id: &str, role: Role) -> MemberInfo {
    MemberInfo {
        member_id: id.into(),
        call_id: format!("call-{id}"),
        node_id: "node".into(),
        subscriber_id: Some(format!("sub-{id}")),
        address_id: None,
        name: id.to_uppercase(),
        role,
        parent_id: None,
    }
}

fn room() -> Room {
    let mut r = Room::new("room-1", "rs-1", "demo", "Demo");
    r.join(info("a", Role::Moderator)).unwrap();
    r.join(info("b", Role::Member)).unwrap();
    r
}

fn me(id: &str) -> Target {
    Target::Member(id.into())
}

#[test]
fn join_announces_member_and_layout() {
    let mut r = Room::new("room-1", "rs-1", "demo", "Demo");
    let ev = r.join(info("a", Role::Moderator)).unwrap();
    assert_eq!(
        ev,
        vec![
            RoomEvent::MemberJoined("a".into()),
            RoomEvent::LayoutChanged
        ]
    );
    let (ty, params) = r.render(&ev[0]).unwrap();
    assert_eq!(ty, "member.joined");
    assert_eq!(params["member"]["member_id"], "a");
    assert_eq!(params["room_session_id"], "rs-1");
    let joined = r.joined_params("a", "chan").unwrap();
    assert_eq!(joined["call_id"], "call-a");
    assert_eq!(joined["origin_call_id"], "call-a");
    assert_eq!(joined["room_session"]["members"][0]["member_id"], "a");
    assert!(
        joined["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("member"))
    );
}

#[test]
fn self_mute_updates_state_media_and_event() {
    let mut r = room();
    let out = r
        .control("b", &me("b"), Control::Mute(vec![MediaKind::Audio]))
        .unwrap();
    assert_eq!(out.reply["code"], "200");
    assert_eq!(
        out.media,
        vec![MediaOp::Mute {
            member_id: "b".into(),
            kind: MediaKind::Audio,
            muted: true
        }]
    );
    let (ty, params) = r.render(&out.events[0]).unwrap();
    assert_eq!(ty, "member.updated");
    assert_eq!(params["member"]["audio_muted"], true);
    assert_eq!(params["member"]["updated"], json!(["audio_muted"]));
    // Repeating changes nothing.
    let again = r
        .control("b", &me("b"), Control::Mute(vec![MediaKind::Audio]))
        .unwrap();
    assert!(again.events.is_empty() && again.media.is_empty());
}

#[test]
fn member_role_cannot_control_others_or_room() {
    let mut r = room();
    let target_a = me("a");
    assert_eq!(
        r.control("b", &target_a, Control::Mute(vec![MediaKind::Audio])),
        Err(RoomError::Forbidden("member"))
    );
    assert_eq!(
        r.control("b", &me("b"), Control::Lock),
        Err(RoomError::Forbidden("lock"))
    );
    assert_eq!(
        r.control("b", &me("b"), Control::End),
        Err(RoomError::Forbidden("end"))
    );
    assert_eq!(
        r.control(
            "b",
            &me("b"),
            Control::LayoutSet {
                layout: "2x2".into(),
                positions: vec![]
            }
        ),
        Err(RoomError::Forbidden("layout"))
    );
    assert_eq!(
        r.control("b", &target_a, Control::Remove),
        Err(RoomError::Forbidden("member"))
    );
}

#[test]
fn moderator_mutes_all_video_and_removes_member() {
    let mut r = room();
    let out = r
        .control("a", &Target::All, Control::Mute(vec![MediaKind::Video]))
        .unwrap();
    assert_eq!(out.media.len(), 2);
    assert!(r.members().iter().all(|m| m.video_muted));
    let out = r.control("a", &me("b"), Control::Remove).unwrap();
    assert_eq!(out.removed.len(), 1);
    assert!(r.member("b").is_none());
    assert!(matches!(&out.events[0], RoomEvent::MemberLeft { reason, .. } if reason == "kicked"));
}

#[test]
fn lock_blocks_non_moderators_and_end_empties_room() {
    let mut r = room();
    r.control("a", &me("a"), Control::Lock).unwrap();
    assert_eq!(r.join(info("c", Role::Member)), Err(RoomError::Locked));
    assert!(r.join(info("d", Role::Moderator)).is_ok());
    r.control("a", &me("a"), Control::Unlock).unwrap();
    assert!(r.join(info("c", Role::Member)).is_ok());
    let out = r.control("a", &me("a"), Control::End).unwrap();
    assert!(out.ended);
    assert_eq!(out.removed.len(), 4);
    assert!(r.is_empty());
}

#[test]
fn volumes_hands_deaf_and_flags() {
    let mut r = room();
    let b = me("b");
    assert!(r.control("b", &b, Control::InputVolume(80.0)).is_err());
    let out = r.control("b", &b, Control::OutputVolume(-10.0)).unwrap();
    assert!(
        matches!(&out.events[0], RoomEvent::MemberUpdated { keys, .. } if keys == &["output_volume"])
    );
    r.control("b", &b, Control::InputSensitivity(40.0)).unwrap();
    r.control("b", &b, Control::RaiseHand).unwrap();
    let out = r.control("b", &b, Control::Deaf).unwrap();
    assert_eq!(
        out.media,
        vec![MediaOp::Deaf {
            member_id: "b".into(),
            deaf: true
        }]
    );
    r.control(
        "b",
        &b,
        Control::AudioFlags {
            echo_cancellation: Some(false),
            auto_gain: None,
            noise_suppression: None,
        },
    )
    .unwrap();
    let m = r.member("b").unwrap();
    assert!(m.handraised && m.deaf && !m.echo_cancellation);
    assert_eq!(m.input_sensitivity, 40.0);
}

#[test]
fn lists_layouts_positions_and_talking() {
    let mut r = room();
    let out = r.control("b", &me("b"), Control::MemberList).unwrap();
    assert_eq!(out.reply["members"].as_array().unwrap().len(), 2);
    let out = r.control("b", &me("b"), Control::LayoutList).unwrap();
    assert_eq!(out.reply["layouts"][0], "grid-responsive");
    let pos = vec![("b".to_string(), "reserved-1".to_string())];
    r.control("b", &me("b"), Control::PositionSet(pos)).unwrap();
    assert_eq!(r.member("b").unwrap().requested_position, "reserved-1");
    assert!(
        r.control(
            "b",
            &me("b"),
            Control::PositionSet(vec![("a".into(), "auto".into())])
        )
        .is_err()
    );
    let ev = r.set_talking("a", true).unwrap();
    assert_eq!(r.render(&ev).unwrap().0, "member.talking");
    assert!(r.set_talking("a", true).is_none());
    let (_, layout) = r.render(&RoomEvent::LayoutChanged).unwrap();
    assert_eq!(layout["layout"]["layers"].as_array().unwrap().len(), 2);
}
