//! What the builders write, str0m's RTCP parser (`Rtcp::try_from`, public API) reads as the
//! same reports. str0m's serialisation is private, so the other direction is covered by the
//! hand-written vectors instead.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{XorShift, packet_ends};
use str0m::rtp::SeqNo;
use str0m::rtp::rtcp::{Rtcp, SdesType};
use weft_rtcp::{SenderInfo, append_nack, append_pli, append_sender_report, ntp_timestamp};

/// Each packet of a compound packet, as str0m reads it.
fn str0m_packets(compound: &[u8]) -> Vec<Rtcp> {
    let mut start = 0;
    packet_ends(compound)
        .into_iter()
        .map(|end| {
            let packet = &compound[start..end];
            start = end;
            Rtcp::try_from(packet).unwrap_or_else(|error| panic!("{error}: {packet:02x?}"))
        })
        .collect()
}

#[test]
fn str0m_reads_our_sender_reports_and_cnames() {
    let mut rng = XorShift::new(0x0057_0001);
    let mut out = Vec::new();
    for _ in 0..1_000 {
        // Any instant from 1970 to the end of NTP era 0 in 2036, to the microsecond (str0m
        // reads era 0 only).
        let era_0_micros = ((1 << 32) - 2_208_988_800) * 1_000_000;
        let time = UNIX_EPOCH + Duration::from_micros(rng.next_u64() % era_0_micros);
        let info = SenderInfo {
            ssrc: rng.next_u32(),
            ntp_timestamp: ntp_timestamp(time),
            rtp_timestamp: rng.next_u32(),
            packet_count: rng.next_u32(),
            octet_count: rng.next_u32(),
        };
        let cname: String = (0..1 + rng.below(64))
            .map(|_| char::from(b'!' + rng.below(94) as u8))
            .collect();
        out.clear();
        append_sender_report(&mut out, &info, &cname).unwrap();

        let [
            Rtcp::SenderReport(report),
            Rtcp::SourceDescription(descriptions),
        ] = &str0m_packets(&out)[..]
        else {
            panic!("not an SR and an SDES: {out:02x?}");
        };
        let sender = report.sender_info;
        assert_eq!(*sender.ssrc, info.ssrc);
        assert_eq!(sender.rtp_time.numer(), u64::from(info.rtp_timestamp));
        assert_eq!(sender.sender_packet_count, info.packet_count);
        assert_eq!(sender.sender_octet_count, info.octet_count);
        assert!(report.reports.is_empty());
        // str0m converts through an f64; a microsecond covers its rounding.
        let difference = match sender.ntp_time.duration_since(time) {
            Ok(later) => later,
            Err(earlier) => earlier.duration(),
        };
        assert!(
            difference <= Duration::from_micros(1),
            "{time:?} read as {:?}",
            sender.ntp_time
        );

        assert_eq!(descriptions.reports.len(), 1);
        let chunk = descriptions.reports.get(0).unwrap();
        assert_eq!(*chunk.ssrc, info.ssrc);
        let values: Vec<_> = chunk.values.iter().collect();
        assert_eq!(values, [&(SdesType::CNAME, cname)]);
    }
}

#[test]
fn str0m_reads_the_sequence_numbers_of_our_nacks() {
    let mut rng = XorShift::new(0x0057_0002);
    let mut out = Vec::new();
    for _ in 0..5_000 {
        let mut sequence = rng.next_u16();
        // str0m keeps at most 31 entries of a NACK; stay within them.
        let lost: Vec<u16> = (0..1 + rng.below(31))
            .map(|_| {
                sequence = sequence.wrapping_add(1 + rng.below(30) as u16);
                sequence
            })
            .collect();
        let (sender_ssrc, media_ssrc) = (rng.next_u32(), rng.next_u32());
        out.clear();
        append_nack(&mut out, sender_ssrc, media_ssrc, lost.iter().copied()).unwrap();

        let [Rtcp::Nack(nack)] = &str0m_packets(&out)[..] else {
            panic!("not a NACK: {out:02x?}");
        };
        assert_eq!(*nack.sender_ssrc, sender_ssrc);
        assert_eq!(*nack.ssrc, media_ssrc);
        let read: Vec<u16> = nack
            .reports
            .iter()
            .flat_map(|entry| entry.into_iter(SeqNo::from(u64::from(entry.pid))))
            .map(|sequence| *sequence as u16)
            .collect();
        assert_eq!(read, lost);
    }
}

#[test]
fn str0m_reads_our_plis() {
    let mut out = Vec::new();
    append_pli(&mut out, 0x0102_0304, 0xfffe_fdfc);
    let [Rtcp::Pli(pli)] = &str0m_packets(&out)[..] else {
        panic!("not a PLI: {out:02x?}");
    };
    assert_eq!(*pli.sender_ssrc, 0x0102_0304);
    assert_eq!(*pli.ssrc, 0xfffe_fdfc);
}

#[test]
fn ntp_timestamps_match_str0m_at_the_present() {
    let now = SystemTime::now();
    let mut out = Vec::new();
    let info = SenderInfo {
        ssrc: 1,
        ntp_timestamp: ntp_timestamp(now),
        rtp_timestamp: 0,
        packet_count: 0,
        octet_count: 0,
    };
    append_sender_report(&mut out, &info, "now").unwrap();
    let [Rtcp::SenderReport(report), _] = &str0m_packets(&out)[..] else {
        panic!("not an SR and an SDES: {out:02x?}");
    };
    let read = report.sender_info.ntp_time;
    let difference = read.duration_since(now).unwrap_or_else(|e| e.duration());
    assert!(
        difference <= Duration::from_micros(1),
        "{now:?} read as {read:?}"
    );
}
