//! Writers of vector files from tandem's own output, for checking by another implementation
//! (the live interop scripts feed them to the real libsignal). Seeded, so a run is
//! reproducible; never used to produce the expected values of tandem's own tests.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::recorder::Recorder;
use tandem::account::{AccountView, DEFAULT_DEVICE_LIST_LIFETIME_MS, DirectoryDevice, verify_devices};
use tandem::crypto::{KeyPair, PrivateKey, Secret};
use tandem::linking::{
    DEFAULT_LINK_REQUEST_LIFETIME_MS, LinkRequest, LinkedDevice, PendingLink, PrimaryAccount,
};

/// A `curve-signature` file of `count` signatures made by tandem from `seed`: valid cases over
/// assorted message lengths, then invalid ones (a flipped bit in R, in s, in the message, and
/// the carried sign bit), which any conforming verifier must refuse.
pub fn curve_signatures(seed: u64, count: usize) -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let lengths = [0usize, 1, 32, 33, 64, 100, 200, 1000, 4096];
    let mut cases = Vec::new();
    for n in 0..count {
        let private = PrivateKey::generate(&mut rng);
        let len = lengths.get(n % lengths.len()).copied().unwrap_or(100);
        let mut message = vec![0u8; len];
        rng.fill_bytes(&mut message);
        let random = Secret::<64>::random(&mut rng);
        let signature = private.sign_with_randomness(&message, &random).to_bytes();
        let public = hex::encode(private.public_key().serialize());
        cases.push(json!({
            "id": format!("tandem-{n}"),
            "expect": "valid",
            "public": public,
            "private": hex::encode(private.to_bytes().expose()),
            "random": hex::encode(random.expose()),
            "message": hex::encode(&message),
            "signature": hex::encode(signature),
        }));
        let flips: [(&str, usize, u8); 3] = [("r", 0, 0x01), ("s", 40, 0x10), ("sign-bit", 63, 0x80)];
        for (what, byte, mask) in flips {
            let mut bad = signature;
            if let Some(b) = bad.get_mut(byte) {
                *b ^= mask;
            }
            cases.push(json!({
                "id": format!("tandem-{n}-flip-{what}"),
                "expect": "invalid",
                "error": "BadSignature",
                "public": public,
                "message": hex::encode(&message),
                "signature": hex::encode(bad),
            }));
        }
        let mut other = message.clone();
        other.push(0);
        cases.push(json!({
            "id": format!("tandem-{n}-longer-message"),
            "expect": "invalid",
            "error": "BadSignature",
            "public": public,
            "message": hex::encode(&other),
            "signature": hex::encode(signature),
        }));
    }
    json!({
        "kind": "curve-signature",
        "source": format!("tandem {} (tandem-vectors generate curve-signatures --seed {seed})", env!("CARGO_PKG_VERSION")),
        "description": "Signatures made by tandem, for checking by other implementations.",
        "cases": cases,
    })
}

/// A `linking` file from `seed`: whole linking flows run by tandem with a seeded generator whose
/// every draw is recorded and written out under its name, so that the file holds every input
/// (keys, reference, link secret, each signature's 64 random bytes, every time) and every output.
/// Valid flows first, then flows where one step must fail; each case checks that tandem refuses
/// exactly as the case says.
pub fn linking(seed: u64) -> Result<Value, String> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let cases = linking_cases(&mut rng)?;
    Ok(json!({
        "kind": "linking",
        "source": format!("tandem {} (tandem-vectors generate linking --seed {seed})", env!("CARGO_PKG_VERSION")),
        "description": "Companion linking flows made by tandem with every random draw recorded, for another \
            implementation to reproduce byte for byte: registration, QR payloads, approvals, countersigned \
            identities, unlinking, and a peer checking device lists and the directory's devices.",
        "cases": cases,
    }))
}

const T0: u64 = 1_760_000_000_000;
const DAY: u64 = 24 * 60 * 60 * 1000;

