//! Pairwise sessions end to end through the stores: the invariants the issue names, and
//! property tests over random interleavings with drops, duplicates and reordering.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::consts::{MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS};
use tandem::crypto::{KeyPair, PublicKey};
use tandem::session::{
    self, BundleError, DecryptError, PreKeyBundle, PreKeyRecord, SessionRecord, SignedPreKeyRecord,
};
use tandem::store::{
    IdentityStore, MemoryStore, PreKeyStore, ProtocolStore, SessionCommit, SessionStore, SignedPreKeyStore,
    StoreError,
};
use tandem::wire::{MessageType, SignalMessage};

/// A MemoryStore that counts commits, to show that a failed operation writes nothing.
struct Counting {
    inner: MemoryStore,
    commits: usize,
}

impl IdentityStore for Counting {
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
        self.inner.save_identity(a, k)
    }
}
impl PreKeyStore for Counting {
    fn pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, StoreError> {
        self.inner.pre_key(id)
    }
    fn save_pre_key(&mut self, r: PreKeyRecord) -> Result<(), StoreError> {
        self.inner.save_pre_key(r)
    }
    fn remove_pre_key(&mut self, id: u32) -> Result<(), StoreError> {
        self.inner.remove_pre_key(id)
    }
}
impl SignedPreKeyStore for Counting {
    fn signed_pre_key(&self, id: u32) -> Result<Option<SignedPreKeyRecord>, StoreError> {
        self.inner.signed_pre_key(id)
    }
    fn save_signed_pre_key(&mut self, r: SignedPreKeyRecord) -> Result<(), StoreError> {
        self.inner.save_signed_pre_key(r)
    }
}
impl SessionStore for Counting {
    fn session(&self, a: &Address) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.session(a)
    }
    fn save_session(&mut self, a: &Address, r: SessionRecord) -> Result<(), StoreError> {
        self.inner.save_session(a, r)
    }
}
impl ProtocolStore for Counting {
    fn commit(&mut self, c: SessionCommit) -> Result<(), StoreError> {
        self.commits += 1;
        self.inner.commit(c)
    }
}

struct Device {
    store: Counting,
    rng: ChaCha20Rng,
    bundle: PreKeyBundle,
}

fn device(seed: u64, with_one_time: bool) -> Device {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = KeyPair::generate(&mut rng);
    let registration_id = session::generate_registration_id(&mut rng);
    let mut store = MemoryStore::new(identity.clone(), registration_id);
    let signed = SignedPreKeyRecord::generate(7, &identity, 1_700_000_000_000, &mut rng);
    let one_time = PreKeyRecord::generate(42, &mut rng);
    let bundle = PreKeyBundle {
        registration_id,
        device_id: 1,
        pre_key: with_one_time.then_some((one_time.id, one_time.key_pair.public)),
        signed_pre_key_id: signed.id,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
        identity_key: identity.public,
    };
    store.save_signed_pre_key(signed).unwrap();
    store.save_pre_key(one_time).unwrap();
    Device {
        store: Counting {
            inner: store,
            commits: 0,
        },
        rng,
        bundle,
    }
}

fn alice() -> Address {
    Address::new("alice", 1)
}
fn bob() -> Address {
    Address::new("bob", 1)
}

fn send(from: &mut Device, to: &Address, text: &[u8]) -> (MessageType, Vec<u8>) {
    let m = session::encrypt(&mut from.store, to, text).unwrap();
    (m.message_type(), m.serialized().to_vec())
}

fn receive(at: &mut Device, from: &Address, m: &(MessageType, Vec<u8>)) -> Result<Vec<u8>, DecryptError> {
    match m.0 {
        MessageType::PreKey => session::decrypt_prekey_message(&mut at.store, from, &m.1, &mut at.rng),
        _ => session::decrypt_message(&mut at.store, from, &m.1, &mut at.rng),
    }
}

/// Alice and Bob with a session: Alice initiated, Bob answered, Alice read the answer.
fn pair(seed: u64) -> (Device, Device) {
    let (mut a, mut b) = (device(seed, false), device(seed + 1, true));
    let bundle = b.bundle.clone();
    session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng).unwrap();
    let first = send(&mut a, &bob(), b"hi");
    assert_eq!(receive(&mut b, &alice(), &first).unwrap(), b"hi");
    let reply = send(&mut b, &alice(), b"hello");
    assert_eq!(receive(&mut a, &bob(), &reply).unwrap(), b"hello");
    (a, b)
}

fn flip(m: &(MessageType, Vec<u8>), at_from_end: usize) -> (MessageType, Vec<u8>) {
    let mut bytes = m.1.clone();
    let i = bytes.len() - at_from_end;
    bytes[i] ^= 1;
    (m.0, bytes)
}

