//! The unit parser (src/domain/quantity.rs) on arbitrary text: never panics,
//! and what it accepts has a positive, normal SI factor and parses again alike.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    caltrace_domain::check_unit(&text);
});