fn linking_cases(rng: &mut ChaCha20Rng) -> Result<Vec<Value>, String> {
    let mut cases = Vec::new();

    // One companion: request, approve, complete; a peer accepts the lists and trusts both devices.
    let mut f = Flow::new(rng, T0)?;
    let initial = f.list_now();
    let c = f.companion();
    f.request(c, T0 + 10_000)?;
    f.approve(c, T0 + 12_000)?;
    f.complete_genuine(c)?;
    f.update(&initial)?;
    f.update(&f.list_now())?;
    f.status(c, &f.list_now())?;
    f.verify(T0 + 20_000, f.directory(&[c])?)?;
    cases.push(f.finish("one-companion", "link one companion and check it as a peer", None)?);

    // Two companions, then the first is unlinked: the peer drops it, it learns it is unlinked.
    let mut f = Flow::new(rng, T0)?;
    let (a, b) = (f.companion(), f.companion());
    f.link(a, T0 + 10_000)?;
    f.link(b, T0 + 10_000)?;
    f.update(&f.list_now())?;
    f.verify(T0 + 20_000, f.directory(&[a, b])?)?;
    f.unlink(1, T0 + DAY)?;
    f.update(&f.list_now())?;
    f.status(a, &f.list_now())?;
    f.status(b, &f.list_now())?;
    f.verify(T0 + DAY, f.directory(&[a, b])?)?;
    cases.push(f.finish(
        "two-companions-unlink-one",
        "link two companions at the same time (the second list's timestamp is bumped by 1 ms), unlink device 1",
        None,
    )?);

    // The approval with one HMAC byte flipped; the genuine approval still completes afterwards.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.request(c, T0 + 10_000)?;
    let approval = f.approve(c, T0 + 11_000)?.ok_or("approval refused")?;
    f.complete(c, &flip_hmac_byte(&approval)?)?;
    f.complete(c, &approval)?;
    f.update(&f.list_now())?;
    f.verify(T0 + 20_000, f.directory(&[c])?)?;
    cases.push(f.finish(
        "approval-with-flipped-hmac",
        "the last HMAC byte of the approval is flipped: the companion refuses it and can still complete",
        Some("BadHmac"),
    )?);

    // A request approved twice; the next companion still gets device id 2.
    let mut f = Flow::new(rng, T0)?;
    let (a, b) = (f.companion(), f.companion());
    f.link(a, T0 + 10_000)?;
    f.approve(a, T0 + 12_000)?;
    f.link(b, T0 + 13_000)?;
    f.update(&f.list_now())?;
    f.verify(T0 + 20_000, f.directory(&[a, b])?)?;
    cases.push(f.finish(
        "reused-request",
        "the same request approved a second time is refused; nothing changes",
        Some("Reused"),
    )?);

    // Approved 1 ms past the request lifetime, then exactly at it.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.request(c, T0 + 10_000)?;
    f.approve(c, T0 + 10_000 + DEFAULT_LINK_REQUEST_LIFETIME_MS + 1)?;
    f.approve(c, T0 + 10_000 + DEFAULT_LINK_REQUEST_LIFETIME_MS)?;
    f.complete_genuine(c)?;
    cases.push(f.finish(
        "expired-request",
        "approved 1 ms after the request lifetime: refused; approved at exactly the lifetime: accepted",
        Some("Expired"),
    )?);

    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.request(c, T0 + 10_000)?;
    f.approve(c, T0 + 9_999)?;
    f.approve(c, T0 + 10_000)?;
    f.complete_genuine(c)?;
    cases.push(f.finish(
        "request-from-the-future",
        "approved 1 ms before the request was made (clock skew): refused as expired",
        Some("Expired"),
    )?);

    // The unlinked device, checked alone by a peer.
    let mut f = Flow::new(rng, T0)?;
    let (a, b) = (f.companion(), f.companion());
    f.link(a, T0 + 10_000)?;
    f.link(b, T0 + 20_000)?;
    f.update(&f.list_now())?;
    f.unlink(1, T0 + DAY)?;
    f.update(&f.list_now())?;
    let devices = f.directory(&[a, b])?;
    for d in devices.into_iter().rev() {
        f.trust(T0 + DAY, d)?;
    }
    cases.push(f.finish(
        "unlinked-device-not-on-list",
        "after device 1 is unlinked a peer refuses it; devices 2 and 0 are still trusted",
        Some("NotOnList"),
    )?);

    // An older list served to a peer.
    let mut f = Flow::new(rng, T0)?;
    let initial = f.list_now();
    let c = f.companion();
    f.link(c, T0 + 10_000)?;
    f.update(&f.list_now())?;
    f.update(&initial)?;
    f.verify(T0 + 20_000, f.directory(&[c])?)?;
    cases.push(f.finish(
        "rollback",
        "the registration list served after the newer one is refused; the peer keeps the newer one",
        Some("Rollback"),
    )?);

    // A ghost device: the companion's signed identity served with another identity key.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.link(c, T0 + 10_000)?;
    f.update(&f.list_now())?;
    let ghost = PrivateKey::generate(&mut *f.rng.inner).public_key();
    let mut devices = f.directory(&[c])?;
    let genuine = devices.pop().ok_or("no companion in the directory")?;
    f.trust(
        T0 + 20_000,
        DirectoryDevice {
            device_id: 7,
            identity_key: ghost,
            signed_identity: genuine.signed_identity.clone(),
        },
    )?;
    f.trust(T0 + 20_000, genuine)?;
    cases.push(f.finish(
        "ghost-device",
        "device 7 carries companion 0's signed identity with another key: the account signature fails",
        Some("BadSignedIdentity(BadAccountSignature)"),
    )?);

    // A device list with a flipped signature byte.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.link(c, T0 + 10_000)?;
    let list = f.list_now();
    // The list ends with the signature (12 40, 64 bytes) and the raw account key (1a 20, 32
    // bytes): flip the signature's first byte.
    let at = list.len().checked_sub(34 + 64).ok_or("device list too short")?;
    let mut tampered = list.clone();
    if let Some(b) = tampered.get_mut(at) {
        *b ^= 0x01;
    }
    f.update(&tampered)?;
    f.update(&list)?;
    cases.push(f.finish(
        "device-list-with-flipped-signature-byte",
        "one byte of the list's account signature flipped: refused; the genuine list is then accepted",
        Some("BadSignature"),
    )?);

    // Past the device list lifetime only the primary is trusted.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.link(c, T0 + 10_000)?;
    f.update(&f.list_now())?;
    let stamp = T0 + 11_000; // the list issued by the approval
    let devices = f.directory(&[c])?;
    for d in devices.iter().cloned() {
        f.trust(stamp + DEFAULT_DEVICE_LIST_LIFETIME_MS, d)?;
    }
    for d in devices.into_iter().rev() {
        f.trust(stamp + DEFAULT_DEVICE_LIST_LIFETIME_MS + 1, d)?;
    }
    cases.push(f.finish(
        "device-list-expired",
        "the list is exactly its lifetime old: the companion is trusted; 1 ms later it is refused",
        Some("ListExpired"),
    )?);

    // Unlinking a device that is not linked.
    let mut f = Flow::new(rng, T0)?;
    let c = f.companion();
    f.link(c, T0 + 10_000)?;
    f.unlink(1, T0 + DAY)?;
    f.unlink(1, T0 + DAY + 1)?;
    cases.push(f.finish(
        "unlink-twice",
        "device 1 unlinked a second time: refused, no new list",
        Some("UnknownDevice"),
    )?);

    Ok(cases)
}

