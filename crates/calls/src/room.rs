//! The room model: members, their state, room controls with role-based capabilities, and the
//! events that announce each change, rendered as the Fabric room events (`member.joined`, …).
//! Pure logic; the controller feeds it and hands what it returns to the members' front-ends.

use serde_json::{Value, json};

use crate::media::MediaKind;

/// Layouts a room offers (Weft is an SFU: the SDK draws them from `layout.changed`).
pub const LAYOUTS: &[&str] = &[
    "grid-responsive",
    "highlight-1-responsive",
    "1x1",
    "2x1",
    "2x2",
    "3x3",
    "4x4",
    "5x5",
];

/// Largest number of members in one room, unless the room is given another cap.
pub const MAX_MEMBERS: usize = 100;

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Controls self, other members, layout, lock and end.
    Moderator,
    /// Controls self only.
    Member,
}

impl Role {
    /// The `capabilities` list sent in `call.joined`.
    pub fn capabilities(self) -> &'static [&'static str] {
        match self {
            Role::Moderator => &[
                "self",
                "member",
                "layout",
                "digit",
                "vmuted",
                "lock",
                "device",
                "screenshare",
                "end",
            ],
            Role::Member => &["self", "digit", "vmuted", "device", "screenshare"],
        }
    }

    fn can(self, capability: &str) -> bool {
        self.capabilities().contains(&capability)
    }
}

/// Who a new member is.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberInfo {
    /// The member id.
    pub member_id: String,
    /// The Verto callID of the member's leg.
    pub call_id: String,
    /// The node id sent with the member's events.
    pub node_id: String,
    /// The subscriber id, for subscribers.
    pub subscriber_id: Option<String>,
    /// The address dialled or used, if known.
    pub address_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Role in this room.
    pub role: Role,
    /// For a screen share: the member it belongs to.
    pub parent_id: Option<String>,
}

/// One member and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Identity of the member.
    pub info: MemberInfo,
    /// Audio muted.
    pub audio_muted: bool,
    /// Video muted.
    pub video_muted: bool,
    /// Receives no audio.
    pub deaf: bool,
    /// Microphone volume (-50..=50).
    pub input_volume: f64,
    /// Speaker volume (-50..=50).
    pub output_volume: f64,
    /// Microphone sensitivity (0..=100).
    pub input_sensitivity: f64,
    /// Hand raised.
    pub handraised: bool,
    /// On hold (a SIP phone's re-INVITE or the SDK's `hold`): its media is paused both ways.
    pub held: bool,
    /// Talking now.
    pub talking: bool,
    /// Requested layout position.
    pub requested_position: String,
    /// Echo cancellation flag.
    pub echo_cancellation: bool,
    /// Auto gain flag.
    pub auto_gain: bool,
    /// Noise suppression flag.
    pub noise_suppression: bool,
}

impl Member {
    /// A member with default state.
    pub fn new(info: MemberInfo) -> Self {
        Self {
            info,
            audio_muted: false,
            video_muted: false,
            deaf: false,
            input_volume: 0.0,
            output_volume: 0.0,
            input_sensitivity: 11.11,
            handraised: false,
            held: false,
            talking: false,
            requested_position: "auto".into(),
            echo_cancellation: true,
            auto_gain: true,
            noise_suppression: true,
        }
    }
}

/// Whom a control applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One member by id.
    Member(String),
    /// Every member (`member_id:"all"`).
    All,
}

/// A room control request (spec §7), already parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// `call.mute` with channels.
    Mute(Vec<MediaKind>),
    /// `call.unmute` with channels.
    Unmute(Vec<MediaKind>),
    /// `call.deaf`.
    Deaf,
    /// `call.undeaf`.
    Undeaf,
    /// `call.microphone.volume.set`.
    InputVolume(f64),
    /// `call.speaker.volume.set`.
    OutputVolume(f64),
    /// `call.microphone.sensitivity.set`.
    InputSensitivity(f64),
    /// `call.raisehand`.
    RaiseHand,
    /// `call.lowerhand`.
    LowerHand,
    /// `call.audioflags.set`.
    AudioFlags {
        /// Echo cancellation.
        echo_cancellation: Option<bool>,
        /// Auto gain.
        auto_gain: Option<bool>,
        /// Noise suppression.
        noise_suppression: Option<bool>,
    },
    /// `call.member.list`.
    MemberList,
    /// `call.layout.list`.
    LayoutList,
    /// `call.layout.set`.
    LayoutSet {
        /// Layout name.
        layout: String,
        /// Member id → position.
        positions: Vec<(String, String)>,
    },
    /// `call.member.position.set`.
    PositionSet(Vec<(String, String)>),
    /// `call.member.remove`.
    Remove,
    /// `call.lock`.
    Lock,
    /// `call.unlock`.
    Unlock,
    /// `call.end`.
    End,
}

