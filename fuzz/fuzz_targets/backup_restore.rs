//! Stateless: `open_backup` with a fixed recovery code fed garbage or mutated genuine backups:
//! never panics, opens only the genuine bytes. See `common/sync_driver.rs` for the input format and
//! the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/sync_driver.rs"]
mod sync_driver;

fuzz_target!(|data: &[u8]| {
    let _ = sync_driver::run_backup_restore(data);
});
