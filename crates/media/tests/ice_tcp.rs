//! ICE-TCP passive: a client whose only candidate is active TCP (RFC 6544, RFC 4571 framing)
//! connects and exchanges media with a UDP member.

mod common;

use common::{Harness, SETTLE, origins};
use weft_media::MediaConfig;
use weft_media::testkit::{PeerSpec, wait_until};

#[test]
fn tcp_only_client_exchanges_media_with_a_udp_member() {
    let h = Harness::with_config(MediaConfig {
        ice_tcp: true,
        ..MediaConfig::loopback(1)
    });
    let udp = h.join(PeerSpec::multi(1, 0));
    let tcp = h.join(PeerSpec {
        tcp: true,
        ..PeerSpec::multi(2, 0)
    });
    assert!(wait_until(SETTLE, || origins(&udp, true) == vec![2]
        && origins(&udp, false) == vec![2]
        && origins(&tcp, true) == vec![1]
        && origins(&tcp, false) == vec![1]));
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].tcp_connections, 1);
    let video = &tcp.received(true)[0];
    assert!(wait_until(SETTLE, || tcp.received(true)[0].packets > 30));
    assert_eq!(video.first_is_keyframe, Some(true));
    assert_eq!(
        tcp.received(true)[0].missing(),
        0,
        "TCP delivers everything in order"
    );
}
