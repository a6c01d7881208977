//! The `app-state` kind: WhatsApp's app-state sync construction (`tandem::app_state`).
//!
//! Every case has an `op` that picks its layout:
//!
//! | `op` | fields | checked |
//! |---|---|---|
//! | `expand-keys` | `key_data`, `index_key`, `value_encryption_key`, `value_mac_key`, `snapshot_mac_key`, `patch_mac_key` | HKDF-SHA256(key_data, no salt, "WhatsApp Mutation Keys", 160) split in five |
//! | `lthash` | `base` (128 bytes), `add`, `subtract` (lists of items), `result` | `base` − Σ subtract + Σ add, each item expanded by HKDF(item, "WhatsApp Patch Integrity", 128), u16 LE words mod 2^16 |
//! | `index-mac` | `key_data`, `index` (the JSON text), `mac` | HMAC-SHA256(index key, index) |
//! | `value` | `key_data`, `key_id`, `operation` (`SET`/`REMOVE`), `iv`, `plaintext`, `blob` | encrypting gives `blob` (iv ‖ AES-256-CBC ‖ value MAC); opening `blob` gives `plaintext`. Invalid: opening fails with `BadMac`, `BadLength`, `BadCiphertext` |
//! | `snapshot-mac` | `key_data`, `lthash`, `version`, `collection`, `mac` | HMAC-SHA256(snapshot MAC key, lthash ‖ u64BE version ‖ collection) |
//! | `patch-mac` | `key_data`, `snapshot_mac`, `value_macs`, `version`, `collection`, `mac` | HMAC-SHA256(patch MAC key, snapshot MAC ‖ value MACs ‖ u64BE version ‖ collection) |
//! | `patches` | `collection`, `keys` (`[{key_id, key_data}]`), `expired_through` (optional), `steps`, `fails_at` (invalid only) | see below |
//!
//! `patches`: a collection starts empty with the listed keys; with `expired_through` (u32) the
//! ring then expires every key of an epoch up to it (`AppStateKeyRing::expire_through`; the
//! epoch is the last 4 bytes of the key id, big-endian). Each step is `{patch}` or `{snapshot}`
//! (hex bytes), applied in order. A valid step may give what holds after it:
//!
//! - `version` and `lthash`;
//! - `skipped` (bool): whether the patch was skipped (spec 08.6 step 2a: a patch under an
//!   older key epoch than the collection's; only the version advances). The checker also
//!   checks, whatever the file says, that a skipped patch changed nothing but the version;
//! - `key_epoch` (u32, or `null` for none): the collection's newest key epoch;
//! - `encode` `{operation, index (parts), value (SyncActionValue protobuf), action_version,
//!   key_id, iv, key_data?}`: then tandem, holding only that key, must encode that mutation on
//!   the state before the step, with that IV, into exactly the step's patch bytes. `key_data`
//!   is given when the case's keys do not include that key (a patch made by another device);
//!   when they do, it must be the same.
//!
//! The step at `fails_at` must fail with `error` (the `ApplyError` variant name, e.g.
//! `VersionGap`, or `Parse(Malformed)`) and leave the state exactly as it was; it may not give
//! `skipped` or `key_epoch` (they would go unchecked; a recorded file may keep its source's
//! `version` and `lthash` there, which are not checked). Every other step must succeed, so an
//! invalid case also shows that the refusal changed nothing.

use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use serde::Deserialize;
use tandem::app_state::value::SyncActionValue;
use tandem::app_state::{
    AppStateKey, AppStateKeyId, AppStateKeyRing, ApplyReport, CollectionName, CollectionState, LtHash,
    Mutation, MutationKeys, Operation,
};
use tandem::crypto::Secret;

