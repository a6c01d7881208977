//! The `linking` kind: one account's whole linking flow (registration, link requests as QR
//! payloads, approvals, countersigned identities, unlinking, and a peer checking the device lists
//! and the directory's devices), with every input written out so that another implementation can
//! reproduce every byte without tandem's random number generator.
//!
//! Fields (see `test-vectors/README.md` for the full table): `request_lifetime_ms`; `account`
//! (`private`, `public`, `registered_at`, `list_signature_random`, `device_list`); `companions`
//! (`private`, `public`, referred to by their index); `steps`, each an object tagged by `step`:
//! `request`, `approve`, `complete`, `unlink`, `update`, `status`, `verify`, `trust`; and for
//! invalid cases `fails_at`, the index in `steps` of the one step that must fail with `error`.
//! Keys are raw 32-byte values (private: the scalar, clamped on import; public: the Montgomery
//! u-coordinate, no 0x05 type byte), as the QR payload and the signed structures carry them.
//!
//! Replaying: the checker plays the primary, every companion and one peer. Each step's recorded
//! randomness is handed to tandem, in order, by a scripted generator that refuses any other draw
//! and requires every recorded draw to be used; every output tandem makes must equal the recorded
//! bytes, and every artifact must also verify on its own (the list under the account key, the
//! countersigned identity under both keys). A failing step records no randomness and no outputs:
//! tandem must draw nothing before refusing. Every step after `fails_at` must still succeed, which
//! shows that the refusal changed no state.

use std::collections::BTreeMap;
use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use serde::Deserialize;
use tandem::account::{
    AccountView, DirectoryDevice, SignedDeviceIdentityIn, SignedDeviceListIn, verify_devices,
};
use tandem::crypto::{KeyPair, PrivateKey, PublicKey};
use tandem::linking::{LinkRequest, LinkedDevice, PendingLink, PrimaryAccount};

use super::{Hex, fields, same};
use crate::file::{Case, Expect};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Linking {
    request_lifetime_ms: u64,
    account: Account,
    companions: Vec<KeyPairFields>,
    steps: Vec<Step>,
    fails_at: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Account {
    private: Hex,
    public: Hex,
    registered_at: u64,
    list_signature_random: Hex,
    device_list: Hex,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPairFields {
    private: Hex,
    public: Hex,
}

/// A device as the directory reports it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Device {
    device_id: u32,
    identity_key: Hex,
    signed_identity: Option<Hex>,
}

/// One step of the flow. Fields that are `Option` are the step's randomness and outputs: present
/// when the step succeeds, absent when it is the step that fails.
#[derive(Deserialize)]
#[serde(tag = "step", rename_all = "lowercase", deny_unknown_fields)]
enum Step {
    /// The companion starts linking and shows its QR payload.
    Request {
        companion: usize,
        created_at: u64,
        reference: Hex,
        link_secret: Hex,
        qr_payload: String,
    },
    /// The primary approves the companion's latest request (scanned from its QR payload).
    Approve {
        companion: usize,
        at: u64,
        account_signature_random: Option<Hex>,
        list_signature_random: Option<Hex>,
        device_id: Option<u32>,
        key_index: Option<u32>,
        approval: Option<Hex>,
        device_list: Option<Hex>,
    },
    /// The companion completes with these approval bytes; the primary confirms the result.
    Complete {
        companion: usize,
        approval: Hex,
        device_signature_random: Option<Hex>,
        signed_identity: Option<Hex>,
    },
    /// The primary unlinks a device.
    Unlink {
        device_id: u32,
        at: u64,
        list_signature_random: Option<Hex>,
        device_list: Option<Hex>,
    },
    /// The peer is served a device list.
    Update {
        device_list: Hex,
        added: Option<Vec<u32>>,
        removed: Option<Vec<u32>>,
    },
    /// A linked companion reads a device list.
    Status {
        companion: usize,
        device_list: Hex,
        status: Option<String>,
    },
    /// The peer checks the directory's devices against the newest list it accepted.
    Verify {
        at: u64,
        list_lifetime_ms: u64,
        devices: Vec<Device>,
        trusted: Vec<(u32, u32)>,
        refused: Vec<(u32, String)>,
    },
    /// The peer checks one device; fails with the refusal.
    Trust {
        at: u64,
        list_lifetime_ms: u64,
        device: Device,
        key_index: Option<u32>,
    },
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Self::Request { .. } => "request",
            Self::Approve { .. } => "approve",
            Self::Complete { .. } => "complete",
            Self::Unlink { .. } => "unlink",
            Self::Update { .. } => "update",
            Self::Status { .. } => "status",
            Self::Verify { .. } => "verify",
            Self::Trust { .. } => "trust",
        }
    }
}

