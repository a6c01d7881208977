//! `SignedDeviceIdentityIn::parse` on arbitrary bytes, and what it parses verified against the
//! account key and each companion's key, confirmed by the primary and checked by peers: never
//! panics; verifies only if it carries a genuine countersigned identity. See
//! `common/linking_driver.rs` for the fixture and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/linking_driver.rs"]
mod linking_driver;

fuzz_target!(|data: &[u8]| {
    linking_driver::run_identity(data);
});
