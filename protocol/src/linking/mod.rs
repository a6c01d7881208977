//! Linking a companion device to an account, as a flow whose steps are distinct types:
//!
//! 1. The companion makes a [`PendingLink`] (its secret half) and shows its [`LinkRequest`] as a
//!    QR payload: a one-time reference, its identity key, a fresh 32-byte link secret, the time.
//! 2. The primary ([`PrimaryAccount`]) scans it and approves: it assigns a device id and key
//!    index, signs the companion's linking metadata and key with the account key (prefix 06 00),
//!    HMACs that with the link secret, and signs a new device list with the key index on it
//!    (prefix 06 02). Expired or reused requests are refused.
//! 3. The companion ([`PendingLink::complete`]) checks the HMAC, the account signature and that
//!    the device id, key index and reference are what it expects, countersigns (prefix 06 01)
//!    and becomes a [`LinkedDevice`].
//! 4. The primary ([`PrimaryAccount::confirm`]) and every peer
//!    ([`verify_devices`](crate::account::verify_devices)) check the device signature before
//!    trusting it.
//!
//! Every step either succeeds or changes nothing.

mod record;

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::account::{DEFAULT_DEVICE_LIST_LIFETIME_MS, device_identity_internals as internals};
use crate::account::{
    DeviceIdentity, IdentityError, KeyIndexList, PRIMARY_DEVICE_ID, SignedDeviceIdentityIn,
    VerifiedDeviceIdentity, VerifiedDeviceList,
};
use crate::crypto::{KeyPair, PublicKey, Secret, SigningKey, hmac_sha256};
use crate::wire::proto::SignedDeviceIdentityHmacProto;
use crate::wire::strict::{WireType, check_fields};

/// How long a link request may be approved after the companion made it, by default: 160 s
/// (WhatsApp's QR codes run out after 160 seconds).
pub const DEFAULT_LINK_REQUEST_LIFETIME_MS: u64 = 160_000;

const QR_PREFIX: &str = "tandem-link:1:";

/// Why a linking step failed. Nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The QR payload or approval is not well formed.
    #[error("malformed link message")]
    Malformed,
    /// The request is older than its lifetime (or from the future).
    #[error("link request expired")]
    Expired,
    /// This request was already approved once.
    #[error("link request already used")]
    Reused,
    /// The approval's HMAC does not verify under our link secret.
    #[error("approval HMAC mismatch")]
    BadHmac,
    /// The account signature over our identity does not verify.
    #[error("bad account signature")]
    BadAccountSignature,
    /// The companion's countersignature does not verify.
    #[error("bad device signature")]
    BadDeviceSignature,
    /// The approval answers another request.
    #[error("approval is for another link request")]
    ReferenceMismatch,
    /// The device id in the signed metadata differs from the one we were given.
    #[error("device id mismatch")]
    DeviceIdMismatch,
    /// The key index in the signed metadata differs from the one we were given (or the
    /// primary ran out of key indexes).
    #[error("key index mismatch")]
    KeyIndexMismatch,
    /// The companion's identity key is the account key or already linked.
    #[error("identity key already linked")]
    DuplicateIdentity,
    /// The device id is not linked to this account.
    #[error("unknown device")]
    UnknownDevice,
}

/// What the companion shows the primary (as a QR code).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkRequest {
    /// A one-time reference for this request (16 random bytes).
    pub reference: [u8; 16],
    /// The companion's identity key.
    pub identity_key: PublicKey,
    /// The link secret that keys the approval's HMAC.
    pub link_secret: Secret<32>,
    /// When the companion made the request (ms since the Unix epoch, companion's clock).
    pub created_at: u64,
}