/// A state change to announce.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// A member joined (sent to the others; the joiner gets `call.joined`).
    MemberJoined(String),
    /// Keys of a member that changed.
    MemberUpdated {
        /// The member id.
        member_id: String,
        /// Changed keys (wire names).
        keys: Vec<&'static str>,
    },
    /// A member left.
    MemberLeft {
        /// The member as it was.
        member: Box<Member>,
        /// Why.
        reason: String,
    },
    /// A member started or stopped talking.
    MemberTalking {
        /// The member id.
        member_id: String,
        /// Talking now.
        talking: bool,
    },
    /// The layout or positions changed.
    LayoutChanged,
    /// Room-level state (lock) changed.
    RoomUpdated,
}

/// A media change a control requires.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaOp {
    /// Mute or unmute one kind for one member.
    Mute {
        /// The member id.
        member_id: String,
        /// Audio or video.
        kind: MediaKind,
        /// Muted.
        muted: bool,
    },
    /// Deafen or undeafen one member.
    Deaf {
        /// The member id.
        member_id: String,
        /// Deaf.
        deaf: bool,
    },
}

/// What a control produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// The reply's `result`.
    pub reply: Value,
    /// Events to announce to every member.
    pub events: Vec<RoomEvent>,
    /// Media changes to make.
    pub media: Vec<MediaOp>,
    /// Members removed by the control (their legs must be hung up).
    pub removed: Vec<Member>,
    /// The room was ended: hang up everyone.
    pub ended: bool,
}

/// Why a control or join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The actor lacks the capability.
    #[error("missing capability: {0}")]
    Forbidden(&'static str),
    /// Unknown member id.
    #[error("no such member")]
    NoSuchMember,
    /// Bad value.
    #[error("invalid value: {0}")]
    Invalid(&'static str),
    /// The room is locked.
    #[error("room is locked")]
    Locked,
    /// The room is full.
    #[error("room is full")]
    Full,
}

/// A video room session or a 1:1 call.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    /// The room (resource) id.
    pub room_id: String,
    /// The room session id.
    pub session_id: String,
    /// Room name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Current layout name.
    pub layout: String,
    /// Locked: no new members.
    pub locked: bool,
    /// Most members at once.
    pub max_members: usize,
    members: Vec<Member>,
}

const OK: &str = "OK";

fn ok() -> Value {
    json!({"code": "200", "message": OK})
}

impl Room {
    /// An empty room session.
    pub fn new(room_id: &str, session_id: &str, name: &str, display_name: &str) -> Self {
        Self {
            room_id: room_id.into(),
            session_id: session_id.into(),
            name: name.into(),
            display_name: display_name.into(),
            layout: LAYOUTS[0].into(),
            locked: false,
            max_members: MAX_MEMBERS,
            members: Vec::new(),
        }
    }

