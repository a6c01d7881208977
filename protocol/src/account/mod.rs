//! Accounts and devices: the account key, signed device identities, the account-signed device
//! list, and how a peer decides which devices of an account it may encrypt to.
//!
//! tandem follows WhatsApp's model: every device has its own identity key; the primary device's
//! identity key is the *account key*; a companion is trusted only with an identity signed by the
//! account key and countersigned by itself; and peers encrypt only to devices whose key index is
//! on the newest device list the account key signed.
//!
//! Signatures are libsignal curve25519 signatures (spec 1.4) over a two-byte domain prefix and raw
//! 32-byte keys (the u-coordinate, no 0x05 type byte):
//!
//! | what | signer | message |
//! |---|---|---|
//! | account signature | account key | `06 00 ‖ details ‖ device key` |
//! | device signature | device key | `06 01 ‖ details ‖ device key ‖ account key` |
//! | device list | account key | `06 02 ‖ list` |

mod device_identity;
/// Building blocks the linking flow uses to make signed identities.
pub(crate) mod device_identity_internals {
    pub(crate) use super::device_identity::{account_signature, encode};
}
mod device_list;
mod verify;

pub use device_identity::{DeviceIdentity, IdentityError, SignedDeviceIdentityIn, VerifiedDeviceIdentity};
pub use device_list::{
    AccountView, DeviceListError, KeyIndexList, ListUpdate, SignedDeviceListIn, VerifiedDeviceList,
};
pub use verify::{DeviceRefusal, DeviceSet, DirectoryDevice, TrustedDevice, verify_devices};

/// Prefix of the account's signature over a companion's identity.
pub const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x00];
/// Prefix of a companion's own signature over its identity.
pub const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x01];
/// Prefix of the account's signature over its device list.
pub const DEVICE_LIST_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x02];

/// The device id of an account's primary device.
pub const PRIMARY_DEVICE_ID: u32 = 0;

/// How long a device list stays valid for companions, by default: 35 days (WhatsApp's bound).
/// Past it, peers encrypt only to the primary device until a fresh list arrives.
pub const DEFAULT_DEVICE_LIST_LIFETIME_MS: u64 = 35 * 24 * 60 * 60 * 1000;
