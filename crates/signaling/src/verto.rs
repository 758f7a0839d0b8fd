//! Verto helpers: hang-up causes, message builders and SDP fix-ups.

use serde_json::{Value, json};

/// A Verto/Q.850 hang-up cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Normal end of a call.
    NormalClearing,
    /// The callee rejected the call.
    UserBusy,
    /// The callee did not answer in time.
    NoAnswer,
    /// The callee has no online session.
    UserNotRegistered,
    /// The address does not exist.
    UnallocatedNumber,
    /// The dial string is malformed.
    InvalidNumberFormat,
    /// The token may not reach this address.
    OutgoingCallBarred,
    /// The target type is not supported yet.
    ServiceNotImplemented,
    /// Another session answered first.
    LoseRace,
    /// The caller hung up before an answer.
    OriginatorCancel,
    /// Media setup failed or a dependency is down.
    NormalTemporaryFailure,
    /// The call was not reattached in time after its session was lost.
    RecoveryOnTimerExpire,
    /// The room is locked.
    CallRejected,
}

impl Cause {
    /// The cause name sent as `cause`.
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
        }
    }

    /// The numeric cause sent as `causeCode`.
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
        }
    }

    /// Parses a cause name sent by the client (unknown names count as normal clearing).
    pub fn from_name(name: &str) -> Self {
        match name {
            "USER_BUSY" | "REJECT_ALL" => Cause::UserBusy,
            "CALL_REJECTED" => Cause::CallRejected,
            "NO_ANSWER" => Cause::NoAnswer,
            "ORIGINATOR_CANCEL" => Cause::OriginatorCancel,
            _ => Cause::NormalClearing,
        }
    }
}

/// `verto.answer`/`verto.media` params for `call_id`, with `sdp` when given.
pub fn answer_params(call_id: &str, sdp: Option<&str>) -> Value {
    match sdp {
        Some(sdp) => json!({"callID": call_id, "sdp": sdp}),
        None => json!({"callID": call_id}),
    }
}

/// `verto.bye` params.
pub fn bye_params(call_id: &str, cause: Cause) -> Value {
    json!({"callID": call_id, "cause": cause.name(), "causeCode": cause.code()})
}

/// A full inner Verto request (the SDK ignores inner messages without `jsonrpc`).
pub fn message(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The 2xx reply wrapper for a client `webrtc.verto` request.
pub fn reply(verto_id: &Value, node_id: &str, inner: Value) -> Value {
    json!({"code": "200", "node_id": node_id,
           "result": {"jsonrpc": "2.0", "id": verto_id, "result": inner}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_names() {
        assert_eq!(Cause::from_name("USER_BUSY"), Cause::UserBusy);
        assert_eq!(bye_params("c", Cause::UserNotRegistered)["causeCode"], 606);
        assert_eq!(bye_params("c", Cause::UserBusy)["cause"], "USER_BUSY");
    }
}