/// The approval with the last byte of its HMAC (field 2, right after the details, field 1)
/// flipped.
fn flip_hmac_byte(approval: &[u8]) -> Result<Vec<u8>, String> {
    // Field 1: tag 0x0a, a varint length, the details.
    let mut at = 1;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = *approval.get(at).ok_or("approval too short")?;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    // Field 2: tag 0x12, length 0x20, 32 bytes.
    let hmac_tag = at + len;
    if approval.get(hmac_tag..hmac_tag + 2) != Some(&[0x12, 0x20][..]) {
        return Err("approval: the HMAC does not follow the details".into());
    }
    let mut out = approval.to_vec();
    let last = out.get_mut(hmac_tag + 2 + 31).ok_or("approval too short")?;
    *last ^= 0x01;
    Ok(out)
}

impl Recorder<'_> {
    /// The draws since the last call, named by the layout; an error if tandem drew otherwise.
    fn take(&mut self, names: &[(&str, usize)]) -> Result<Vec<(String, Value)>, String> {
        let draws = std::mem::take(&mut self.draws);
        let sizes: Vec<usize> = draws.iter().map(Vec::len).collect();
        let want: Vec<usize> = names.iter().map(|(_, n)| *n).collect();
        if sizes != want {
            return Err(format!("tandem drew {sizes:?} bytes, the layout names {want:?}"));
        }
        Ok(names
            .iter()
            .zip(draws)
            .map(|((name, _), d)| ((*name).to_string(), json!(hex::encode(d))))
            .collect())
    }
}

