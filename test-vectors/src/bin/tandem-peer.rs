//! `tandem-peer --seed N`: one tandem device behind a line-based JSON interface, for live
//! interop tests (`test-vectors/interop/live-sessions.js` and `live-groups.js` drive it against
//! the real libsignal).
//!
//! Reads one JSON request per line on stdin and answers each with one JSON line on stdout, until
//! stdin closes. All randomness (identity, prekeys, base and ratchet keys, registration id when
//! none is given) comes from one ChaCha20 generator seeded with `N`, so a run is reproducible
//! given the same requests. Peers and group senders are addressed as `(name, device 1)`; the
//! device's own address (its sender address in groups) is `(tandem, device 1)`, or the `name`
//! given to `init`. Byte strings are hex.
//!
//! Requests (`op`) and their answers:
//!
//! - `{"op":"init","registration_id":R?,"pre_keys":K?,"name":N?}`: (re)creates the device: a
//!   fresh identity, an empty store (no sessions, no sender keys), signed prekey id 1 and one-time
//!   prekeys with ids 1..=K (default 3), registration id `R` (default: drawn) and own address
//!   `(N, 1)` (default `tandem`). Answers with its bundle:
//!   `{"registration_id","identity_key" (33 bytes),"signed_pre_key_id","signed_pre_key" (33),
//!   "signature" (64),"pre_key_id","pre_key" (33, the first one-time prekey),"pre_keys":[{"id","key"}]}`.
//! - `{"op":"process_bundle","peer":P,"registration_id","identity_key","signed_pre_key_id",
//!   "signed_pre_key","signature","pre_key_id"?,"pre_key"?,"device_id"?}`: starts a session
//!   with `P` as initiator. Answers `{}`.
//! - `{"op":"encrypt","peer":P,"plaintext":H}` → `{"type":3|2,"ciphertext":H}`.
//! - `{"op":"decrypt","peer":P,"type":3|2,"ciphertext":H}` → `{"plaintext":H}`.
//! - `{"op":"status"}` → `{"pre_keys_left":K}`.
//!
//! Sender Keys (distribution ids are 16 bytes, hex):
//!
//! - `{"op":"group_distribution","distribution_id":D}` → `{"distribution_message":H}`: our own
//!   sender chain for `D` (made on first use) as a SenderKeyDistributionMessage.
//! - `{"op":"group_process","sender":P,"distribution_message":H}` → `{}`: stores `P`'s chain.
//! - `{"op":"group_encrypt","distribution_id":D,"plaintext":H}` → `{"ciphertext":H}` (a
//!   SenderKeyMessage).
//! - `{"op":"group_decrypt","sender":P,"ciphertext":H}` → `{"plaintext":H}`.
//! - `{"op":"group_reset","distribution_id":D}` → `{}`: forgets our own chain for `D`, so the
//!   next `group_distribution` starts a new one.
//!
//! When tandem refuses, the answer is `{"error":NAME}`, NAME being the `Debug` form of tandem's
//! error (`BadMac`, `Duplicate`, `BadSignature`, …). A request this program cannot read (bad
//! JSON, a missing field, bad hex, `init` not done) is answered `{"bad_request":TEXT}`.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Map, Value, json};
use tandem::Address;
use tandem::crypto::{KeyPair, PublicKey};
use tandem::group::{self, DistributionError};
use tandem::session::{self, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use tandem::store::{MemoryStore, PreKeyStore, SignedPreKeyStore};
use tandem::wire::SenderKeyDistributionMessage;

/// Why a request got no protocol answer.
enum Failure {
    /// tandem refused (the `Debug` name of its error).
    Refused(String),
    /// The request itself is wrong.
    BadRequest(String),
}

fn refused(e: impl std::fmt::Debug) -> Failure {
    Failure::Refused(format!("{e:?}"))
}

fn bad(text: impl Into<String>) -> Failure {
    Failure::BadRequest(text.into())
}

/// The generator every key comes from, the device (`None` before `init`) and its own address.
struct Peer {
    rng: ChaCha20Rng,
    store: Option<MemoryStore>,
    own: Address,
}

fn field<'a>(req: &'a Map<String, Value>, name: &str) -> Result<&'a Value, Failure> {
    req.get(name).ok_or_else(|| bad(format!("missing `{name}`")))
}