/// Hands tandem the recorded random draws, in order, and notes any draw that does not match.
struct ScriptedRng<'a> {
    draws: Vec<(&'static str, &'a [u8])>,
    next: usize,
    misuse: Option<String>,
}

impl<'a> ScriptedRng<'a> {
    /// The draws that are present, in order (a failing step records none).
    fn new(draws: &[(&'static str, Option<&'a Hex>)]) -> Self {
        Self {
            draws: draws
                .iter()
                .filter_map(|(name, h)| h.map(|h| (*name, h.0.as_slice())))
                .collect(),
            next: 0,
            misuse: None,
        }
    }

    /// Every recorded draw was used, and nothing else was drawn.
    fn finish(self) -> Result<(), String> {
        if let Some(why) = self.misuse {
            return Err(why);
        }
        match self.draws.get(self.next) {
            None => Ok(()),
            Some((name, _)) => Err(format!(
                "tandem drew {} of the {} recorded random values; `{name}` was not used",
                self.next,
                self.draws.len()
            )),
        }
    }
}

impl TryRng for ScriptedRng<'_> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misuse.get_or_insert("tandem asked for a u32".into());
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misuse.get_or_insert("tandem asked for a u64".into());
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match self.draws.get(self.next) {
            Some((_, bytes)) if bytes.len() == dst.len() => {
                dst.copy_from_slice(bytes);
                self.next += 1;
            }
            Some((name, bytes)) => {
                self.misuse.get_or_insert(format!(
                    "tandem drew {} random bytes as draw #{}, but `{name}` holds {}",
                    dst.len(),
                    self.next,
                    bytes.len()
                ));
            }
            None => {
                self.misuse.get_or_insert(format!(
                    "tandem drew {} random bytes as draw #{}, but the step records only {}",
                    dst.len(),
                    self.next,
                    self.draws.len()
                ));
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng<'_> {}

/// What a step did: succeeded (its outputs matched), or was refused with this error (`Debug`).
enum Outcome {
    Done,
    Refused(String),
}

/// A recorded output that a succeeding step must have.
fn need<'a, T>(value: &'a Option<T>, field: &str) -> Result<&'a T, String> {
    value
        .as_ref()
        .ok_or(format!("the step succeeded but records no `{field}`"))
}

/// A refused step records no randomness and no outputs, and tandem drew nothing before refusing.
fn refused(
    error: impl core::fmt::Debug,
    rng: ScriptedRng<'_>,
    recorded: &[(&str, bool)],
) -> Result<Outcome, String> {
    let error = format!("{error:?}");
    if let Some((field, _)) = recorded.iter().find(|(_, present)| *present) {
        return Err(format!("refused with {error}, but the step records `{field}`"));
    }
    rng.finish()
        .map_err(|e| format!("refused with {error}, after a random draw: {e}"))?;
    Ok(Outcome::Refused(error))
}

fn equal<T: PartialEq + core::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn key_pair(private: &Hex, public: &Hex, what: &str) -> Result<KeyPair, String> {
    let pair =
        KeyPair::from_private(PrivateKey::from_bytes(&private.0).map_err(|e| format!("{what}: {e:?}"))?);
    same(&format!("{what} public key"), pair.public.as_raw(), &public.0)?;
    Ok(pair)
}

fn directory_device(d: &Device) -> Result<DirectoryDevice, String> {
    Ok(DirectoryDevice {
        device_id: d.device_id,
        identity_key: PublicKey::from_raw(d.identity_key.array::<32>("identity_key")?),
        signed_identity: d.signed_identity.as_ref().map(|h| h.0.clone()),
    })
}

/// The primary, the companions and a peer, as the steps leave them.
struct Replay {
    primary: PrimaryAccount,
    account_key: PublicKey,
    companions: Vec<KeyPair>,
    pending: BTreeMap<usize, PendingLink>,
    linked: BTreeMap<usize, LinkedDevice>,
    peer: AccountView,
}

