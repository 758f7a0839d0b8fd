//! [`Media`] on top of `weft-media`'s [`MediaEngine`], and the forwarding of its events.

use weft_media::{
    LegSrtp, MediaEngine, MediaError, MemberId, MemberOptions, MemberState, OfferOptions, RoomId,
    RoomOptions, RtpLegConfig, RtpLegOptions,
};

use crate::media::{
    Flavor, LocalMedia, Media, MediaEvent, MediaFailure, MediaKind, RemoteMedia, RtpCodec,
    RtpParams, SdesKeys,
};
use crate::shell::Calls;

fn failure(e: MediaError) -> MediaFailure {
    MediaFailure(e.to_string())
}

fn kind(kind: MediaKind) -> weft_media::MediaKind {
    match kind {
        MediaKind::Audio => weft_media::MediaKind::Audio,
        MediaKind::Video => weft_media::MediaKind::Video,
    }
}

/// The engine's codec for the controller's.
impl From<RtpCodec> for weft_media::RtpCodec {
    fn from(codec: RtpCodec) -> Self {
        match codec {
            RtpCodec::Opus => weft_media::RtpCodec::Opus,
            RtpCodec::Pcmu => weft_media::RtpCodec::Pcmu,
            RtpCodec::Pcma => weft_media::RtpCodec::Pcma,
        }
    }
}

/// The engine's SRTP keys for a leg from the SDES suite and key parameters of its SDP.
fn leg_srtp(keys: &SdesKeys) -> Result<LegSrtp, MediaFailure> {
    LegSrtp::from_sdes(&keys.suite, &keys.local, &keys.remote).map_err(failure)
}

/// The engine's settings for a plain-RTP leg negotiated by its front-end.
fn leg_config(params: &RtpParams) -> Result<RtpLegConfig, MediaFailure> {
    Ok(RtpLegConfig {
        codec: params.codec.into(),
        payload_type: params.payload_type,
        telephone_event: params.telephone_event,
        remote: params.remote,
        srtp: params.srtp.as_ref().map(leg_srtp).transpose()?,
    })
}

/// Creates `room` unless it exists (rooms are created on their first member).
async fn ensure_room(engine: &MediaEngine, room: &RoomId) -> Result<(), MediaFailure> {
    match engine.create_room(room, RoomOptions::default()).await {
        Ok(()) | Err(MediaError::RoomExists(_)) => Ok(()),
        Err(e) => Err(failure(e)),
    }
}

/// Treats "already gone" as done, so removals are idempotent.
fn gone_is_ok(result: Result<(), MediaError>) -> Result<(), MediaFailure> {
    match result {
        Ok(()) | Err(MediaError::NoSuchMember(_) | MediaError::NoSuchRoom(_)) => Ok(()),
        Err(e) => Err(failure(e)),
    }
}

impl Media for MediaEngine {
    async fn add_member(
        &self,
        room: &str,
        member: &str,
        media: &RemoteMedia,
    ) -> Result<LocalMedia, MediaFailure> {
        let (room, member) = (RoomId::from(room), MemberId::from(member));
        ensure_room(self, &room).await?;
        match media {
            RemoteMedia::WebRtc(offer) => self
                .join(&room, &member, offer, MemberOptions::default())
                .await
                .map(LocalMedia::Sdp)
                .map_err(failure),
            RemoteMedia::Source => Err(MediaFailure(
                "a source member is added by its front-end".into(),
            )),
            RemoteMedia::Rtp(params) => {
                let config = leg_config(params)?;
                let opts = RtpLegOptions {
                    codec: config.codec,
                    payload_type: config.payload_type,
                    remote: config.remote,
                    telephone_event: config.telephone_event,
                    srtp: config.srtp,
                    member: MemberOptions::default(),
                };
                self.add_rtp_leg(&room, &member, opts)
                    .await
                    .map(LocalMedia::Rtp)
                    .map_err(failure)
            }
        }
    }

    async fn offer_member(
        &self,
        room: &str,
        member: &str,
        flavor: Flavor,
        video: bool,
    ) -> Result<LocalMedia, MediaFailure> {
        let (room, member) = (RoomId::from(room), MemberId::from(member));
        ensure_room(self, &room).await?;
        match flavor {
            Flavor::WebRtc => {
                let offer = OfferOptions { audio: true, video };
                self.create_offer(&room, &member, offer, MemberOptions::default())
                    .await
                    .map(LocalMedia::Sdp)
                    .map_err(failure)
            }
            Flavor::Source => Err(MediaFailure(
                "a source member is added by its front-end".into(),
            )),
            Flavor::Rtp => {
                // The codec is the callee's choice: the answer configures the leg.
                let opts = RtpLegOptions {
                    codec: weft_media::RtpCodec::Pcmu,
                    payload_type: 0,
                    remote: None,
                    telephone_event: None,
                    srtp: None,
                    member: MemberOptions::default(),
                };
                self.add_rtp_leg(&room, &member, opts)
                    .await
                    .map(LocalMedia::Rtp)
                    .map_err(failure)
            }
        }
    }

    async fn accept_answer(&self, member: &str, answer: &RemoteMedia) -> Result<(), MediaFailure> {
        let member = MemberId::from(member);
        match answer {
            RemoteMedia::WebRtc(sdp) => MediaEngine::accept_answer(self, &member, sdp)
                .await
                .map_err(failure),
            RemoteMedia::Rtp(params) => self
                .configure_rtp_leg(&member, leg_config(params)?)
                .await
                .map_err(failure),
            RemoteMedia::Source => Ok(()),
        }
    }

