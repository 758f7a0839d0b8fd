//! Walking a compound RTCP packet and yielding the feedback Weft acts on.

use std::iter::FusedIterator;

use crate::ParseError;
use crate::header::{
    self, PAYLOAD_FEEDBACK, Packet, RECEIVER_REPORT, SENDER_REPORT, TRANSPORT_FEEDBACK, take_u32,
};
use crate::keyframe::{FIR_FMT, Fir, PLI_FMT, Pli};
use crate::nack::{NACK_FMT, Nack};
use crate::report::{BLOCK_LEN, ReceptionReport};

/// Length of the sender info that follows the SSRC of a sender report.
const SENDER_INFO_LEN: usize = 20;

/// One piece of feedback from a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback<'a> {
    /// One reception report block of a sender or receiver report.
    ReceptionReport(ReceptionReport),
    /// A generic NACK packet with all its entries.
    Nack(Nack<'a>),
    /// A picture loss indication.
    Pli(Pli),
    /// One entry of a full intra request.
    Fir(Fir),
}

/// Parses a plain (already unprotected) compound RTCP packet, or a reduced-size one
/// (RFC 5506) such as a lone NACK or PLI.
///
/// The iterator yields each reception report block, NACK, PLI and FIR entry in packet order
/// and skips every other packet (SDES, BYE, APP, XR, other feedback such as TWCC and REMB).
/// At the first malformed packet it yields one `Err` and then ends; what came before has
/// already been yielded. It never allocates.
pub fn parse(compound: &[u8]) -> Feedbacks<'_> {
    Feedbacks {
        rest: compound,
        open: Open::Nothing,
    }
}

/// Iterator over the feedback of a compound RTCP packet, from [`parse`].
#[derive(Debug, Clone)]
pub struct Feedbacks<'a> {
    /// The packets not yet started.
    rest: &'a [u8],
    /// The packet whose entries are being yielded.
    open: Open<'a>,
}

/// A packet that yields one item per entry, with the entries still to yield.
#[derive(Debug, Clone, Copy)]
enum Open<'a> {
    Nothing,
    ReceptionReports {
        reporter_ssrc: u32,
        blocks: &'a [u8],
    },
    FirEntries {
        sender_ssrc: u32,
        entries: &'a [u8],
    },
}

impl<'a> Feedbacks<'a> {
    /// The next entry of the open packet, if any is left.
    fn next_entry(&mut self) -> Option<Feedback<'a>> {
        let entry = match &mut self.open {
            Open::Nothing => None,
            Open::ReceptionReports {
                reporter_ssrc,
                blocks,
            } => ReceptionReport::take(*reporter_ssrc, blocks).map(Feedback::ReceptionReport),
            Open::FirEntries {
                sender_ssrc,
                entries,
            } => Fir::take(*sender_ssrc, entries).map(Feedback::Fir),
        };
        if entry.is_none() {
            self.open = Open::Nothing;
        }
        entry
    }

    /// Reads a packet: yields it when it is one item, opens it when it has entries, skips
    /// it when Weft does not act on its type.
    fn read(&mut self, packet: Packet<'a>) -> Result<Option<Feedback<'a>>, ParseError> {
        match (packet.packet_type, packet.count) {
            (SENDER_REPORT, count) => self.open_reports(packet.body, SENDER_INFO_LEN, count),
            (RECEIVER_REPORT, count) => self.open_reports(packet.body, 0, count),
            (TRANSPORT_FEEDBACK, NACK_FMT) => Ok(Some(Feedback::Nack(Nack::parse(packet.body)?))),
            (PAYLOAD_FEEDBACK, PLI_FMT) => Ok(Some(Feedback::Pli(Pli::parse(packet.body)?))),
            (PAYLOAD_FEEDBACK, FIR_FMT) => {
                let (sender_ssrc, entries) = Fir::parse(packet.body)?;
                self.open = Open::FirEntries {
                    sender_ssrc,
                    entries,
                };
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Opens the report blocks of an SR or RR: after the reporter's SSRC and `skip` bytes
    /// come `count` blocks.
    fn open_reports(
        &mut self,
        body: &'a [u8],
        skip: usize,
        count: u8,
    ) -> Result<Option<Feedback<'a>>, ParseError> {
        let mut rest = body;
        let reporter_ssrc = take_u32(&mut rest).ok_or(ParseError::TooShort)?;
        let blocks = rest
            .get(skip..skip + usize::from(count) * BLOCK_LEN)
            .ok_or(ParseError::TooShort)?;
        self.open = Open::ReceptionReports {
            reporter_ssrc,
            blocks,
        };
        Ok(None)
    }

    /// Ends the iteration after a malformed packet.
    fn fail(&mut self, error: ParseError) -> Option<Result<Feedback<'a>, ParseError>> {
        self.rest = &[];
        self.open = Open::Nothing;
        Some(Err(error))
    }
}

impl<'a> Iterator for Feedbacks<'a> {
    type Item = Result<Feedback<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.next_entry() {
                return Some(Ok(entry));
            }
            if self.rest.is_empty() {
                return None;
            }
            // Every pass consumes at least the 4-byte header of a packet, or ends.
            let (packet, rest) = match header::split_first(self.rest) {
                Ok(split) => split,
                Err(error) => return self.fail(error),
            };
            self.rest = rest;
            match self.read(packet) {
                Ok(Some(item)) => return Some(Ok(item)),
                Ok(None) => {}
                Err(error) => return self.fail(error),
            }
        }
    }
}

impl FusedIterator for Feedbacks<'_> {}