/// One account's flow, run with tandem and written down step by step.
struct Flow<'a> {
    rng: Recorder<'a>,
    account: Value,
    primary: PrimaryAccount,
    companions: Vec<KeyPair>,
    pending: BTreeMap<usize, PendingLink>,
    approvals: BTreeMap<usize, Vec<u8>>,
    linked: BTreeMap<usize, LinkedDevice>,
    peer: AccountView,
    steps: Vec<Value>,
    failure: Option<(usize, String)>,
}

fn step(name: &str, fields: Vec<(String, Value)>) -> Value {
    let mut map = Map::new();
    map.insert("step".into(), json!(name));
    map.extend(fields);
    Value::Object(map)
}

fn kv(name: &str, value: Value) -> (String, Value) {
    (name.to_string(), value)
}

fn device_json(d: &DirectoryDevice) -> Value {
    json!({
        "device_id": d.device_id,
        "identity_key": hex::encode(d.identity_key.as_raw()),
        "signed_identity": d.signed_identity.as_ref().map(hex::encode),
    })
}

impl<'a> Flow<'a> {
    fn new(inner: &'a mut ChaCha20Rng, registered_at: u64) -> Result<Self, String> {
        let account = KeyPair::from_private(PrivateKey::generate(&mut *inner));
        let mut rng = Recorder::new(inner);
        let primary = PrimaryAccount::new(account.clone(), registered_at, &mut rng);
        let mut fields = rng.take(&[("list_signature_random", 64)])?;
        fields.insert(
            0,
            kv("private", json!(hex::encode(account.private.to_bytes().expose()))),
        );
        fields.insert(1, kv("public", json!(hex::encode(account.public.as_raw()))));
        fields.push(kv("registered_at", json!(registered_at)));
        fields.push(kv(
            "device_list",
            json!(hex::encode(primary.device_list().serialize())),
        ));
        Ok(Self {
            rng,
            account: Value::Object(fields.into_iter().collect()),
            peer: AccountView::new(account.public),
            primary,
            companions: Vec::new(),
            pending: BTreeMap::new(),
            approvals: BTreeMap::new(),
            linked: BTreeMap::new(),
            steps: Vec::new(),
            failure: None,
        })
    }

    /// A new companion identity; its index.
    fn companion(&mut self) -> usize {
        self.companions
            .push(KeyPair::from_private(PrivateKey::generate(&mut *self.rng.inner)));
        self.companions.len() - 1
    }

    fn list_now(&self) -> Vec<u8> {
        self.primary.device_list().serialize().to_vec()
    }

    /// The primary and the given linked companions, as a directory reports them.
    fn directory(&self, companions: &[usize]) -> Result<Vec<DirectoryDevice>, String> {
        let mut devices = vec![DirectoryDevice {
            device_id: 0,
            identity_key: *self.primary.account_key(),
            signed_identity: None,
        }];
        for c in companions {
            let linked = self.linked.get(c).ok_or(format!("companion {c} is not linked"))?;
            devices.push(DirectoryDevice {
                device_id: linked.device_id(),
                identity_key: linked.identity().public,
                signed_identity: Some(linked.signed_identity().serialize().to_vec()),
            });
        }
        Ok(devices)
    }

    /// Records a step; a refused one (`error`) becomes the case's failing step.
    fn push(
        &mut self,
        name: &str,
        fields: Vec<(String, Value)>,
        error: Option<String>,
    ) -> Result<(), String> {
        if let Some(error) = error {
            if let Some((n, first)) = &self.failure {
                return Err(format!(
                    "step {n} already failed ({first}), now {name} fails with {error}"
                ));
            }
            self.failure = Some((self.steps.len(), error));
        }
        self.steps.push(step(name, fields));
        Ok(())
    }

