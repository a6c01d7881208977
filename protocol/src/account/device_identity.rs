//! Linking metadata and the signed identity of a companion device.

use prost::Message;

use super::{ACCOUNT_SIGNATURE_PREFIX, DEVICE_SIGNATURE_PREFIX};
use crate::crypto::{PublicKey, SIGNATURE_LENGTH, SigningKey};
use crate::wire::WireError;
use crate::wire::proto::{DeviceIdentityProto, SignedDeviceIdentityProto};
use crate::wire::strict::{WireType, check_fields};

/// Linking metadata: what the primary assigned to a companion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceIdentity {
    /// The device id within the account (never 0: that is the primary).
    pub device_id: u32,
    /// When it was linked (ms since the Unix epoch, primary's clock).
    pub timestamp: u64,
    /// The key index: the device's entry on the account's device list.
    pub key_index: u32,
}

impl DeviceIdentity {
    /// The protobuf bytes (the `details` that signatures cover).
    pub fn encode(&self) -> Vec<u8> {
        DeviceIdentityProto {
            device_id: Some(self.device_id),
            timestamp: Some(self.timestamp),
            key_index: Some(self.key_index),
        }
        .encode_to_vec()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        check_fields(
            bytes,
            &[
                (1, WireType::Varint),
                (2, WireType::Varint64),
                (3, WireType::Varint),
            ],
        )?;
        let p = DeviceIdentityProto::decode(bytes).map_err(|_| WireError::Malformed)?;
        let identity = Self {
            device_id: p.device_id.ok_or(WireError::Malformed)?,
            timestamp: p.timestamp.ok_or(WireError::Malformed)?,
            key_index: p.key_index.ok_or(WireError::Malformed)?,
        };
        // One encoding per identity: the canonical protobuf.
        if identity.encode() != bytes {
            return Err(WireError::Malformed);
        }
        Ok(identity)
    }
}

/// Why a signed device identity was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The bytes are not a well-formed signed identity.
    #[error("malformed signed device identity")]
    Malformed,
    /// It names an account key other than the expected one.
    #[error("signed by another account key")]
    AccountKeyMismatch,
    /// The account's signature does not verify.
    #[error("bad account signature")]
    BadAccountSignature,
    /// The device's countersignature is missing.
    #[error("missing device signature")]
    MissingDeviceSignature,
    /// The device's countersignature does not verify.
    #[error("bad device signature")]
    BadDeviceSignature,
}

impl From<WireError> for IdentityError {
    fn from(_: WireError) -> Self {
        Self::Malformed
    }
}

/// A signed device identity as received: nothing checked yet. Only [`Self::verify`] turns it
/// into a [`VerifiedDeviceIdentity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedDeviceIdentityIn {
    details_bytes: Vec<u8>,
    details: DeviceIdentity,
    account_key: Option<PublicKey>,
    account_signature: [u8; SIGNATURE_LENGTH],
    device_signature: Option<[u8; SIGNATURE_LENGTH]>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Bytes),
    (2, WireType::Bytes),
    (3, WireType::Bytes),
    (4, WireType::Bytes),
];

/// A named raw key: exactly 32 bytes with bit 255 clear. (Verification ignores bit 255, so a key
/// with it set would be the same key under another name: refused, so one key has one name.)
pub(crate) fn raw_key(bytes: &[u8]) -> Result<PublicKey, WireError> {
    let raw: [u8; 32] = bytes.try_into().map_err(|_| WireError::Malformed)?;
    if raw[31] & 0x80 != 0 {
        return Err(WireError::Malformed);
    }
    Ok(PublicKey::from_raw(raw))
}

fn signature(bytes: &[u8]) -> Result<[u8; SIGNATURE_LENGTH], WireError> {
    bytes.try_into().map_err(|_| WireError::Malformed)
}

