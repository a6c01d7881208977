//! App-state patches applied to a live collection state: fuzzer-made bytes or edits of the genuine
//! patch. Never panics; a refusal changes nothing; a success can only give the genuine state.
//! See `common/app_state_driver.rs` for the input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/app_state_driver.rs"]
mod app_state_driver;

fuzz_target!(|data: &[u8]| {
    let _ = app_state_driver::run_patch(data);
});