#[test]
fn a_failed_decrypt_writes_nothing_and_the_genuine_message_still_decrypts() {
    let (mut a, mut b) = pair(1);
    let m = send(&mut a, &bob(), b"after");
    // Flipped MAC byte, flipped ciphertext byte, truncation, wrong version, garbage.
    let mut bad = vec![
        flip(&m, 1),
        flip(&m, 12),
        (m.0, m.1[..m.1.len() / 2].to_vec()),
        (m.0, vec![0x23; 40]),
    ];
    bad.push((MessageType::Whisper, vec![]));
    for x in &bad {
        let before = b.store.commits;
        assert!(receive(&mut b, &alice(), x).is_err());
        assert_eq!(b.store.commits, before, "a failed decrypt committed something");
    }
    assert_eq!(receive(&mut b, &alice(), &m).unwrap(), b"after");
    assert_eq!(receive(&mut b, &alice(), &m), Err(DecryptError::Duplicate));
}

#[test]
fn a_forged_ratchet_key_does_not_advance_the_ratchet() {
    let (mut a, mut b) = pair(2);
    // A message from a third party under a new ratchet key (it fails the MAC): the receiver
    // computed a DH ratchet step for it, which must be thrown away.
    let (mut eve, _) = pair(50);
    let forged = send(&mut eve, &bob(), b"forged");
    let before = b.store.commits;
    assert_eq!(receive(&mut b, &alice(), &forged), Err(DecryptError::BadMac));
    assert_eq!(b.store.commits, before);
    let m = send(&mut a, &bob(), b"real");
    assert_eq!(receive(&mut b, &alice(), &m).unwrap(), b"real");
    let r = send(&mut b, &alice(), b"reply");
    assert_eq!(receive(&mut a, &bob(), &r).unwrap(), b"reply");
}

#[test]
fn the_one_time_prekey_is_used_up_only_after_the_first_message_decrypts() {
    let (mut a, mut b) = (device(3, false), device(4, true));
    let bundle = b.bundle.clone();
    session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng).unwrap();
    let first = send(&mut a, &bob(), b"first");
    assert_eq!(first.0, MessageType::PreKey);
    // (The last bytes are the unauthenticated registration id and prekey ids; 12 from the end
    // is inside the enclosed message's MAC.)
    assert_eq!(
        receive(&mut b, &alice(), &flip(&first, 12)),
        Err(DecryptError::BadMac)
    );
    assert_eq!(
        b.store.inner.pre_key_count(),
        1,
        "used up by a message that did not decrypt"
    );
    assert_eq!(receive(&mut b, &alice(), &first).unwrap(), b"first");
    assert_eq!(b.store.inner.pre_key_count(), 0);
    // Alice keeps sending PreKey messages until she reads a reply; they reuse Bob's session.
    let second = send(&mut a, &bob(), b"second");
    assert_eq!(second.0, MessageType::PreKey);
    assert_eq!(receive(&mut b, &alice(), &second).unwrap(), b"second");
    let reply = send(&mut b, &alice(), b"reply");
    assert_eq!(receive(&mut a, &bob(), &reply).unwrap(), b"reply");
    assert_eq!(send(&mut a, &bob(), b"third").0, MessageType::Whisper);
}

#[test]
fn a_bundle_with_a_bad_signature_is_refused() {
    let (mut a, b) = (device(5, false), device(6, true));
    let mut bundle = b.bundle.clone();
    bundle.signed_pre_key_signature[10] ^= 1;
    assert_eq!(
        session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng),
        Err(BundleError::BadSignature)
    );
    assert_eq!(a.store.commits, 0);
}

#[test]
fn a_changed_identity_is_refused_until_accepted() {
    let (mut a, _) = pair(7);
    // Bob reinstalls: new identity key, new bundle.
    let mut new_bob = device(99, true);
    let bundle = new_bob.bundle.clone();
    assert_eq!(
        session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng),
        Err(BundleError::UntrustedIdentity)
    );
    // New Bob initiates towards Alice: refused as well, and nothing is written.
    let a_bundle = a.bundle.clone();
    session::process_prekey_bundle(&mut new_bob.store, &alice(), &a_bundle, &mut new_bob.rng).unwrap();
    let hello = send(&mut new_bob, &alice(), b"it's me");
    let before = a.store.commits;
    assert_eq!(
        receive(&mut a, &bob(), &hello),
        Err(DecryptError::UntrustedIdentity)
    );
    assert_eq!(a.store.commits, before);
    // The user accepts the new key.
    a.store.save_identity(&bob(), &bundle.identity_key).unwrap();
    assert_eq!(receive(&mut a, &bob(), &hello).unwrap(), b"it's me");
}