impl core::fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinkRequest")
            .field("identity_key", &self.identity_key)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl LinkRequest {
    /// The QR payload: `tandem-link:1:<ref>:<identity>:<secret>:<created_at>`, with the byte
    /// fields in unpadded base64url and the time in decimal milliseconds.
    pub fn to_qr_payload(&self) -> String {
        format!(
            "{QR_PREFIX}{}:{}:{}:{}",
            URL_SAFE_NO_PAD.encode(self.reference),
            URL_SAFE_NO_PAD.encode(self.identity_key.as_raw()),
            URL_SAFE_NO_PAD.encode(self.link_secret.expose()),
            self.created_at
        )
    }

    /// Parses a QR payload strictly.
    pub fn from_qr_payload(payload: &str) -> Result<Self, LinkError> {
        let rest = payload.strip_prefix(QR_PREFIX).ok_or(LinkError::Malformed)?;
        let mut parts = rest.split(':');
        let mut field = || parts.next().ok_or(LinkError::Malformed);
        let (reference, identity, secret, created) = (field()?, field()?, field()?, field()?);
        if parts.next().is_some() {
            return Err(LinkError::Malformed);
        }
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| LinkError::Malformed);
        let reference: [u8; 16] = decode(reference)?.try_into().map_err(|_| LinkError::Malformed)?;
        let identity: [u8; 32] = decode(identity)?.try_into().map_err(|_| LinkError::Malformed)?;
        let secret: [u8; 32] = decode(secret)?.try_into().map_err(|_| LinkError::Malformed)?;
        if created.is_empty() || created.starts_with('+') || (created.len() > 1 && created.starts_with('0')) {
            return Err(LinkError::Malformed);
        }
        let created_at = created.parse::<u64>().map_err(|_| LinkError::Malformed)?;
        Ok(Self {
            reference,
            identity_key: PublicKey::from_raw(identity),
            link_secret: Secret::new(secret),
            created_at,
        })
    }
}

/// The companion's side of a link in progress: its identity and the request it showed.
#[derive(Debug)]
pub struct PendingLink {
    identity: KeyPair,
    request: LinkRequest,
}

impl PendingLink {
    /// Starts linking: a fresh reference and link secret from `rng` (in that order).
    pub fn new<R: CryptoRng + ?Sized>(identity: KeyPair, now: u64, rng: &mut R) -> Self {
        let mut reference = [0u8; 16];
        rng.fill_bytes(&mut reference);
        let request = LinkRequest {
            reference,
            identity_key: identity.public,
            link_secret: Secret::random(rng),
            created_at: now,
        };
        Self { identity, request }
    }

    /// The request to show (as [`LinkRequest::to_qr_payload`]).
    pub fn request(&self) -> &LinkRequest {
        &self.request
    }

    /// Checks the primary's approval and countersigns. On error nothing changes and the link
    /// can still complete with the genuine approval.
    pub fn complete<R: CryptoRng + ?Sized>(
        &self,
        approval: &[u8],
        rng: &mut R,
    ) -> Result<LinkedDevice, LinkError> {
        let approval = ApprovalIn::parse(approval)?;
        let expected = hmac_sha256(self.request.link_secret.expose(), &approval.details);
        if !bool::from(expected.ct_eq(&approval.hmac)) {
            return Err(LinkError::BadHmac);
        }
        if approval.reference != self.request.reference {
            return Err(LinkError::ReferenceMismatch);
        }
        let signed = SignedDeviceIdentityIn::parse(&approval.details).map_err(|_| LinkError::Malformed)?;
        let account_key = *signed.account_key().ok_or(LinkError::Malformed)?;
        signed
            .verify_account_signature(&account_key, &self.identity.public)
            .map_err(|e| match e {
                IdentityError::BadAccountSignature | IdentityError::AccountKeyMismatch => {
                    LinkError::BadAccountSignature
                }
                _ => LinkError::Malformed,
            })?;
        let details = *signed.details();
        if details.device_id != approval.device_id || details.device_id == PRIMARY_DEVICE_ID {
            return Err(LinkError::DeviceIdMismatch);
        }
        if details.key_index != approval.key_index {
            return Err(LinkError::KeyIndexMismatch);
        }
        let signing = SigningKey::new(&self.identity.private);
        let identity = signed.countersign(&account_key, &signing, &self.identity.public, rng);
        Ok(LinkedDevice {
            identity: self.identity.clone(),
            signed_identity: identity,
        })
    }
}

/// The primary's approval as received by the companion.
struct ApprovalIn {
    details: Vec<u8>,
    hmac: [u8; 32],
    device_id: u32,
    key_index: u32,
    reference: [u8; 16],
}

impl ApprovalIn {
    fn parse(bytes: &[u8]) -> Result<Self, LinkError> {
        check_fields(
            bytes,
            &[
                (1, WireType::Bytes),
                (2, WireType::Bytes),
                (3, WireType::Varint),
                (4, WireType::Varint),
                (5, WireType::Bytes),
            ],
        )
        .map_err(|_| LinkError::Malformed)?;
        let p = SignedDeviceIdentityHmacProto::decode(bytes).map_err(|_| LinkError::Malformed)?;
        Ok(Self {
            details: p.details.ok_or(LinkError::Malformed)?,
            hmac: p
                .hmac
                .as_deref()
                .and_then(|h| h.try_into().ok())
                .ok_or(LinkError::Malformed)?,
            device_id: p.device_id.ok_or(LinkError::Malformed)?,
            key_index: p.key_index.ok_or(LinkError::Malformed)?,
            reference: p
                .reference
                .as_deref()
                .and_then(|r| r.try_into().ok())
                .ok_or(LinkError::Malformed)?,
        })
    }
}

