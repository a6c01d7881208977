//! The directory the clients see: the relay's, except for accounts whose answer is stale (a
//! fault: for a while the directory serves an account's devices as they were when the fault
//! began, like a lagging cache). Prekey bundles always come from the relay.

use std::collections::BTreeMap;

use tandem::Address;
use tandem::client::{AccountDevices, Directory, DirectoryError, MemoryRelay};
use tandem::session::PreKeyBundle;

/// A stale answer: what is served, until when, and the account's installation it shows.
#[derive(Clone, Debug)]
pub struct Stale {
    /// The answer served.
    pub devices: AccountDevices,
    /// Served until this time.
    pub until: u64,
    /// The account's installation (reinstall count) when the snapshot was taken.
    pub epoch: u32,
}

/// The directory for one client call.
pub struct SimDirectory<'a> {
    /// The relay (the true directory).
    pub relay: &'a mut MemoryRelay,
    /// Stale answers by account.
    pub stale: &'a BTreeMap<String, Stale>,
    /// The time of the call.
    pub now: u64,
}

impl Directory for SimDirectory<'_> {
    fn devices(&self, account: &str) -> Result<AccountDevices, DirectoryError> {
        match self.stale.get(account) {
            Some(s) if s.until > self.now => Ok(s.devices.clone()),
            _ => self.relay.devices(account),
        }
    }

    fn prekey_bundle(&mut self, device: &Address) -> Result<PreKeyBundle, DirectoryError> {
        self.relay.prekey_bundle(device)
    }
}
