//! The stateful session-decryption driver, shared (through `#[path]`) by the `session_decrypt`
//! fuzz target and `protocol/tests/fuzz_corpus.rs`, which replays `fuzz/seeds/session_decrypt`.
//!
//! # The fixture
//!
//! Alice and Bob (each with a signed prekey 7 and a one-time prekey 42, from seeded ChaCha20)
//! set up a session and talk until both have ratcheted twice and each holds messages from the
//! other that it has not read yet: one on an old chain (a PreKey message Bob never got), one
//! whose key was skipped, and the next one of the current chain (and for Alice, one that starts
//! a new chain). It is built once; every input starts from a clone.
//!
//! # The input
//!
//! ```text
//! byte 0  bit 0: 0 = Bob receives (from Alice), 1 = Alice receives (from Bob)
//!         bit 1: 0 = decrypt_message, 1 = decrypt_prekey_message
//!         bit 2: 0 = the rest of the input is the message
//!                1 = mutate a real message: byte 1 picks it among `sources` (messages of the
//!                    peer to the receiver, read or not, and the SignalMessage inside each
//!                    PreKey one); then 4-byte edits [op, pos lo, pos hi, value], op % 6:
//!                    0 flip bit (value % 8) of byte pos, 1 truncate to pos, 2 set byte pos to
//!                    value, 3 insert value at pos, 4 remove byte pos, 5 append value
//!                    (positions modulo the current length).
//! ```
//!
//! # The properties
//!
//! - No panic.
//! - A refused message writes nothing to the receiver's store (every write is counted), and is
//!   not one of the peer's unread messages given to the right function.
//! - A message that decrypts carries one of the peer's unread messages: its bytes are that
//!   `SignalMessage`, or (through `decrypt_prekey_message`) a PreKey wrapper around it with the
//!   session's base key. When the wrapper's base key names an existing session its other fields
//!   (identity key, registration id, prekey ids, version low nibble) are not authenticated;
//!   tandem then remembers the session's identity, never the wrapper's. So: the plaintext is
//!   that message's, the peer's remembered identity is unchanged, and the message does not
//!   decrypt a second time.
//! - Afterwards the receiver still reads the peer: after a refusal the next message of its
//!   current receiving chain decrypts; after a success every unread message does, and the
//!   receiver's reply decrypts at the peer.

#![allow(dead_code)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::crypto::{KeyPair, PublicKey};
use tandem::session::{self, DecryptError, PreKeyBundle, PreKeyRecord, SessionRecord, SignedPreKeyRecord};
use tandem::store::{
    IdentityStore, MemoryStore, PreKeyStore, ProtocolStore, SessionStore, SignedPreKeyStore, StoreError,
};
use tandem::wire::{MessageType, PreKeySignalMessage};

/// A `MemoryStore` that counts every write.
#[derive(Clone)]
pub struct Tracked {
    pub inner: MemoryStore,
    pub writes: u64,
}

impl IdentityStore for Tracked {
    fn identity_key_pair(&self) -> Result<KeyPair, StoreError> {
        self.inner.identity_key_pair()
    }
    fn local_registration_id(&self) -> Result<u32, StoreError> {
        self.inner.local_registration_id()
    }
    fn identity(&self, a: &Address) -> Result<Option<PublicKey>, StoreError> {
        self.inner.identity(a)
    }
    fn save_identity(&mut self, a: &Address, k: &PublicKey) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.save_identity(a, k)
    }
}

impl PreKeyStore for Tracked {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        self.inner.pre_key(id)
    }
    fn save_pre_key(&mut self, r: PreKeyRecord) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.save_pre_key(r)
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.remove_pre_key(id)
    }
}

impl SignedPreKeyStore for Tracked {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        self.inner.signed_pre_key(id)
    }
    fn save_signed_pre_key(&mut self, r: SignedPreKeyRecord) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.save_signed_pre_key(r)
    }
}

