//! Which address a plain-RTP leg accepts media from and sends to: safe symmetric-RTP latching.
//!
//! Without a rule, anyone who sends RTP to a leg's port can take its audio ("RTP bleed"). So:
//!
//! - The leg's **source** is the address its SDP named ([`Latch::set_remote`]), until a packet
//!   locks another one.
//! - A **learning window** ([`LATCH_WINDOW`] by default) opens when the leg gets its SDP remote,
//!   or when it is created without one. Inside it, the first valid RTP packet of the leg's payload
//!   type or telephone-event type **locks** its source address and SSRC, wherever it comes from
//!   (a phone behind NAT sends from another address than its SDP says: symmetric RTP).
//! - Once locked, or once the window has passed, datagrams from any other address are
//!   **foreign**: dropped and counted. A different SSRC from the locked address is the same peer
//!   restarting its stream (a re-INVITE, a transfer behind a B2BUA): accepted, and the new SSRC
//!   is locked.
//! - On SRTP legs, a packet whose SRTP authentication verified (`authenticated`) may move the
//!   lock to its address at any time — only the holder of the keys can make one (packets that
//!   fail never reach the latch). Plain RTP passes `false`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long after a leg gets its SDP remote (or is created without one) it may latch onto the
/// source of the RTP it receives.
pub(crate) const LATCH_WINDOW: Duration = Duration::from_secs(2);

/// A leg's source address: from its SDP, or locked by the first valid packet of its window.
#[derive(Debug, Clone)]
pub(crate) struct Latch {
    /// The address the remote SDP named.
    sdp: Option<SocketAddr>,
    /// The source that locked, and its SSRC.
    locked: Option<(SocketAddr, u32)>,
    /// Until when a packet from a new address may lock.
    window_end: Instant,
    window: Duration,
}

/// What to do with a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// From the leg's source: handle it.
    Source,
    /// It locked (or moved) the leg's source to its address: handle it; the leg now sends there.
    Latched,
    /// The leg has no source yet and the datagram cannot give it one (not the leg's RTP): it
    /// matches nothing.
    Unmatched,
    /// From another address than the leg's source, and not allowed to latch: drop and count it.
    Foreign,
}

impl Latch {
    /// A latch whose window opens at `now`, with the SDP remote if known.
    pub(crate) fn new(sdp: Option<SocketAddr>, now: Instant, window: Duration) -> Self {
        Self {
            sdp,
            locked: None,
            window_end: now + window,
            window,
        }
    }

    /// The remote SDP (re)named the leg's address (`None`: not known): forgets the lock and opens
    /// a new learning window.
    pub(crate) fn set_remote(&mut self, sdp: Option<SocketAddr>, now: Instant) {
        self.sdp = sdp;
        self.locked = None;
        self.window_end = now + self.window;
    }

    /// Where the leg sends: the locked source, else the SDP address.
    pub(crate) fn remote(&self) -> Option<SocketAddr> {
        self.locked.map(|(addr, _)| addr).or(self.sdp)
    }

    /// Decides on a datagram from `from`; `rtp_ssrc` is its SSRC when it is a valid RTP packet of
    /// the leg's payload type or telephone-event type (only those may latch). `authenticated`:
    /// its SRTP authentication verified (always `false` for plain RTP).
    pub(crate) fn admit(
        &mut self,
        from: SocketAddr,
        rtp_ssrc: Option<u32>,
        authenticated: bool,
        now: Instant,
    ) -> Admission {
        let source = self.remote();
        if source == Some(from) {
            if let Some(ssrc) = rtp_ssrc {
                self.locked = Some((from, ssrc));
            }
            return Admission::Source;
        }
        match rtp_ssrc {
            Some(ssrc) if authenticated || self.may_learn(now) => {
                self.locked = Some((from, ssrc));
                Admission::Latched
            }
            None if source.is_none() => Admission::Unmatched,
            _ => Admission::Foreign,
        }
    }

    /// Whether a packet from a new address may lock now: nothing locked yet and the window open.
    fn may_learn(&self, now: Instant) -> bool {
        self.locked.is_none() && now < self.window_end
    }

