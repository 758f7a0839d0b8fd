//! The audio codecs and SDES crypto suites a SIP leg can use.

/// An audio codec Weft relays on SIP legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// Opus (RFC 7587), always `opus/48000/2` in SDP, dynamic payload type.
    Opus,
}

/// The RTP clock rate of RFC 4733 telephone events on SIP legs.
pub const TELEPHONE_EVENT_CLOCK_RATE: u32 = 8000;

/// The payload type Weft offers for `telephone-event/8000`.
pub const OFFER_TELEPHONE_EVENT_PT: u8 = 101;

/// The payload type Weft offers for Opus.
pub const OFFER_OPUS_PT: u8 = 96;

impl Codec {
    /// The encoding name in `a=rtpmap`.
    pub fn rtpmap_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Opus => "opus",
        }
    }

    /// The RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::Opus => 48000,
        }
    }

    /// The channel count written in `a=rtpmap` (Opus always says 2, RFC 7587 §7).
    pub fn rtpmap_channels(self) -> Option<u8> {
        match self {
            Codec::Pcmu | Codec::Pcma => None,
            Codec::Opus => Some(2),
        }
    }

    /// The static payload type (RFC 3551), if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::Opus => None,
        }
    }

    /// The payload type Weft uses for this codec in its own offers.
    pub fn offer_payload_type(self) -> u8 {
        self.static_payload_type().unwrap_or(OFFER_OPUS_PT)
    }

    /// The `a=rtpmap` value after the payload type, e.g. `opus/48000/2`.
    pub fn rtpmap_value(self) -> String {
        match self.rtpmap_channels() {
            Some(channels) => format!("{}/{}/{}", self.rtpmap_name(), self.clock_rate(), channels),
            None => format!("{}/{}", self.rtpmap_name(), self.clock_rate()),
        }
    }

    /// Identifies a codec from an SDP encoding (name compared case-insensitively, clock rate
    /// exact; an Opus rtpmap must say 2 channels, or none as lenient peers do).
    pub fn from_encoding(name: &str, clock_rate: u32, channels: Option<u8>) -> Option<Self> {
        let codec = [Codec::Pcmu, Codec::Pcma, Codec::Opus]
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.rtpmap_name()) && clock_rate == c.clock_rate())?;
        match (codec, channels) {
            (Codec::Opus, Some(n)) if n != 2 => None,
            (Codec::Pcmu | Codec::Pcma, Some(n)) if n != 1 => None,
            _ => Some(codec),
        }
    }

    /// Parses one entry of a SIP endpoint resource's `codecs` list: `PCMU`, `PCMA`, `OPUS`,
    /// optionally with `@`-suffixed parameters such as `OPUS@48000H@20I`; case-insensitive.
    /// Returns `None` for codecs Weft does not relay (e.g. `G722`).
    pub fn from_resource_name(name: &str) -> Option<Self> {
        let base = name.split('@').next().unwrap_or_default().trim();
        [Codec::Pcmu, Codec::Pcma, Codec::Opus]
            .into_iter()
            .find(|c| base.eq_ignore_ascii_case(c.rtpmap_name()))
    }

    /// Parses a SIP endpoint resource's `codecs` list, keeping order, skipping unknown entries
    /// and duplicates.
    pub fn list_from_resource_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Self> {
        let mut codecs = Vec::new();
        for codec in names.into_iter().filter_map(Codec::from_resource_name) {
            if !codecs.contains(&codec) {
                codecs.push(codec);
            }
        }
        codecs
    }
}

/// An SDES crypto suite (RFC 4568 §6.2, RFC 7714 §14.2) Weft accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// `AES_CM_128_HMAC_SHA1_80`
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`
    AesCm128HmacSha1_32,
    /// `AEAD_AES_128_GCM`
    AeadAes128Gcm,
}

impl CryptoSuite {
    /// All supported suites.
    pub const ALL: [CryptoSuite; 3] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The suite name used in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// Parses a suite name (case-insensitively; peers are not always exact).
    pub fn from_name(name: &str) -> Option<Self> {
        CryptoSuite::ALL
            .into_iter()
            .find(|s| name.eq_ignore_ascii_case(s.name()))
    }

    /// The length in bytes of the master key plus master salt that an `inline:` key carries
    /// (base64-encoded): 16 + 14 for the AES-CM suites, 16 + 12 for AES-GCM.
    pub fn key_and_salt_len(self) -> usize {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 | CryptoSuite::AesCm128HmacSha1_32 => 30,
            CryptoSuite::AeadAes128Gcm => 28,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_codec_names_parse_case_insensitively_and_skip_unknown() {
        let codecs = Codec::list_from_resource_names([
            "OPUS@48000H@20I",
            "g722",
            "pcmu",
            "PCMA",
            "PCMU",
            "",
            "@",
        ]);
        assert_eq!(codecs, vec![Codec::Opus, Codec::Pcmu, Codec::Pcma]);
    }

    #[test]
    fn encodings_match_name_rate_and_channels() {
        assert_eq!(
            Codec::from_encoding("OPUS", 48000, Some(2)),
            Some(Codec::Opus)
        );
        assert_eq!(Codec::from_encoding("opus", 48000, None), Some(Codec::Opus));
        assert_eq!(Codec::from_encoding("opus", 48000, Some(1)), None);
        assert_eq!(Codec::from_encoding("opus", 16000, Some(2)), None);
        assert_eq!(Codec::from_encoding("pcmu", 8000, None), Some(Codec::Pcmu));
        assert_eq!(
            Codec::from_encoding("PCMA", 8000, Some(1)),
            Some(Codec::Pcma)
        );
        assert_eq!(Codec::from_encoding("PCMA", 16000, None), None);
        assert_eq!(Codec::from_encoding("G722", 8000, None), None);
        assert_eq!(Codec::Opus.rtpmap_value(), "opus/48000/2");
        assert_eq!(Codec::Pcma.rtpmap_value(), "PCMA/8000");
    }

    #[test]
    fn crypto_suites_round_trip_by_name() {
        for suite in CryptoSuite::ALL {
            assert_eq!(CryptoSuite::from_name(suite.name()), Some(suite));
        }
        assert_eq!(
            CryptoSuite::from_name("aes_cm_128_hmac_sha1_80"),
            Some(CryptoSuite::AesCm128HmacSha1_80)
        );
        assert_eq!(CryptoSuite::from_name("F8_128_HMAC_SHA1_80"), None);
    }
}
