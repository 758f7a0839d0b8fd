//! Source members (SWML script audio): frames the engine is handed are written into the first
//! audio slot of the room's other members, as one continuous stream.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{Harness, SETTLE};
use weft_media::testkit::{PeerSpec, ToneSource, tone_presence, wait_until};
use weft_media::{
    AudioSource, MediaError, MemberId, MemberOptions, RtpCodec, RtpLegOptions, SOURCE_QUEUE,
};

/// One RTP packet a fake phone received: `(seq, ts, marker, ssrc, payload type, payload)`.
type Received = (u16, u32, bool, u32, u8, Vec<u8>);

/// The media side of a SIP phone that only listens.
struct Listener {
    socket: UdpSocket,
    packets: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let (packets, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let reader = socket.try_clone().expect("clone");
        let (out, done) = (packets.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !done.load(Ordering::Relaxed) {
                let Ok(n) = reader.recv(&mut buf) else {
                    continue;
                };
                let d = &buf[..n];
                if n < 12 {
                    continue;
                }
                out.lock().expect("packets").push((
                    u16::from_be_bytes([d[2], d[3]]),
                    u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
                    d[1] & 0x80 != 0,
                    u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
                    d[1] & 0x7f,
                    d[12..].to_vec(),
                ));
            }
        });
        Self {
            socket,
            packets,
            stop,
            thread: Some(thread),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("addr")
    }

    fn packets(&self) -> Vec<Received> {
        self.packets.lock().expect("packets").clone()
    }

    fn count(&self) -> usize {
        self.packets.lock().expect("packets").len()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A PCMU leg (payload type 0) that sends to `remote` from the start.
fn add_pcmu_leg(h: &Harness, member: &MemberId, remote: SocketAddr) {
    h.rt.block_on(h.engine.add_rtp_leg(
        &h.room,
        member,
        RtpLegOptions {
            codec: RtpCodec::Pcmu,
            payload_type: 0,
            remote: Some(remote),
            telephone_event: None,
            srtp: None,
            member: MemberOptions::default(),
        },
    ))
    .expect("leg");
}

/// A 160-byte µ-law frame whose bytes all say `n`.
fn frame(n: u8) -> Arc<[u8]> {
    Arc::from(&[n; 160][..])
}

/// Sends frames `first..first + count`, each waiting for its place in the queue.
fn send_frames(h: &Harness, source: &AudioSource, first: u8, count: u8) {
    h.rt.block_on(async {
        for n in first..first + count {
            source.send(frame(n)).await.expect("send");
        }
    });
}

#[test]
fn a_leg_hears_a_source_as_one_stream_across_gaps_and_clears() {
    let h = Harness::new(1);
    let phone = Listener::start();
    add_pcmu_leg(&h, &MemberId::from("caller"), phone.addr());
    let prompt = MemberId::from("prompt");
    let source =
        h.rt.block_on(h.engine.add_source(&h.room, &prompt, RtpCodec::Pcmu))
            .expect("source");
    assert_eq!(source.codec(), RtpCodec::Pcmu);

    // A first prompt, then a pause longer than the queue (the producer has nothing to say),
    // then a second prompt.
    send_frames(&h, &source, 1, 20);
    assert!(wait_until(SETTLE, || phone.count() >= 20), "first prompt");
    h.rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    send_frames(&h, &source, 21, 20);
    assert!(wait_until(SETTLE, || phone.count() >= 40), "second prompt");

    let packets = phone.packets();
    let bytes: Vec<u8> = packets.iter().map(|p| p.5[0]).collect();
    assert_eq!(
        bytes,
        (1..=40).collect::<Vec<u8>>(),
        "every frame, in order"
    );
    assert!(packets.iter().all(|p| p.4 == 0 && p.5.len() == 160));
    assert!(packets.iter().all(|p| p.3 == packets[0].3), "one SSRC");
    let mut gaps = Vec::new();
    for (i, pair) in packets.windows(2).enumerate() {
        let ((seq, ts, ..), (next_seq, next_ts, marker, ..)) = (&pair[0], &pair[1]);
        assert_eq!(
            *next_seq,
            seq.wrapping_add(1),
            "continuous sequence numbers"
        );
        let step = next_ts.wrapping_sub(*ts);
        assert!(step > 0 && step % 160 == 0, "whole frames of time: {step}");
        if step > 160 {
            gaps.push((i + 1, step / 160, *marker));
        } else {
            assert!(!marker, "no marker inside a talkspurt (frame {})", i + 1);
        }
    }
    assert!(packets[0].2, "the first frame starts a talkspurt");
    // The pause: the producer sent nothing for 200 ms once its last frames were queued, so
    // frame 21 comes at least 140 ms (7 frames; 6 allowed for a late tick) after frame 20, marked.
    let pause = gaps.iter().find(|(i, ..)| *i == 20).copied();
    assert!(
        pause.is_some_and(|(_, frames, marker)| frames >= 6 && marker),
        "the pause is kept in the timestamps and marked: {gaps:?}"
    );

    // Barge-in: frames queued when the producer clears are never played.
    send_frames(&h, &source, 100, 10);
    source.clear();
    send_frames(&h, &source, 200, 5);
    assert!(
        wait_until(SETTLE, || phone
            .packets()
            .last()
            .is_some_and(|p| p.5[0] == 204)),
        "the frames after the clear are played"
    );
    let bytes: Vec<u8> = phone.packets()[40..].iter().map(|p| p.5[0]).collect();
    let before: Vec<u8> = bytes.iter().copied().filter(|b| *b < 200).collect();
    let after: Vec<u8> = bytes.iter().copied().filter(|b| *b >= 200).collect();
    assert_eq!(after, vec![200, 201, 202, 203, 204]);
    assert!(
        before.len() <= 10 - SOURCE_QUEUE + 1 && !before.contains(&109),
        "the cleared frames are not played: {before:?}"
    );
    assert_eq!(
        before,
        (100..100 + before.len() as u8).collect::<Vec<u8>>(),
        "what was played before the clear came in order"
    );

    // Sources do not move, and their sends fail once removed.
    h.rt.block_on(
        h.engine
            .create_room(&"elsewhere".into(), Default::default()),
    )
    .expect("room");
    assert!(matches!(
        h.rt.block_on(h.engine.move_member(&prompt, &"elsewhere".into())),
        Err(MediaError::Unsupported(_))
    ));
    h.rt.block_on(h.engine.remove_member(&prompt))
        .expect("remove");
    assert_eq!(
        h.rt.block_on(source.send(frame(1))),
        Err(MediaError::NoSuchMember(prompt.clone()))
    );
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].peers, 1, "a source is no peer");
    assert!(counters[0].source_frames >= 45);
}