    /// The locked SSRC, if a source locked.
    pub(crate) fn locked_ssrc(&self) -> Option<u32> {
        self.locked.map(|(_, ssrc)| ssrc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_first_valid_packet_in_the_window_locks_and_strangers_are_foreign() {
        let t0 = Instant::now();
        let mut l = Latch::new(Some(addr(5000)), t0, LATCH_WINDOW);
        assert_eq!(l.remote(), Some(addr(5000)));
        // Not the leg's RTP: cannot latch, and the leg has a source, so it is foreign.
        assert_eq!(l.admit(addr(6000), None, false, t0), Admission::Foreign);
        // A NATed phone: its first packet comes from elsewhere and wins.
        assert_eq!(
            l.admit(addr(6000), Some(7), false, t0 + MS),
            Admission::Latched
        );
        assert_eq!((l.remote(), l.locked_ssrc()), (Some(addr(6000)), Some(7)));
        // Locked: neither a stranger nor the SDP address may take it, even inside the window.
        assert_eq!(
            l.admit(addr(6001), Some(8), false, t0 + MS),
            Admission::Foreign
        );
        assert_eq!(
            l.admit(addr(5000), Some(7), false, t0 + MS),
            Admission::Foreign
        );
        assert_eq!(l.admit(addr(6000), None, false, t0 + MS), Admission::Source);
        assert_eq!(l.remote(), Some(addr(6000)));
    }

    #[test]
    fn the_sdp_address_stays_the_source_after_the_window_when_nothing_locked() {
        let t0 = Instant::now();
        let mut l = Latch::new(Some(addr(5000)), t0, LATCH_WINDOW);
        let late = t0 + LATCH_WINDOW;
        assert_eq!(
            l.admit(addr(6000), Some(1), false, late),
            Admission::Foreign
        );
        assert_eq!(l.remote(), Some(addr(5000)));
        assert_eq!(l.admit(addr(5000), Some(2), false, late), Admission::Source);
        assert_eq!(l.locked_ssrc(), Some(2));
    }

    #[test]
    fn without_sdp_only_the_window_may_give_a_source() {
        let t0 = Instant::now();
        let mut l = Latch::new(None, t0, Duration::from_millis(100));
        assert_eq!(l.admit(addr(6000), None, false, t0), Admission::Unmatched);
        let late = t0 + Duration::from_millis(100);
        assert_eq!(
            l.admit(addr(6000), Some(1), false, late),
            Admission::Foreign
        );
        assert_eq!(l.remote(), None);
        // A new SDP remote opens a new window.
        l.set_remote(None, late);
        assert_eq!(
            l.admit(addr(6000), Some(1), false, late + MS),
            Admission::Latched
        );
        assert_eq!(l.remote(), Some(addr(6000)));
    }

    #[test]
    fn the_locked_address_may_change_its_ssrc() {
        let t0 = Instant::now();
        let mut l = Latch::new(None, t0, LATCH_WINDOW);
        assert_eq!(l.admit(addr(6000), Some(1), false, t0), Admission::Latched);
        let late = t0 + 2 * LATCH_WINDOW;
        assert_eq!(l.admit(addr(6000), Some(2), false, late), Admission::Source);
        assert_eq!(l.locked_ssrc(), Some(2));
    }

    #[test]
    fn a_new_remote_forgets_the_lock() {
        let t0 = Instant::now();
        let mut l = Latch::new(None, t0, LATCH_WINDOW);
        assert_eq!(l.admit(addr(6000), Some(1), false, t0), Admission::Latched);
        l.set_remote(Some(addr(5000)), t0 + MS);
        assert_eq!(l.remote(), Some(addr(5000)));
        assert_eq!(l.locked_ssrc(), None);
        assert_eq!(
            l.admit(addr(6001), Some(3), false, t0 + MS),
            Admission::Latched
        );
        assert_eq!(l.remote(), Some(addr(6001)));
    }

    #[test]
    fn an_authenticated_source_may_re_latch_at_any_time() {
        let t0 = Instant::now();
        let mut l = Latch::new(Some(addr(5000)), t0, LATCH_WINDOW);
        assert_eq!(l.admit(addr(5000), Some(1), false, t0), Admission::Source);
        let late = t0 + 2 * LATCH_WINDOW;
        assert_eq!(
            l.admit(addr(6000), Some(1), false, late),
            Admission::Foreign
        );
        assert_eq!(l.admit(addr(6000), Some(1), true, late), Admission::Latched);
        assert_eq!(l.remote(), Some(addr(6000)));
    }
}
