//! The DTMF keys scripts use: what `prompt` collects and its `terminators` name, and what
//! `send_digits` may send.

/// The sixteen DTMF keys.
pub const KEYS: &str = "0123456789*#ABCD";

/// What `send_digits` may send: the keys and the waits `w` (0.5 s) and `W` (1 s).
pub const SEND_DIGITS: &str = "0123456789*#ABCDwW";

/// Whether `c` is a DTMF key.
pub fn is_key(c: char) -> bool {
    KEYS.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_digits_are_the_keys_and_the_waits() {
        assert_eq!(SEND_DIGITS, format!("{KEYS}wW"));
        assert!(is_key('7') && is_key('#') && is_key('D'));
        assert!(!is_key('d') && !is_key('w') && !is_key('E'));
    }
}