impl SignedDeviceIdentityIn {
    /// Parses strictly; checks nothing cryptographic.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        check_fields(bytes, FIELDS)?;
        let p = SignedDeviceIdentityProto::decode(bytes).map_err(|_| WireError::Malformed)?;
        let details_bytes = p.details.ok_or(WireError::Malformed)?;
        Ok(Self {
            details: DeviceIdentity::decode(&details_bytes)?,
            details_bytes,
            account_key: p.account_signature_key.as_deref().map(raw_key).transpose()?,
            account_signature: signature(p.account_signature.as_deref().ok_or(WireError::Malformed)?)?,
            device_signature: p.device_signature.as_deref().map(signature).transpose()?,
        })
    }

    /// The linking metadata it claims (unverified).
    pub fn details(&self) -> &DeviceIdentity {
        &self.details
    }

    /// The account key it names, if it names one (unverified).
    pub fn account_key(&self) -> Option<&PublicKey> {
        self.account_key.as_ref()
    }

    /// Checks the account's signature over (details, `device_key`) by `account_key`, and that the
    /// identity names that account key if it names one.
    pub fn verify_account_signature(
        &self,
        account_key: &PublicKey,
        device_key: &PublicKey,
    ) -> Result<(), IdentityError> {
        if self.account_key.is_some_and(|k| &k != account_key) {
            return Err(IdentityError::AccountKeyMismatch);
        }
        account_key
            .verify_parts(
                &[
                    &ACCOUNT_SIGNATURE_PREFIX,
                    &self.details_bytes,
                    device_key.as_raw(),
                ],
                &self.account_signature,
            )
            .map_err(|_| IdentityError::BadAccountSignature)
    }

    /// Checks both signatures: the account's (by `account_key`) and the device's own (by
    /// `device_key`, over details, its key and the account key).
    pub fn verify(
        self,
        account_key: &PublicKey,
        device_key: &PublicKey,
    ) -> Result<VerifiedDeviceIdentity, IdentityError> {
        self.verify_account_signature(account_key, device_key)?;
        let device_signature = self
            .device_signature
            .ok_or(IdentityError::MissingDeviceSignature)?;
        device_key
            .verify_parts(
                &[
                    &DEVICE_SIGNATURE_PREFIX,
                    &self.details_bytes,
                    device_key.as_raw(),
                    account_key.as_raw(),
                ],
                &device_signature,
            )
            .map_err(|_| IdentityError::BadDeviceSignature)?;
        Ok(VerifiedDeviceIdentity {
            details: self.details,
            account_key: *account_key,
            device_key: *device_key,
            serialized: encode(
                &self.details_bytes,
                account_key,
                &self.account_signature,
                Some(&device_signature),
            ),
        })
    }

    /// Adds the device's countersignature (the companion's step 3 of linking), keeping the
    /// account's signature as it is. The caller has checked the account signature.
    pub(crate) fn countersign<R: rand_core::CryptoRng + ?Sized>(
        &self,
        account_key: &PublicKey,
        device: &SigningKey,
        device_key: &PublicKey,
        rng: &mut R,
    ) -> VerifiedDeviceIdentity {
        let signature = device.sign_parts(
            &[
                &DEVICE_SIGNATURE_PREFIX,
                &self.details_bytes,
                device_key.as_raw(),
                account_key.as_raw(),
            ],
            &crate::crypto::Secret::<64>::random(rng),
        );
        VerifiedDeviceIdentity {
            details: self.details,
            account_key: *account_key,
            device_key: *device_key,
            serialized: encode(
                &self.details_bytes,
                account_key,
                &self.account_signature,
                Some(signature.as_ref()),
            ),
        }
    }
}

/// Encodes a `SignedDeviceIdentity`.
pub(crate) fn encode(
    details: &[u8],
    account_key: &PublicKey,
    account_signature: &[u8],
    device_signature: Option<&[u8]>,
) -> Vec<u8> {
    SignedDeviceIdentityProto {
        details: Some(details.to_vec()),
        account_signature_key: Some(account_key.as_raw().to_vec()),
        account_signature: Some(account_signature.to_vec()),
        device_signature: device_signature.map(<[u8]>::to_vec),
    }
    .encode_to_vec()
}

/// The account's signature over a companion's linking metadata and key.
pub(crate) fn account_signature<R: rand_core::CryptoRng + ?Sized>(
    account: &SigningKey,
    details: &[u8],
    device_key: &PublicKey,
    rng: &mut R,
) -> [u8; SIGNATURE_LENGTH] {
    account
        .sign_parts(
            &[&ACCOUNT_SIGNATURE_PREFIX, details, device_key.as_raw()],
            &crate::crypto::Secret::<64>::random(rng),
        )
        .to_bytes()
}

/// A companion's identity with both signatures checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDeviceIdentity {
    details: DeviceIdentity,
    account_key: PublicKey,
    device_key: PublicKey,
    serialized: Vec<u8>,
}

impl VerifiedDeviceIdentity {
    /// The linking metadata.
    pub fn details(&self) -> &DeviceIdentity {
        &self.details
    }

    /// The account key that signed it.
    pub fn account_key(&self) -> &PublicKey {
        &self.account_key
    }

    /// The device's identity key.
    pub fn device_key(&self) -> &PublicKey {
        &self.device_key
    }

    /// The serialized `SignedDeviceIdentity` (with both signatures), as a directory serves it.
    pub fn serialize(&self) -> &[u8] {
        &self.serialized
    }
}
