//! The media-pointer parser on any bytes: no panic; what parses round-trips. See
//! `common/media_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/media_driver.rs"]
mod media_driver;

fuzz_target!(|data: &[u8]| {
    let _ = media_driver::run_pointer(data);
});