#[test]
fn late_messages_of_an_archived_session_still_decrypt_and_promote_it() {
    let (mut a, mut b) = pair(8);
    let late = send(&mut a, &bob(), b"late");
    // Bob starts a fresh session towards Alice (e.g. after a retry); Alice adopts it.
    let a_bundle = a.bundle.clone();
    session::process_prekey_bundle(&mut b.store, &alice(), &a_bundle, &mut b.rng).unwrap();
    let fresh = send(&mut b, &alice(), b"fresh");
    assert_eq!(fresh.0, MessageType::PreKey);
    assert_eq!(receive(&mut a, &bob(), &fresh).unwrap(), b"fresh");
    // Alice's message under the old session reaches Bob after he replaced it.
    assert_eq!(receive(&mut b, &alice(), &late).unwrap(), b"late");
    assert_eq!(b.store.session(&alice()).unwrap().unwrap().archived_len(), 1);
}

#[test]
fn forward_jump_and_skipped_key_bounds() {
    let (mut a, mut b) = pair(9);
    let n = MAX_MESSAGE_KEYS + 500;
    let sent: Vec<_> = (0..=n).map(|i| send(&mut a, &bob(), &i.to_le_bytes())).collect();
    // Jump to the last one: the skipped keys of all the others are derived, the newest kept.
    assert_eq!(receive(&mut b, &alice(), &sent[n]).unwrap(), n.to_le_bytes());
    assert_eq!(
        receive(&mut b, &alice(), &sent[0]),
        Err(DecryptError::Duplicate),
        "dropped as too old"
    );
    let kept = n - MAX_MESSAGE_KEYS;
    assert_eq!(
        receive(&mut b, &alice(), &sent[kept]).unwrap(),
        kept.to_le_bytes()
    );
    assert_eq!(
        receive(&mut b, &alice(), &sent[kept + 1]).unwrap(),
        (kept + 1).to_le_bytes()
    );

    // Beyond MAX_FORWARD_JUMPS: refused, nothing written, and the chain still works.
    let jump = usize::try_from(MAX_FORWARD_JUMPS).unwrap() + 1;
    let far: Vec<_> = (0..=jump).map(|_| send(&mut a, &bob(), b"x")).collect();
    let before = b.store.commits;
    assert_eq!(
        receive(&mut b, &alice(), &far[jump]),
        Err(DecryptError::TooFarAhead)
    );
    assert_eq!(b.store.commits, before);
    assert_eq!(receive(&mut b, &alice(), &far[0]).unwrap(), b"x");
}

#[test]
fn simultaneous_initiation_both_first_messages_decrypt() {
    let (mut a, mut b) = (device(10, true), device(11, true));
    let (ab, bb) = (a.bundle.clone(), b.bundle.clone());
    session::process_prekey_bundle(&mut a.store, &bob(), &bb, &mut a.rng).unwrap();
    session::process_prekey_bundle(&mut b.store, &alice(), &ab, &mut b.rng).unwrap();
    let from_a = send(&mut a, &bob(), b"from alice");
    let from_b = send(&mut b, &alice(), b"from bob");
    assert_eq!(receive(&mut b, &alice(), &from_a).unwrap(), b"from alice");
    assert_eq!(receive(&mut a, &bob(), &from_b).unwrap(), b"from bob");
    // Each side now talks on the session the other started; the next messages decrypt.
    let x = send(&mut a, &bob(), b"next from alice");
    assert_eq!(receive(&mut b, &alice(), &x).unwrap(), b"next from alice");
    let y = send(&mut b, &alice(), b"next from bob");
    assert_eq!(receive(&mut a, &bob(), &y).unwrap(), b"next from bob");
}

#[derive(Clone, Debug)]
enum Op {
    /// Party 0 (Alice) or 1 (Bob) sends a message.
    Send(u8),
    /// Deliver the pending message at this (wrapped) index to its receiver.
    Deliver(usize),
    /// Deliver an already delivered message again.
    Duplicate(usize),
    /// Lose a pending message.
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..2).prop_map(Op::Send),
        4 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Duplicate),
        1 => any::<usize>().prop_map(Op::Drop),
    ]
}

struct Sent {
    to_bob: bool,
    message: (MessageType, Vec<u8>),
    plaintext: Vec<u8>,
    ratchet_key: PublicKey,
}

fn ratchet_key(m: &(MessageType, Vec<u8>)) -> PublicKey {
    match m.0 {
        MessageType::PreKey => *tandem::wire::PreKeySignalMessage::parse(&m.1)
            .unwrap()
            .message()
            .sender_ratchet_key(),
        _ => *SignalMessage::parse(&m.1).unwrap().sender_ratchet_key(),
    }
}

