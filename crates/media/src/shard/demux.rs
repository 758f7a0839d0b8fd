//! O(1) demultiplexing of datagrams to peers: by remote address, then by STUN USERNAME.

use std::collections::HashMap;
use std::net::SocketAddr;

use str0m::ice::StunMessage;

/// Most remote addresses remembered per peer (ICE may probe from several).
pub(crate) const MAX_ADDRS_PER_PEER: usize = 8;

/// Maps remote addresses and local ICE ufrags to peer indexes.
#[derive(Default)]
pub(crate) struct Demux {
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
}

/// How a datagram was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// A known remote address.
    Addr(usize),
    /// A STUN request naming a known local ufrag, from a new address.
    Ufrag(usize),
}

impl Match {
    pub(crate) fn peer(self) -> usize {
        match self {
            Match::Addr(p) | Match::Ufrag(p) => p,
        }
    }
}

impl Demux {
    /// Finds the peer a datagram from `source` belongs to.
    pub(crate) fn lookup(&self, source: SocketAddr, datagram: &[u8]) -> Option<Match> {
        if let Some(peer) = self.by_addr.get(&source) {
            return Some(Match::Addr(*peer));
        }
        if !looks_like_stun(datagram) {
            return None;
        }
        let message = StunMessage::parse(datagram).ok()?;
        let (local, _remote) = message.split_username()?;
        self.by_ufrag.get(local).map(|peer| Match::Ufrag(*peer))
    }

    pub(crate) fn add_ufrag(&mut self, ufrag: String, peer: usize) {
        self.by_ufrag.insert(ufrag, peer);
    }

    /// Remembers `source` for `peer`, unless the peer already has too many addresses.
    pub(crate) fn learn_addr(
        &mut self,
        source: SocketAddr,
        peer: usize,
        known: &mut Vec<SocketAddr>,
    ) {
        if known.len() < MAX_ADDRS_PER_PEER && !self.by_addr.contains_key(&source) {
            self.by_addr.insert(source, peer);
            known.push(source);
        }
    }

    /// Forgets everything about a peer.
    pub(crate) fn remove(&mut self, ufrag: &str, addrs: &[SocketAddr]) {
        self.by_ufrag.remove(ufrag);
        for addr in addrs {
            self.by_addr.remove(addr);
        }
    }

    /// Number of entries (for leak checks).
    pub(crate) fn len(&self) -> usize {
        self.by_addr.len() + self.by_ufrag.len()
    }
}

/// RFC 7983: STUN messages start with 0 or 1 and carry the magic cookie.
fn looks_like_stun(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] < 2 && datagram[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_garbage_datagrams_match_nothing() {
        let mut demux = Demux::default();
        demux.add_ufrag("abcd".into(), 3);
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(demux.lookup(addr, &[0u8; 3]), None);
        assert_eq!(demux.lookup(addr, &[0x80; 40]), None);
        let mut known = Vec::new();
        demux.learn_addr(addr, 3, &mut known);
        assert_eq!(demux.lookup(addr, &[0x80; 40]), Some(Match::Addr(3)));
        demux.remove("abcd", &known);
        assert_eq!(demux.len(), 0);
    }
}
