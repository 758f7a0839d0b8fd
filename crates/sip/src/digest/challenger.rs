//! Issuing Digest challenges and verifying the answers to them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::algorithm::{Algorithm, Ha1Set};
use super::credentials::Credentials;
use super::hmac::hmac_sha256;

/// How long a nonce stays fresh by default, in seconds.
pub const DEFAULT_MAX_NONCE_AGE_SECS: u64 = 300;

/// The nonce: an 8-byte big-endian issue time followed by a 32-byte HMAC.
const NONCE_BYTES: usize = 8 + 32;

/// The outcome of checking credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are correct.
    Ok,
    /// The credentials are correct but the nonce has expired: re-challenge with
    /// `stale=true` so the client retries without asking its user.
    Stale,
    /// Wrong password, forged or foreign nonce, wrong realm, or unsupported parameters:
    /// re-challenge (or refuse).
    Invalid,
}

/// Issues challenges for one realm and verifies credentials against them.
///
/// Nonces are stateless: base64url (no padding) of the issue time in Unix seconds (8 bytes,
/// big-endian) followed by HMAC-SHA256(secret, time || realm). A nonce is therefore accepted
/// only if this server (or one sharing its secret) issued it for this realm, and it expires
/// after the maximum age.
///
/// Nonce counts are not tracked, so a captured `Authorization` value can be replayed until
/// its nonce expires. Tracking would need shared state keyed by nonce and cnonce (nonces
/// issued in the same second are identical), and SIP retransmissions legitimately repeat the
/// same credentials until the transaction layer absorbs them; the exposure is bounded by the
/// nonce age, and TLS transport removes it.
#[derive(Clone)]
pub struct Challenger {
    realm: String,
    secret: [u8; 32],
    opaque: Option<String>,
    max_nonce_age_secs: u64,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenger")
            .field("realm", &self.realm)
            .field("opaque", &self.opaque)
            .field("max_nonce_age_secs", &self.max_nonce_age_secs)
            .finish_non_exhaustive()
    }
}

impl Challenger {
    /// A challenger for `realm`, signing nonces with `secret` (32 bytes from a CSPRNG, kept
    /// for the server's lifetime or shared by the servers of a cluster).
    pub fn new(realm: impl Into<String>, secret: [u8; 32]) -> Self {
        Challenger {
            realm: realm.into(),
            secret,
            opaque: None,
            max_nonce_age_secs: DEFAULT_MAX_NONCE_AGE_SECS,
        }
    }

    /// Adds an `opaque` parameter to challenges; credentials must then echo it.
    pub fn with_opaque(mut self, opaque: impl Into<String>) -> Self {
        self.opaque = Some(opaque.into());
        self
    }

    /// Sets how long a nonce stays fresh, in seconds.
    pub fn with_max_nonce_age(mut self, secs: u64) -> Self {
        self.max_nonce_age_secs = secs;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Header values for `WWW-Authenticate` (401) or `Proxy-Authenticate` (407), one per
    /// algorithm in the order given (RFC 8760 §2.4 recommends SHA-256 first; many deployed
    /// clients answer only the first challenge and know only MD5), each with `qop="auth"` and
    /// the same fresh nonce; `stale=true` when re-challenging a stale nonce.
    pub fn challenge(
        &self,
        now_unix_secs: u64,
        stale: bool,
        algorithms: &[Algorithm],
    ) -> Vec<String> {
        let nonce = self.nonce(now_unix_secs);
        let mut seen = Vec::new();
        algorithms
            .iter()
            .copied()
            .filter(|algorithm| {
                let first = !seen.contains(algorithm);
                seen.push(*algorithm);
                first
            })
            .map(|algorithm| {
                let mut value = format!(
                    "Digest realm={}, nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
                    quote(&self.realm),
                    algorithm.name()
                );
                if let Some(opaque) = &self.opaque {
                    value.push_str(", opaque=");
                    value.push_str(&quote(opaque));
                }
                if stale {
                    value.push_str(", stale=true");
                }
                value
            })
            .collect()
    }

    /// Checks credentials for a request with `method`, against the user's stored HA1 values.
    ///
    /// Checks, in order: the realm, the nonce's HMAC, the `opaque` value (if configured), that
    /// an HA1 is stored for the algorithm, the qop (`auth` with `nc` and `cnonce`, or none),
    /// then the response in constant time. Only correct credentials can be [`Verdict::Stale`].
    /// The caller looks up `ha1` by `credentials.username` (an unknown user is `Invalid` too)
    /// and may check `credentials.uri` against the Request-URI.
    pub fn verify(
        &self,
        credentials: &Credentials,
        method: &str,
        ha1: &Ha1Set,
        now_unix_secs: u64,
    ) -> Verdict {
        if credentials.realm != self.realm {
            return Verdict::Invalid;
        }
        let Some(issued) = self.nonce_issue_time(&credentials.nonce) else {
            return Verdict::Invalid;
        };
        if let Some(opaque) = &self.opaque
            && credentials.opaque.as_deref() != Some(opaque.as_str())
        {
            return Verdict::Invalid;
        }
        let Some(stored) = ha1.get(credentials.algorithm) else {
            return Verdict::Invalid;
        };
        let Some(expected) = expected_response(credentials, method, stored) else {
            return Verdict::Invalid;
        };
        let given = credentials.response.to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Verdict::Invalid;
        }
        let age = now_unix_secs.abs_diff(issued);
        if age > self.max_nonce_age_secs {
            Verdict::Stale
        } else {
            Verdict::Ok
        }
    }

