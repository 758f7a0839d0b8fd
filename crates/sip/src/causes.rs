//! SIP final statuses and the controller's hang-up causes, both ways, in one table.
//!
//! A status Weft sends ends a SIP caller's call for the cause the controller reported; a status
//! a called phone sends ends that attempt (or the whole call, for a decline) with a cause.

use weft_calls::Cause;

/// `(cause, status sent for it, statuses that mean it)`. A status missing from the third
/// column maps by class ([`cause_of_status`]).
pub const TABLE: &[(Cause, u16, &[u16])] = &[
    (Cause::UserBusy, 486, &[486, 600]),
    (Cause::CallRejected, 603, &[603]),
    (Cause::NoAnswer, 480, &[480, 408]),
    (Cause::UserNotRegistered, 480, &[]),
    (Cause::UnallocatedNumber, 404, &[404, 410, 604]),
    (Cause::InvalidNumberFormat, 484, &[484, 416]),
    (Cause::OutgoingCallBarred, 403, &[403]),
    (Cause::ServiceNotImplemented, 501, &[501]),
    (Cause::OriginatorCancel, 487, &[487]),
    (Cause::IncompatibleDestination, 488, &[488, 606]),
    (Cause::NormalTemporaryFailure, 503, &[500, 502, 503, 504]),
    (Cause::RecoveryOnTimerExpire, 408, &[]),
    (Cause::LoseRace, 487, &[]),
    (Cause::NormalClearing, 487, &[]),
];

/// The final status that ends a SIP caller's call for `cause` (before it was answered).
pub fn status_for(cause: Cause) -> u16 {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == cause)
        .map_or(500, |(_, status, _)| *status)
}

/// The cause of a called phone's final failure status.
pub fn cause_of_status(status: u16) -> Cause {
    if let Some((cause, _, _)) = TABLE.iter().find(|(_, _, s)| s.contains(&status)) {
        return *cause;
    }
    match status {
        400..=499 => Cause::CallRejected,
        500..=599 => Cause::NormalTemporaryFailure,
        _ => Cause::CallRejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_a_status_and_the_named_ones_round_trip() {
        for cause in Cause::ALL {
            assert!(TABLE.iter().any(|(c, _, _)| *c == cause), "{cause:?}");
        }
        // The statuses the issue names, both ways.
        for (status, cause) in [
            (486, Cause::UserBusy),
            (480, Cause::NoAnswer),
            (404, Cause::UnallocatedNumber),
            (603, Cause::CallRejected),
            (408, Cause::NoAnswer),
            (487, Cause::OriginatorCancel),
        ] {
            assert_eq!(cause_of_status(status), cause, "{status}");
        }
        for (cause, status) in [
            (Cause::UserBusy, 486),
            (Cause::NoAnswer, 480),
            (Cause::UserNotRegistered, 480),
            (Cause::UnallocatedNumber, 404),
            (Cause::CallRejected, 603),
            (Cause::RecoveryOnTimerExpire, 408),
            (Cause::OriginatorCancel, 487),
            (Cause::ServiceNotImplemented, 501),
            (Cause::IncompatibleDestination, 488),
        ] {
            assert_eq!(status_for(cause), status, "{cause:?}");
        }
        // Where a cause lists the status it is sent as, that status maps back to it.
        for (cause, status, means) in TABLE {
            if means.contains(status) {
                assert_eq!(cause_of_status(*status), *cause, "{status}");
            }
        }
        assert_eq!(cause_of_status(499), Cause::CallRejected);
        assert_eq!(cause_of_status(599), Cause::NormalTemporaryFailure);
    }
}
