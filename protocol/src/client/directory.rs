//! What a client needs from a server: device lists, signed device identities and prekey bundles.

use crate::account::DirectoryDevice;
use crate::address::Address;
use crate::session::PreKeyBundle;

/// An account's devices as the directory serves them: the account-signed device list and, per
/// device, its identity key and signed device identity. Nothing here is trusted until verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountDevices {
    /// The serialized `SignedKeyIndexList`.
    pub signed_list: Vec<u8>,
    /// The devices the directory says the account has.
    pub devices: Vec<DirectoryDevice>,
}

/// A directory request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// No such account or device.
    #[error("not found")]
    NotFound,
    /// The device has no prekeys left to hand out (the signed prekey alone is still served).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The server's directory, as the client sees it. A real server implements this over the
/// network; [`MemoryRelay`](super::MemoryRelay) implements it in memory.
pub trait Directory {
    /// The devices of `account`.
    fn devices(&self, account: &str) -> Result<AccountDevices, DirectoryError>;
    /// A prekey bundle for one device; hands out each one-time prekey at most once.
    fn prekey_bundle(&mut self, device: &Address) -> Result<PreKeyBundle, DirectoryError>;
}