    fn nonce(&self, now_unix_secs: u64) -> String {
        let time = now_unix_secs.to_be_bytes();
        let mac = hmac_sha256(&self.secret, &[&time, self.realm.as_bytes()]);
        let mut raw = [0u8; NONCE_BYTES];
        raw[..8].copy_from_slice(&time);
        raw[8..].copy_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The issue time of a nonce this challenger made, `None` for anything else.
    fn nonce_issue_time(&self, nonce: &str) -> Option<u64> {
        if nonce.len() != (NONCE_BYTES * 4).div_ceil(3) {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        let (time, mac) = raw.split_first_chunk::<8>()?;
        let expected = hmac_sha256(&self.secret, &[time, self.realm.as_bytes()]);
        bool::from(expected.ct_eq(mac)).then(|| u64::from_be_bytes(*time))
    }
}

/// The response a client knowing the password computes (RFC 2617 §3.2.2.1, RFC 7616
/// §3.4.1), from the stored HA1; `None` for an unsupported qop or a missing `nc`/`cnonce`.
fn expected_response(credentials: &Credentials, method: &str, stored_ha1: &str) -> Option<String> {
    let algorithm = credentials.algorithm;
    let ha1 = stored_ha1.to_ascii_lowercase();
    let ha2 = algorithm.hex_digest(&[method, &credentials.uri]);
    match credentials.qop.as_deref() {
        None => Some(algorithm.hex_digest(&[&ha1, &credentials.nonce, &ha2])),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let nc = credentials.nc.as_deref()?;
            let cnonce = credentials.cnonce.as_deref()?;
            if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) || cnonce.is_empty() {
                return None;
            }
            Some(algorithm.hex_digest(&[&ha1, &credentials.nonce, nc, cnonce, qop, &ha2]))
        }
        Some(_) => None,
    }
}

