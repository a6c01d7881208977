//! Addresses of devices.

use core::fmt;

/// One device of one account: the account's name (as the directory knows it) and the device id
/// (0 for the primary device in tandem's multi-device model; libsignal's default device is 1).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The account name.
    pub name: String,
    /// The device id within the account.
    pub device_id: u32,
}

impl Address {
    /// An address from its parts.
    pub fn new(name: impl Into<String>, device_id: u32) -> Self {
        Self {
            name: name.into(),
            device_id,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.device_id)
    }
}
