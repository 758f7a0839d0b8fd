//! Outgoing text messages as WebSocket frames: a long message goes out fragmented (RFC 6455
//! §5.4), so the connection's write buffer never holds more than one fragment.
//!
//! Each fragment is a write to the socket of its own: weft's listeners turn Nagle's algorithm off
//! (`TCP_NODELAY`), else every fragment after the first would wait for the client's delayed ACK.

use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// Largest payload of one outgoing frame, in bytes. tungstenite formats every frame whole into
/// its per-connection write buffer, a `Vec` that keeps the capacity of the largest frame it ever
/// held: a room join event listing a 100-member room (~40 KB of JSON) left ~48 KiB resident on
/// every connection. Longer messages go out as fragments of at most this size (one frame header,
/// 4 bytes, per 4 KiB: 0.1 %), which bounds that buffer to a fragment; clients reassemble them.
pub(super) const FRAGMENT_BYTES: usize = 4 * 1024;

/// The frames of the text message `text`: one text frame if it fits in [`FRAGMENT_BYTES`], else
/// a text frame without FIN, continuation frames and a last continuation frame with FIN. Every
/// payload is at most [`FRAGMENT_BYTES`] long and holds whole characters (receivers validate the
/// UTF-8 of the whole message, but a fragment that is valid on its own suits every client).
/// The payloads share `text`'s allocation.
pub(super) fn text_frames(text: String) -> impl Iterator<Item = Frame> {
    let text = Utf8Bytes::from(text);
    let bytes = Bytes::from(text.clone());
    let mut next = Some(0);
    std::iter::from_fn(move || {
        let start = next?;
        // FRAGMENT_BYTES exceeds the longest character (4 bytes), so every fragment is nonempty.
        let end = text.floor_char_boundary(start + FRAGMENT_BYTES);
        let is_final = end == text.len();
        next = (!is_final).then_some(end);
        let opcode = if start == 0 {
            Data::Text
        } else {
            Data::Continue
        };
        Some(Frame::message(
            bytes.slice(start..end),
            OpCode::Data(opcode),
            is_final,
        ))
    })
}

/// Writes the text message `text` to `sink` as [`text_frames`] and flushes it.
pub(super) async fn send_text<S>(sink: &mut S, text: String) -> Result<(), S::Error>
where
    S: Sink<Message> + Unpin,
{
    for frame in text_frames(text) {
        sink.feed(Message::Frame(frame)).await?;
    }
    sink.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (opcode, FIN, payload) of each frame.
    fn frames(text: &str) -> Vec<(OpCode, bool, Vec<u8>)> {
        text_frames(text.to_owned())
            .map(|f| (f.header().opcode, f.header().is_final, f.payload().to_vec()))
            .collect()
    }

    const TEXT: OpCode = OpCode::Data(Data::Text);
    const CONTINUE: OpCode = OpCode::Data(Data::Continue);

    #[test]
    fn a_short_message_is_one_text_frame() {
        assert_eq!(frames(""), [(TEXT, true, vec![])]);
        assert_eq!(frames("{}"), [(TEXT, true, b"{}".to_vec())]);
        let full = "é".repeat(FRAGMENT_BYTES / 2);
        assert_eq!(frames(&full), [(TEXT, true, full.clone().into_bytes())]);
    }

    #[test]
    fn a_long_message_is_fragmented_on_character_boundaries() {
        // 1-, 2-, 3- and 4-byte characters, so that fragment ends fall inside characters.
        let text = "a€é😀".repeat(100_000 / 10);
        let frames = frames(&text);
        assert!(frames.len() > 100_000 / FRAGMENT_BYTES, "{}", frames.len());
        let mut whole = Vec::new();
        for (i, (opcode, is_final, payload)) in frames.iter().enumerate() {
            let first = i == 0;
            let last = i == frames.len() - 1;
            assert_eq!(*opcode, if first { TEXT } else { CONTINUE }, "frame {i}");
            assert_eq!(*is_final, last, "frame {i}");
            assert!(payload.len() <= FRAGMENT_BYTES, "frame {i}");
            // A fragment ends at most 3 bytes short of the limit, inside the last character.
            assert!(last || payload.len() > FRAGMENT_BYTES - 4, "frame {i}");
            assert!(std::str::from_utf8(payload).is_ok(), "frame {i}");
            whole.extend_from_slice(payload);
        }
        assert_eq!(whole, text.as_bytes());
        let inner = &frames[..frames.len() - 1];
        assert!(
            inner.iter().any(|f| f.2.len() < FRAGMENT_BYTES),
            "some fragment limit falls inside a character"
        );
    }

    #[test]
    fn no_frame_needs_more_than_a_fragment_of_write_buffer() {
        let text = "x".repeat(10 * FRAGMENT_BYTES + 1);
        // The header of a 126..=65535-byte payload from the server (unmasked) is 4 bytes.
        assert!(text_frames(text).all(|f| f.len() <= FRAGMENT_BYTES + 4));
    }

    #[tokio::test]
    async fn send_text_feeds_every_frame() {
        let mut sink: Vec<Message> = Vec::new();
        let text = "y".repeat(3 * FRAGMENT_BYTES);
        send_text(&mut sink, text.clone()).await.unwrap();
        let payloads: Vec<Bytes> = sink
            .into_iter()
            .map(|m| match m {
                Message::Frame(f) => f.into_payload(),
                other => panic!("not a frame: {other:?}"),
            })
            .collect();
        assert_eq!(payloads.len(), 3);
        assert_eq!(payloads.concat(), text.as_bytes());
    }
}