/// A companion that completed linking: its identity and its signed device identity (to publish
/// beside its prekeys).
#[derive(Clone, Debug)]
pub struct LinkedDevice {
    identity: KeyPair,
    signed_identity: VerifiedDeviceIdentity,
}

/// Whether a device is still linked, by the newest device list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// Its key index is on the list signed by its account key.
    Linked,
    /// Its key index left the list: the primary unlinked it.
    Unlinked,
    /// The list is signed by another account key: the primary re-registered, every companion is
    /// unlinked.
    AccountChanged,
}

impl LinkedDevice {
    /// The device's identity key pair.
    pub fn identity(&self) -> &KeyPair {
        &self.identity
    }

    /// The signed device identity (account and device signatures).
    pub fn signed_identity(&self) -> &VerifiedDeviceIdentity {
        &self.signed_identity
    }

    /// The account key.
    pub fn account_key(&self) -> &PublicKey {
        self.signed_identity.account_key()
    }

    /// The device id.
    pub fn device_id(&self) -> u32 {
        self.signed_identity.details().device_id
    }

    /// What a device list (as served) says about this device. A list that fails its signature
    /// says nothing: the error is returned.
    pub fn status(&self, signed_list: &[u8]) -> Result<LinkStatus, crate::account::DeviceListError> {
        let parsed = crate::account::SignedDeviceListIn::parse(signed_list)?;
        // A list from before this device was linked is a replay, not news.
        if parsed.list().timestamp < self.signed_identity.details().timestamp {
            return Err(crate::account::DeviceListError::Rollback);
        }
        match parsed.verify(self.account_key()) {
            Ok(list) if list.contains(self.signed_identity.details().key_index) => Ok(LinkStatus::Linked),
            Ok(_) => Ok(LinkStatus::Unlinked),
            Err(crate::account::DeviceListError::AccountKeyChanged) => Ok(LinkStatus::AccountChanged),
            Err(e) => Err(e),
        }
    }
}

/// What the primary sends back for a request.
#[derive(Clone, Debug)]
pub struct Approval {
    /// The serialized `SignedDeviceIdentityHmac` for the companion.
    pub message: Vec<u8>,
    /// The new device list (with the companion's key index), for the directory.
    pub device_list: VerifiedDeviceList,
}

/// A linked companion as the primary records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedCompanion {
    /// Its device id.
    pub device_id: u32,
    /// Its key index.
    pub key_index: u32,
    /// Its identity key.
    pub identity_key: PublicKey,
}

/// The primary device's account state: the account key, the linked companions, the device list.
#[derive(Debug)]
pub struct PrimaryAccount {
    account: KeyPair,
    signing: SigningKey,
    companions: Vec<LinkedCompanion>,
    next_device_id: u32,
    current_index: u32,
    used_references: BTreeSet<[u8; 16]>,
    list: VerifiedDeviceList,
    request_lifetime_ms: u64,
}

impl PrimaryAccount {
    /// A fresh account (registration or re-registration): the primary's identity key is the
    /// account key; the first device list has no companions.
    pub fn new<R: CryptoRng + ?Sized>(account: KeyPair, now: u64, rng: &mut R) -> Self {
        let signing = SigningKey::new(&account.private);
        let list = VerifiedDeviceList::sign(
            KeyIndexList {
                timestamp: now,
                current_index: 0,
                valid_indexes: Vec::new(),
            },
            &signing,
            &account.public,
            rng,
        );
        Self {
            account,
            signing,
            companions: Vec::new(),
            next_device_id: 1,
            current_index: 0,
            used_references: BTreeSet::new(),
            list,
            request_lifetime_ms: DEFAULT_LINK_REQUEST_LIFETIME_MS,
        }
    }

    /// Sets how long a link request may be approved after it was made.
    pub fn set_request_lifetime_ms(&mut self, lifetime: u64) {
        self.request_lifetime_ms = lifetime;
    }

    /// The account key.
    pub fn account_key(&self) -> &PublicKey {
        &self.account.public
    }

    /// The current device list.
    pub fn device_list(&self) -> &VerifiedDeviceList {
        &self.list
    }

    /// The linked companions.
    pub fn companions(&self) -> &[LinkedCompanion] {
        &self.companions
    }

