//! The shard's control inbox: commands from the engine, each answered on its reply channel.

use std::sync::mpsc;
use std::time::Instant;

use super::Command;
use super::tcp::Tcp;
use super::worker::Worker;
use crate::event::MemberState;

impl Worker {
    pub(super) fn read_commands(&mut self, now: Instant) {
        loop {
            match self.inbox.try_recv() {
                Ok(command) => self.handle_command(command, now),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.stopping = true;
                    break;
                }
            }
            self.settle(now);
        }
    }

    fn handle_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::CreateRoom {
                room,
                max_members,
                replicas,
                home,
                reply,
            } => {
                let _ = reply.send(self.create_room(room, max_members, replicas, home));
            }
            Command::AddReplica { room, shard, reply } => {
                let _ = reply.send(self.add_replica(&room, shard));
            }
            Command::Links(links) => self.connect(links),
            Command::CloseRoom { room, reply } => {
                let _ = reply.send(self.close_room(&room));
            }
            Command::AddPeer {
                room,
                member,
                rtc,
                keys,
                pending_offer,
                companion,
                opts,
                reply,
            } => {
                let result = self.add_peer(
                    room,
                    member,
                    (*rtc, keys),
                    pending_offer,
                    companion,
                    &opts,
                    now,
                );
                let _ = reply.send(result);
            }
            Command::AddLeg {
                room,
                member,
                socket,
                opts,
                reply,
            } => {
                let _ = reply.send(self.add_leg(room, member, socket, &opts, now));
            }
            Command::SetLegRemote {
                member,
                remote,
                reply,
            } => {
                let _ = reply.send(self.set_leg_remote(&member, remote, now));
            }
            Command::ConfigureLeg {
                member,
                config,
                reply,
            } => {
                let _ = reply.send(self.configure_leg(&member, &config, now));
            }
            Command::SendDtmf {
                member,
                events,
                reply,
            } => {
                let _ = reply.send(self.send_dtmf(&member, &events, now));
            }
            Command::AcceptAnswer {
                member,
                answer,
                reply,
            } => {
                let _ = reply.send(self.accept_answer(&member, answer));
            }
            Command::UpdateMedia {
                member,
                offer,
                reply,
            } => {
                let _ = reply.send(self.update_media(&member, offer));
            }
            Command::SetMuted {
                member,
                kind,
                muted,
                reply,
            } => {
                let _ = reply.send(self.set_muted(&member, kind, muted));
            }
            Command::SetDeaf {
                member,
                deaf,
                reply,
            } => {
                let _ = reply.send(self.set_deaf(&member, deaf));
            }
            Command::SetLayerPreference {
                member,
                pref,
                reply,
            } => {
                let result = self.transports_of(&member).map(|transports| {
                    for i in transports {
                        if let Some(p) = self.peers.get_mut(i) {
                            p.layers = pref;
                        }
                    }
                });
                let _ = reply.send(result);
            }
            Command::RemoveMember { member, reply } => {
                let result = if self.remove_source(&member) {
                    Ok(())
                } else {
                    self.peer_of(&member)
                        .map(|i| self.remove_peer(i, MemberState::Closed))
                };
                let _ = reply.send(result);
            }
            Command::AddSource {
                room,
                member,
                codec,
                frames,
                reply,
            } => {
                let _ = reply.send(self.add_source(room, member, codec, frames));
            }
            Command::ClearSource { member } => self.clear_source(&member),
            Command::Tap { member, tap, reply } => {
                let _ = reply.send(self.set_tap(&member, tap));
            }
            Command::MoveMember { member, to, reply } => {
                let _ = reply.send(self.move_member(&member, &to));
            }
            Command::Counters { reply } => {
                let mut counters = self.io.counters.clone();
                counters.peers = self.peers.len() - self.proxies.len();
                counters.remote_members = self.proxies.len();
                counters.sources = self.rooms.iter().map(|(_, r)| r.sources.len()).sum();
                counters.rooms = self.rooms.len();
                counters.demux_entries = self.demux.len();
                counters.tcp_connections = self.tcp.as_ref().map_or(0, Tcp::len);
                let _ = reply.send(Ok(counters));
            }
            #[cfg(test)]
            Command::InjectFault { member, reply } => {
                let result = self.peer_of(&member).map(|i| {
                    if let Some(p) = self.peers.get_mut(i) {
                        p.fault = true;
                    }
                    self.tick(i, now);
                });
                let _ = reply.send(result);
            }
            Command::Shutdown => self.stopping = true,
        }
    }
}