/// A quoted-string, escaping `"` and `\` and dropping control characters.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::parse_credentials;

    const NOW: u64 = 1_780_000_000;
    const SECRET: [u8; 32] = [7; 32];

    fn challenger() -> Challenger {
        Challenger::new("weft.example", SECRET)
    }

    /// Extracts a quoted parameter from one of our challenge values.
    fn challenge_param(challenge: &str, name: &str) -> String {
        let start = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + challenge[start..].find('"').unwrap();
        challenge[start..end].to_owned()
    }

    /// What a SIP client sends back: `Authorization` for `method` to `uri`.
    fn client_authorization(
        challenge: &str,
        algorithm: Algorithm,
        password: &str,
        method: &str,
    ) -> String {
        let realm = challenge_param(challenge, "realm");
        let nonce = challenge_param(challenge, "nonce");
        let uri = "sip:bob@weft.example";
        let ha1 = algorithm.hex_digest(&["alice", &realm, password]);
        let ha2 = algorithm.hex_digest(&[method, uri]);
        let response = algorithm.hex_digest(&[&ha1, &nonce, "00000001", "c1ient", "auth", &ha2]);
        format!(
            "Digest username=\"alice\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={}, qop=auth, nc=00000001, cnonce=\"c1ient\"",
            algorithm.name()
        )
    }

    fn alice() -> Ha1Set {
        Ha1Set::compute("alice", "weft.example", "s3cret")
    }

    #[test]
    fn rfc2617_md5_example() {
        let credentials = parse_credentials(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"",
        )
        .unwrap();
        let ha1 = Ha1Set::compute("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(
            expected_response(&credentials, "GET", ha1.md5.as_deref().unwrap()).as_deref(),
            Some("6629fae49393a05397450978507c4ef1")
        );
    }

    #[test]
    fn rfc7616_sha256_example() {
        let credentials = parse_credentials(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        let ha1 = Ha1Set::compute("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            expected_response(&credentials, "GET", ha1.sha256.as_deref().unwrap()).as_deref(),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
    }

    #[test]
    fn challenges_list_the_algorithms_in_the_order_given() {
        let challenger = challenger().with_opaque("op\"aque");
        let values = challenger.challenge(NOW, false, &[Algorithm::Sha256, Algorithm::Md5]);
        let nonce = challenge_param(&values[0], "nonce");
        assert_eq!(nonce.len(), 54);
        assert_eq!(
            values,
            [
                format!(
                    "Digest realm=\"weft.example\", nonce=\"{nonce}\", algorithm=SHA-256, \
                     qop=\"auth\", opaque=\"op\\\"aque\""
                ),
                format!(
                    "Digest realm=\"weft.example\", nonce=\"{nonce}\", algorithm=MD5, \
                     qop=\"auth\", opaque=\"op\\\"aque\""
                ),
            ]
        );
        let stale = challenger.challenge(NOW, true, &[Algorithm::Md5]);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].contains("algorithm=MD5"));
        assert!(stale[0].ends_with(", stale=true"));
        assert!(challenger.challenge(NOW, false, &[]).is_empty());
    }

    #[test]
    fn our_challenges_verify_with_both_algorithms() {
        let challenger = challenger();
        for (index, challenge) in challenger
            .challenge(NOW, false, &Algorithm::PREFERENCE)
            .iter()
            .enumerate()
        {
            let algorithm = Algorithm::PREFERENCE[index];
            let header = client_authorization(challenge, algorithm, "s3cret", "INVITE");
            let credentials = parse_credentials(&header).unwrap();
            assert_eq!(credentials.algorithm, algorithm);
            assert_eq!(
                challenger.verify(&credentials, "INVITE", &alice(), NOW + 10),
                Verdict::Ok
            );
            assert_eq!(
                challenger.verify(&credentials, "REGISTER", &alice(), NOW + 10),
                Verdict::Invalid,
                "the method is covered by the response"
            );
            let wrong = parse_credentials(&client_authorization(
                challenge, algorithm, "guess", "INVITE",
            ))
            .unwrap();
            assert_eq!(
                challenger.verify(&wrong, "INVITE", &alice(), NOW + 10),
                Verdict::Invalid
            );
            let mut upper = credentials.clone();
            upper.response = upper.response.to_ascii_uppercase();
            assert_eq!(
                challenger.verify(&upper, "INVITE", &alice(), NOW),
                Verdict::Ok
            );
        }
    }

    #[test]
    fn expired_nonces_are_stale_only_for_correct_credentials() {
        let challenger = challenger();
        let challenge = &challenger.challenge(NOW, false, &[Algorithm::Sha256])[0];
        let good = parse_credentials(&client_authorization(
            challenge,
            Algorithm::Sha256,
            "s3cret",
            "INVITE",
        ))
        .unwrap();
        let bad = parse_credentials(&client_authorization(
            challenge,
            Algorithm::Sha256,
            "nope",
            "INVITE",
        ))
        .unwrap();
        let limit = NOW + DEFAULT_MAX_NONCE_AGE_SECS;
        assert_eq!(
            challenger.verify(&good, "INVITE", &alice(), limit),
            Verdict::Ok
        );
        assert_eq!(
            challenger.verify(&good, "INVITE", &alice(), limit + 1),
            Verdict::Stale
        );
        assert_eq!(
            challenger.verify(&bad, "INVITE", &alice(), limit + 1),
            Verdict::Invalid
        );
        assert_eq!(
            challenger.verify(
                &good,
                "INVITE",
                &alice(),
                NOW - DEFAULT_MAX_NONCE_AGE_SECS - 1
            ),
            Verdict::Stale,
            "a nonce from the future (clock stepped back) is re-issued"
        );
        let short = challenger.clone().with_max_nonce_age(5);
        assert_eq!(
            short.verify(&good, "INVITE", &alice(), NOW + 6),
            Verdict::Stale
        );
    }

    #[test]
    fn forged_foreign_and_unsupported_credentials_are_invalid() {
        let challenger = challenger();
        let challenge = &challenger.challenge(NOW, false, &[Algorithm::Md5])[0];
        let good = parse_credentials(&client_authorization(
            challenge,
            Algorithm::Md5,
            "s3cret",
            "INVITE",
        ))
        .unwrap();
        let verify = |credentials: &Credentials, ha1: &Ha1Set| {
            challenger.verify(credentials, "INVITE", ha1, NOW)
        };
        assert_eq!(verify(&good, &alice()), Verdict::Ok);

        // A nonce with a changed time but the old MAC, re-signed responses and all.
        let mut raw = URL_SAFE_NO_PAD.decode(&good.nonce).unwrap();
        raw[7] ^= 1;
        let tampered_nonce = URL_SAFE_NO_PAD.encode(&raw);
        let tampered = parse_credentials(&client_authorization(
            &challenge.replace(&good.nonce, &tampered_nonce),
            Algorithm::Md5,
            "s3cret",
            "INVITE",
        ))
        .unwrap();
        assert_eq!(verify(&tampered, &alice()), Verdict::Invalid);

        for nonce in [
            "",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "!!!!",
            &"A".repeat(54),
        ] {
            let mut forged = good.clone();
            forged.nonce = nonce.to_owned();
            assert_eq!(verify(&forged, &alice()), Verdict::Invalid, "{nonce}");
        }

        let other_server = Challenger::new("weft.example", [8; 32]);
        let foreign = parse_credentials(&client_authorization(
            &other_server.challenge(NOW, false, &[Algorithm::Md5])[0],
            Algorithm::Md5,
            "s3cret",
            "INVITE",
        ))
        .unwrap();
        assert_eq!(verify(&foreign, &alice()), Verdict::Invalid);

        let mut other_realm = good.clone();
        other_realm.realm = "elsewhere".into();
        assert_eq!(verify(&other_realm, &alice()), Verdict::Invalid);

        let sha256_only = Ha1Set {
            md5: None,
            ..alice()
        };
        assert_eq!(verify(&good, &sha256_only), Verdict::Invalid);

        let mut auth_int = good.clone();
        auth_int.qop = Some("auth-int".into());
        assert_eq!(verify(&auth_int, &alice()), Verdict::Invalid);
        let mut no_nc = good.clone();
        no_nc.nc = None;
        assert_eq!(verify(&no_nc, &alice()), Verdict::Invalid);
        let mut bad_nc = good.clone();
        bad_nc.nc = Some("1".into());
        assert_eq!(verify(&bad_nc, &alice()), Verdict::Invalid);

        let with_opaque = challenger.clone().with_opaque("xyz");
        assert_eq!(
            with_opaque.verify(&good, "INVITE", &alice(), NOW),
            Verdict::Invalid
        );
        let mut echoed = good.clone();
        echoed.opaque = Some("xyz".into());
        assert_eq!(
            with_opaque.verify(&echoed, "INVITE", &alice(), NOW),
            Verdict::Ok
        );
    }

    #[test]
    fn rfc2069_clients_without_qop_verify() {
        let challenger = challenger();
        let nonce = challenge_param(
            &challenger.challenge(NOW, false, &[Algorithm::Md5])[0],
            "nonce",
        );
        let ha1 = Algorithm::Md5.hex_digest(&["alice", "weft.example", "s3cret"]);
        let ha2 = Algorithm::Md5.hex_digest(&["REGISTER", "sip:weft.example"]);
        let response = Algorithm::Md5.hex_digest(&[&ha1, &nonce, &ha2]);
        let credentials = parse_credentials(&format!(
            "Digest username=\"alice\", realm=\"weft.example\", nonce=\"{nonce}\", \
             uri=\"sip:weft.example\", response=\"{response}\""
        ))
        .unwrap();
        assert_eq!(
            challenger.verify(&credentials, "REGISTER", &alice(), NOW),
            Verdict::Ok
        );
    }
}
