//! Secrets at rest: AES-256-GCM under a caller's storage key, bound to the row they belong to.
//!
//! A sealed value is `0x01 ‖ nonce[12] ‖ AES-256-GCM(ciphertext ‖ tag[16])` with associated
//! data `"tandem-sqlite-v1" ‖ 0x00 ‖ table ‖ 0x00 ‖ the row's primary key`, so a value copied
//! into another row (another peer's session, another prekey id, another table) does not open.
//!
//! The nonce is synthetic (as in SIV): `HMAC-SHA256(nonce key, len(ad) ‖ ad ‖ plaintext)[..12]`.
//! - Not random: tandem is sans-IO and the store traits take no RNG; a store-owned RNG would be
//!   the one hidden source of randomness in the library.
//! - Not a counter: a counter must be persisted in step with every write, by every connection,
//!   and a database restored from a backup or copied to a second device would reuse it — and one
//!   reused GCM nonce with two different plaintexts gives away the authentication key and the
//!   XOR of the plaintexts.
//! - Synthetic: the nonce repeats only when the row and the plaintext are the same, and then the
//!   sealed bytes are identical, which reveals only that the value did not change. Two different
//!   values collide with probability about n²/2⁹⁷ after n seals (2⁻³³ after 2³² seals), the same
//!   bound as random nonces.
//!
//! The AES key and the nonce key are derived from the storage key with HKDF (distinct infos).
//!
//! Sealed: the identity private key and every record (prekeys, signed prekeys, sessions, sender
//! keys), this device's own record (account or identity private key) and sent messages (their
//! contents). Not sealed: public keys, registration ids, addresses and row counters — not secret,
//! and so not authenticated at rest either (whoever can write the file can change which identity
//! key is trusted for a peer; the storage key guards confidentiality of secrets and the
//! integrity of sealed values, not the whole file).

use core::fmt;

use zeroize::Zeroizing;

use super::error::SqliteStoreError;
use crate::address::Address;
use crate::crypto::{Secret, aes256_gcm_open, aes256_gcm_seal, hkdf_sha256, hmac_sha256_parts};

/// The format byte of a sealed value.
const SEALED_V1: u8 = 0x01;
/// Prefix of every associated data.
const AD_PREFIX: &[u8] = b"tandem-sqlite-v1\0";
const NONCE_LENGTH: usize = 12;

/// A 32-byte key that encrypts the store's secrets at rest (private keys, session and sender-key
/// records). Where it comes from is the caller's business (a platform keystore, a passphrase
/// through a password hash). `Debug` prints nothing of it.
#[derive(Clone)]
pub struct StorageKey(Secret<32>);

impl StorageKey {
    /// A storage key from 32 secret bytes.
    pub fn new(key: Secret<32>) -> Self {
        Self(key)
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageKey(redacted)")
    }
}

/// Where a sealed value lives: its table and primary key.
#[derive(Clone, Copy, Debug)]
pub(super) enum Row<'a> {
    /// The one row of `local_identity`.
    LocalIdentity,
    /// A row of `pre_keys`.
    PreKey(u32),
    /// A row of `signed_pre_keys`.
    SignedPreKey(u32),
    /// A row of `sessions`.
    Session(&'a Address),
    /// A row of `sender_keys`.
    SenderKey(&'a Address, &'a [u8; 16]),
    /// The one row of `local_device`.
    LocalDevice,
    /// A row of `sent_messages`.
    SentMessage(&'a [u8; 16]),
}

impl Row<'_> {
    /// The associated data: prefix, table, primary key (lengths fixed or prefixed, so no two rows
    /// share it).
    fn associated_data(&self) -> Vec<u8> {
        let mut ad = AD_PREFIX.to_vec();
        let address = |ad: &mut Vec<u8>, a: &Address| {
            ad.extend_from_slice(&(a.name.len() as u64).to_be_bytes());
            ad.extend_from_slice(a.name.as_bytes());
            ad.extend_from_slice(&a.device_id.to_be_bytes());
        };
        match self {
            Self::LocalIdentity => ad.extend_from_slice(b"local_identity\0"),
            Self::PreKey(id) => {
                ad.extend_from_slice(b"pre_keys\0");
                ad.extend_from_slice(&id.to_be_bytes());
            }
            Self::SignedPreKey(id) => {
                ad.extend_from_slice(b"signed_pre_keys\0");
                ad.extend_from_slice(&id.to_be_bytes());
            }
            Self::Session(a) => {
                ad.extend_from_slice(b"sessions\0");
                address(&mut ad, a);
            }
            Self::SenderKey(a, distribution_id) => {
                ad.extend_from_slice(b"sender_keys\0");
                address(&mut ad, a);
                ad.extend_from_slice(distribution_id.as_slice());
            }
            Self::LocalDevice => ad.extend_from_slice(b"local_device\0"),
            Self::SentMessage(id) => {
                ad.extend_from_slice(b"sent_messages\0");
                ad.extend_from_slice(id.as_slice());
            }
        }
        ad
    }
}