    async fn renegotiate(
        &self,
        member: &str,
        offer: &RemoteMedia,
    ) -> Result<Option<LocalMedia>, MediaFailure> {
        let member = MemberId::from(member);
        match offer {
            RemoteMedia::WebRtc(sdp) => self
                .update_media(&member, sdp)
                .await
                .map(|answer| Some(LocalMedia::Sdp(answer)))
                .map_err(failure),
            RemoteMedia::Rtp(params) => self
                .configure_rtp_leg(&member, leg_config(params)?)
                .await
                .map(|()| None)
                .map_err(failure),
            RemoteMedia::Source => Ok(None),
        }
    }

    async fn set_muted(
        &self,
        member: &str,
        media: MediaKind,
        muted: bool,
    ) -> Result<(), MediaFailure> {
        MediaEngine::set_muted(self, &MemberId::from(member), kind(media), muted)
            .await
            .map_err(failure)
    }

    async fn set_deaf(&self, member: &str, deaf: bool) -> Result<(), MediaFailure> {
        MediaEngine::set_deaf(self, &MemberId::from(member), deaf)
            .await
            .map_err(failure)
    }

    async fn send_dtmf(&self, member: &str, digits: &str) -> Result<(), MediaFailure> {
        MediaEngine::send_dtmf(self, &MemberId::from(member), digits)
            .await
            .map_err(failure)
    }

    async fn remove_member(&self, member: &str) -> Result<(), MediaFailure> {
        gone_is_ok(MediaEngine::remove_member(self, &MemberId::from(member)).await)
    }

    async fn close_room(&self, room: &str) -> Result<(), MediaFailure> {
        gone_is_ok(MediaEngine::close_room(self, &RoomId::from(room)).await)
    }

    async fn move_member(&self, member: &str, to: &str) -> Result<(), MediaFailure> {
        let to = RoomId::from(to);
        ensure_room(self, &to).await?;
        MediaEngine::move_member(self, &MemberId::from(member), &to)
            .await
            .map_err(failure)
    }
}

/// The controller's view of an engine event, if it cares about it.
pub fn translate(event: weft_media::MediaEvent) -> Option<MediaEvent> {
    match event {
        weft_media::MediaEvent::Talking {
            room,
            member,
            talking,
            ..
        } => Some(MediaEvent::Talking {
            room: room.to_string(),
            member: member.to_string(),
            talking,
        }),
        // `Closed` follows our own removals and page reloads (which reattach); only a failure
        // ends the call.
        weft_media::MediaEvent::MemberState {
            room,
            member,
            state: MemberState::Failed(reason),
        } => Some(MediaEvent::MemberGone {
            room: room.to_string(),
            member: member.to_string(),
            reason,
        }),
        weft_media::MediaEvent::LayersWanted {
            room,
            member,
            mid,
            rids,
        } => Some(MediaEvent::LayersWanted {
            room: room.to_string(),
            member: member.to_string(),
            mid,
            rids,
        }),
        weft_media::MediaEvent::Dtmf {
            room,
            member,
            digit,
            duration_ms,
        } => Some(MediaEvent::Dtmf {
            room: room.to_string(),
            member: member.to_string(),
            digit,
            duration_ms,
        }),
        _ => None,
    }
}

/// Subscribes to the engine's events now and returns the task (to spawn) that forwards the
/// ones the controller needs until the engine stops.
pub fn forward_events(
    engine: &MediaEngine,
    calls: Calls,
) -> impl Future<Output = ()> + Send + 'static {
    let mut events = engine.events();
    async move {
        loop {
            let Some(event) = events.recv().await else {
                return;
            };
            if let Some(event) = translate(event) {
                calls.media_event(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use weft_media::srtp::{MasterKey, Profile};

    use super::*;

    fn params(srtp: Option<SdesKeys>) -> RtpParams {
        RtpParams {
            codec: RtpCodec::Pcmu,
            payload_type: 0,
            telephone_event: Some(101),
            remote: Some("127.0.0.1:4000".parse().expect("addr")),
            srtp,
        }
    }

    fn inline(profile: Profile) -> (MasterKey, String) {
        let key = MasterKey::random(profile).expect("key");
        let inline = key.to_sdes_inline();
        (key, inline)
    }

    #[test]
    fn sdes_keys_become_the_legs_srtp_keys() {
        let (local, local_inline) = inline(Profile::AeadAes128Gcm);
        let (remote, remote_inline) = inline(Profile::AeadAes128Gcm);
        let config = leg_config(&params(Some(SdesKeys {
            suite: "AEAD_AES_128_GCM".into(),
            local: local_inline,
            remote: remote_inline,
        })))
        .expect("config");
        assert_eq!(
            config.srtp,
            Some(LegSrtp::new(local, remote).expect("keys"))
        );
        assert_eq!(config.telephone_event, Some(101));
        assert_eq!(leg_config(&params(None)).expect("config").srtp, None);
    }

    #[test]
    fn unknown_suites_and_bad_keys_are_media_failures() {
        let (_, good) = inline(Profile::AesCm128HmacSha1_80);
        let keys = |suite: &str, local: &str, remote: &str| {
            leg_config(&params(Some(SdesKeys {
                suite: suite.into(),
                local: local.into(),
                remote: remote.into(),
            })))
            .map(|_| ())
            .expect_err("refused")
            .0
        };
        let e = keys("AES_256_CM_HMAC_SHA1_80", &good, &good);
        assert!(e.contains("unknown crypto suite"), "{e}");
        let e = keys("AES_CM_128_HMAC_SHA1_80", &good, "inline:AAAA");
        assert!(e.contains("bad remote key"), "{e}");
        let e = keys("AES_CM_128_HMAC_SHA1_80", "inline:AAAA|1:4", &good);
        assert!(e.contains("bad local key"), "{e}");
    }
}
