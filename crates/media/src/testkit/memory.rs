//! In-memory connected pairs of a server `Rtc` (the engine's configuration) and a client `Rtc`,
//! for benchmarks that measure str0m and the hot path without sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::config::DtlsCert;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use crate::hotpath::server_config;

/// Most handshake rounds before giving up.
const MAX_ROUNDS: usize = 2000;

/// A server/client pair connected through memory.
pub struct MemoryPair {
    /// The engine-side peer (ICE-lite, RTP mode).
    pub server: Rtc,
    /// The client-side peer (full ICE, RTP mode).
    pub client: Rtc,
    /// The server's address.
    pub server_addr: SocketAddr,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// The m-line offered by the client.
    pub mid: Mid,
}

impl MemoryPair {
    /// Connects a client offering one `kind` m-line in `direction` (client's view) to a server built
    /// like the engine's; runs ICE and DTLS in memory starting at `now`.
    pub fn connect(
        cert: &DtlsCert,
        kind: MediaKind,
        direction: Direction,
        server_addr: SocketAddr,
        client_addr: SocketAddr,
        now: Instant,
    ) -> Result<(Self, Instant), String> {
        let mut server = server_config(cert).build(now);
        server.add_local_candidate(Candidate::host(server_addr, "udp").map_err(|e| e.to_string())?);
        let mut client = RtcConfig::new().set_rtp_mode(true).build(now);
        client.add_local_candidate(Candidate::host(client_addr, "udp").map_err(|e| e.to_string())?);
        let mut api = client.sdp_api();
        let mid = api.add_media(kind, direction, None, None, None);
        let (offer, pending) = api.apply().ok_or("empty offer")?;
        let answer = server
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        let answer =
            SdpAnswer::from_sdp_string(&answer.to_sdp_string()).map_err(|e| e.to_string())?;
        client
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())?;
        let mut pair = Self {
            server,
            client,
            server_addr,
            client_addr,
            mid,
        };
        let mut now = now;
        let (mut server_up, mut client_up) = (false, false);
        for _ in 0..MAX_ROUNDS {
            let to_server = drain(&mut pair.client, &mut client_up)?;
            let to_client = drain(&mut pair.server, &mut server_up)?;
            if server_up && client_up {
                return Ok((pair, now));
            }
            now += Duration::from_millis(1);
            for d in to_server {
                pair.deliver_to_server(&d, now)?;
            }
            for d in to_client {
                deliver(
                    &mut pair.client,
                    pair.server_addr,
                    pair.client_addr,
                    &d,
                    now,
                )?;
            }
            pair.server
                .handle_input(Input::Timeout(now))
                .map_err(|e| e.to_string())?;
            pair.client
                .handle_input(Input::Timeout(now))
                .map_err(|e| e.to_string())?;
        }
        Err("pair did not connect".into())
    }

    /// Feeds one datagram from the client to the server (then drain the server).
    pub fn deliver_to_server(&mut self, datagram: &[u8], now: Instant) -> Result<(), String> {
        deliver(
            &mut self.server,
            self.client_addr,
            self.server_addr,
            datagram,
            now,
        )
    }

    /// Drains the client's output, returning the datagrams it wants to send.
    pub fn client_datagrams(&mut self) -> Result<Vec<Vec<u8>>, String> {
        drain(&mut self.client, &mut false)
    }
}

/// Feeds `rtc` a UDP datagram from `source` to `destination` received at `now`.
pub fn deliver(
    rtc: &mut Rtc,
    source: SocketAddr,
    destination: SocketAddr,
    d: &[u8],
    now: Instant,
) -> Result<(), String> {
    let contents = DatagramRecv::try_from(d).map_err(|e| e.to_string())?;
    rtc.handle_input(Input::Receive(
        now,
        Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        },
    ))
    .map_err(|e| e.to_string())
}

fn drain(rtc: &mut Rtc, connected: &mut bool) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        match rtc.poll_output().map_err(|e| e.to_string())? {
            Output::Timeout(_) => return Ok(out),
            Output::Transmit(t) => out.push(t.contents.to_vec()),
            Output::Event(Event::Connected) => *connected = true,
            Output::Event(_) => {}
        }
    }
}