/// The keys derived from a [`StorageKey`].
pub(super) struct Sealer {
    aead: Secret<32>,
    nonce: Secret<32>,
}

impl Sealer {
    /// Derives the AES and nonce keys.
    pub(super) fn new(key: &StorageKey) -> Result<Self, SqliteStoreError> {
        let derive = |info: &[u8]| {
            hkdf_sha256::<32>(key.0.expose(), &[], info)
                .map_err(|e| SqliteStoreError::Database(e.to_string()))
        };
        Ok(Self {
            aead: derive(b"tandem sqlite store v1: AES-256-GCM key")?,
            nonce: derive(b"tandem sqlite store v1: nonce key")?,
        })
    }

    /// Seals `plaintext` for `row`.
    pub(super) fn seal(&self, row: Row<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SqliteStoreError> {
        let ad = row.associated_data();
        let tag = hmac_sha256_parts(
            self.nonce.expose(),
            &[&(ad.len() as u64).to_be_bytes(), &ad, plaintext],
        );
        let nonce: [u8; NONCE_LENGTH] = *tag.first_chunk().ok_or(SqliteStoreError::BadSeal)?;
        let sealed = aes256_gcm_seal(&self.aead, &nonce, &ad, plaintext)
            .map_err(|e| SqliteStoreError::Database(e.to_string()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LENGTH + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed for `row`.
    pub(super) fn open(&self, row: Row<'_>, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, SqliteStoreError> {
        let (&format, rest) = stored.split_first().ok_or(SqliteStoreError::BadSeal)?;
        if format != SEALED_V1 || rest.len() < NONCE_LENGTH {
            return Err(SqliteStoreError::BadSeal);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LENGTH);
        let nonce: &[u8; NONCE_LENGTH] = nonce.try_into().map_err(|_| SqliteStoreError::BadSeal)?;
        aes256_gcm_open(&self.aead, nonce, &row.associated_data(), sealed)
            .map(Zeroizing::new)
            .map_err(|_| SqliteStoreError::BadSeal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&StorageKey::new(Secret::new([byte; 32]))).unwrap()
    }

    #[test]
    fn a_value_opens_only_in_its_own_row_and_under_its_key() {
        let s = sealer(1);
        let alice = Address::new("alice", 1);
        let sealed = s.seal(Row::Session(&alice), b"record").unwrap();
        assert_eq!(*s.open(Row::Session(&alice), &sealed).unwrap(), b"record");
        for other in [
            Row::Session(&Address::new("alice", 2)),
            Row::Session(&Address::new("bob", 1)),
            Row::SenderKey(&alice, &[0; 16]),
            Row::PreKey(1),
        ] {
            assert_eq!(s.open(other, &sealed), Err(SqliteStoreError::BadSeal));
        }
        assert_eq!(
            sealer(2).open(Row::Session(&alice), &sealed),
            Err(SqliteStoreError::BadSeal)
        );
        assert_eq!(
            s.open(Row::PreKey(1), &s.seal(Row::SignedPreKey(1), b"k").unwrap()),
            Err(SqliteStoreError::BadSeal)
        );
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            s.open(Row::Session(&alice), &flipped),
            Err(SqliteStoreError::BadSeal)
        );
        assert_eq!(s.open(Row::Session(&alice), &[]), Err(SqliteStoreError::BadSeal));
    }

    #[test]
    fn the_nonce_changes_with_the_value_and_the_row() {
        let s = sealer(1);
        let a = s.seal(Row::PreKey(1), b"one").unwrap();
        assert_eq!(a, s.seal(Row::PreKey(1), b"one").unwrap());
        assert_ne!(a.get(1..13), s.seal(Row::PreKey(1), b"two").unwrap().get(1..13));
        assert_ne!(a.get(1..13), s.seal(Row::PreKey(2), b"one").unwrap().get(1..13));
    }

    #[test]
    fn associated_data_of_addresses_is_unambiguous() {
        let a = Row::Session(&Address::new("ab", 1)).associated_data();
        let b = Row::Session(&Address::new("a", 1)).associated_data();
        assert_ne!(a, b);
    }
}
