//! Acceptance 6: an independent WebRTC implementation (webrtc-rs 0.21, pion lineage) publishes to
//! and receives from the engine, next to a str0m test peer.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Harness, SETTLE};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_VP8, MediaEngine};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder, SrtpProtectionProfile,
};
use webrtc::runtime::{Runtime, Sender, channel, default_runtime, timeout};
use weft_media::MemberOptions;
use weft_media::testkit::{PeerSpec, vp8_payload, wait_until};

const VIDEO_PT: u8 = 96;
const VIDEO_SSRC: u32 = 0x5eed_0001;
const WEBRTC_RS_TAG: u32 = 77;

struct Handler {
    gathered: Sender<()>,
    connected: Sender<()>,
    received: Arc<AtomicU32>,
    runtime: Arc<dyn Runtime>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            let _ = self.connected.try_send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let received = Arc::clone(&self.received);
        self.runtime.spawn(Box::pin(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(_) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        }));
    }
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Connects a webrtc-rs peer (offering only `profiles` for SRTP, when given) to the harness room
/// next to a str0m peer, sends two seconds of VP8 and checks both directions. Returns the packets
/// each side received from the other: (str0m peer from webrtc-rs, webrtc-rs from the str0m peer).
fn exchange_with_webrtc_rs(
    h: &Harness,
    profiles: Option<Vec<SrtpProtectionProfile>>,
) -> (u64, u64) {
    let str0m_peer = h.join(PeerSpec::multi(1, 0));
    let runtime = default_runtime().expect("tokio runtime");
    let received = Arc::new(AtomicU32::new(0));
    let (gathered, mut gathered_rx) = channel::<()>(1);
    let (connected, mut connected_rx) = channel::<()>(1);
    let handler = Arc::new(Handler {
        gathered,
        connected,
        received: Arc::clone(&received),
        runtime: runtime.clone(),
    });
    let engine = h.engine.clone();
    let room = h.room.clone();

    let rt = runtime.clone();
    runtime.block_on(Box::pin(async move {
        let mut media = MediaEngine::default();
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: vp8(),
                    payload_type: VIDEO_PT,
                },
                RtpCodecKind::Video,
            )
            .expect("codec");
        let mut builder = PeerConnectionBuilder::new();
        if let Some(profiles) = profiles {
            builder = builder.with_setting_engine(
                SettingEngineBuilder::new()
                    .with_srtp_protection_profiles(profiles)
                    .build(),
            );
        }
        let pc = builder
            .with_handler(handler)
            .with_runtime(rt.clone())
            .with_media_engine(media)
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .expect("peer connection");
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "interop-stream".to_owned(),
            "interop-video".to_owned(),
            "interop-label".to_owned(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(VIDEO_SSRC),
                    ..Default::default()
                },
                codec: vp8(),
                ..Default::default()
            }],
        )));
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .expect("track");
        let offer = pc.create_offer(None).await.expect("offer");
        pc.set_local_description(offer).await.expect("local");
        let _ = timeout(&*rt, Duration::from_secs(5), gathered_rx.recv()).await;
        let offer = pc.local_description().await.expect("offer sdp");
        let answer = engine
            .join(
                &room,
                &"webrtc-rs".into(),
                &offer.sdp,
                MemberOptions::default(),
            )
            .await
            .expect("join");
        pc.set_remote_description(RTCSessionDescription::answer(answer).expect("answer"))
            .await
            .expect("remote");
        let up = timeout(&*rt, Duration::from_secs(10), connected_rx.recv()).await;
        assert!(
            up.is_ok(),
            "webrtc-rs peer did not connect; offer {}; shard {:?}",
            offer.sdp,
            engine.shard_counters().await
        );

        // One keyframe-started VP8 stream, 30 frames a second for two seconds.
        for i in 0u16..60 {
            let packet = rtc::rtp::packet::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: true,
                    payload_type: VIDEO_PT,
                    sequence_number: 1000 + i,
                    timestamp: u32::from(i) * 3000,
                    ssrc: VIDEO_SSRC,
                    ..Default::default()
                },
                payload: bytes::Bytes::from(vp8_payload(i + 1, i % 15 == 0, WEBRTC_RS_TAG)),
            };
            track.write_rtp(packet).await.expect("write");
            rt.sleep(Duration::from_millis(33)).await;
        }
        // Keep the connection open a little for the last packets.
        rt.sleep(Duration::from_millis(500)).await;
        let _ = pc.close().await;
    }));

    let video = str0m_peer.received(true);
    let from_webrtc_rs: u64 = video
        .iter()
        .filter(|s| s.origins.contains(&WEBRTC_RS_TAG))
        .map(|s| s.packets)
        .sum();
    assert!(
        from_webrtc_rs >= 30,
        "str0m peer got {from_webrtc_rs} packets from webrtc-rs"
    );
    assert!(
        video
            .iter()
            .filter(|s| s.origins.contains(&WEBRTC_RS_TAG))
            .all(|s| s.first_is_keyframe == Some(true)),
        "forwarding started on a keyframe"
    );
    assert!(
        wait_until(SETTLE, || received.load(Ordering::Relaxed) >= 10),
        "webrtc-rs received {} packets from the str0m peer",
        received.load(Ordering::Relaxed)
    );
    (from_webrtc_rs, u64::from(received.load(Ordering::Relaxed)))
}

/// Checks that Weft sealed what both peers received: the str0m peer's video from webrtc-rs and
/// webrtc-rs's from the str0m peer (on str0m's egress, only the first would count).
fn assert_weft_sealed_both_ways(h: &Harness, (to_str0m, to_webrtc_rs): (u64, u64)) {
    let sealed = sealed(h);
    assert!(
        sealed >= to_str0m + to_webrtc_rs,
        "sealed {sealed}, received {to_str0m} + {to_webrtc_rs}"
    );
}

/// Packets the engine sealed itself (owned egress) so far.
fn sealed(h: &Harness) -> u64 {
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    counters.iter().map(|c| c.sealed).sum()
}

#[test]
fn webrtc_rs_peer_publishes_and_subscribes_through_the_engine() {
    let h = Harness::new(1);
    let received = exchange_with_webrtc_rs(&h, None);
    assert_weft_sealed_both_ways(&h, received);
}

#[test]
fn a_webrtc_rs_peer_that_offers_only_aes_cm_receives_what_weft_seals_with_it() {
    let h = Harness::new(1);
    let received = exchange_with_webrtc_rs(
        &h,
        Some(vec![SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80]),
    );
    assert_weft_sealed_both_ways(&h, received);
}
