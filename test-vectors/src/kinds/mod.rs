//! The case layouts ("kinds") and how each is checked.
//!
//! | kind | fields |
//! |---|---|
//! | `sha-256`, `sha-512` | `msg`, `digest` |
//! | `hmac-sha256` | `key`, `msg`, `tag` (full or truncated to ≥ 8 bytes); invalid: `BadMac` |
//! | `hkdf-sha256` | `ikm`, `salt`, `info`, `length` (number), `okm`; invalid: `InvalidLength` |
//! | `x25519` | `private`, `public`, `shared` (raw 32-byte keys); invalid: `NonContributory` |
//! | `aes-256-cbc` | `key`, `iv`, `plaintext`, `ciphertext` (PKCS#7); invalid: `BadPadding`, `BadLength` |
//! | `aes-256-gcm` | `key`, `nonce`, `aad`, `plaintext`, `ciphertext`, `tag`; invalid: `BadTag` |
//! | `curve-public-key` | `serialized`, `key` (raw, valid cases); invalid: `BadKeyType`, `BadKeyLength` |
//! | `curve-signature` | `public` (33 bytes) and/or `private`, `message`, `signature`, optional `random` (64 bytes); invalid: `BadSignature` |
//! | `curve-keygen` | `private`, `public` (raw) |
//! | `session-transcript` | a recorded pairwise session, replayed (see the `session` module) |
//! | `sender-key-transcript` | a recorded sender chain, replayed as a member (see the `group` module) |
//! | `linking` | an account's linking flow with every input explicit, replayed step by step (see the `linking` module) |
//! | `app-state` | app-state sync: key expansion, LTHash, index/value/snapshot/patch MACs, patch chains with `fails_at` (see the `app_state` module) |
//! | `argon2id` | `password`, `salt`, `secret`, `ad`, `m_cost_kib`, `t_cost`, `p_cost`, `tag` (RFC 9106, version 0x13) |
//! | `backup` | an encrypted backup with its draws, keys and plaintext, re-made and re-derived (see the `backup` module) |
//! | `media` | media encryption: kind, key, plaintext, blob, digest, sidecar, ranges; invalid: `BadMac`, `EncHashMismatch`, … (see the `media` module) |
//!
//! Byte strings are hex. Invalid cases pass only when the operation fails with exactly the named
//! error (the Rust variant name).

mod app_state;
mod backup;
mod curve;
mod group;
mod linking;
mod media;
mod primitives;
mod session;

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::file::{Case, Expect};

/// Every kind this checker knows.
pub const KINDS: &[&str] = &[
    "sha-256",
    "sha-512",
    "hmac-sha256",
    "hkdf-sha256",
    "x25519",
    "aes-256-cbc",
    "aes-256-gcm",
    "curve-public-key",
    "curve-signature",
    "curve-keygen",
    "session-transcript",
    "sender-key-transcript",
    "linking",
    "app-state",
    "argon2id",
    "backup",
    "media",
];

/// Checks one case of the given kind: `Ok` when it behaves as the file says.
pub fn check(kind: &str, case: &Case) -> Result<(), String> {
    match kind {
        "sha-256" => primitives::sha256(case),
        "sha-512" => primitives::sha512(case),
        "hmac-sha256" => primitives::hmac_sha256(case),
        "hkdf-sha256" => primitives::hkdf_sha256(case),
        "x25519" => primitives::x25519(case),
        "aes-256-cbc" => primitives::aes256_cbc(case),
        "aes-256-gcm" => primitives::aes256_gcm(case),
        "curve-public-key" => curve::public_key(case),
        "curve-signature" => curve::signature(case),
        "curve-keygen" => curve::keygen(case),
        "session-transcript" => session::transcript(case),
        "sender-key-transcript" => group::transcript(case),
        "linking" => linking::linking(case),
        "app-state" => app_state::app_state(case),
        "argon2id" => backup::argon2id_case(case),
        "backup" => backup::backup_case(case),
        "media" => media::media(case),
        other => Err(format!("unknown kind `{other}`")),
    }
}

/// A hex byte string field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map(Hex).map_err(serde::de::Error::custom)
    }
}

impl Hex {
    /// The bytes as a fixed-size array, or a message naming the field.
    pub fn array<const N: usize>(&self, field: &str) -> Result<[u8; N], String> {
        self.0
            .as_slice()
            .try_into()
            .map_err(|_| format!("`{field}` must be {N} bytes, is {}", self.0.len()))
    }
}

/// Deserializes a case's kind-specific fields, refusing unknown ones.
fn fields<T: DeserializeOwned>(case: &Case) -> Result<T, String> {
    serde_json::from_value(Value::Object(case.fields.clone())).map_err(|e| format!("bad fields: {e}"))
}

/// Compares the operation's result with what the case expects. `on_valid` checks the outputs
/// of a success.
fn outcome<T, E: Debug>(
    case: &Case,
    result: Result<T, E>,
    on_valid: impl FnOnce(T) -> Result<(), String>,
) -> Result<(), String> {
    match (&case.expect, result) {
        (Expect::Valid, Ok(v)) => on_valid(v),
        (Expect::Valid, Err(e)) => Err(format!("expected success, got error {e:?}")),
        (Expect::Invalid { error }, Err(e)) => {
            // The variant name: `Store(..)` compares as `Store`.
            let got = format!("{e:?}");
            if got.split('(').next() == Some(error.as_str()) {
                Ok(())
            } else {
                Err(format!("expected error {error}, got {got}"))
            }
        }
        (Expect::Invalid { error }, Ok(_)) => Err(format!("expected error {error}, but it succeeded")),
    }
}

/// Equality of an output with the expected bytes, with both in the message on mismatch.
fn same(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what} mismatch: got {}, want {}",
            hex::encode(got),
            hex::encode(want)
        ))
    }
}

fn valid_only(case: &Case) -> Result<(), String> {
    match &case.expect {
        Expect::Valid => Ok(()),
        Expect::Invalid { .. } => Err("this kind has no invalid cases".into()),
    }
}
