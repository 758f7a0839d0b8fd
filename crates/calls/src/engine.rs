//! [`Media`] on top of `weft-media`'s [`MediaEngine`], and the forwarding of its events.

use tokio::sync::broadcast::error::RecvError;
use weft_media::{
    MediaEngine, MediaError, MemberId, MemberOptions, MemberState, OfferOptions, RoomId,
    RoomOptions,
};

use crate::media::{Media, MediaEvent, MediaFailure, MediaKind};
use crate::shell::Signaling;

fn failure(e: MediaError) -> MediaFailure {
    MediaFailure(e.to_string())
}

fn kind(kind: MediaKind) -> weft_media::MediaKind {
    match kind {
        MediaKind::Audio => weft_media::MediaKind::Audio,
        MediaKind::Video => weft_media::MediaKind::Video,
    }
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
        offer: &str,
    ) -> Result<String, MediaFailure> {
        let (room, member) = (RoomId::from(room), MemberId::from(member));
        ensure_room(self, &room).await?;
        self.join(&room, &member, offer, MemberOptions::default())
            .await
            .map_err(failure)
    }

    async fn offer_member(
        &self,
        room: &str,
        member: &str,
        audio: bool,
        video: bool,
    ) -> Result<String, MediaFailure> {
        let (room, member) = (RoomId::from(room), MemberId::from(member));
        ensure_room(self, &room).await?;
        let offer = OfferOptions { audio, video };
        self.create_offer(&room, &member, offer, MemberOptions::default())
            .await
            .map_err(failure)
    }

    async fn accept_answer(&self, member: &str, answer: &str) -> Result<(), MediaFailure> {
        MediaEngine::accept_answer(self, &MemberId::from(member), answer)
            .await
            .map_err(failure)
    }

    async fn renegotiate(&self, member: &str, offer: &str) -> Result<String, MediaFailure> {
        self.update_media(&MemberId::from(member), offer)
            .await
            .map_err(failure)
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

    async fn remove_member(&self, member: &str) -> Result<(), MediaFailure> {
        gone_is_ok(MediaEngine::remove_member(self, &MemberId::from(member)).await)
    }

    async fn close_room(&self, room: &str) -> Result<(), MediaFailure> {
        gone_is_ok(MediaEngine::close_room(self, &RoomId::from(room)).await)
    }
}

/// The signaling view of an engine event, if signaling cares about it.
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
        _ => None,
    }
}

/// Subscribes to the engine's events now and returns the task (to spawn) that forwards its
/// talking, member-gone and layers-wanted events to signaling until the engine stops.
pub fn forward_events(
    engine: &MediaEngine,
    signaling: Signaling,
) -> impl Future<Output = ()> + Send + 'static {
    let mut events = engine.events();
    async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(event) = translate(event) {
                        signaling.media_event(event);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}
