//! Arbitrary bytes as a SIP datagram: rsipstack's parser, Via update and transaction key (the
//! network reaches them), then Weft's SIP core, which must never panic. The steps are
//! [`weft_fuzz::scenarios::sip_message`].

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    weft_fuzz::scenarios::sip_message(data);
});
