//! The account-signed device list, and what a peer keeps of it.

use prost::Message;

use super::DEVICE_LIST_SIGNATURE_PREFIX;
use crate::crypto::{PublicKey, SIGNATURE_LENGTH, Secret, SigningKey};
use crate::wire::WireError;
use crate::wire::proto::{KeyIndexListProto, SignedKeyIndexListProto};
use crate::wire::strict::{WireType, check_fields};

/// The content of a device list: which key indexes are valid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyIndexList {
    /// When the primary issued it (ms since the Unix epoch, primary's clock).
    pub timestamp: u64,
    /// The highest key index ever assigned.
    pub current_index: u32,
    /// The key indexes of the companions that are linked now, ascending.
    pub valid_indexes: Vec<u32>,
}

impl KeyIndexList {
    /// The protobuf bytes (what the account signs).
    pub fn encode(&self) -> Vec<u8> {
        KeyIndexListProto {
            timestamp: Some(self.timestamp),
            current_index: Some(self.current_index),
            valid_indexes: self.valid_indexes.clone(),
        }
        .encode_to_vec()
    }

    fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        check_fields(
            bytes,
            &[
                (1, WireType::Varint64),
                (2, WireType::Varint),
                (3, WireType::Bytes),
            ],
        )?;
        let p = KeyIndexListProto::decode(bytes).map_err(|_| WireError::Malformed)?;
        let list = Self {
            timestamp: p.timestamp.ok_or(WireError::Malformed)?,
            current_index: p.current_index.ok_or(WireError::Malformed)?,
            valid_indexes: p.valid_indexes,
        };
        // One encoding per list: the canonical protobuf (packed, tag order, no truncated or empty
        // runs), indexes strictly ascending, none above the current index.
        if list.encode() != bytes {
            return Err(WireError::Malformed);
        }
        let ascending = list
            .valid_indexes
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b));
        if !ascending || list.valid_indexes.iter().any(|&i| i > list.current_index) {
            return Err(WireError::Malformed);
        }
        Ok(list)
    }
}

/// Why a device list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceListError {
    /// The bytes are not a well-formed signed list.
    #[error("malformed device list")]
    Malformed,
    /// The account signature does not verify.
    #[error("bad device list signature")]
    BadSignature,
    /// Signed by a key other than the account key we know: the account re-registered (or this
    /// is forged). The caller decides whether to accept the new account key.
    #[error("signed by another account key")]
    AccountKeyChanged,
    /// Not newer than the list we hold (a rollback).
    #[error("older than the device list already held")]
    Rollback,
}

impl From<WireError> for DeviceListError {
    fn from(_: WireError) -> Self {
        Self::Malformed
    }
}

/// A signed device list as received: nothing checked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedDeviceListIn {
    details_bytes: Vec<u8>,
    list: KeyIndexList,
    signature: [u8; SIGNATURE_LENGTH],
    account_key: Option<PublicKey>,
}

impl SignedDeviceListIn {
    /// Parses strictly; checks nothing cryptographic.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        check_fields(
            bytes,
            &[(1, WireType::Bytes), (2, WireType::Bytes), (3, WireType::Bytes)],
        )?;
        let p = SignedKeyIndexListProto::decode(bytes).map_err(|_| WireError::Malformed)?;
        let details_bytes = p.details.ok_or(WireError::Malformed)?;
        let account_key = p
            .account_signature_key
            .as_deref()
            .map(super::device_identity::raw_key)
            .transpose()?;
        Ok(Self {
            list: KeyIndexList::decode(&details_bytes)?,
            details_bytes,
            signature: p
                .account_signature
                .as_deref()
                .ok_or(WireError::Malformed)?
                .try_into()
                .map_err(|_| WireError::Malformed)?,
            account_key,
        })
    }

    /// The list it claims (unverified).
    pub fn list(&self) -> &KeyIndexList {
        &self.list
    }

    /// Checks the signature by `account_key` (and that the list names no other account key).
    pub fn verify(self, account_key: &PublicKey) -> Result<VerifiedDeviceList, DeviceListError> {
        let signed_by = |key: &PublicKey| {
            key.verify_parts(
                &[&DEVICE_LIST_SIGNATURE_PREFIX, &self.details_bytes],
                &self.signature,
            )
            .is_ok()
        };
        if let Some(named) = self.account_key.filter(|k| k != account_key) {
            // Only a list that really is signed by the key it names says the account changed;
            // anything else is a bad list.
            return Err(if signed_by(&named) {
                DeviceListError::AccountKeyChanged
            } else {
                DeviceListError::BadSignature
            });
        }
        if !signed_by(account_key) {
            return Err(DeviceListError::BadSignature);
        }
        Ok(VerifiedDeviceList {
            serialized: encode(&self.details_bytes, &self.signature, account_key),
            list: self.list,
            account_key: *account_key,
        })
    }
}

