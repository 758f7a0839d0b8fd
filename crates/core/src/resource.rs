//! The kinds of Fabric resources Weft stores, and how each one is named on the wire.

use crate::address::Channel;

/// A kind of Fabric resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Subscriber,
    SwmlScript,
    AiAgent,
    SipEndpoint,
    VideoRoom,
    SwmlWebhook,
}

impl ResourceKind {
    /// Every kind, in a stable order.
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Subscriber,
        ResourceKind::SwmlScript,
        ResourceKind::AiAgent,
        ResourceKind::SipEndpoint,
        ResourceKind::VideoRoom,
        ResourceKind::SwmlWebhook,
    ];

    /// The envelope's `type` value.
    pub fn type_value(self) -> &'static str {
        match self {
            ResourceKind::Subscriber => "subscriber",
            ResourceKind::SwmlScript => "swml_script",
            ResourceKind::AiAgent => "ai_agent",
            ResourceKind::SipEndpoint => "sip_endpoint",
            ResourceKind::VideoRoom => "video_room",
            ResourceKind::SwmlWebhook => "swml_webhook",
        }
    }

    /// The key of the type-specific object inside the envelope.
    pub fn nested_key(self) -> &'static str {
        match self {
            ResourceKind::VideoRoom => "conference_room",
            other => other.type_value(),
        }
    }

    /// The collection segment under `/api/fabric/resources/`.
    pub fn collection(self) -> &'static str {
        match self {
            ResourceKind::Subscriber => "subscribers",
            ResourceKind::SwmlScript => "swml_scripts",
            ResourceKind::AiAgent => "ai_agents",
            ResourceKind::SipEndpoint => "sip_endpoints",
            ResourceKind::VideoRoom => "conference_rooms",
            ResourceKind::SwmlWebhook => "swml_webhooks",
        }
    }

    /// The kind stored under a `type` value.
    pub fn from_type_value(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_value() == value)
    }

    /// The kind served by a collection segment.
    pub fn from_collection(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.collection() == segment)
    }

    /// The address `type` its addresses show (`app`, `room`, `call`, `subscriber`).
    pub fn address_type(self) -> &'static str {
        match self {
            ResourceKind::Subscriber => "subscriber",
            ResourceKind::VideoRoom => "room",
            ResourceKind::SipEndpoint => "call",
            ResourceKind::SwmlScript | ResourceKind::AiAgent | ResourceKind::SwmlWebhook => "app",
        }
    }

    /// The channels its addresses offer.
    pub fn channels(self) -> &'static [Channel] {
        match self {
            ResourceKind::Subscriber => &[Channel::Audio, Channel::Video, Channel::Messaging],
            _ => &[Channel::Audio, Channel::Video],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ResourceKind::ALL {
            assert_eq!(ResourceKind::from_type_value(kind.type_value()), Some(kind));
            assert_eq!(ResourceKind::from_collection(kind.collection()), Some(kind));
        }
        assert_eq!(ResourceKind::VideoRoom.nested_key(), "conference_room");
    }
}