fn text<'a>(req: &'a Map<String, Value>, name: &str) -> Result<&'a str, Failure> {
    field(req, name)?
        .as_str()
        .ok_or_else(|| bad(format!("`{name}` must be a string")))
}

fn bytes(req: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(text(req, name)?).map_err(|e| bad(format!("`{name}`: {e}")))
}

fn number(req: &Map<String, Value>, name: &str) -> Result<u32, Failure> {
    field(req, name)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad(format!("`{name}` must be a u32")))
}

/// An optional field: absent or `null` is `None`.
fn optional<'a>(req: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    req.get(name).filter(|v| !v.is_null())
}

fn public_key(req: &Map<String, Value>, name: &str) -> Result<PublicKey, Failure> {
    PublicKey::deserialize(&bytes(req, name)?).map_err(|e| bad(format!("`{name}`: {e:?}")))
}

fn peer_address(req: &Map<String, Value>) -> Result<Address, Failure> {
    Ok(Address::new(text(req, "peer")?, 1))
}

fn sender_address(req: &Map<String, Value>) -> Result<Address, Failure> {
    Ok(Address::new(text(req, "sender")?, 1))
}

fn distribution_id(req: &Map<String, Value>) -> Result<[u8; 16], Failure> {
    <[u8; 16]>::try_from(bytes(req, "distribution_id")?)
        .map_err(|_| bad("`distribution_id` must be 16 bytes"))
}

impl Peer {
    fn store(&mut self) -> Result<&mut MemoryStore, Failure> {
        self.store
            .as_mut()
            .ok_or_else(|| bad("no device yet: send `init` first"))
    }

    fn handle(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        match text(req, "op")? {
            "init" => self.init(req),
            "process_bundle" => self.process_bundle(req),
            "encrypt" => self.encrypt(req),
            "decrypt" => self.decrypt(req),
            "status" => {
                let left = self.store()?.pre_key_count();
                Ok(json!({ "pre_keys_left": left }))
            }
            "group_distribution" => self.group_distribution(req),
            "group_process" => self.group_process(req),
            "group_encrypt" => self.group_encrypt(req),
            "group_decrypt" => self.group_decrypt(req),
            "group_reset" => {
                let id = distribution_id(req)?;
                let own = self.own.clone();
                group::reset_own_sender_key(self.store()?, &own, id).map_err(refused)?;
                Ok(json!({}))
            }
            other => Err(bad(format!("unknown op `{other}`"))),
        }
    }

    fn init(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let count = match optional(req, "pre_keys") {
            Some(_) => number(req, "pre_keys")?,
            None => 3,
        };
        let identity = KeyPair::generate(&mut self.rng);
        let registration_id = match optional(req, "registration_id") {
            Some(_) => number(req, "registration_id")?,
            None => session::generate_registration_id(&mut self.rng),
        };
        let own = match optional(req, "name") {
            Some(_) => Address::new(text(req, "name")?, 1),
            None => Address::new("tandem", 1),
        };
        let mut store = MemoryStore::new(identity.clone(), registration_id);
        let signed = SignedPreKeyRecord::generate(1, &identity, 0, &mut self.rng);
        let mut pre_keys = Vec::new();
        for id in 1..=count {
            let record = PreKeyRecord::generate(id, &mut self.rng);
            pre_keys.push((id, hex::encode(record.key_pair.public.serialize())));
            store.save_pre_key(record).map_err(refused)?;
        }
        let answer = json!({
            "registration_id": registration_id,
            "identity_key": hex::encode(identity.public.serialize()),
            "signed_pre_key_id": signed.id,
            "signed_pre_key": hex::encode(signed.key_pair.public.serialize()),
            "signature": hex::encode(signed.signature.to_bytes()),
            "pre_key_id": pre_keys.first().map(|(id, _)| id),
            "pre_key": pre_keys.first().map(|(_, key)| key),
            "pre_keys": pre_keys.iter().map(|(id, key)| json!({ "id": id, "key": key })).collect::<Vec<_>>(),
        });
        store.save_signed_pre_key(signed).map_err(refused)?;
        self.store = Some(store);
        self.own = own;
        Ok(answer)
    }

