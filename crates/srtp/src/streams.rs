//! A small, bounded table of per-SSRC state.

use crate::error::SrtpError;

/// Most SSRCs one session tracks, per table.
pub(crate) const MAX_SSRCS: usize = 64;

/// Per-SSRC state, at most [`MAX_SSRCS`] entries, allocated once up front.
///
/// A linear scan over 64 entries of `u32` keys is as fast as hashing here, and the storage
/// never grows, so no packet allocates.
pub(crate) struct SsrcTable<T> {
    entries: Vec<(u32, T)>,
}

impl<T: Copy + Default> SsrcTable<T> {
    /// An empty table with room for [`MAX_SSRCS`] entries.
    pub(crate) fn new() -> SsrcTable<T> {
        SsrcTable {
            entries: Vec::with_capacity(MAX_SSRCS),
        }
    }

    /// The state of `ssrc`, if tracked.
    pub(crate) fn get(&self, ssrc: u32) -> Option<&T> {
        self.entries
            .iter()
            .find(|(key, _)| *key == ssrc)
            .map(|(_, state)| state)
    }

    /// A copy of the state of `ssrc`, or the initial state if it is not tracked but would fit.
    pub(crate) fn peek(&self, ssrc: u32) -> Result<T, SrtpError> {
        match self.get(ssrc) {
            Some(state) => Ok(*state),
            None if self.entries.len() < MAX_SSRCS => Ok(T::default()),
            None => Err(SrtpError::TooManySsrcs),
        }
    }

    /// The state of `ssrc`, tracking it from the initial state if it is new.
    pub(crate) fn get_or_insert(&mut self, ssrc: u32) -> Result<&mut T, SrtpError> {
        let position = match self.entries.iter().position(|(key, _)| *key == ssrc) {
            Some(position) => position,
            None if self.entries.len() < MAX_SSRCS => {
                self.entries.push((ssrc, T::default()));
                self.entries.len() - 1
            }
            None => return Err(SrtpError::TooManySsrcs),
        };
        Ok(&mut self.entries[position].1)
    }

    /// Stops tracking `ssrc`.
    pub(crate) fn remove(&mut self, ssrc: u32) {
        self.entries.retain(|(key, _)| *key != ssrc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_64_ssrcs() {
        let mut table = SsrcTable::<u32>::new();
        for ssrc in 0..MAX_SSRCS as u32 {
            *table.get_or_insert(ssrc).unwrap() = ssrc + 100;
        }
        assert_eq!(table.get_or_insert(1000), Err(SrtpError::TooManySsrcs));
        assert_eq!(table.peek(1000), Err(SrtpError::TooManySsrcs));
        assert_eq!(table.peek(5), Ok(105));
        assert_eq!(*table.get_or_insert(63).unwrap(), 163);

        table.remove(5);
        assert_eq!(table.get(5), None);
        assert_eq!(table.peek(1000), Ok(0));
        assert_eq!(*table.get_or_insert(1000).unwrap(), 0);
        assert_eq!(table.get(6), Some(&106));
    }
}