    /// The members in join order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// One member.
    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.info.member_id == member_id)
    }

    fn member_mut(&mut self, member_id: &str) -> Result<&mut Member, RoomError> {
        self.members
            .iter_mut()
            .find(|m| m.info.member_id == member_id)
            .ok_or(RoomError::NoSuchMember)
    }

    /// Whether the room has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a member; a locked room only admits moderators.
    pub fn join(&mut self, info: MemberInfo) -> Result<Vec<RoomEvent>, RoomError> {
        if self.locked && info.role != Role::Moderator {
            return Err(RoomError::Locked);
        }
        if self.members.len() >= self.max_members {
            return Err(RoomError::Full);
        }
        if self.member(&info.member_id).is_some() {
            return Err(RoomError::Invalid("duplicate member id"));
        }
        let id = info.member_id.clone();
        self.members.push(Member::new(info));
        Ok(vec![RoomEvent::MemberJoined(id), RoomEvent::LayoutChanged])
    }

    /// Removes a member.
    pub fn leave(&mut self, member_id: &str, reason: &str) -> Vec<RoomEvent> {
        let Some(pos) = self
            .members
            .iter()
            .position(|m| m.info.member_id == member_id)
        else {
            return Vec::new();
        };
        let member = self.members.remove(pos);
        vec![
            RoomEvent::MemberLeft {
                member: Box::new(member),
                reason: reason.into(),
            },
            RoomEvent::LayoutChanged,
        ]
    }

    /// Records a talking change; `None` if nothing changed.
    pub fn set_talking(&mut self, member_id: &str, talking: bool) -> Option<RoomEvent> {
        let m = self.member_mut(member_id).ok()?;
        if m.talking == talking {
            return None;
        }
        m.talking = talking;
        Some(RoomEvent::MemberTalking {
            member_id: member_id.into(),
            talking,
        })
    }

    /// Records a hold change; `None` if nothing changed.
    pub fn set_held(&mut self, member_id: &str, held: bool) -> Option<RoomEvent> {
        let m = self.member_mut(member_id).ok()?;
        if m.held == held {
            return None;
        }
        m.held = held;
        Some(RoomEvent::MemberUpdated {
            member_id: member_id.into(),
            keys: vec!["held"],
        })
    }

    /// Applies a control from `actor` to `target`.
    pub fn control(
        &mut self,
        actor: &str,
        target: &Target,
        control: Control,
    ) -> Result<Outcome, RoomError> {
        let role = self.member(actor).ok_or(RoomError::NoSuchMember)?.info.role;
        let need = |cap: &'static str| {
            if role.can(cap) {
                Ok(())
            } else {
                Err(RoomError::Forbidden(cap))
            }
        };
        let targets: Vec<String> = match target {
            Target::All => self
                .members
                .iter()
                .map(|m| m.info.member_id.clone())
                .collect(),
            Target::Member(id) => {
                self.member(id).ok_or(RoomError::NoSuchMember)?;
                vec![id.clone()]
            }
        };
        let is_self = matches!(target, Target::Member(id) if id == actor);
        let mut out = Outcome {
            reply: ok(),
            ..Outcome::default()
        };
        match control {
            Control::MemberList => {
                out.reply["members"] = self.members.iter().map(|m| self.member_json(m)).collect();
                return Ok(out);
            }
            Control::LayoutList => {
                out.reply["layouts"] = json!(LAYOUTS);
                return Ok(out);
            }
            Control::LayoutSet { layout, positions } => {
                need("layout")?;
                if !LAYOUTS.contains(&layout.as_str()) {
                    return Err(RoomError::Invalid("unknown layout"));
                }
                self.layout = layout;
                self.apply_positions(&positions, &mut out)?;
                out.events.push(RoomEvent::LayoutChanged);
                return Ok(out);
            }
            Control::PositionSet(positions) => {
                let only_self = positions.iter().all(|(id, _)| id == actor);
                if !only_self {
                    need("layout")?;
                }
                self.apply_positions(&positions, &mut out)?;
                out.events.push(RoomEvent::LayoutChanged);
                return Ok(out);
            }
            Control::Lock | Control::Unlock => {
                need("lock")?;
                self.locked = control == Control::Lock;
                out.events.push(RoomEvent::RoomUpdated);
                return Ok(out);
            }
            Control::End => {
                need("end")?;
                out.removed = std::mem::take(&mut self.members);
                out.ended = true;
                return Ok(out);
            }
            _ => {}
        }
        need(if is_self { "self" } else { "member" })?;
        if control == Control::Remove {
            for id in &targets {
                if let Some(pos) = self.members.iter().position(|m| &m.info.member_id == id) {
                    let member = self.members.remove(pos);
                    out.events.push(RoomEvent::MemberLeft {
                        member: Box::new(member.clone()),
                        reason: "kicked".into(),
                    });
                    out.removed.push(member);
                }
            }
            out.events.push(RoomEvent::LayoutChanged);
            return Ok(out);
        }
        for id in targets {
            let member = self.member_mut(&id)?;
            let (keys, media) = apply_member_control(member, &control)?;
            out.media.extend(media);
            if !keys.is_empty() {
                out.events.push(RoomEvent::MemberUpdated {
                    member_id: id,
                    keys,
                });
            }
        }
        Ok(out)
    }

    fn apply_positions(
        &mut self,
        positions: &[(String, String)],
        out: &mut Outcome,
    ) -> Result<(), RoomError> {
        for (id, position) in positions {
            if !valid_position(position) {
                return Err(RoomError::Invalid("bad position"));
            }
            let m = self.member_mut(id)?;
            if m.requested_position != *position {
                m.requested_position = position.clone();
                out.events.push(RoomEvent::MemberUpdated {
                    member_id: id.clone(),
                    keys: vec!["requested_position"],
                });
            }
        }
        Ok(())
    }

    /// A member as the SDK expects it in events and lists.
    pub fn member_json(&self, m: &Member) -> Value {
        json!({
            "type": "member",
            "member_id": m.info.member_id,
            "call_id": m.info.call_id,
            "node_id": m.info.node_id,
            "subscriber_id": m.info.subscriber_id,
            "address_id": m.info.address_id,
            "room_id": self.room_id,
            "room_session_id": self.session_id,
            "name": m.info.name,
            "parent_id": m.info.parent_id,
            "requested_position": m.requested_position,
            "current_position": m.requested_position,
            "visible": !m.video_muted,
            "handraised": m.handraised,
            "held": m.held,
            "audio_muted": m.audio_muted,
            "video_muted": m.video_muted,
            "deaf": m.deaf,
            "input_volume": m.input_volume,
            "output_volume": m.output_volume,
            "input_sensitivity": m.input_sensitivity,
            "echo_cancellation": m.echo_cancellation,
            "auto_gain": m.auto_gain,
            "noise_suppression": m.noise_suppression,
            "talking": m.talking,
            "meta": {},
        })
    }

    /// The `room_session` object of `call.joined`.
    pub fn session_json(&self, event_channel: &str) -> Value {
        json!({
            "id": self.session_id,
            "room_id": self.room_id,
            "room_session_id": self.session_id,
            "event_channel": event_channel,
            "name": self.name,
            "display_name": self.display_name,
            "layout_name": self.layout,
            "recording": false,
            "streaming": false,
            "prioritize_handraise": false,
            "hide_video_muted": false,
            "locked": self.locked,
            "meta": {},
            "preview_url": null,
            "members": self.members.iter().map(|m| self.member_json(m)).collect::<Vec<_>>(),
            "recordings": [],
            "streams": [],
            "playbacks": [],
        })
    }

    /// The params of `call.joined` for `member_id`.
    pub fn joined_params(&self, member_id: &str, event_channel: &str) -> Option<Value> {
        let m = self.member(member_id)?;
        Some(json!({
            "room_session": self.session_json(event_channel),
            "room_id": self.room_id,
            "room_session_id": self.session_id,
            "call_id": m.info.call_id,
            "member_id": member_id,
            "node_id": m.info.node_id,
            "origin_call_id": m.info.call_id,
            "capabilities": m.info.role.capabilities(),
        }))
    }

    /// The `layout` object of `layout.changed`: a grid over the members.
    pub fn layout_json(&self) -> Value {
        let n = self.members.len().max(1);
        let cols = (1..).find(|c| c * c >= n).unwrap_or(1);
        let size = 100.0 / cols as f64;
        let layers: Vec<Value> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                json!({
                    "layer_index": i, "z_index": 0, "member_id": m.info.member_id,
                    "playing_file": null, "position": m.requested_position, "visible": !m.video_muted,
                    "x": (i % cols) as f64 * size, "y": (i / cols) as f64 * size,
                    "width": size, "height": size,
                })
            })
            .collect();
        json!({"id": self.layout, "name": self.layout, "room_id": self.room_id,
               "room_session_id": self.session_id, "layers": layers})
    }

    /// The `(event_type, params)` that announce `event`, or `None` if its member is gone.
    pub fn render(&self, event: &RoomEvent) -> Option<(&'static str, Value)> {
        let base = |mut v: Value| {
            v["room_id"] = json!(self.room_id);
            v["room_session_id"] = json!(self.session_id);
            v
        };
        Some(match event {
            RoomEvent::MemberJoined(id) => {
                let m = self.member(id)?;
                (
                    "member.joined",
                    base(json!({"member": self.member_json(m)})),
                )
            }
            RoomEvent::MemberUpdated { member_id, keys } => {
                let m = self.member(member_id)?;
                let mut member = self.member_json(m);
                member["updated"] = json!(keys);
                ("member.updated", base(json!({"member": member})))
            }
            RoomEvent::MemberLeft { member, reason } => (
                "member.left",
                base(json!({"reason": reason, "member": self.member_json(member)})),
            ),
            RoomEvent::MemberTalking { member_id, talking } => {
                let m = self.member(member_id)?;
                (
                    "member.talking",
                    base(
                        json!({"member": {"member_id": member_id, "node_id": m.info.node_id,
                                           "talking": talking}}),
                    ),
                )
            }
            RoomEvent::LayoutChanged => (
                "layout.changed",
                base(json!({"layout": self.layout_json()})),
            ),
            RoomEvent::RoomUpdated => (
                "call.updated",
                base(json!({"room_session": self.session_json("")})),
            ),
        })
    }
}