    fn process_bundle(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let pre_key = match (optional(req, "pre_key_id"), optional(req, "pre_key")) {
            (Some(_), Some(_)) => Some((number(req, "pre_key_id")?, public_key(req, "pre_key")?)),
            (None, None) => None,
            _ => return Err(bad("`pre_key_id` and `pre_key` go together")),
        };
        let bundle = PreKeyBundle {
            registration_id: number(req, "registration_id")?,
            device_id: match optional(req, "device_id") {
                Some(_) => number(req, "device_id")?,
                None => 1,
            },
            pre_key,
            signed_pre_key_id: number(req, "signed_pre_key_id")?,
            signed_pre_key: public_key(req, "signed_pre_key")?,
            signed_pre_key_signature: bytes(req, "signature")?,
            identity_key: public_key(req, "identity_key")?,
        };
        let address = peer_address(req)?;
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| bad("no device yet: send `init` first"))?;
        session::process_prekey_bundle(store, &address, &bundle, &mut self.rng).map_err(refused)?;
        Ok(json!({}))
    }

    fn encrypt(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let address = peer_address(req)?;
        let plaintext = bytes(req, "plaintext")?;
        let message = session::encrypt(self.store()?, &address, &plaintext).map_err(refused)?;
        Ok(json!({
            "type": message.message_type() as u8,
            "ciphertext": hex::encode(message.serialized()),
        }))
    }

    fn decrypt(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let address = peer_address(req)?;
        let ciphertext = bytes(req, "ciphertext")?;
        let kind = number(req, "type")?;
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| bad("no device yet: send `init` first"))?;
        let plaintext = match kind {
            3 => session::decrypt_prekey_message(store, &address, &ciphertext, &mut self.rng),
            2 => session::decrypt_message(store, &address, &ciphertext, &mut self.rng),
            _ => return Err(bad("`type` must be 3 (PreKeySignalMessage) or 2 (SignalMessage)")),
        }
        .map_err(refused)?;
        Ok(json!({ "plaintext": hex::encode(plaintext) }))
    }
}

impl Peer {
    fn group_distribution(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let id = distribution_id(req)?;
        let own = self.own.clone();
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| bad("no device yet: send `init` first"))?;
        let message = group::create_distribution_message(store, &own, id, &mut self.rng).map_err(refused)?;
        Ok(json!({ "distribution_message": hex::encode(message.serialized()) }))
    }

    fn group_process(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let sender = sender_address(req)?;
        let message = SenderKeyDistributionMessage::parse(&bytes(req, "distribution_message")?)
            .map_err(|e| refused(DistributionError::from(e)))?;
        group::process_distribution_message(self.store()?, &sender, &message).map_err(refused)?;
        Ok(json!({}))
    }

    fn group_encrypt(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let id = distribution_id(req)?;
        let plaintext = bytes(req, "plaintext")?;
        let own = self.own.clone();
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| bad("no device yet: send `init` first"))?;
        let message = group::encrypt(store, &own, id, &plaintext, &mut self.rng).map_err(refused)?;
        Ok(json!({ "ciphertext": hex::encode(message.serialized()) }))
    }

    fn group_decrypt(&mut self, req: &Map<String, Value>) -> Result<Value, Failure> {
        let sender = sender_address(req)?;
        let ciphertext = bytes(req, "ciphertext")?;
        let plaintext = group::decrypt(self.store()?, &sender, &ciphertext).map_err(refused)?;
        Ok(json!({ "plaintext": hex::encode(plaintext) }))
    }
}

fn answer(peer: &mut Peer, line: &str) -> Value {
    let request: Result<Map<String, Value>, _> = serde_json::from_str(line);
    let result = match request {
        Ok(req) => peer.handle(&req),
        Err(e) => Err(bad(format!("not a JSON object: {e}"))),
    };
    match result {
        Ok(v) => v,
        Err(Failure::Refused(name)) => json!({ "error": name }),
        Err(Failure::BadRequest(text)) => json!({ "bad_request": text }),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = match args.as_slice() {
        [flag, seed] if flag == "--seed" => seed.parse::<u64>().ok(),
        _ => None,
    };
    let Some(seed) = seed else {
        eprintln!("usage: tandem-peer --seed N   (then JSON requests on stdin, one per line)");
        return ExitCode::from(2);
    };
    let mut peer = Peer {
        rng: ChaCha20Rng::seed_from_u64(seed),
        store: None,
        own: Address::new("tandem", 1),
    };
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("tandem-peer: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = answer(&mut peer, &line);
        if let Err(e) = writeln!(stdout, "{reply}").and_then(|()| stdout.flush()) {
            eprintln!("tandem-peer: cannot write stdout: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
