//! Stateful: `HistorySyncNotification::parse` and an importer mid-sync fed fuzzer-made
//! notifications: never panics, round-trips what parses, refuses exactly as the fields say, applies
//! only genuine chunk contents. See `common/sync_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/sync_driver.rs"]
mod sync_driver;

fuzz_target!(|data: &[u8]| {
    let _ = sync_driver::run_history_notification(data);
});
