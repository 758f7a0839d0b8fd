//! Arbitrary bytes as a SWML script (UTF-8 only, as scripts are text): parsed and validated as
//! JSON or YAML; a valid one runs in a simulated call whose controller answers every action (the
//! bytes also choose the digits, responses and fetched documents), up to the interpreter's own
//! step limit. The same text also goes through the expression evaluator and `%{…}`
//! substitution. Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_fuzz::swml::{evaluate_and_substitute, run_script};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    evaluate_and_substitute(text);
    run_script(text);
});
