//! The `session-transcript` kind: a pairwise session recorded from a real libsignal, replayed by
//! tandem playing each party whose keys are all known.
//!
//! Fields (see `test-vectors/README.md`): `alice` and `bob` (`identity_private`,
//! `identity_public`, `registration_id`, `generated_private_keys` — every key pair the library
//! generated for the party, in order, or `null`), Bob's signed and one-time prekeys, `messages`
//! (`sender`, `type` 3 = PreKeySignalMessage / 2 = SignalMessage, `plaintext`, `ciphertext`) and
//! `events` (`["send", i]`, `["receive", i]` in the order they happened). Invalid cases name one
//! receive (`fails_at`, an index into `events`) that must fail with `error`; every other receive
//! must still succeed, which shows the failure changed nothing.
//!
//! Replaying a party: its key generation is fed from `generated_private_keys` (rewound after a
//! failed receive, since the library discarded that key too); every receive of the other party's
//! message must give `plaintext`; every `send` of its own must give `ciphertext` byte for byte —
//! or, when the recording library wrote a version byte other than tandem's 0x33 (official
//! releases write 0x34), the same fields and AES ciphertext with only the version byte and the
//! MAC over it differing.

use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use serde::Deserialize;
use tandem::Address;
use tandem::crypto::{KeyPair, PrivateKey, PublicKey};
use tandem::session::{self, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use tandem::store::{MemoryStore, PreKeyStore, SignedPreKeyStore};
use tandem::wire::{PreKeySignalMessage, SignalMessage};

use super::{Hex, fields};
use crate::file::{Case, Expect};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Party {
    identity_private: Hex,
    identity_public: Hex,
    registration_id: u32,
    generated_private_keys: Option<Vec<Hex>>,
    signed_prekey_id: Option<u32>,
    signed_prekey_private: Option<Hex>,
    signed_prekey_public: Option<Hex>,
    signed_prekey_signature: Option<Hex>,
    one_time_prekey_id: Option<u32>,
    one_time_prekey_private: Option<Hex>,
    one_time_prekey_public: Option<Hex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    sender: String,
    #[serde(rename = "type")]
    kind: u8,
    plaintext: Hex,
    ciphertext: Hex,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Transcript {
    alice: Party,
    bob: Party,
    messages: Vec<Message>,
    events: Vec<(String, usize)>,
    fails_at: Option<usize>,
}

/// Hands out recorded private keys, in order, to tandem's key generation.
struct ScriptedRng {
    keys: Vec<[u8; 32]>,
    next: usize,
    misuse: Option<String>,
}

impl TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misuse.get_or_insert("asked for a u32".into());
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misuse.get_or_insert("asked for a u64".into());
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match (dst.len(), self.keys.get(self.next)) {
            (32, Some(key)) => {
                dst.copy_from_slice(key);
                self.next += 1;
            }
            (n, _) => {
                self.misuse.get_or_insert(format!(
                    "tandem drew {n} random bytes as draw #{} but the recording has {} keys",
                    self.next,
                    self.keys.len()
                ));
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}

fn key_pair(private: &Hex, public: Option<&Hex>, what: &str) -> Result<KeyPair, String> {
    let pair =
        KeyPair::from_private(PrivateKey::from_bytes(&private.0).map_err(|e| format!("{what}: {e:?}"))?);
    if let Some(public) = public {
        if pair.public.serialize()[..] != public.0[..] {
            return Err(format!("{what}: public key does not match private key"));
        }
    }
    Ok(pair)
}

fn public(h: Option<&Hex>, what: &str) -> Result<PublicKey, String> {
    PublicKey::deserialize(&h.ok_or(format!("missing {what}"))?.0).map_err(|e| format!("{what}: {e:?}"))
}

pub(super) fn transcript(case: &Case) -> Result<(), String> {
    let t: Transcript = fields(case)?;
    if let Some(i) = t.fails_at {
        match t.events.get(i) {
            Some((kind, _)) if kind == "receive" => {}
            _ => return Err("`fails_at` must name a receive event".into()),
        }
    }
    match (&case.expect, t.fails_at) {
        (Expect::Valid, None) | (Expect::Invalid { .. }, Some(_)) => {}
        _ => return Err("an invalid case needs `fails_at`, a valid one must not have it".into()),
    }
    let mut played = 0;
    for me in ["alice", "bob"] {
        let party = if me == "alice" { &t.alice } else { &t.bob };
        if party.generated_private_keys.is_some() {
            replay(&t, case, me).map_err(|e| format!("as {me}: {e}"))?;
            played += 1;
        }
    }
    if played == 0 {
        Err("no party can be replayed (no generated keys recorded)".into())
    } else {
        Ok(())
    }
}

fn replay(t: &Transcript, case: &Case, me: &str) -> Result<(), String> {
    let (mine, theirs, their_name) = if me == "alice" {
        (&t.alice, &t.bob, "bob")
    } else {
        (&t.bob, &t.alice, "alice")
    };
    let identity = key_pair(&mine.identity_private, Some(&mine.identity_public), "identity")?;
    let mut store = MemoryStore::new(identity, mine.registration_id);
    let keys = mine.generated_private_keys.as_deref().unwrap_or_default();
    let mut rng = ScriptedRng {
        keys: keys
            .iter()
            .map(|k| k.array::<32>("generated key"))
            .collect::<Result<_, _>>()?,
        next: 0,
        misuse: None,
    };
    let peer = Address::new(their_name, 1);

    let bob = &t.bob;
    if me == "bob" {
        let id = bob.signed_prekey_id.ok_or("missing signed_prekey_id")?;
        let pair = key_pair(
            bob.signed_prekey_private
                .as_ref()
                .ok_or("missing signed_prekey_private")?,
            bob.signed_prekey_public.as_ref(),
            "signed prekey",
        )?;
        let signature = bob
            .signed_prekey_signature
            .as_ref()
            .ok_or("missing signature")?
            .array::<64>("signature")?;
        store
            .save_signed_pre_key(SignedPreKeyRecord {
                id,
                key_pair: pair,
                signature: tandem::crypto::Signature(signature),
                timestamp: 0,
            })
            .map_err(|e| e.to_string())?;
        if let (Some(id), Some(private)) = (bob.one_time_prekey_id, &bob.one_time_prekey_private) {
            let key_pair = key_pair(private, bob.one_time_prekey_public.as_ref(), "one-time prekey")?;
            store
                .save_pre_key(PreKeyRecord { id, key_pair })
                .map_err(|e| e.to_string())?;
        }
    } else {
        let bundle = PreKeyBundle {
            registration_id: bob.registration_id,
            device_id: 1,
            pre_key: match (bob.one_time_prekey_id, &bob.one_time_prekey_public) {
                (Some(id), Some(k)) => Some((id, public(Some(k), "one-time prekey")?)),
                _ => None,
            },
            signed_pre_key_id: bob.signed_prekey_id.ok_or("missing signed_prekey_id")?,
            signed_pre_key: public(bob.signed_prekey_public.as_ref(), "signed prekey")?,
            signed_pre_key_signature: bob
                .signed_prekey_signature
                .as_ref()
                .ok_or("missing signature")?
                .0
                .clone(),
            identity_key: public(Some(&theirs.identity_public), "bob identity")?,
        };
        session::process_prekey_bundle(&mut store, &peer, &bundle, &mut rng)
            .map_err(|e| format!("processing the bundle: {e:?}"))?;
    }

    for (n, (kind, i)) in t.events.iter().enumerate() {
        let m = t.messages.get(*i).ok_or(format!("event {n}: no message {i}"))?;
        match kind.as_str() {
            "send" if m.sender == me => {
                let sent = session::encrypt(&mut store, &peer, &m.plaintext.0)
                    .map_err(|e| format!("event {n}: encrypt: {e:?}"))?;
                if sent.message_type() as u8 != m.kind {
                    return Err(format!(
                        "event {n}: sent type {:?}, recorded {}",
                        sent.message_type(),
                        m.kind
                    ));
                }
                same_message(sent.serialized(), &m.ciphertext.0, m.kind)
                    .map_err(|e| format!("event {n}: {e}"))?;
            }
            "receive" if m.sender != me => {
                let before = rng.next;
                let got = match m.kind {
                    3 => session::decrypt_prekey_message(&mut store, &peer, &m.ciphertext.0, &mut rng),
                    2 => session::decrypt_message(&mut store, &peer, &m.ciphertext.0, &mut rng),
                    k => return Err(format!("event {n}: unknown message type {k}")),
                };
                match (t.fails_at == Some(n), got, &case.expect) {
                    (false, Ok(p), _) if p == m.plaintext.0 => {}
                    (false, Ok(_), _) => return Err(format!("event {n}: wrong plaintext")),
                    (false, Err(e), _) => return Err(format!("event {n}: receive failed: {e:?}")),
                    (true, Ok(_), _) => return Err(format!("event {n}: must fail, but decrypted")),
                    (true, Err(e), Expect::Invalid { error }) => {
                        let got = format!("{e:?}");
                        if got.split('(').next() != Some(error.as_str()) {
                            return Err(format!("event {n}: expected {error}, got {got}"));
                        }
                        rng.next = before;
                    }
                    (true, Err(_), Expect::Valid) => return Err("valid case with fails_at".into()),
                }
            }
            "send" | "receive" => {}
            other => return Err(format!("event {n}: unknown event `{other}`")),
        }
        if let Some(why) = rng.misuse.take() {
            return Err(format!("event {n}: {why}"));
        }
    }
    if rng.next != rng.keys.len() {
        return Err(format!(
            "tandem used {} of the {} recorded keys",
            rng.next,
            rng.keys.len()
        ));
    }
    Ok(())
}

/// Compares a message tandem wrote with the recorded bytes: exactly, or — when the recording
/// carries another version byte — field by field, AES ciphertext included.
fn same_message(ours: &[u8], recorded: &[u8], kind: u8) -> Result<(), String> {
    if ours == recorded {
        return Ok(());
    }
    if recorded.first() == ours.first() {
        return Err(format!(
            "ciphertext differs:\n  ours     {}\n  recorded {}",
            hex::encode(ours),
            hex::encode(recorded)
        ));
    }
    let inner = |m: &SignalMessage| {
        (
            *m.sender_ratchet_key(),
            m.counter(),
            m.previous_counter(),
            m.ciphertext().to_vec(),
        )
    };
    let parse_err = |e| format!("cannot parse: {e:?}");
    let same = if kind == 3 {
        let (a, b) = (
            PreKeySignalMessage::parse(ours).map_err(parse_err)?,
            PreKeySignalMessage::parse(recorded).map_err(parse_err)?,
        );
        (
            a.registration_id(),
            a.pre_key_id(),
            a.signed_pre_key_id(),
            *a.base_key(),
            *a.identity_key(),
            inner(a.message()),
        ) == (
            b.registration_id(),
            b.pre_key_id(),
            b.signed_pre_key_id(),
            *b.base_key(),
            *b.identity_key(),
            inner(b.message()),
        )
    } else {
        inner(&SignalMessage::parse(ours).map_err(parse_err)?)
            == inner(&SignalMessage::parse(recorded).map_err(parse_err)?)
    };
    if same {
        Ok(())
    } else {
        Err("message fields differ from the recording".into())
    }
}