    /// Approves a request scanned from a companion: assigns the next device id and key index,
    /// signs, and issues a new device list. Draws two signatures' randomness from `rng` (the
    /// account signature, then the list's). Nothing changes on error.
    pub fn approve<R: CryptoRng + ?Sized>(
        &mut self,
        request: &LinkRequest,
        now: u64,
        rng: &mut R,
    ) -> Result<Approval, LinkError> {
        if request.created_at > now || now - request.created_at > self.request_lifetime_ms {
            return Err(LinkError::Expired);
        }
        if self.used_references.contains(&request.reference) {
            return Err(LinkError::Reused);
        }
        if &request.identity_key == self.account_key()
            || self
                .companions
                .iter()
                .any(|c| c.identity_key == request.identity_key)
        {
            return Err(LinkError::DuplicateIdentity);
        }
        let device_id = self.next_device_id;
        let key_index = self
            .current_index
            .checked_add(1)
            .ok_or(LinkError::KeyIndexMismatch)?;
        let details = DeviceIdentity {
            device_id,
            timestamp: now,
            key_index,
        }
        .encode();
        let account_signature =
            internals::account_signature(&self.signing, &details, &request.identity_key, rng);
        let signed = internals::encode(&details, &self.account.public, &account_signature, None);
        let message = SignedDeviceIdentityHmacProto {
            hmac: Some(hmac_sha256(request.link_secret.expose(), &signed).to_vec()),
            details: Some(signed),
            device_id: Some(device_id),
            key_index: Some(key_index),
            reference: Some(request.reference.to_vec()),
        }
        .encode_to_vec();
        let mut valid: Vec<u32> = self.list.list().valid_indexes.clone();
        valid.push(key_index);
        let list = VerifiedDeviceList::sign(
            KeyIndexList {
                timestamp: self.next_timestamp(now),
                current_index: key_index,
                valid_indexes: valid,
            },
            &self.signing,
            &self.account.public,
            rng,
        );
        self.used_references.insert(request.reference);
        self.next_device_id += 1;
        self.current_index = key_index;
        self.companions.push(LinkedCompanion {
            device_id,
            key_index,
            identity_key: request.identity_key,
        });
        self.list = list.clone();
        Ok(Approval {
            message,
            device_list: list,
        })
    }

    /// Checks a companion's countersigned identity (step 4) against what was approved.
    pub fn confirm(&self, signed_identity: &[u8]) -> Result<VerifiedDeviceIdentity, LinkError> {
        let signed = SignedDeviceIdentityIn::parse(signed_identity).map_err(|_| LinkError::Malformed)?;
        let details = *signed.details();
        let companion = self
            .companions
            .iter()
            .find(|c| c.device_id == details.device_id)
            .ok_or(LinkError::UnknownDevice)?;
        if companion.key_index != details.key_index {
            return Err(LinkError::KeyIndexMismatch);
        }
        signed
            .verify(&self.account.public, &companion.identity_key)
            .map_err(|e| match e {
                IdentityError::BadDeviceSignature | IdentityError::MissingDeviceSignature => {
                    LinkError::BadDeviceSignature
                }
                IdentityError::Malformed => LinkError::Malformed,
                _ => LinkError::BadAccountSignature,
            })
    }

    /// Unlinks a companion: a new device list without its key index.
    pub fn unlink<R: CryptoRng + ?Sized>(
        &mut self,
        device_id: u32,
        now: u64,
        rng: &mut R,
    ) -> Result<VerifiedDeviceList, LinkError> {
        let at = self
            .companions
            .iter()
            .position(|c| c.device_id == device_id)
            .ok_or(LinkError::UnknownDevice)?;
        let key_index = self
            .companions
            .get(at)
            .map(|c| c.key_index)
            .ok_or(LinkError::UnknownDevice)?;
        let valid: Vec<u32> = self
            .list
            .list()
            .valid_indexes
            .iter()
            .copied()
            .filter(|&i| i != key_index)
            .collect();
        let list = VerifiedDeviceList::sign(
            KeyIndexList {
                timestamp: self.next_timestamp(now),
                current_index: self.current_index,
                valid_indexes: valid,
            },
            &self.signing,
            &self.account.public,
            rng,
        );
        self.companions.remove(at);
        self.list = list.clone();
        Ok(list)
    }

    /// A list timestamp that is strictly newer than the current list's, even if the clock did
    /// not move (peers refuse a list that is not newer).
    fn next_timestamp(&self, now: u64) -> u64 {
        now.max(self.list.list().timestamp.saturating_add(1))
    }

    /// The default lifetime peers give a device list.
    pub const DEFAULT_LIST_LIFETIME_MS: u64 = DEFAULT_DEVICE_LIST_LIFETIME_MS;
}