#[test]
fn a_source_in_another_codec_is_skipped_and_counted() {
    let h = Harness::new(1);
    let phone = Listener::start();
    add_pcmu_leg(&h, &MemberId::from("caller"), phone.addr());
    let source =
        h.rt.block_on(
            h.engine
                .add_source(&h.room, &MemberId::from("prompt"), RtpCodec::Pcma),
        )
        .expect("source");
    send_frames(&h, &source, 1, 10);
    let skipped =
        || h.rt.block_on(h.engine.shard_counters()).expect("counters")[0].source_codec_skipped;
    assert!(
        wait_until(SETTLE, || skipped() >= 10),
        "skipped {}",
        skipped()
    );
    assert_eq!(phone.count(), 0, "nothing transcoded, nothing sent");
}

#[test]
fn closing_the_room_ends_the_source() {
    let h = Harness::new(1);
    let source =
        h.rt.block_on(
            h.engine
                .add_source(&h.room, &MemberId::from("prompt"), RtpCodec::Opus),
        )
        .expect("source");
    assert!(matches!(
        h.rt.block_on(
            h.engine
                .add_source(&h.room, &MemberId::from("second"), RtpCodec::Opus)
        ),
        Err(MediaError::State(_))
    ));
    assert_eq!(
        h.engine.member_count(),
        1,
        "the refused source left no trace"
    );
    h.rt.block_on(h.engine.close_room(&h.room)).expect("close");
    assert_eq!(
        h.rt.block_on(source.send(frame(1))),
        Err(MediaError::NoSuchMember(MemberId::from("prompt")))
    );
}

#[test]
fn a_webrtc_member_hears_an_opus_source_as_one_stream() {
    const FREQ: f32 = 880.0;
    let h = Harness::new(1);
    let caller = h.join(PeerSpec::sdk_tone(1, 440.0));
    let source =
        h.rt.block_on(
            h.engine
                .add_source(&h.room, &MemberId::from("prompt"), RtpCodec::Opus),
        )
        .expect("source");
    let mut tone = ToneSource::new(FREQ, 0.3);
    let mut speak = |frames: usize| {
        let packets: Vec<Arc<[u8]>> = (0..frames).map(|_| tone.next_packet()).collect();
        h.rt.block_on(async {
            for p in packets {
                source.send(p).await.expect("send");
            }
        });
    };
    caller.clear_pcm();
    speak(60);
    h.rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    speak(60);
    let heard = || caller.received(false).first().map_or(0, |s| s.packets);
    assert!(wait_until(SETTLE, || heard() >= 120), "heard {}", heard());
    let stream = caller.received(false)[0].clone();
    assert_eq!(stream.ssrcs.len(), 1, "one SSRC");
    assert_eq!(stream.missing(), 0, "continuous sequence numbers");
    assert!(
        stream.timestamp_steps.keys().all(|s| s % 960 == 0),
        "whole frames of time: {:?}",
        stream.timestamp_steps
    );
    assert!(
        stream.timestamp_steps.keys().any(|s| *s >= 6 * 960),
        "the pause is kept in the timestamps: {:?}",
        stream.timestamp_steps
    );
    let pcm = caller.received_pcm();
    assert!(
        tone_presence(&pcm, FREQ) > 0.1,
        "the source's tone: {}",
        tone_presence(&pcm, FREQ)
    );
}