fn encode(details: &[u8], signature: &[u8], account_key: &PublicKey) -> Vec<u8> {
    SignedKeyIndexListProto {
        details: Some(details.to_vec()),
        account_signature: Some(signature.to_vec()),
        account_signature_key: Some(account_key.as_raw().to_vec()),
    }
    .encode_to_vec()
}

/// A device list whose account signature was checked (or that we signed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDeviceList {
    list: KeyIndexList,
    account_key: PublicKey,
    serialized: Vec<u8>,
}

impl VerifiedDeviceList {
    /// Signs `list` with the account key (the primary issuing a list).
    pub(crate) fn sign<R: rand_core::CryptoRng + ?Sized>(
        list: KeyIndexList,
        account: &SigningKey,
        account_key: &PublicKey,
        rng: &mut R,
    ) -> Self {
        let details = list.encode();
        let signature = account.sign_parts(
            &[&DEVICE_LIST_SIGNATURE_PREFIX, &details],
            &Secret::<64>::random(rng),
        );
        Self {
            serialized: encode(&details, signature.as_ref(), account_key),
            list,
            account_key: *account_key,
        }
    }

    /// The list.
    pub fn list(&self) -> &KeyIndexList {
        &self.list
    }

    /// The account key that signed it.
    pub fn account_key(&self) -> &PublicKey {
        &self.account_key
    }

    /// Whether a companion with this key index is on the list.
    pub fn contains(&self, key_index: u32) -> bool {
        self.list.valid_indexes.binary_search(&key_index).is_ok()
    }

    /// Whether the list is older than `lifetime_ms` at `now` (then only the primary is trusted).
    pub fn is_expired(&self, now: u64, lifetime_ms: u64) -> bool {
        now.saturating_sub(self.list.timestamp) > lifetime_ms
    }

    /// The serialized `SignedKeyIndexList`, as a directory serves it.
    pub fn serialize(&self) -> &[u8] {
        &self.serialized
    }
}

/// What a newer list changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListUpdate {
    /// Key indexes that were valid and no longer are: sessions to those devices must go.
    pub removed: Vec<u32>,
    /// Key indexes that are new on the list.
    pub added: Vec<u32>,
}

/// What a peer knows of one account: its account key and the newest device list it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    account_key: PublicKey,
    list: Option<VerifiedDeviceList>,
}

impl AccountView {
    /// A view of an account whose key we learned (first use, or accepted after a change).
    pub fn new(account_key: PublicKey) -> Self {
        Self {
            account_key,
            list: None,
        }
    }

    /// The account key.
    pub fn account_key(&self) -> &PublicKey {
        &self.account_key
    }

    /// The newest accepted list.
    pub fn list(&self) -> Option<&VerifiedDeviceList> {
        self.list.as_ref()
    }

    /// Verifies and accepts a signed list if it is newer than the one held. The same list again
    /// is accepted with no change. On any error the view is unchanged.
    pub fn update(&mut self, bytes: &[u8]) -> Result<ListUpdate, DeviceListError> {
        let verified = SignedDeviceListIn::parse(bytes)?.verify(&self.account_key)?;
        let update = match &self.list {
            Some(held) if held.list == verified.list => return Ok(ListUpdate::default()),
            Some(held) if verified.list.timestamp <= held.list.timestamp => {
                return Err(DeviceListError::Rollback);
            }
            Some(held) => ListUpdate {
                removed: held
                    .list
                    .valid_indexes
                    .iter()
                    .copied()
                    .filter(|i| !verified.contains(*i))
                    .collect(),
                added: verified
                    .list
                    .valid_indexes
                    .iter()
                    .copied()
                    .filter(|i| !held.contains(*i))
                    .collect(),
            },
            None => ListUpdate {
                removed: Vec::new(),
                added: verified.list.valid_indexes.clone(),
            },
        };
        self.list = Some(verified);
        Ok(update)
    }
}
