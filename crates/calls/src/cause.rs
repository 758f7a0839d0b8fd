//! Why a call (leg) ended: the Q.850-style hang-up causes that Fabric clients see (`cause` and
//! `causeCode` of `verto.bye`); each front-end maps them to its own protocol (SIP statuses, …).

/// A hang-up cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Normal end of a call.
    NormalClearing,
    /// The callee is busy or rejected the call.
    UserBusy,
    /// The callee did not answer in time.
    NoAnswer,
    /// The callee has no online session or registered contact.
    UserNotRegistered,
    /// The address does not exist.
    UnallocatedNumber,
    /// The dial string is malformed.
    InvalidNumberFormat,
    /// The caller may not reach this address.
    OutgoingCallBarred,
    /// The target type is not supported yet.
    ServiceNotImplemented,
    /// Another endpoint answered first.
    LoseRace,
    /// The caller hung up before an answer.
    OriginatorCancel,
    /// Media setup failed or a dependency is down.
    NormalTemporaryFailure,
    /// The call was not reattached in time after its session was lost.
    RecoveryOnTimerExpire,
    /// The callee declined, or the room is locked.
    CallRejected,
    /// The two sides share no codec, or their media security does not match.
    IncompatibleDestination,
}

impl Cause {
    /// Every cause, for tables and tests.
    pub const ALL: [Cause; 14] = [
        Cause::NormalClearing,
        Cause::UserBusy,
        Cause::NoAnswer,
        Cause::UserNotRegistered,
        Cause::UnallocatedNumber,
        Cause::InvalidNumberFormat,
        Cause::OutgoingCallBarred,
        Cause::ServiceNotImplemented,
        Cause::LoseRace,
        Cause::OriginatorCancel,
        Cause::NormalTemporaryFailure,
        Cause::RecoveryOnTimerExpire,
        Cause::CallRejected,
        Cause::IncompatibleDestination,
    ];

    /// The cause name (`cause`).
    pub fn name(self) -> &'static str {
        match self {
            Cause::NormalClearing => "NORMAL_CLEARING",
            Cause::UserBusy => "USER_BUSY",
            Cause::NoAnswer => "NO_ANSWER",
            Cause::UserNotRegistered => "USER_NOT_REGISTERED",
            Cause::UnallocatedNumber => "UNALLOCATED_NUMBER",
            Cause::InvalidNumberFormat => "INVALID_NUMBER_FORMAT",
            Cause::OutgoingCallBarred => "OUTGOING_CALL_BARRED",
            Cause::ServiceNotImplemented => "SERVICE_NOT_IMPLEMENTED",
            Cause::LoseRace => "LOSE_RACE",
            Cause::OriginatorCancel => "ORIGINATOR_CANCEL",
            Cause::NormalTemporaryFailure => "NORMAL_TEMPORARY_FAILURE",
            Cause::RecoveryOnTimerExpire => "RECOVERY_ON_TIMER_EXPIRE",
            Cause::CallRejected => "CALL_REJECTED",
            Cause::IncompatibleDestination => "INCOMPATIBLE_DESTINATION",
        }
    }

    /// The numeric cause (`causeCode`).
    pub fn code(self) -> u16 {
        match self {
            Cause::NormalClearing => 16,
            Cause::UserBusy => 17,
            Cause::NoAnswer => 19,
            Cause::UserNotRegistered => 606,
            Cause::UnallocatedNumber => 1,
            Cause::InvalidNumberFormat => 28,
            Cause::OutgoingCallBarred => 54,
            Cause::ServiceNotImplemented => 79,
            Cause::LoseRace => 502,
            Cause::OriginatorCancel => 487,
            Cause::NormalTemporaryFailure => 41,
            Cause::RecoveryOnTimerExpire => 102,
            Cause::CallRejected => 21,
            Cause::IncompatibleDestination => 88,
        }
    }

    /// Parses a cause name sent by a client (unknown names count as normal clearing).
    pub fn from_name(name: &str) -> Self {
        match name {
            "USER_BUSY" | "REJECT_ALL" => Cause::UserBusy,
            "CALL_REJECTED" => Cause::CallRejected,
            "NO_ANSWER" => Cause::NoAnswer,
            "ORIGINATOR_CANCEL" => Cause::OriginatorCancel,
            _ => Cause::NormalClearing,
        }
    }

    /// Whether a callee ending its ring with this cause ends the whole ring (a decline), rather
    /// than only its own attempt (a failure of one endpoint while others may still answer).
    pub fn declines(self) -> bool {
        matches!(self, Cause::UserBusy | Cause::CallRejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_client_names_parse() {
        let names: std::collections::HashSet<_> = Cause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Cause::ALL.len());
        assert_eq!(Cause::from_name("USER_BUSY"), Cause::UserBusy);
        assert_eq!(Cause::from_name("REJECT_ALL"), Cause::UserBusy);
        assert_eq!(Cause::from_name("whatever"), Cause::NormalClearing);
        assert_eq!(Cause::UserNotRegistered.code(), 606);
    }
}
