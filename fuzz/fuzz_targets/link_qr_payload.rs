//! `LinkRequest::from_qr_payload` on arbitrary bytes (as UTF-8, and lossily decoded): never
//! panics; what parses round-trips exactly through `to_qr_payload`, and a fresh primary approves
//! it once, in time. See `common/linking_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/linking_driver.rs"]
mod linking_driver;

fuzz_target!(|data: &[u8]| {
    linking_driver::run_qr(data);
});