impl SessionStore for Tracked {
    fn session(&self, a: &Address) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.session(a)
    }
    fn save_session(&mut self, a: &Address, r: SessionRecord) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.save_session(a, r)
    }
}

// The default commit writes through the counted methods above.
impl ProtocolStore for Tracked {}

/// One device: its store, its CSPRNG, its address and identity.
#[derive(Clone)]
pub struct Device {
    pub store: Tracked,
    pub rng: ChaCha20Rng,
    pub address: Address,
    pub identity: PublicKey,
}

/// The unread message of each receiver's current receiving chain that is decrypted after
/// every refused input.
const PROBE_TO_BOB: &str = "a5";
const PROBE_TO_ALICE: &str = "b4";

/// A message one device really sent to the other.
#[derive(Clone)]
pub struct Genuine {
    pub name: &'static str,
    pub kind: MessageType,
    pub bytes: Vec<u8>,
    /// The `SignalMessage` bytes: `bytes` itself, or the one inside a PreKey message.
    pub inner: Vec<u8>,
    pub plaintext: Vec<u8>,
    /// Whether the receiver has already decrypted it.
    pub read: bool,
}

/// The two devices, mid-conversation, and the messages each has (or has not yet) read.
pub struct Fixture {
    pub alice: Device,
    pub bob: Device,
    /// Alice's base key: identifies the session's X3DH run on both sides.
    pub base_key: PublicKey,
    pub to_alice: Vec<Genuine>,
    pub to_bob: Vec<Genuine>,
}

fn device(seed: u64, name: &str) -> (Device, PreKeyBundle) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = KeyPair::generate(&mut rng);
    let registration_id = session::generate_registration_id(&mut rng);
    let mut store = MemoryStore::new(identity.clone(), registration_id);
    let signed = SignedPreKeyRecord::generate(7, &identity, 1_700_000_000_000, &mut rng);
    let one_time = PreKeyRecord::generate(42, &mut rng);
    let bundle = PreKeyBundle {
        registration_id,
        device_id: 1,
        pre_key: Some((one_time.id, one_time.key_pair.public)),
        signed_pre_key_id: signed.id,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
        identity_key: identity.public,
    };
    store.save_signed_pre_key(signed).unwrap();
    store.save_pre_key(one_time).unwrap();
    let device = Device {
        store: Tracked {
            inner: store,
            writes: 0,
        },
        rng,
        address: Address::new(name, 1),
        identity: identity.public,
    };
    (device, bundle)
}

fn send(from: &mut Device, to: &Device, name: &'static str, text: &str) -> Genuine {
    let m = session::encrypt(&mut from.store, &to.address, text.as_bytes()).unwrap();
    let bytes = m.serialized().to_vec();
    let inner = match m.message_type() {
        MessageType::PreKey => PreKeySignalMessage::parse(&bytes)
            .unwrap()
            .message()
            .serialized()
            .to_vec(),
        _ => bytes.clone(),
    };
    Genuine {
        name,
        kind: m.message_type(),
        bytes,
        inner,
        plaintext: text.as_bytes().to_vec(),
        read: false,
    }
}

/// Decrypts `g` at `at` with the function its type calls for.
fn receive(at: &mut Device, from: &Address, g: &Genuine) -> Result<Vec<u8>, DecryptError> {
    decrypt(at, from, &g.bytes, g.kind == MessageType::PreKey)
}

fn decrypt(at: &mut Device, from: &Address, bytes: &[u8], prekey: bool) -> Result<Vec<u8>, DecryptError> {
    if prekey {
        session::decrypt_prekey_message(&mut at.store, from, bytes, &mut at.rng)
    } else {
        session::decrypt_message(&mut at.store, from, bytes, &mut at.rng)
    }
}

fn deliver(at: &mut Device, from: &Address, g: &mut Genuine) {
    assert_eq!(receive(at, from, g).unwrap(), g.plaintext, "{}", g.name);
    g.read = true;
}