pub(super) fn linking(case: &Case) -> Result<(), String> {
    let c: Linking = fields(case)?;
    match (&case.expect, c.fails_at) {
        (Expect::Valid, None) | (Expect::Invalid { .. }, Some(_)) => {}
        _ => return Err("an invalid case needs `fails_at`, a valid one must not have it".into()),
    }
    if c.fails_at.is_some_and(|n| n >= c.steps.len()) {
        return Err("`fails_at` is past the last step".into());
    }

    let account = key_pair(&c.account.private, &c.account.public, "account")?;
    let account_key = account.public;
    let mut rng = ScriptedRng::new(&[("list_signature_random", Some(&c.account.list_signature_random))]);
    let mut primary = PrimaryAccount::new(account, c.account.registered_at, &mut rng);
    rng.finish().map_err(|e| format!("registration: {e}"))?;
    primary.set_request_lifetime_ms(c.request_lifetime_ms);
    same(
        "registration: device_list",
        primary.device_list().serialize(),
        &c.account.device_list.0,
    )?;
    SignedDeviceListIn::parse(&c.account.device_list.0)
        .map_err(|e| format!("registration: device_list: {e:?}"))?
        .verify(&account_key)
        .map_err(|e| format!("registration: device_list: {e:?}"))?;

    let mut replay = Replay {
        primary,
        account_key,
        companions: c
            .companions
            .iter()
            .enumerate()
            .map(|(i, k)| key_pair(&k.private, &k.public, &format!("companion {i}")))
            .collect::<Result<_, _>>()?,
        pending: BTreeMap::new(),
        linked: BTreeMap::new(),
        peer: AccountView::new(account_key),
    };

    for (n, step) in c.steps.iter().enumerate() {
        let outcome = replay
            .step(step, c.fails_at == Some(n))
            .map_err(|e| format!("step {n} ({}): {e}", step.name()))?;
        match (c.fails_at == Some(n), outcome, &case.expect) {
            (false, Outcome::Done, _) => {}
            (false, Outcome::Refused(e), _) => {
                return Err(format!("step {n} ({}): refused with {e}", step.name()));
            }
            (true, Outcome::Done, _) => {
                return Err(format!("step {n} ({}): must fail, but succeeded", step.name()));
            }
            (true, Outcome::Refused(got), Expect::Invalid { error }) => {
                // The variant name, or the whole value as tandem prints it
                // (`BadSignedIdentity(BadAccountSignature)`).
                if got.split('(').next() != Some(error.as_str()) && &got != error {
                    return Err(format!("step {n} ({}): expected {error}, got {got}", step.name()));
                }
            }
            (true, Outcome::Refused(_), Expect::Valid) => return Err("valid case with fails_at".into()),
        }
    }
    Ok(())
}

impl Replay {
    fn companion(&self, c: usize) -> Result<&KeyPair, String> {
        self.companions.get(c).ok_or(format!("no companion {c}"))
    }

    fn pending(&self, c: usize) -> Result<&PendingLink, String> {
        self.pending
            .get(&c)
            .ok_or(format!("companion {c} has made no request"))
    }