    fn request(&mut self, c: usize, created_at: u64) -> Result<(), String> {
        let identity = self.companions.get(c).ok_or("no such companion")?.clone();
        let pending = PendingLink::new(identity, created_at, &mut self.rng);
        let mut fields = vec![kv("companion", json!(c)), kv("created_at", json!(created_at))];
        fields.extend(self.rng.take(&[("reference", 16), ("link_secret", 32)])?);
        fields.push(kv("qr_payload", json!(pending.request().to_qr_payload())));
        self.pending.insert(c, pending);
        self.push("request", fields, None)
    }

    /// Approves companion `c`'s request; the approval message when it succeeds.
    fn approve(&mut self, c: usize, at: u64) -> Result<Option<Vec<u8>>, String> {
        let pending = self.pending.get(&c).ok_or("no request")?;
        let request =
            LinkRequest::from_qr_payload(&pending.request().to_qr_payload()).map_err(|e| format!("{e:?}"))?;
        let result = self.primary.approve(&request, at, &mut self.rng);
        let mut fields = vec![kv("companion", json!(c)), kv("at", json!(at))];
        match result {
            Ok(approval) => {
                fields.extend(
                    self.rng
                        .take(&[("account_signature_random", 64), ("list_signature_random", 64)])?,
                );
                let assigned = self.primary.companions().last().ok_or("no companion recorded")?;
                fields.push(kv("device_id", json!(assigned.device_id)));
                fields.push(kv("key_index", json!(assigned.key_index)));
                fields.push(kv("approval", json!(hex::encode(&approval.message))));
                fields.push(kv(
                    "device_list",
                    json!(hex::encode(approval.device_list.serialize())),
                ));
                self.approvals.insert(c, approval.message.clone());
                self.push("approve", fields, None)?;
                Ok(Some(approval.message))
            }
            Err(e) => {
                self.rng.take(&[])?;
                self.push("approve", fields, Some(format!("{e:?}")))?;
                Ok(None)
            }
        }
    }

    fn complete(&mut self, c: usize, approval: &[u8]) -> Result<(), String> {
        let pending = self.pending.get(&c).ok_or("no request")?;
        let result = pending.complete(approval, &mut self.rng).and_then(|linked| {
            self.primary.confirm(linked.signed_identity().serialize())?;
            Ok(linked)
        });
        let mut fields = vec![
            kv("companion", json!(c)),
            kv("approval", json!(hex::encode(approval))),
        ];
        match result {
            Ok(linked) => {
                fields.extend(self.rng.take(&[("device_signature_random", 64)])?);
                fields.push(kv(
                    "signed_identity",
                    json!(hex::encode(linked.signed_identity().serialize())),
                ));
                self.linked.insert(c, linked);
                self.push("complete", fields, None)
            }
            Err(e) => {
                self.rng.take(&[])?;
                self.push("complete", fields, Some(format!("{e:?}")))
            }
        }
    }

    /// Completes with the approval the primary made.
    fn complete_genuine(&mut self, c: usize) -> Result<(), String> {
        let approval = self.approvals.get(&c).ok_or("not approved")?.clone();
        self.complete(c, &approval)
    }

    /// Request, approval one second later, completion.
    fn link(&mut self, c: usize, at: u64) -> Result<(), String> {
        self.request(c, at)?;
        self.approve(c, at + 1_000)?;
        self.complete_genuine(c)
    }

    fn unlink(&mut self, device_id: u32, at: u64) -> Result<(), String> {
        let result = self.primary.unlink(device_id, at, &mut self.rng);
        let mut fields = vec![kv("device_id", json!(device_id)), kv("at", json!(at))];
        match result {
            Ok(list) => {
                fields.extend(self.rng.take(&[("list_signature_random", 64)])?);
                fields.push(kv("device_list", json!(hex::encode(list.serialize()))));
                self.push("unlink", fields, None)
            }
            Err(e) => {
                self.rng.take(&[])?;
                self.push("unlink", fields, Some(format!("{e:?}")))
            }
        }
    }

