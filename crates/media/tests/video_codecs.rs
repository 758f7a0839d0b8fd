//! Rooms forward the video codec each offer carries: VP9, H.264 and AV1 as well as VP8, to the
//! members that negotiated it, each stream starting on a keyframe. There is no transcoding: a
//! member that offered none of a publisher's codecs does not get that video.

mod common;

use common::*;
use str0m::format::Codec;
use weft_media::testkit::{PeerSpec, wait_until};

#[test]
fn vp9_h264_and_av1_reach_the_members_that_negotiated_them() {
    for codec in [Codec::Vp9, Codec::H264, Codec::Av1] {
        let h = Harness::new(1);
        let spec = |tag, codec| PeerSpec {
            video_codec: Some(codec),
            ..PeerSpec::multi(tag, 2)
        };
        let first = h.join(spec(1, codec));
        // The second joins while the first publishes: its copy must start on a keyframe.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let second = h.join(spec(2, codec));
        let vp8_only = h.join(spec(3, Codec::Vp8));
        for (peer, from) in [(&first, 2), (&second, 1)] {
            let flowing = wait_until(SETTLE, || {
                video_from(peer, from).is_some_and(|v| v.packets >= 10)
            });
            assert!(
                flowing,
                "{codec:?}: member {} gets no video from {from}",
                peer.tag()
            );
            let video = video_from(peer, from).expect("video");
            assert_eq!(video.first_is_keyframe, Some(true), "{codec:?} from {from}");
            assert_eq!(video.missing(), 0, "{codec:?} from {from}");
            assert_eq!(video.ssrcs.len(), 1);
        }
        // The VP8-only member hears both but sees neither, and is seen by neither.
        assert!(wait_until(SETTLE, || origins(&vp8_only, false) == [1, 2]));
        assert_eq!(origins(&vp8_only, true), Vec::<u32>::new(), "{codec:?}");
        assert!(video_from(&first, 3).is_none() && video_from(&second, 3).is_none());
    }
}