use super::{Hex, fields, outcome, same, valid_only};
use crate::file::{Case, Expect};

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum AppStateCase {
    ExpandKeys {
        key_data: Hex,
        index_key: Hex,
        value_encryption_key: Hex,
        value_mac_key: Hex,
        snapshot_mac_key: Hex,
        patch_mac_key: Hex,
    },
    Lthash {
        base: Hex,
        add: Vec<Hex>,
        subtract: Vec<Hex>,
        result: Hex,
    },
    IndexMac {
        key_data: Hex,
        index: String,
        mac: Hex,
    },
    Value {
        key_data: Hex,
        key_id: Hex,
        operation: String,
        iv: Hex,
        plaintext: Hex,
        blob: Hex,
    },
    SnapshotMac {
        key_data: Hex,
        lthash: Hex,
        version: u64,
        collection: String,
        mac: Hex,
    },
    PatchMac {
        key_data: Hex,
        snapshot_mac: Hex,
        value_macs: Vec<Hex>,
        version: u64,
        collection: String,
        mac: Hex,
    },
    Patches {
        collection: String,
        keys: Vec<KeyFields>,
        expired_through: Option<u32>,
        steps: Vec<Step>,
        fails_at: Option<usize>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFields {
    key_id: Hex,
    key_data: Hex,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    patch: Option<Hex>,
    snapshot: Option<Hex>,
    version: Option<u64>,
    lthash: Option<Hex>,
    skipped: Option<bool>,
    /// Absent: not checked; `null`: the collection has no key epoch.
    #[serde(default, deserialize_with = "present")]
    key_epoch: Option<Option<u32>>,
    encode: Option<Encode>,
}

/// A field that may be `null`: present (`Some`, possibly `Some(None)`) or absent (`None`, by
/// `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Encode {
    operation: String,
    index: Vec<String>,
    value: Hex,
    action_version: i32,
    key_id: Hex,
    iv: Hex,
    key_data: Option<Hex>,
}

fn mutation_keys(key_data: &Hex) -> Result<MutationKeys, String> {
    Ok(MutationKeys::expand(&Secret::new(key_data.array("key_data")?)))
}

fn operation(s: &str) -> Result<Operation, String> {
    match s {
        "SET" => Ok(Operation::Set),
        "REMOVE" => Ok(Operation::Remove),
        other => Err(format!("unknown operation `{other}`")),
    }
}

fn key(fields: &KeyFields) -> Result<AppStateKey, String> {
    Ok(AppStateKey::new(
        AppStateKeyId::from_bytes(fields.key_id.array("key_id")?),
        Secret::new(fields.key_data.array("key_data")?),
        0,
    ))
}

fn collection(name: &str) -> Result<CollectionName, String> {
    CollectionName::parse(name).ok_or_else(|| format!("unknown collection `{name}`"))
}

/// The error's name as the file writes it: the variant (`VersionGap { .. }` → `VersionGap`),
/// or the whole value when it wraps another (`Parse(Malformed)`).
fn error_name(e: &impl core::fmt::Debug) -> String {
    let full = format!("{e:?}");
    match full.find([' ', '{', '(']) {
        Some(i) => full.get(..i).unwrap_or(&full).to_owned(),
        None => full,
    }
}

pub(super) fn app_state(case: &Case) -> Result<(), String> {
    let c: AppStateCase = fields(case)?;
    match c {
        AppStateCase::ExpandKeys {
            key_data,
            index_key,
            value_encryption_key,
            value_mac_key,
            snapshot_mac_key,
            patch_mac_key,
        } => {
            valid_only(case)?;
            let keys = mutation_keys(&key_data)?;
            let [a, b, c, d, e] = keys.expose_all();
            same("index_key", a, &index_key.0)?;
            same("value_encryption_key", b, &value_encryption_key.0)?;
            same("value_mac_key", c, &value_mac_key.0)?;
            same("snapshot_mac_key", d, &snapshot_mac_key.0)?;
            same("patch_mac_key", e, &patch_mac_key.0)
        }
        AppStateCase::Lthash {
            base,
            add,
            subtract,
            result,
        } => {
            valid_only(case)?;
            let mut h = LtHash::from_bytes(base.array("base")?);
            for item in &subtract {
                h.subtract(&item.0);
            }
            for item in &add {
                h.add(&item.0);
            }
            same("result", h.as_bytes(), &result.0)
        }
        AppStateCase::IndexMac { key_data, index, mac } => {
            valid_only(case)?;
            same(
                "mac",
                &mutation_keys(&key_data)?.index_mac(index.as_bytes()),
                &mac.0,
            )
        }
        AppStateCase::Value {
            key_data,
            key_id,
            operation: op,
            iv,
            plaintext,
            blob,
        } => {
            let keys = mutation_keys(&key_data)?;
            let id = AppStateKeyId::from_bytes(key_id.array("key_id")?);
            let op = operation(&op)?;
            let opened = keys.decrypt_value(op, &id, &blob.0);
            outcome(case, opened, |pt| {
                same("plaintext", &pt, &plaintext.0)?;
                same(
                    "blob",
                    &keys.encrypt_value(op, &id, &iv.array("iv")?, &plaintext.0),
                    &blob.0,
                )
            })
        }
        AppStateCase::SnapshotMac {
            key_data,
            lthash,
            version,
            collection,
            mac,
        } => {
            valid_only(case)?;
            let h = LtHash::from_bytes(lthash.array("lthash")?);
            same(
                "mac",
                &mutation_keys(&key_data)?.snapshot_mac(&h, version, &collection),
                &mac.0,
            )
        }
        AppStateCase::PatchMac {
            key_data,
            snapshot_mac,
            value_macs,
            version,
            collection,
            mac,
        } => {
            valid_only(case)?;
            let macs = value_macs
                .iter()
                .map(|m| m.array::<32>("value_macs"))
                .collect::<Result<Vec<_>, _>>()?;
            let got = mutation_keys(&key_data)?.patch_mac(
                &snapshot_mac.array("snapshot_mac")?,
                &macs,
                version,
                &collection,
            );
            same("mac", &got, &mac.0)
        }
        AppStateCase::Patches {
            collection: name,
            keys,
            expired_through,
            steps,
            fails_at,
        } => patches(case, &name, &keys, expired_through, &steps, fails_at),
    }
}

fn patches(
    case: &Case,
    name: &str,
    keys: &[KeyFields],
    expired_through: Option<u32>,
    steps: &[Step],
    fails_at: Option<usize>,
) -> Result<(), String> {
    let want_error = match (&case.expect, fails_at) {
        (Expect::Valid, None) => None,
        (Expect::Invalid { error }, Some(at)) if at < steps.len() => Some((at, error.as_str())),
        _ => return Err("`fails_at` must be given (and in range) exactly for invalid cases".into()),
    };
    let name = collection(name)?;
    let mut ring = AppStateKeyRing::new();
    for k in keys {
        ring.insert(key(k)?).map_err(|e| format!("key: {e:?}"))?;
    }
    if let Some(e) = expired_through {
        ring.expire_through(e);
    }
    let mut state = CollectionState::new(name);
    for (i, step) in steps.iter().enumerate() {
        let before = state.clone();
        let result = match (&step.patch, &step.snapshot) {
            (Some(p), None) => state.apply_patch(&ring, &p.0),
            (None, Some(s)) => state.apply_snapshot(&ring, &s.0),
            _ => return Err(format!("step {i}: exactly one of `patch`, `snapshot`")),
        };
        match (result, want_error) {
            (Err(e), Some((at, error))) if at == i => {
                if step.skipped.is_some() || step.key_epoch.is_some() {
                    return Err(format!(
                        "step {i}: a failing step gives no `skipped` or `key_epoch`"
                    ));
                }
                let (name, full) = (error_name(&e), format!("{e:?}"));
                if name != error && full != error {
                    return Err(format!("step {i}: expected error {error}, got {full}"));
                }
                if state != before {
                    return Err(format!("step {i}: the refusal changed the state"));
                }
            }
            (Ok(_), Some((at, error))) if at == i => {
                return Err(format!("step {i}: expected error {error}, but it applied"));
            }
            (Err(e), _) => return Err(format!("step {i}: unexpected error {e:?}")),
            (Ok(report), _) => {
                if report.version != state.version() {
                    return Err(format!("step {i}: report version differs from state"));
                }
                if let Some(v) = step.version {
                    if state.version() != v {
                        return Err(format!("step {i}: version {} ≠ {v}", state.version()));
                    }
                }
                if let Some(h) = &step.lthash {
                    same(&format!("step {i} lthash"), state.lthash().as_bytes(), &h.0)?;
                }
                if state.recomputed_lthash() != *state.lthash() {
                    return Err(format!("step {i}: the LTHash is not the sum of the entries"));
                }
                if let Some(want) = step.skipped {
                    if report.skipped != want {
                        return Err(format!("step {i}: skipped {} ≠ {want}", report.skipped));
                    }
                }
                if report.skipped {
                    skip_check(i, &before, &state, &report)?;
                }
                if let Some(want) = step.key_epoch {
                    if state.key_epoch() != want {
                        return Err(format!("step {i}: key epoch {:?} ≠ {want:?}", state.key_epoch()));
                    }
                }
                if let (Some(enc), Some(patch)) = (&step.encode, &step.patch) {
                    encode_check(i, &ring, &before, enc, &patch.0)?;
                }
            }
        }
    }
    Ok(())
}

/// A skipped patch moves only the version (spec 08.6 step 2a).
fn skip_check(
    i: usize,
    before: &CollectionState,
    after: &CollectionState,
    report: &ApplyReport,
) -> Result<(), String> {
    let unchanged = after.lthash() == before.lthash()
        && after.key_epoch() == before.key_epoch()
        && after.entries().eq(before.entries())
        && report.changes.is_empty()
        && report.removed_absent == 0;
    if unchanged {
        Ok(())
    } else {
        Err(format!("step {i}: a skipped patch changed more than the version"))
    }
}

fn encode_check(
    i: usize,
    ring: &AppStateKeyRing,
    before: &CollectionState,
    enc: &Encode,
    want: &[u8],
) -> Result<(), String> {
    let id = AppStateKeyId::from_bytes(enc.key_id.array("key_id")?);
    let key = match (&enc.key_data, ring.get(&id)) {
        (None, Some(held)) => held.clone(),
        (Some(data), held) => {
            let given = AppStateKey::new(id, Secret::new(data.array("key_data")?), 0);
            if held.is_some_and(|h| h.data() != given.data()) {
                return Err(format!("step {i}: encode key_data differs from the listed key"));
            }
            given
        }
        (None, None) => return Err(format!("step {i}: encode key not listed and no key_data")),
    };
    let mut only = AppStateKeyRing::new();
    only.insert(key).map_err(|e| format!("{e:?}"))?;
    let mutation = Mutation {
        operation: operation(&enc.operation)?,
        index: enc.index.clone(),
        value: SyncActionValue::from_bytes(&enc.value.0)
            .ok_or_else(|| format!("step {i}: value is not a SyncActionValue"))?,
        version: enc.action_version,
    };
    let mut rng = OneDraw {
        bytes: Some(enc.iv.array::<16>("iv")?),
        misuse: false,
    };
    let encoded = before
        .encode_patch(&only, &[mutation], &mut rng)
        .map_err(|e| format!("step {i}: encode: {e:?}"))?;
    if rng.misuse || rng.bytes.is_some() {
        return Err(format!("step {i}: encode did not draw exactly one 16-byte IV"));
    }
    same(&format!("step {i} encoded patch"), &encoded.bytes, want)
}

/// Hands out one recorded IV; anything else is flagged.
struct OneDraw {
    bytes: Option<[u8; 16]>,
    misuse: bool,
}

impl TryRng for OneDraw {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misuse = true;
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misuse = true;
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match self.bytes.take() {
            Some(b) if dst.len() == b.len() => dst.copy_from_slice(&b),
            _ => self.misuse = true,
        }
        Ok(())
    }
}

impl TryCryptoRng for OneDraw {}