fn valid_position(p: &str) -> bool {
    matches!(
        p,
        "auto" | "self" | "standard" | "off-canvas" | "playback" | "full-screen"
    ) || p
        .strip_prefix("reserved-")
        .or_else(|| p.strip_prefix("standard-"))
        .is_some_and(|n| n.parse::<u16>().is_ok())
}

type Applied = (Vec<&'static str>, Vec<MediaOp>);

fn apply_member_control(m: &mut Member, control: &Control) -> Result<Applied, RoomError> {
    let id = m.info.member_id.clone();
    let mut keys = Vec::new();
    let mut media = Vec::new();
    let mut set_bool = |field: &mut bool, value: bool, key: &'static str| {
        if *field != value {
            *field = value;
            keys.push(key);
            true
        } else {
            false
        }
    };
    match control {
        Control::Mute(kinds) | Control::Unmute(kinds) => {
            let muted = matches!(control, Control::Mute(_));
            for kind in kinds {
                let (field, key) = match kind {
                    MediaKind::Audio => (&mut m.audio_muted, "audio_muted"),
                    MediaKind::Video => (&mut m.video_muted, "video_muted"),
                };
                if set_bool(field, muted, key) {
                    media.push(MediaOp::Mute {
                        member_id: id.clone(),
                        kind: *kind,
                        muted,
                    });
                }
            }
            if kinds.contains(&MediaKind::Video) && keys.contains(&"video_muted") {
                keys.push("visible");
            }
        }
        Control::Deaf | Control::Undeaf => {
            let deaf = *control == Control::Deaf;
            if set_bool(&mut m.deaf, deaf, "deaf") {
                media.push(MediaOp::Deaf {
                    member_id: id,
                    deaf,
                });
            }
        }
        Control::RaiseHand => {
            set_bool(&mut m.handraised, true, "handraised");
        }
        Control::LowerHand => {
            set_bool(&mut m.handraised, false, "handraised");
        }
        Control::InputVolume(v) | Control::OutputVolume(v) => {
            if !(-50.0..=50.0).contains(v) {
                return Err(RoomError::Invalid("volume must be within -50..=50"));
            }
            let (field, key) = match control {
                Control::InputVolume(_) => (&mut m.input_volume, "input_volume"),
                _ => (&mut m.output_volume, "output_volume"),
            };
            if *field != *v {
                *field = *v;
                keys.push(key);
            }
        }
        Control::InputSensitivity(v) => {
            if !(0.0..=100.0).contains(v) {
                return Err(RoomError::Invalid("sensitivity must be within 0..=100"));
            }
            if m.input_sensitivity != *v {
                m.input_sensitivity = *v;
                keys.push("input_sensitivity");
            }
        }
        Control::AudioFlags {
            echo_cancellation,
            auto_gain,
            noise_suppression,
        } => {
            if let Some(v) = echo_cancellation {
                set_bool(&mut m.echo_cancellation, *v, "echo_cancellation");
            }
            if let Some(v) = auto_gain {
                set_bool(&mut m.auto_gain, *v, "auto_gain");
            }
            if let Some(v) = noise_suppression {
                set_bool(&mut m.noise_suppression, *v, "noise_suppression");
            }
        }
        _ => {}
    }
    Ok((keys, media))
}

#[cfg(test)]
mod tests;