    fn update(&mut self, list: &[u8]) -> Result<(), String> {
        let mut fields = vec![kv("device_list", json!(hex::encode(list)))];
        match self.peer.update(list) {
            Ok(update) => {
                fields.push(kv("added", json!(update.added)));
                fields.push(kv("removed", json!(update.removed)));
                self.push("update", fields, None)
            }
            Err(e) => self.push("update", fields, Some(format!("{e:?}"))),
        }
    }

    fn status(&mut self, c: usize, list: &[u8]) -> Result<(), String> {
        let linked = self.linked.get(&c).ok_or("not linked")?;
        let mut fields = vec![
            kv("companion", json!(c)),
            kv("device_list", json!(hex::encode(list))),
        ];
        match linked.status(list) {
            Ok(status) => {
                fields.push(kv("status", json!(format!("{status:?}"))));
                self.push("status", fields, None)
            }
            Err(e) => self.push("status", fields, Some(format!("{e:?}"))),
        }
    }

    fn verify(&mut self, at: u64, devices: Vec<DirectoryDevice>) -> Result<(), String> {
        let list = self.peer.list().ok_or("the peer holds no list")?;
        let set = verify_devices(list, &devices, at, DEFAULT_DEVICE_LIST_LIFETIME_MS);
        let trusted: Vec<Value> = set
            .trusted
            .iter()
            .map(|d| json!([d.device_id, d.key_index]))
            .collect();
        let refused: Vec<Value> = set
            .refused
            .iter()
            .map(|(id, why)| json!([id, format!("{why:?}")]))
            .collect();
        let fields = vec![
            kv("at", json!(at)),
            kv("list_lifetime_ms", json!(DEFAULT_DEVICE_LIST_LIFETIME_MS)),
            kv("devices", Value::Array(devices.iter().map(device_json).collect())),
            kv("trusted", Value::Array(trusted)),
            kv("refused", Value::Array(refused)),
        ];
        self.push("verify", fields, None)
    }

    fn trust(&mut self, at: u64, device: DirectoryDevice) -> Result<(), String> {
        let list = self.peer.list().ok_or("the peer holds no list")?;
        let set = verify_devices(
            list,
            std::slice::from_ref(&device),
            at,
            DEFAULT_DEVICE_LIST_LIFETIME_MS,
        );
        let mut fields = vec![
            kv("at", json!(at)),
            kv("list_lifetime_ms", json!(DEFAULT_DEVICE_LIST_LIFETIME_MS)),
            kv("device", device_json(&device)),
        ];
        match (set.trusted.first(), set.refused.first()) {
            (Some(d), _) => {
                fields.push(kv("key_index", json!(d.key_index)));
                self.push("trust", fields, None)
            }
            (None, Some((_, why))) => self.push("trust", fields, Some(format!("{why:?}"))),
            (None, None) => Err("verify_devices decided nothing".into()),
        }
    }

    /// The case; `expect_error` is the one refusal the flow must have met (or none).
    fn finish(self, id: &str, comment: &str, expect_error: Option<&str>) -> Result<Value, String> {
        let companions: Vec<Value> = self
            .companions
            .iter()
            .map(|k| {
                json!({
                    "private": hex::encode(k.private.to_bytes().expose()),
                    "public": hex::encode(k.public.as_raw()),
                })
            })
            .collect();
        let mut case = json!({
            "id": id,
            "comment": comment,
            "expect": "valid",
            "request_lifetime_ms": DEFAULT_LINK_REQUEST_LIFETIME_MS,
            "account": self.account,
            "companions": companions,
            "steps": self.steps,
        });
        match (expect_error, self.failure) {
            (None, None) => {}
            (Some(want), Some((n, got))) if want == got || got.split('(').next() == Some(want) => {
                if let Value::Object(map) = &mut case {
                    map.insert("expect".into(), json!("invalid"));
                    map.insert("error".into(), json!(want));
                    map.insert("fails_at".into(), json!(n));
                }
            }
            (want, got) => return Err(format!("{id}: expected failure {want:?}, got {got:?}")),
        }
        Ok(case)
    }
}
