//! The primary's account state and a companion's linking result as storage records (see the
//! client-state section of `wire.proto`). Signed data (the device list, the device identity) is
//! stored as published and verified again when loaded.

use std::collections::BTreeSet;

use super::{LinkedCompanion, LinkedDevice, PrimaryAccount};
use crate::account::{SignedDeviceIdentityIn, SignedDeviceListIn};
use crate::crypto::{KeyPair, SigningKey};
use crate::store::serialize::{RecordError, key_pair, private_bytes, public_key, required};
use crate::wire::proto::{LinkedCompanionRecordProto, LinkedDeviceRecordProto, PrimaryAccountRecordProto};

impl PrimaryAccount {
    /// The account state as a storage record (holds the account private key).
    pub(crate) fn to_record(&self) -> PrimaryAccountRecordProto {
        PrimaryAccountRecordProto {
            account_public: Some(self.account.public.serialize().to_vec()),
            account_private: Some(private_bytes(&self.account.private)),
            companions: self
                .companions
                .iter()
                .map(|c| LinkedCompanionRecordProto {
                    device_id: Some(c.device_id),
                    key_index: Some(c.key_index),
                    identity_key: Some(c.identity_key.serialize().to_vec()),
                })
                .collect(),
            next_device_id: Some(self.next_device_id),
            current_index: Some(self.current_index),
            used_references: self.used_references.iter().map(|r| r.to_vec()).collect(),
            device_list: Some(self.list.serialize().to_vec()),
            request_lifetime_ms: Some(self.request_lifetime_ms),
        }
    }

    /// The account state from [`Self::to_record`]; the device list must verify under the key.
    pub(crate) fn from_record(mut record: PrimaryAccountRecordProto) -> Result<Self, RecordError> {
        let account: KeyPair = key_pair(
            &mut record.account_public,
            &mut record.account_private,
            "primary.account_public",
            "primary.account_private",
        )?;
        let companions = record
            .companions
            .iter()
            .map(|c| {
                Ok(LinkedCompanion {
                    device_id: required(c.device_id, "companion.device_id")?,
                    key_index: required(c.key_index, "companion.key_index")?,
                    identity_key: public_key(c.identity_key.as_deref(), "companion.identity_key")?,
                })
            })
            .collect::<Result<Vec<_>, RecordError>>()?;
        let used_references = record
            .used_references
            .iter()
            .map(|r| {
                <[u8; 16]>::try_from(r.as_slice()).map_err(|_| RecordError::InvalidField("used_references"))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let list_bytes = required(record.device_list.as_deref(), "primary.device_list")?;
        let list = SignedDeviceListIn::parse(list_bytes)
            .map_err(|_| RecordError::InvalidField("primary.device_list"))?
            .verify(&account.public)
            .map_err(|_| RecordError::InvalidField("primary.device_list"))?;
        Ok(Self {
            signing: SigningKey::new(&account.private),
            account,
            companions,
            next_device_id: required(record.next_device_id, "primary.next_device_id")?,
            current_index: required(record.current_index, "primary.current_index")?,
            used_references,
            list,
            request_lifetime_ms: required(record.request_lifetime_ms, "primary.request_lifetime_ms")?,
        })
    }
}

impl LinkedDevice {
    /// The linking result as a storage record (holds the identity private key).
    pub(crate) fn to_record(&self) -> LinkedDeviceRecordProto {
        LinkedDeviceRecordProto {
            identity_public: Some(self.identity.public.serialize().to_vec()),
            identity_private: Some(private_bytes(&self.identity.private)),
            signed_identity: Some(self.signed_identity.serialize().to_vec()),
        }
    }

    /// The linking result from [`Self::to_record`]; both signatures are checked again.
    pub(crate) fn from_record(mut record: LinkedDeviceRecordProto) -> Result<Self, RecordError> {
        let identity = key_pair(
            &mut record.identity_public,
            &mut record.identity_private,
            "companion.identity_public",
            "companion.identity_private",
        )?;
        let bad = RecordError::InvalidField("companion.signed_identity");
        let signed = SignedDeviceIdentityIn::parse(required(
            record.signed_identity.as_deref(),
            "companion.signed_identity",
        )?)
        .map_err(|_| bad)?;
        let account_key = *signed.account_key().ok_or(bad)?;
        let signed_identity = signed.verify(&account_key, &identity.public).map_err(|_| bad)?;
        Ok(Self {
            identity,
            signed_identity,
        })
    }
}
