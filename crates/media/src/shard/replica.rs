//! Rooms that span shards.
//!
//! A room starts on one shard, its **home**; the engine's directory places members on further
//! shards once the home has [`crate::MediaConfig::room_members_per_shard`] of them, and each such
//! shard holds a **replica** of the room. Every replica knows the room's other shards.
//!
//! On each shard, a member owned by another shard is a **remote member**: a peer entry with a
//! [`Transport::Remote`] transport, no slots and one line per stream it publishes. Its streams are
//! ordinary sources of the local replica, so slot assignment (last-N), talking levels, the active
//! speaker, the mixer (each shard mixes for its own one-slot listeners from every audio source,
//! local and remote) and simulcast layer selection work on them as on local ones.
//!
//! - The owning shard tells the room's other shards about its members ([`Relay::Joined`],
//!   [`Relay::Left`]), their streams and mute state. When a local publisher's packet has been
//!   forwarded locally, it queues one [`Relay::Rtp`] per other shard of the room that needs it
//!   (all simulcast layers; the payload shared); the end of the pass sends one batch per shard and
//!   wakes it once. Audio goes to every shard (each mixes and picks speakers from all levels);
//!   video only to shards whose subscribers receive it, which say so with [`Relay::Interest`]
//!   when that starts and stops.
//! - A replica that needs a keyframe of a remote stream (late joiner, PLI/FIR from a subscriber,
//!   layer switch) sends [`Relay::KeyframeRequest`] to the owner, throttled like a local request;
//!   the owner asks the publisher, throttled again.
//! - Events stay one per member: only the owning shard emits a member's state, talking and stats
//!   events. Each shard picks the active speaker for its own listeners from the same levels, but
//!   only the home shard emits [`crate::MediaEvent::ActiveSpeaker`].
//! - A member leaving is forgotten by every shard (its remote entries and their sources go), and
//!   closing the room closes every replica.

use std::time::Instant;

use str0m::media::{Direction, Mid, Rid};

use super::peer::{Peer, RemoteMember, Transport};
use super::relay::{Link, Relay};
use super::room::Room;
use super::worker::Worker;
use crate::error::MediaError;
use crate::ids::{MemberId, RoomId};
use crate::options::{MediaKind, MemberOptions};

impl Worker {
    /// Creates a room here, as its home or as a replica linked to the room's other shards.
    pub(super) fn create_room(
        &mut self,
        room: RoomId,
        max_members: usize,
        replicas: Vec<usize>,
        home: bool,
    ) -> Result<(), MediaError> {
        if self.room_ids.contains_key(&room) {
            return Err(MediaError::RoomExists(room));
        }
        let (index, _) = self
            .rooms
            .insert(Room::new(room.clone(), max_members, replicas, home));
        self.room_ids.insert(room, index);
        Ok(())
    }

    /// Sets the links to the other shards.
    pub(super) fn connect(&mut self, links: Vec<Option<Link>>) {
        self.io.relay.connect(links);
    }

