//! Which devices of an account a peer may encrypt to.

use super::{IdentityError, PRIMARY_DEVICE_ID, SignedDeviceIdentityIn, VerifiedDeviceList};
use crate::crypto::PublicKey;

/// One device as a directory reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryDevice {
    /// The device id.
    pub device_id: u32,
    /// Its identity key (from its prekey bundle).
    pub identity_key: PublicKey,
    /// Its serialized signed device identity (companions; the primary has none).
    pub signed_identity: Option<Vec<u8>>,
}

/// A device that may be encrypted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedDevice {
    /// The device id.
    pub device_id: u32,
    /// Its identity key.
    pub identity_key: PublicKey,
    /// Its key index (0 for the primary).
    pub key_index: u32,
}

/// Why a device reported by the directory was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceRefusal {
    /// Device 0 with an identity key other than the account key.
    PrimaryKeyMismatch,
    /// A companion with no signed identity.
    MissingSignedIdentity,
    /// The signed identity is malformed or its signatures fail (a ghost device).
    BadSignedIdentity(IdentityError),
    /// The signed identity is for another device id.
    DeviceIdMismatch,
    /// Its key index is not on the account's device list (unlinked, or never linked).
    NotOnList,
    /// The device list is older than its lifetime: only the primary is trusted until a fresh one
    /// arrives.
    ListExpired,
}

/// The outcome of checking an account's devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSet {
    /// Devices that may be encrypted to, by device id.
    pub trusted: Vec<TrustedDevice>,
    /// Devices the directory reported that must not be encrypted to, and why.
    pub refused: Vec<(u32, DeviceRefusal)>,
}

/// Decides which of the directory's `devices` of an account may be encrypted to, given the
/// newest verified device list: the primary iff its key is the account key; a companion iff its
/// signed identity carries a valid account signature and device signature for its key and device
/// id, and its key index is on the list, and the list is younger than `lifetime_ms`.
pub fn verify_devices(
    list: &VerifiedDeviceList,
    devices: &[DirectoryDevice],
    now: u64,
    lifetime_ms: u64,
) -> DeviceSet {
    let account_key = list.account_key();
    let expired = list.is_expired(now, lifetime_ms);
    let mut set = DeviceSet::default();
    for d in devices {
        match check(account_key, list, expired, d) {
            Ok(key_index) => set.trusted.push(TrustedDevice {
                device_id: d.device_id,
                identity_key: d.identity_key,
                key_index,
            }),
            Err(why) => set.refused.push((d.device_id, why)),
        }
    }
    set
}

fn check(
    account_key: &PublicKey,
    list: &VerifiedDeviceList,
    expired: bool,
    d: &DirectoryDevice,
) -> Result<u32, DeviceRefusal> {
    if d.device_id == PRIMARY_DEVICE_ID {
        return if &d.identity_key == account_key {
            Ok(0)
        } else {
            Err(DeviceRefusal::PrimaryKeyMismatch)
        };
    }
    let bytes = d
        .signed_identity
        .as_deref()
        .ok_or(DeviceRefusal::MissingSignedIdentity)?;
    let signed = SignedDeviceIdentityIn::parse(bytes)
        .map_err(|_| DeviceRefusal::BadSignedIdentity(IdentityError::Malformed))?;
    let verified = signed
        .verify(account_key, &d.identity_key)
        .map_err(DeviceRefusal::BadSignedIdentity)?;
    if verified.details().device_id != d.device_id {
        return Err(DeviceRefusal::DeviceIdMismatch);
    }
    if !list.contains(verified.details().key_index) {
        return Err(DeviceRefusal::NotOnList);
    }
    if expired {
        return Err(DeviceRefusal::ListExpired);
    }
    Ok(verified.details().key_index)
}