fn build() -> Fixture {
    let (mut alice, _) = device(0xA11CE, "alice");
    let (mut bob, bob_bundle) = device(0xB0B, "bob");
    let (a, b) = (alice.address.clone(), bob.address.clone());
    session::process_prekey_bundle(&mut alice.store, &b, &bob_bundle, &mut alice.rng).unwrap();
    // Alice's first chain: two PreKey messages; Bob reads only the first.
    let mut p0 = send(&mut alice, &bob, "p0", "p0: hello Bob");
    let p1 = send(&mut alice, &bob, "p1", "p1: a second PreKey message, never read");
    deliver(&mut bob, &a, &mut p0);
    // Both ratchet twice.
    let mut b0 = send(&mut bob, &alice, "b0", "b0: hi Alice");
    deliver(&mut alice, &b, &mut b0);
    let mut a2 = send(&mut alice, &bob, "a2", "a2: second chain");
    deliver(&mut bob, &a, &mut a2);
    let mut b1 = send(&mut bob, &alice, "b1", "b1: second chain");
    deliver(&mut alice, &b, &mut b1);
    // Messages in flight both ways; each side reads the middle one (skipping a key).
    let a3 = send(&mut alice, &bob, "a3", "a3: skipped, read later");
    let mut a4 = send(&mut alice, &bob, "a4", "a4: read out of order");
    let a5 = send(&mut alice, &bob, "a5", "a5: next in chain");
    let b2 = send(&mut bob, &alice, "b2", "b2: skipped, read later");
    let mut b3 = send(&mut bob, &alice, "b3", "b3: read out of order");
    let b4 = send(&mut bob, &alice, "b4", "b4: next in chain");
    deliver(&mut bob, &a, &mut a4);
    deliver(&mut alice, &b, &mut b3);
    // Bob has ratcheted on a4: his next message starts a new chain for Alice.
    let b5 = send(&mut bob, &alice, "b5", "b5: new chain");
    let base_key = *PreKeySignalMessage::parse(&p0.bytes).unwrap().base_key();
    assert_eq!(p0.kind, MessageType::PreKey);
    assert_eq!(p1.kind, MessageType::PreKey);
    assert_eq!(a3.kind, MessageType::Whisper);
    Fixture {
        alice,
        bob,
        base_key,
        to_alice: vec![b0, b1, b2, b3, b4, b5],
        to_bob: vec![p0, p1, a2, a3, a4, a5],
    }
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// What mutation mode picks from: each genuine message to the receiver, then the
/// `SignalMessage` inside each PreKey one.
pub fn sources(to_alice: bool) -> Vec<(String, Vec<u8>)> {
    let fx = fixture();
    let genuine = if to_alice { &fx.to_alice } else { &fx.to_bob };
    let mut out: Vec<_> = genuine
        .iter()
        .map(|g| (g.name.to_string(), g.bytes.clone()))
        .collect();
    out.extend(
        genuine
            .iter()
            .filter(|g| g.kind == MessageType::PreKey)
            .map(|g| (format!("{}-inner", g.name), g.inner.clone())),
    );
    out
}

#[path = "mutate.rs"]
mod mutate;
use mutate::mutate;

/// Whether `bytes`, given to the `prekey` or plain decrypt function, carries genuine message
/// `g` (see the module docs).
fn carries(fx: &Fixture, bytes: &[u8], prekey: bool, g: &Genuine) -> bool {
    if !prekey {
        return bytes == g.inner;
    }
    PreKeySignalMessage::parse(bytes)
        .is_ok_and(|m| m.message().serialized() == g.inner && m.base_key() == &fx.base_key)
}

/// How the receiver took the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused, with this error.
    Refused(DecryptError),
    /// Decrypted: it carried the genuine message with this name.
    Decrypted(&'static str),
}

/// The message bytes an input stands for, and its flags (see the module docs).
pub fn message_of(data: &[u8]) -> (bool, bool, Vec<u8>) {
    let (ctl, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    let (to_alice, prekey, mutating) = (ctl & 1 != 0, ctl & 2 != 0, ctl & 4 != 0);
    let bytes = if mutating {
        let sources = sources(to_alice);
        let (pick, edits) = rest.split_first().map_or((0, &[][..]), |(p, e)| (*p, e));
        mutate(&sources[usize::from(pick) % sources.len()].1, edits)
    } else {
        rest.to_vec()
    };
    (to_alice, prekey, bytes)
}

/// Runs one input and checks every property; panics on a violation.
pub fn run(data: &[u8]) -> Outcome {
    let fx = fixture();
    let (to_alice, prekey, bytes) = message_of(data);
    let (mut me, mut peer, mut genuine) = if to_alice {
        (fx.alice.clone(), fx.bob.clone(), fx.to_alice.clone())
    } else {
        (fx.bob.clone(), fx.alice.clone(), fx.to_bob.clone())
    };
    let from = peer.address.clone();
    let writes = me.store.writes;
    let outcome = match decrypt(&mut me, &from, &bytes, prekey) {
        Ok(plaintext) => {
            let Some(g) = genuine
                .iter_mut()
                .find(|g| !g.read && carries(fx, &bytes, prekey, g))
            else {
                panic!(
                    "decrypted a message that carries no unread genuine message (prekey: {prekey}): {}",
                    hex(&bytes)
                );
            };
            assert_eq!(plaintext, g.plaintext, "wrong plaintext for {}", g.name);
            assert_eq!(
                me.store.identity(&from).unwrap(),
                Some(peer.identity),
                "{} decrypted, but the peer's remembered identity changed",
                g.name
            );
            g.read = true;
            let writes = me.store.writes;
            let again = receive(&mut me, &from, g);
            assert!(again.is_err(), "{} decrypted a second time", g.name);
            assert_eq!(
                me.store.writes, writes,
                "a replay of {} wrote to the store",
                g.name
            );
            Outcome::Decrypted(g.name)
        }
        Err(e) => {
            assert_eq!(
                me.store.writes,
                writes,
                "a refused message ({e:?}) wrote to the store: {}",
                hex(&bytes)
            );
            if let Some(g) = genuine
                .iter()
                .find(|g| !g.read && (g.bytes == bytes && (g.kind == MessageType::PreKey) == prekey))
            {
                panic!("the unread genuine message {} was refused: {e:?}", g.name);
            }
            if let Some(g) = genuine.iter().find(|g| !g.read && !prekey && g.inner == bytes) {
                panic!("the SignalMessage of unread {} was refused: {e:?}", g.name);
            }
            Outcome::Refused(e)
        }
    };
    // After a refusal (which wrote nothing, as checked above) the next message of the current
    // chain must decrypt; after a success, everything unread must (a DH ratchet step at the
    // receiver is costly, so it is not run on every refusal).
    let refused = matches!(outcome, Outcome::Refused(_));
    for g in genuine
        .iter_mut()
        .filter(|g| !g.read && (!refused || g.name == PROBE_TO_BOB || g.name == PROBE_TO_ALICE))
    {
        match receive(&mut me, &from, g) {
            Ok(p) => assert_eq!(p, g.plaintext, "{} decrypted wrong after the input", g.name),
            Err(e) => panic!(
                "{} no longer decrypts after the input ({outcome:?}): {e:?}",
                g.name
            ),
        }
        g.read = true;
    }
    if matches!(outcome, Outcome::Decrypted(_)) {
        let reply = send(&mut me, &peer, "reply", "reply after the input");
        let me_address = me.address.clone();
        assert_eq!(receive(&mut peer, &me_address, &reply).unwrap(), reply.plaintext);
    }
    outcome
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