/// Whether the receiving chain of this ratchet key is still kept (or not yet created).
fn is_kept(seen: &[PublicKey], key: &PublicKey) -> bool {
    !seen.contains(key)
        || seen
            .iter()
            .rev()
            .take(tandem::consts::MAX_RECEIVER_CHAINS)
            .any(|k| k == key)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random sends both ways with reordering, drops and duplicates: every delivered message
    /// decrypts exactly once with its plaintext, except a message whose receiving chain has
    /// been dropped under MAX_RECEIVER_CHAINS (a typed error, nothing written); duplicates are
    /// reported as duplicates and write nothing.
    #[test]
    fn random_interleavings(seed in 0u64..1000, ops in proptest::collection::vec(op(), 1..80)) {
        let (mut a, mut b) = (device(seed * 2 + 100, false), device(seed * 2 + 101, true));
        let bundle = b.bundle.clone();
        session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng).unwrap();
        let mut pending: Vec<Sent> = Vec::new();
        let mut delivered: Vec<Sent> = Vec::new();
        // Per receiver: sender ratchet keys in the order first seen (to know which chains are kept).
        // Alice's first receiving chain is Bob's signed prekey, created when she started.
        let mut seen_keys: [Vec<PublicKey>; 2] = [vec![bundle.signed_pre_key], Vec::new()];
        let mut bob_has_session = false;
        let mut counter = 0u32;
        for op in ops {
            match op {
                Op::Send(who) => {
                    if who == 1 && !bob_has_session { continue; }
                    counter += 1;
                    let plaintext = format!("message {counter}").into_bytes();
                    let (dev, to) = if who == 0 { (&mut a, bob()) } else { (&mut b, alice()) };
                    let message = send(dev, &to, &plaintext);
                    let ratchet_key = ratchet_key(&message);
                    pending.push(Sent { to_bob: who == 0, message, plaintext, ratchet_key });
                }
                Op::Deliver(i) if !pending.is_empty() => {
                    let s = pending.remove(i % pending.len());
                    let (dev, from, seen) = if s.to_bob { (&mut b, alice(), &mut seen_keys[1]) } else { (&mut a, bob(), &mut seen_keys[0]) };
                    let kept = is_kept(seen, &s.ratchet_key);
                    let before = dev.store.commits;
                    match receive(dev, &from, &s.message) {
                        Ok(p) => {
                            prop_assert_eq!(&p, &s.plaintext);
                            if !seen.contains(&s.ratchet_key) { seen.push(s.ratchet_key); }
                            if s.to_bob { bob_has_session = true; }
                            delivered.push(s);
                        }
                        Err(e) => {
                            prop_assert!(!kept, "a message within the bounds failed: {:?}", e);
                            prop_assert_eq!(dev.store.commits, before);
                        }
                    }
                }
                Op::Duplicate(i) if !delivered.is_empty() => {
                    let s = &delivered[i % delivered.len()];
                    let (dev, from, seen) = if s.to_bob { (&mut b, alice(), &seen_keys[1]) } else { (&mut a, bob(), &seen_keys[0]) };
                    let before = dev.store.commits;
                    let result = receive(dev, &from, &s.message);
                    if is_kept(seen, &s.ratchet_key) {
                        prop_assert_eq!(result, Err(DecryptError::Duplicate));
                    } else {
                        prop_assert!(result.is_err());
                    }
                    prop_assert_eq!(dev.store.commits, before);
                }
                Op::Drop(i) if !pending.is_empty() => {
                    pending.remove(i % pending.len());
                }
                _ => {}
            }
        }
    }
}

#[test]
fn a_prekey_message_claiming_another_identity_is_refused_even_for_a_known_session() {
    let (mut a, mut b) = (device(12, false), device(13, true));
    let bundle = b.bundle.clone();
    session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng).unwrap();
    let first = send(&mut a, &bob(), b"one");
    let second = send(&mut a, &bob(), b"two");
    assert_eq!(receive(&mut b, &alice(), &first).unwrap(), b"one");
    // The second PreKey message reuses Bob's session (same base key); swap the identity field,
    // which that path does not authenticate, for someone else's key.
    let real = a.store.identity_key_pair().unwrap().public.serialize();
    let other = device(77, false)
        .store
        .identity_key_pair()
        .unwrap()
        .public
        .serialize();
    let at = second.1.windows(33).position(|w| w == real).unwrap();
    let mut forged = second.1.clone();
    forged[at..at + 33].copy_from_slice(&other);
    let before = b.store.commits;
    assert_eq!(
        receive(&mut b, &alice(), &(MessageType::PreKey, forged)),
        Err(DecryptError::UntrustedIdentity)
    );
    assert_eq!(b.store.commits, before);
    assert_eq!(receive(&mut b, &alice(), &second).unwrap(), b"two");
}