    /// Runs one step. A step that `must_fail` but succeeds is reported as done, unchecked (the
    /// caller reports it).
    fn step(&mut self, step: &Step, must_fail: bool) -> Result<Outcome, String> {
        match step {
            Step::Request {
                companion,
                created_at,
                reference,
                link_secret,
                qr_payload,
            } => {
                let identity = self.companion(*companion)?.clone();
                let mut rng =
                    ScriptedRng::new(&[("reference", Some(reference)), ("link_secret", Some(link_secret))]);
                let pending = PendingLink::new(identity, *created_at, &mut rng);
                rng.finish()?;
                equal("qr_payload", &pending.request().to_qr_payload(), qr_payload)?;
                let scanned =
                    LinkRequest::from_qr_payload(qr_payload).map_err(|e| format!("qr_payload: {e:?}"))?;
                if &scanned != pending.request() {
                    return Err("the QR payload does not parse back to the request".into());
                }
                self.pending.insert(*companion, pending);
                Ok(Outcome::Done)
            }
            Step::Approve {
                companion,
                at,
                account_signature_random,
                list_signature_random,
                device_id,
                key_index,
                approval,
                device_list,
            } => {
                // The primary scans the QR payload.
                let request =
                    LinkRequest::from_qr_payload(&self.pending(*companion)?.request().to_qr_payload())
                        .map_err(|e| format!("scanning: {e:?}"))?;
                let mut rng = ScriptedRng::new(&[
                    ("account_signature_random", account_signature_random.as_ref()),
                    ("list_signature_random", list_signature_random.as_ref()),
                ]);
                let made = match self.primary.approve(&request, *at, &mut rng) {
                    Ok(_) if must_fail => return Ok(Outcome::Done),
                    Ok(made) => made,
                    Err(e) => {
                        return refused(
                            e,
                            rng,
                            &[
                                ("account_signature_random", account_signature_random.is_some()),
                                ("list_signature_random", list_signature_random.is_some()),
                                ("device_id", device_id.is_some()),
                                ("key_index", key_index.is_some()),
                                ("approval", approval.is_some()),
                                ("device_list", device_list.is_some()),
                            ],
                        );
                    }
                };
                rng.finish()?;
                let assigned = self
                    .primary
                    .companions()
                    .last()
                    .ok_or("the primary records no companion")?;
                equal("device_id", assigned.device_id, *need(device_id, "device_id")?)?;
                equal("key_index", assigned.key_index, *need(key_index, "key_index")?)?;
                same("approval", &made.message, &need(approval, "approval")?.0)?;
                let list_bytes = &need(device_list, "device_list")?.0;
                same("device_list", made.device_list.serialize(), list_bytes)?;
                let list = SignedDeviceListIn::parse(list_bytes)
                    .map_err(|e| format!("device_list: {e:?}"))?
                    .verify(&self.account_key)
                    .map_err(|e| format!("device_list: {e:?}"))?;
                if !list.contains(assigned.key_index) {
                    return Err("the new device list lacks the new key index".into());
                }
                Ok(Outcome::Done)
            }
            Step::Complete {
                companion,
                approval,
                device_signature_random,
                signed_identity,
            } => {
                let device_key = self.companion(*companion)?.public;
                let mut rng =
                    ScriptedRng::new(&[("device_signature_random", device_signature_random.as_ref())]);
                let result = self
                    .pending(*companion)?
                    .complete(&approval.0, &mut rng)
                    .and_then(|linked| {
                        let confirmed = self.primary.confirm(linked.signed_identity().serialize())?;
                        Ok((linked, confirmed))
                    });
                let (linked, confirmed) = match result {
                    Ok(_) if must_fail => return Ok(Outcome::Done),
                    Ok(done) => done,
                    Err(e) => {
                        return refused(
                            e,
                            rng,
                            &[
                                ("device_signature_random", device_signature_random.is_some()),
                                ("signed_identity", signed_identity.is_some()),
                            ],
                        );
                    }
                };
                rng.finish()?;
                let want = &need(signed_identity, "signed_identity")?.0;
                same("signed_identity", linked.signed_identity().serialize(), want)?;
                if &confirmed != linked.signed_identity() {
                    return Err("the primary's confirmed identity differs from the companion's".into());
                }
                let verified = SignedDeviceIdentityIn::parse(want)
                    .map_err(|e| format!("signed_identity: {e:?}"))?
                    .verify(&self.account_key, &device_key)
                    .map_err(|e| format!("signed_identity: {e:?}"))?;
                if &verified != linked.signed_identity() {
                    return Err("signed_identity verifies to other details".into());
                }
                self.linked.insert(*companion, linked);
                Ok(Outcome::Done)
            }
            Step::Unlink {
                device_id,
                at,
                list_signature_random,
                device_list,
            } => {
                let mut rng = ScriptedRng::new(&[("list_signature_random", list_signature_random.as_ref())]);
                let list = match self.primary.unlink(*device_id, *at, &mut rng) {
                    Ok(_) if must_fail => return Ok(Outcome::Done),
                    Ok(list) => list,
                    Err(e) => {
                        return refused(
                            e,
                            rng,
                            &[
                                ("list_signature_random", list_signature_random.is_some()),
                                ("device_list", device_list.is_some()),
                            ],
                        );
                    }
                };
                rng.finish()?;
                let want = &need(device_list, "device_list")?.0;
                same("device_list", list.serialize(), want)?;
                let verified = SignedDeviceListIn::parse(want)
                    .map_err(|e| format!("device_list: {e:?}"))?
                    .verify(&self.account_key)
                    .map_err(|e| format!("device_list: {e:?}"))?;
                equal("device_list", &verified, &list)?;
                Ok(Outcome::Done)
            }
            Step::Update {
                device_list,
                added,
                removed,
            } => match self.peer.update(&device_list.0) {
                Ok(_) if must_fail => Ok(Outcome::Done),
                Ok(update) => {
                    equal("added", &update.added, need(added, "added")?)?;
                    equal("removed", &update.removed, need(removed, "removed")?)?;
                    Ok(Outcome::Done)
                }
                Err(e) => refused(
                    e,
                    ScriptedRng::new(&[]),
                    &[("added", added.is_some()), ("removed", removed.is_some())],
                ),
            },
            Step::Status {
                companion,
                device_list,
                status,
            } => {
                let linked = self
                    .linked
                    .get(companion)
                    .ok_or(format!("companion {companion} is not linked"))?;
                match linked.status(&device_list.0) {
                    Ok(_) if must_fail => Ok(Outcome::Done),
                    Ok(got) => {
                        equal("status", &format!("{got:?}"), need(status, "status")?)?;
                        Ok(Outcome::Done)
                    }
                    Err(e) => refused(e, ScriptedRng::new(&[]), &[("status", status.is_some())]),
                }
            }
            Step::Verify {
                at,
                list_lifetime_ms,
                devices,
                trusted,
                refused,
            } => {
                let list = self.peer.list().ok_or("the peer holds no device list yet")?;
                let devices = devices
                    .iter()
                    .map(directory_device)
                    .collect::<Result<Vec<_>, _>>()?;
                let set = verify_devices(list, &devices, *at, *list_lifetime_ms);
                let got_trusted: Vec<(u32, u32)> =
                    set.trusted.iter().map(|d| (d.device_id, d.key_index)).collect();
                equal("trusted", &got_trusted, trusted)?;
                let got_refused: Vec<(u32, String)> = set
                    .refused
                    .iter()
                    .map(|(id, why)| (*id, format!("{why:?}")))
                    .collect();
                equal("refused", &got_refused, refused)?;
                Ok(Outcome::Done)
            }
            Step::Trust {
                at,
                list_lifetime_ms,
                device,
                key_index,
            } => {
                let list = self.peer.list().ok_or("the peer holds no device list yet")?;
                let set = verify_devices(list, &[directory_device(device)?], *at, *list_lifetime_ms);
                match (set.trusted.first(), set.refused.first()) {
                    (Some(_), None) if must_fail => Ok(Outcome::Done),
                    (Some(d), None) => {
                        equal("key_index", d.key_index, *need(key_index, "key_index")?)?;
                        Ok(Outcome::Done)
                    }
                    (None, Some((_, why))) => {
                        refused(why, ScriptedRng::new(&[]), &[("key_index", key_index.is_some())])
                    }
                    _ => Err("verify_devices did not decide the one device".into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use serde_json::{Value, json};

    use crate::file::VectorFile;

    fn committed() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tandem/linking-seed-1.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn check(case: &Value) -> Result<(), String> {
        let text = json!({"kind": "linking", "source": "test", "cases": [case]}).to_string();
        let file = VectorFile::parse(&text).unwrap();
        super::super::check("linking", &file.cases[0])
    }

    #[test]
    fn the_committed_file_is_what_seed_1_generates() {
        let made = crate::generate::linking(1).unwrap();
        assert_eq!(
            made["cases"],
            committed()["cases"],
            "regenerate with `generate linking --seed 1`"
        );
    }

    /// Flips the middle byte of every hex string under `v`, calling `f` on each flipped copy of
    /// `root` (`at` is where `v` sits in it).
    fn each_flip(root: &Value, at: &[String], v: &Value, f: &mut impl FnMut(Value, String)) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    if matches!(
                        k.as_str(),
                        "step" | "qr_payload" | "status" | "comment" | "id" | "expect" | "error"
                    ) {
                        continue;
                    }
                    let mut path = at.to_vec();
                    path.push(k.clone());
                    each_flip(root, &path, x, f);
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    let mut path = at.to_vec();
                    path.push(i.to_string());
                    each_flip(root, &path, x, f);
                }
            }
            Value::String(s) if !s.is_empty() => {
                // Refusal names in `refused` are the only other strings.
                let Ok(mut bytes) = hex::decode(s) else { return };
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x01;
                let mut copy = root.clone();
                let mut slot = &mut copy;
                for p in at {
                    slot = match slot {
                        Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
                        other => &mut other[p.as_str()],
                    };
                }
                *slot = Value::String(hex::encode(bytes));
                f(copy, at.join("."));
            }
            _ => {}
        }
    }

    /// Every recorded key, random value and output is checked: one flipped byte anywhere (outside
    /// the failing step, whose inputs may fail the same way when changed) makes the case fail.
    #[test]
    fn a_flipped_byte_in_any_recorded_field_fails_the_case() {
        let file = committed();
        let mut flips = 0;
        for case in file["cases"].as_array().unwrap() {
            check(case).unwrap();
            let fails_at = case
                .get("fails_at")
                .and_then(Value::as_u64)
                .map(|n| n.to_string());
            let mut fields = case.clone();
            if let (Some(n), Some(steps)) = (&fails_at, fields["steps"].as_array_mut()) {
                steps[n.parse::<usize>().unwrap()] = json!({});
            }
            each_flip(case, &[], &fields, &mut |copy, path| {
                flips += 1;
                assert!(
                    check(&copy).is_err(),
                    "{}: flipping {path} went unnoticed",
                    case["id"]
                );
            });
        }
        assert!(flips >= 250, "only {flips} fields flipped");
    }
}
