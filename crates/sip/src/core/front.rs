//! The call controller's events for SIP legs.

use weft_calls::{Cause, Command, FrontEvent};

use super::dialog::Side;
use super::{Now, SipCore};

impl SipCore {
    pub(super) fn front_event(&mut self, now: Now, event: FrontEvent) {
        match event {
            FrontEvent::Ring(ring) => self.ring(now, *ring),
            FrontEvent::EarlyMedia { leg, media } => self.uas_ringing(&leg, media),
            FrontEvent::Answered { leg, media } => {
                if self.is_uas(&leg) {
                    self.uas_answered(&leg, media);
                }
            }
            FrontEvent::Ended { leg, cause, .. } => self.end_leg(&leg, cause),
            FrontEvent::MediaFailed { leg } => {
                if self.dialogs.get(&leg).is_some() {
                    self.command(Command::Hangup {
                        leg: leg.clone(),
                        cause: Cause::NormalTemporaryFailure,
                    });
                    self.end_leg(&leg, Cause::NormalTemporaryFailure);
                }
            }
            FrontEvent::Reply { .. }
            | FrontEvent::Event { .. }
            | FrontEvent::State { .. }
            | FrontEvent::ConnectFailed { .. } => {}
        }
    }

    fn is_uas(&self, leg: &str) -> bool {
        self.dialogs
            .get(leg)
            .is_some_and(|d| matches!(d.side, Side::Uas { .. }))
    }

    /// Ends the SIP side of a leg the controller ended.
    fn end_leg(&mut self, leg: &str, cause: Cause) {
        if self.is_uas(leg) {
            self.end_uas(leg, cause);
        } else {
            self.end_uac(leg, cause);
        }
    }
}
