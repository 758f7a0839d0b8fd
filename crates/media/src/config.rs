//! Engine configuration.

use std::net::{IpAddr, Ipv4Addr};

use serde::Deserialize;

use crate::error::MediaError;

/// How the media engine binds, advertises and shards. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Address the shards' UDP sockets bind to (default `127.0.0.1`, like every listener: set a
    /// public or unspecified address to serve others).
    pub bind_ip: IpAddr,
    /// Lowest UDP port a shard may bind; each shard takes the next free port in
    /// `udp_port_min..=udp_port_max`. `0` lets the OS pick (tests).
    pub udp_port_min: u16,
    /// Highest UDP port a shard may bind.
    pub udp_port_max: u16,
    /// Addresses written into ICE candidates (public IPs, or the outside address of a 1:1 NAT).
    /// Empty: `bind_ip` when it is a concrete address, else `127.0.0.1`.
    pub advertised_ips: Vec<IpAddr>,
    /// Number of shard threads; `0` (default) means one per available core.
    pub shards: usize,
    /// Also offer passive ICE-TCP candidates (RFC 4571 framing), listening on each shard's UDP
    /// port number, for clients whose UDP is blocked.
    pub ice_tcp: bool,
    /// Largest number of members in one room.
    pub max_members_per_room: usize,
    /// Members of one room a shard takes before the room spreads to the least-loaded other shard
    /// (a replica there; packets cross with one message per remote shard). Default 64: a room of
    /// 64 multi-slot members with `last_n` 16 makes about 64 × 150 packets/s × 16 ≈ 150,000
    /// subscriber-packets per second, about half of what one shard forwards, so smaller rooms
    /// (calls, meetings) stay on one core and only large ones use several. With one shard it
    /// changes nothing.
    pub room_members_per_shard: usize,
    /// Most multi-slot streams a member receives per kind (last-N).
    pub last_n: usize,
    /// Run str0m's TWCC bandwidth estimation (and its pacer) for members that receive several
    /// videos (multi-slot clients); their simulcast layers are chosen from it. Only with
    /// `owned_egress` off. One-slot members
    /// (the browser SDK) never run it: it pads every peer to 50 kbit/s even when idle.
    pub bandwidth_estimation: bool,
    /// Pin shard `i` to the `i`-th core the process may run on (modulo their count), so each
    /// shard keeps its core's caches. Best when the machine runs little else; off by default.
    pub pin_shards: bool,
    /// How long, in milliseconds, a plain-RTP leg may latch onto the source of the RTP it
    /// receives after it gets its remote SDP address (or is created without one); afterwards it
    /// keeps the source it has. Default 2000.
    pub rtp_latch_window_ms: u64,
    /// Seal and send forwarded media in Weft instead of str0m: no str0m tick, copy or queue per
    /// packet. Members then run no TWCC estimator; multi-slot members' simulcast layers follow a
    /// loss-based estimate from their receiver reports (and `bandwidth_estimation` has no
    /// effect). Members reached over ICE-TCP keep str0m's egress. Off, str0m sends everything.
    pub owned_egress: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp_port_min: 40000,
            udp_port_max: 40999,
            advertised_ips: Vec::new(),
            shards: 0,
            ice_tcp: false,
            max_members_per_room: 100,
            room_members_per_shard: 64,
            last_n: 16,
            bandwidth_estimation: true,
            pin_shards: false,
            rtp_latch_window_ms: crate::shard::LATCH_WINDOW.as_millis() as u64,
            owned_egress: true,
        }
    }
}

impl MediaConfig {
    /// A configuration for tests: loopback only, OS-chosen ports.
    pub fn loopback(shards: usize) -> Self {
        Self {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp_port_min: 0,
            udp_port_max: 0,
            shards,
            ..Self::default()
        }
    }

    /// The number of shards to start.
    pub fn shard_count(&self) -> usize {
        if self.shards > 0 {
            self.shards
        } else {
            available_cores()
        }
    }

    /// The addresses to advertise in candidates.
    pub fn advertised(&self) -> Vec<IpAddr> {
        if !self.advertised_ips.is_empty() {
            self.advertised_ips.clone()
        } else if self.bind_ip.is_unspecified() {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        } else {
            vec![self.bind_ip]
        }
    }

    /// [`MediaConfig::rtp_latch_window_ms`] as a duration.
    pub fn rtp_latch_window(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.rtp_latch_window_ms)
    }

    /// Checks the values that cannot be checked by their types.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.udp_port_min > self.udp_port_max {
            return Err(MediaError::Config("udp_port_min > udp_port_max".into()));
        }
        if self.max_members_per_room == 0 {
            return Err(MediaError::Config(
                "max_members_per_room must be > 0".into(),
            ));
        }
        if self.room_members_per_shard == 0 {
            return Err(MediaError::Config(
                "room_members_per_shard must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// Cores this process may run on.
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
