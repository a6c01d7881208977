//! `SignedDeviceListIn::parse` and `AccountView::update` (from five views) and
//! `LinkedDevice::status` on arbitrary bytes: never panics; a refused list leaves the view
//! unchanged; an accepted one carries a genuine list of the account. See
//! `common/linking_driver.rs` for the fixture and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/linking_driver.rs"]
mod linking_driver;

fuzz_target!(|data: &[u8]| {
    linking_driver::run_list(data);
});