    /// `shard` holds a replica of `room` from now on: it learns every member here and its
    /// streams, then gets their packets.
    pub(super) fn add_replica(&mut self, room: &RoomId, shard: usize) -> Result<(), MediaError> {
        let index = *self
            .room_ids
            .get(room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        let r = self
            .rooms
            .get_mut(index)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if shard == self.index || r.replicas.contains(&shard) {
            return Ok(());
        }
        r.replicas.push(shard);
        let members = r.members.clone();
        for member in members {
            let Some(p) = self.peers.get(member) else {
                continue;
            };
            if p.remote().is_some() || p.companion_of.is_some() {
                continue;
            }
            self.io.relay.push(shard, joined(room, member, p));
            let transports = std::iter::once(member).chain(p.companion);
            for t in transports {
                for line in self.peers.get(t).map_or(&[][..], |p| &p.lines) {
                    if line.source.is_some() {
                        self.io.relay.push(
                            shard,
                            Relay::SourceAdded {
                                from: member,
                                mid: line.mid,
                                kind: line.kind,
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Tells the room's other shards that local member `peer` joined.
    pub(super) fn announce_joined(&mut self, peer: usize) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let Some(r) = self.rooms.get(p.room) else {
            return;
        };
        for &shard in &r.replicas {
            self.io.relay.push(shard, joined(&r.id, peer, p));
        }
    }

    /// Tells the room's other shards about a local peer's new source on line `line`.
    pub(super) fn announce_source(&mut self, peer: usize, line: usize) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        if p.remote().is_some() {
            return;
        }
        let (from, l) = (p.companion_of.unwrap_or(peer), &p.lines[line]);
        let (mid, kind) = (l.mid, l.kind);
        self.for_replicas(p.room, || Relay::SourceAdded { from, mid, kind });
    }

    /// Tells the room's other shards that local transport `index` is gone: the member left, or
    /// (a companion) its streams did.
    pub(super) fn announce_detached(&mut self, index: usize, gone: &Peer) {
        if gone.remote().is_some() {
            return;
        }
        match gone.companion_of {
            None => self.for_replicas(gone.room, || Relay::Left { from: index }),
            Some(from) => {
                for line in gone.lines.iter().filter(|l| l.source.is_some()) {
                    let mid = line.mid;
                    self.for_replicas(gone.room, || Relay::SourceRemoved { from, mid });
                }
            }
        }
    }

    /// Tells the room's other shards that local member `peer` muted or unmuted `kind`.
    pub(super) fn announce_muted(&mut self, peer: usize, kind: MediaKind, muted: bool) {
        if let Some(room) = self.peers.get(peer).map(|p| p.room) {
            self.for_replicas(room, || Relay::Muted {
                from: peer,
                kind,
                muted,
            });
        }
    }

    /// Queues a message for each of the other shards of `room`.
    pub(super) fn for_replicas(&mut self, room: usize, message: impl Fn() -> Relay) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        for &shard in &r.replicas {
            self.io.relay.push(shard, message());
        }
    }

    /// Sends a keyframe request for a remote publisher's stream to its shard; `false` if
    /// `publisher` is local.
    pub(super) fn relay_keyframe_request(
        &mut self,
        publisher: usize,
        mid: Mid,
        rid: Option<Rid>,
    ) -> bool {
        let Some(p) = self.peers.get(publisher) else {
            return false;
        };
        let Some(remote) = p.remote() else {
            return false;
        };
        self.io.relay.push(
            remote.shard,
            Relay::KeyframeRequest {
                member: p.member.clone(),
                mid,
                rid,
            },
        );
        true
    }

    /// Handles every batch the other shards sent, then settles; records the time from the
    /// oldest relayed packet's arrival on its shard to having sent what it caused here.
    pub(super) fn read_relays(&mut self, now: Instant) {
        let mut oldest: Option<Instant> = None;
        let mut any = false;
        while let Ok(batch) = self.relays.try_recv() {
            any = true;
            self.io.counters.relayed_in += batch.messages.len() as u64;
            for message in batch.messages {
                if let Relay::Rtp { packet, .. } = &message {
                    oldest = Some(oldest.map_or(packet.received, |o| o.min(packet.received)));
                }
                self.handle_relay(batch.from, message, now);
            }
        }
        if any {
            self.settle(now);
        }
        if let Some(oldest) = oldest {
            self.io.counters.latency.record(oldest.elapsed());
        }
    }

    fn handle_relay(&mut self, shard: usize, message: Relay, now: Instant) {
        match message {
            Relay::Joined {
                room,
                from,
                member,
                audio_muted,
                video_muted,
            } => self.add_remote(shard, from, &room, member, audio_muted, video_muted, now),
            Relay::SourceAdded { from, mid, kind } => {
                if let Some(&proxy) = self.proxies.get(&(shard, from)) {
                    self.register_line(proxy, mid, kind, Direction::RecvOnly);
                }
            }
            Relay::SourceRemoved { from, mid } => {
                if let Some(&proxy) = self.proxies.get(&(shard, from)) {
                    self.remove_remote_source(proxy, mid);
                }
            }
            Relay::Muted { from, kind, muted } => {
                if let Some(&proxy) = self.proxies.get(&(shard, from)) {
                    self.set_muted_on(proxy, kind, muted);
                }
            }
            Relay::Left { from } => {
                if let Some(proxy) = self.proxies.remove(&(shard, from)) {
                    self.remove_remote(proxy);
                }
            }
            Relay::Rtp { from, mid, packet } => {
                let Some(&proxy) = self.proxies.get(&(shard, from)) else {
                    return;
                };
                if let Some(line) = self.peers.get(proxy).and_then(|p| p.line_of(mid)) {
                    self.fan_out(proxy, line, &packet, now);
                }
            }
            Relay::Interest {
                member,
                mid,
                wanted,
            } => {
                if let Some((room, source)) = self.local_source(&member, mid)
                    && let Some(s) = self
                        .rooms
                        .get_mut(room)
                        .and_then(|r| r.sources.get_mut(source))
                {
                    s.relay_to.retain(|&s| s != shard);
                    if wanted {
                        s.relay_to.push(shard);
                    }
                }
            }
            Relay::KeyframeRequest { member, mid, rid } => {
                self.remote_keyframe_request(&member, mid, rid, now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_remote(
        &mut self,
        shard: usize,
        from: usize,
        room: &RoomId,
        member: MemberId,
        audio_muted: bool,
        video_muted: bool,
        now: Instant,
    ) {
        let Some(&room_index) = self.room_ids.get(room) else {
            return;
        };
        if self.proxies.contains_key(&(shard, from)) {
            return;
        }
        let opts = MemberOptions {
            audio_muted,
            video_muted,
            deaf: false,
        };
        let transport = Transport::Remote(RemoteMember { shard, from });
        let mut peer = Peer::new(transport, 0, member, room_index, String::new(), &opts, now);
        // Nothing to connect: the owning shard handles the member's transport.
        peer.connected = true;
        let (index, generation) = self.peers.insert(peer);
        if let Some(p) = self.peers.get_mut(index) {
            p.generation = generation;
        }
        self.proxies.insert((shard, from), index);
        if let Some(r) = self.rooms.get_mut(room_index) {
            r.members.push(index);
        }
        self.apply_policy(room_index);
    }

    /// Forgets a remote member and its sources.
    pub(super) fn remove_remote(&mut self, index: usize) {
        let Some(remote) = self.peers.get(index).and_then(Peer::remote) else {
            return;
        };
        if self.proxies.get(&(remote.shard, remote.from)) == Some(&index) {
            self.proxies.remove(&(remote.shard, remote.from));
        }
        if let Some(room) = self.detach_transport(index).map(|(p, _)| p.room) {
            self.apply_policy(room);
        }
    }

    fn remove_remote_source(&mut self, proxy: usize, mid: Mid) {
        let Some(p) = self.peers.get_mut(proxy) else {
            return;
        };
        let Some(line) = p.line_of(mid) else { return };
        let (room, removed) = (p.room, p.lines.remove(line));
        if let Some(source) = removed.source {
            self.free_source(room, source);
        }
    }

    /// A subscriber on another shard wants a keyframe of local `member`'s stream on `mid`.
    fn remote_keyframe_request(
        &mut self,
        member: &MemberId,
        mid: Mid,
        rid: Option<Rid>,
        now: Instant,
    ) {
        let Some((room, source)) = self.local_source(member, mid) else {
            return;
        };
        match rid {
            Some(rid) => self.request_layer_keyframe(room, source, rid, now),
            None => self.request_keyframe(room, source, now),
        }
    }
}

impl Worker {
    /// The room and source of local `member`'s stream on `mid`.
    fn local_source(&self, member: &MemberId, mid: Mid) -> Option<(usize, usize)> {
        self.transports_of(member).ok()?.into_iter().find_map(|t| {
            let p = self.peers.get(t)?;
            let source = p.lines[p.line_of(mid)?].source?;
            Some((p.room, source))
        })
    }

    /// Tells the owners of remote video sources whose subscribers here started or stopped
    /// (after subscriptions changed).
    pub(super) fn send_interest(&mut self) {
        if !std::mem::take(&mut self.io.interest_changed) {
            return;
        }
        for room in self.rooms.indexes() {
            let Some(r) = self.rooms.get_mut(room) else {
                continue;
            };
            if r.replicas.is_empty() {
                continue;
            }
            for (_, s) in r.sources.iter_mut() {
                let wanted = !s.subscribers.is_empty();
                if s.kind != MediaKind::Video || wanted == s.wanted_here {
                    continue;
                }
                let Some(p) = self.peers.get(s.publisher) else {
                    continue;
                };
                let Some(remote) = p.remote() else { continue };
                s.wanted_here = wanted;
                self.io.relay.push(
                    remote.shard,
                    Relay::Interest {
                        member: p.member.clone(),
                        mid: s.mid,
                        wanted,
                    },
                );
            }
        }
    }
}

fn joined(room: &RoomId, from: usize, p: &Peer) -> Relay {
    Relay::Joined {
        room: room.clone(),
        from,
        member: p.member.clone(),
        audio_muted: p.audio_muted,
        video_muted: p.video_muted,
    }
}
