//! Persisted app state parsed back: key rings (`AppStateKeyRing::from_bytes`, also what a
//! primary sends its companions) and collection states (`CollectionState::from_bytes`), from
//! fuzzer-made bytes or edits of genuine encodings. Never panics; what is accepted is
//! consistent and re-encodes to its input. See `common/app_state_persisted_driver.rs` for the
//! input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/app_state_persisted_driver.rs"]
mod app_state_persisted_driver;

fuzz_target!(|data: &[u8]| {
    let _ = app_state_persisted_driver::run(data);
});
