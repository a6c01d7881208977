//! The stateful sender-key driver, shared (through `#[path]`) by the `group_decrypt` fuzz
//! target and `protocol/tests/fuzz_corpus_groups.rs`, which replays `fuzz/seeds/group_decrypt`.
//!
//! # The fixture
//!
//! A sender (Alice) and a receiver (Bob), from seeded ChaCha20. Alice distributes chain A and
//! sends a0..a3; Bob reads a2 (skipping a0 and a1), then a0. Alice rotates: chain B. She sends
//! 130 messages Bob never gets (he joins late; the last one, `b-early`, is kept), then
//! distributes chain B again (now at iteration 130) and sends b0..b4; Bob reads b0 and b3. So Bob
//! holds two chains, and Alice has sent him messages that are:
//!
//! - unread: a1 and b1, b2 (their keys were skipped), a3 and b4 (next in their chain);
//! - read: a0, a2, b0, b3;
//! - stale: b-early (before Bob's copy of chain B starts).
//!
//! It is built once; every input starts from a clone of Bob's store.
//!
//! # The input
//!
//! ```text
//! byte 0  bits 0-1: 0 = decrypt the rest of the input
//!                   1 = decrypt a mutated genuine message
//!                   2 = process the rest of the input as a distribution message
//!                   3 = process a mutated genuine distribution message
//!         bit 2:    claimed sender: 0 = Alice, 1 = Mallory (of whom Bob holds nothing)
//! mutated modes: byte 1 picks the source (`messages` or `distributions`, modulo their count),
//!         then 4-byte edits [op, pos lo, pos hi, value], op % 6: 0 flip bit (value % 8) of
//!         byte pos, 1 truncate to pos, 2 set byte pos to value, 3 insert value at pos,
//!         4 remove byte pos, 5 append value (positions modulo the current length).
//! ```
//!
//! # The properties
//!
//! Decrypting:
//!
//! - No panic. A refused message writes nothing to Bob's store (every write is counted), and
//!   it is not an unread genuine message given as Alice's.
//! - A message that decrypts is given as Alice's and carries one of her unread messages: its
//!   bytes are that message's, except that the signature's scalar `s` may be `s + ℓ` (the
//!   XEdDSA check, as in libsignal, only asks `s < 2^253`, so each signature has two encodings
//!   that verify). The plaintext is that message's, it writes one record, and it does not
//!   decrypt a second time.
//! - Afterwards Bob still reads Alice: after a refusal the next message of chain B (b4)
//!   decrypts; after a success every unread message does.
//!
//! Distributing:
//!
//! - Bytes that parse keep their wire bytes and parse again to the same message; storing one
//!   succeeds and writes one record, which then holds the message's chain (one more chain
//!   unless it had one with that id).
//! - A distribution message for Alice's chain A or B with the same signing key leaves that chain
//!   as it is (no rewind); one for any other chain, group or sender leaves Alice's chains as they
//!   are. Every message of a chain left as it is then behaves as before: the unread ones
//!   decrypt, the read and stale ones are refused as duplicates. (A message with the id of one
//!   of Alice's chains but another key replaces that chain; its messages then only must not
//!   panic.)

#![allow(dead_code)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::consts::MAX_SENDER_KEY_STATES;
use tandem::crypto::{KeyPair, PublicKey};
use tandem::group::{self, GroupDecryptError, SenderKeyRecord};
use tandem::store::{MemoryStore, SenderKeyStore, StoreError};
use tandem::wire::SenderKeyDistributionMessage;

/// The distribution id of the group.
pub const GROUP: [u8; 16] = *b"tandem-fuzz-grp!";

/// A `MemoryStore` that counts every sender-key write.
#[derive(Clone)]
pub struct Tracked {
    pub inner: MemoryStore,
    pub writes: u64,
}

impl SenderKeyStore for Tracked {
    fn sender_key(&self, sender: &Address, id: &[u8; 16]) -> Result<Option<SenderKeyRecord>, StoreError> {
        self.inner.sender_key(sender, id)
    }
    fn save_sender_key(
        &mut self,
        sender: &Address,
        id: &[u8; 16],
        record: SenderKeyRecord,
    ) -> Result<(), StoreError> {
        self.writes += 1;
        self.inner.save_sender_key(sender, id, record)
    }
}

/// Where a genuine message stands at Bob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not decrypted yet: it must decrypt.
    Unread,
    /// Decrypted already: it must be refused as a duplicate.
    Read,
    /// Sent before Bob's copy of its chain starts: it must be refused as a duplicate.
    Stale,
}

/// A message Alice really sent.
#[derive(Clone, Debug)]
pub struct Genuine {
    pub name: &'static str,
    /// Index into `Fixture::chains`.
    pub chain: usize,
    pub bytes: Vec<u8>,
    pub plaintext: Vec<u8>,
    pub status: Status,
}

/// One of Alice's chains, as Bob holds it.
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    pub id: u32,
    pub signing_key: PublicKey,
}

/// Alice's state, Bob's state, and what Alice sent.
pub struct Fixture {
    pub alice: Address,
    pub mallory: Address,
    /// Alice's own store and CSPRNG (for the seed writer: more messages on chain B).
    pub sender: MemoryStore,
    pub sender_rng: ChaCha20Rng,
    pub bob: Tracked,
    /// Chain A, then chain B.
    pub chains: [Chain; 2],
    pub messages: Vec<Genuine>,
    /// Alice's distribution messages: chain A, chain B at iteration 0, chain B at 130 (the one
    /// Bob got).
    pub distributions: Vec<(&'static str, Vec<u8>)>,
}

/// The message decrypted after every refused input: the next one of chain B.
const PROBE: &str = "b4";

fn build() -> Fixture {
    let alice = Address::new("alice", 1);
    let mut rng = ChaCha20Rng::seed_from_u64(0x5E4D);
    let mut sender = MemoryStore::new(KeyPair::generate(&mut rng), 1);
    let bob_rng = &mut ChaCha20Rng::seed_from_u64(0xB0B);
    let mut bob = Tracked {
        inner: MemoryStore::new(KeyPair::generate(bob_rng), 2),
        writes: 0,
    };
    let mut distributions = Vec::new();
    let mut messages = Vec::new();
    let mut distribute = |sender: &mut MemoryStore,
                          rng: &mut ChaCha20Rng,
                          bob: Option<&mut Tracked>,
                          name: &'static str|
     -> Chain {
        let d = group::create_distribution_message(sender, &alice, GROUP, rng).unwrap();
        let parsed = SenderKeyDistributionMessage::parse(d.serialized()).unwrap();
        if let Some(bob) = bob {
            group::process_distribution_message(bob, &alice, &parsed).unwrap();
        }
        distributions.push((name, d.serialized().to_vec()));
        Chain {
            id: d.chain_id(),
            signing_key: *d.signing_key(),
        }
    };
    let send = |sender: &mut MemoryStore, rng: &mut ChaCha20Rng, name: &'static str, chain, text: Vec<u8>| {
        let m = group::encrypt(sender, &alice, GROUP, &text, rng).unwrap();
        Genuine {
            name,
            chain,
            bytes: m.serialized().to_vec(),
            plaintext: text,
            status: Status::Unread,
        }
    };

    let chain_a = distribute(&mut sender, &mut rng, Some(&mut bob), "dist-a");
    for (name, text) in [
        ("a0", "a0: read after a skip"),
        ("a1", "a1: skipped, never read"),
        ("a2", "a2: read first"),
        ("a3", "a3: next in the old chain"),
    ] {
        messages.push(send(&mut sender, &mut rng, name, 0, text.as_bytes().to_vec()));
    }
    group::reset_own_sender_key(&mut sender, &alice, GROUP).unwrap();
    let chain_b = distribute(&mut sender, &mut rng, None, "dist-b-0");
    let mut early = None;
    for _ in 0..130 {
        early = Some(send(
            &mut sender,
            &mut rng,
            "b-early",
            1,
            b"sent before Bob joined".to_vec(),
        ));
    }
    let mut early = early.unwrap();
    early.status = Status::Stale;
    messages.push(early);
    let chain_b_late = distribute(&mut sender, &mut rng, Some(&mut bob), "dist-b-130");
    assert_eq!(
        (chain_b.id, chain_b.signing_key),
        (chain_b_late.id, chain_b_late.signing_key)
    );
    for (name, text) in [
        ("b0", b"b0: first Bob reads".to_vec()),
        ("b1", Vec::new()),
        ("b2", b"b2: sixteen byte".to_vec()),
        ("b3", b"b3: read, skipping b1 and b2".to_vec()),
        ("b4", (0..300u16).map(|i| i.to_le_bytes()[0]).collect()),
    ] {
        messages.push(send(&mut sender, &mut rng, name, 1, text));
    }
    for name in ["a2", "a0", "b0", "b3"] {
        let g = messages.iter_mut().find(|g| g.name == name).unwrap();
        assert_eq!(
            group::decrypt(&mut bob, &alice, &g.bytes).unwrap(),
            g.plaintext,
            "{name}"
        );
        g.status = Status::Read;
    }
    Fixture {
        alice,
        mallory: Address::new("mallory", 1),
        sender,
        sender_rng: rng,
        bob,
        chains: [chain_a, chain_b],
        messages,
        distributions,
    }
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

#[path = "mutate.rs"]
mod mutate;
pub use mutate::mutate;

/// What an input asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Decrypt,
    Distribute,
}

/// The mode, the claimed sender (true: Mallory) and the bytes an input stands for.
pub fn input_of(data: &[u8]) -> (Mode, bool, Vec<u8>) {
    let fx = fixture();
    let (ctl, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    let mode = if ctl & 2 == 0 {
        Mode::Decrypt
    } else {
        Mode::Distribute
    };
    let bytes = if ctl & 1 == 0 {
        rest.to_vec()
    } else {
        let (pick, edits) = rest.split_first().map_or((0, &[][..]), |(p, e)| (*p, e));
        let pick = usize::from(pick);
        let source = match mode {
            Mode::Decrypt => &fx.messages[pick % fx.messages.len()].bytes,
            Mode::Distribute => &fx.distributions[pick % fx.distributions.len()].1,
        };
        mutate(source, edits)
    };
    (mode, ctl & 4 != 0, bytes)
}

/// The group order ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// `s + ℓ` (little-endian, 256 bits; no overflow for `s < 2^255`).
pub fn plus_ell(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[i]) + u16::from(ELL[i]) + carry;
        out[i] = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    out
}

/// `bytes` with the signature scalar `s` replaced by `s + ℓ` (the sign bit, bit 255, kept):
/// the second encoding of the same signature.
pub fn other_encoding(bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len();
    let mut s = bytes[n - 32..].to_vec();
    let sign = s[31] & 0x80;
    s[31] &= 0x7F;
    let mut s = plus_ell(&s);
    s[31] |= sign;
    let mut out = bytes[..n - 32].to_vec();
    out.extend_from_slice(&s);
    out
}

/// Whether `bytes` carries genuine message `g`: the same bytes, or the same but for `s + ℓ`.
fn carries(bytes: &[u8], g: &Genuine) -> bool {
    bytes == g.bytes || (bytes.len() == g.bytes.len() && bytes == other_encoding(&g.bytes))
}

/// What happened to a stored distribution message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Same id and signing key as Alice's chain (index): that chain is left as it is.
    Kept(usize),
    /// Same id as Alice's chain (index), another key: that chain is replaced.
    Replaced(usize),
    /// A new chain of Alice's for the group.
    Added,
    /// For another sender or group.
    Elsewhere,
}

/// How Bob took the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A message refused, with this error.
    Refused(GroupDecryptError),
    /// A message decrypted: it carried the genuine message with this name.
    Decrypted(&'static str),
    /// Distribution bytes that do not parse.
    Unparsed,
    /// A distribution message stored.
    Stored(Stored),
}

fn record_debug(bob: &Tracked, sender: &Address) -> String {
    format!("{:?}", bob.sender_key(sender, &GROUP))
}

/// Runs one input and checks every property; panics on a violation.
pub fn run(data: &[u8]) -> Outcome {
    let fx = fixture();
    let (mode, mallory, bytes) = input_of(data);
    let from = if mallory { &fx.mallory } else { &fx.alice };
    let mut bob = fx.bob.clone();
    let mut messages = fx.messages.clone();
    match mode {
        Mode::Decrypt => decrypt_input(fx, &mut bob, &mut messages, from, &bytes),
        Mode::Distribute => distribute_input(fx, &mut bob, &mut messages, from, &bytes),
    }
}

fn decrypt_input(
    fx: &Fixture,
    bob: &mut Tracked,
    messages: &mut [Genuine],
    from: &Address,
    bytes: &[u8],
) -> Outcome {
    let writes = bob.writes;
    let before = record_debug(bob, &fx.alice);
    let outcome = match group::decrypt(bob, from, bytes) {
        Ok(plaintext) => {
            assert_eq!(
                from,
                &fx.alice,
                "a message decrypted as Mallory's: {}",
                hex(bytes)
            );
            let Some(g) = messages
                .iter_mut()
                .find(|g| g.status == Status::Unread && carries(bytes, g))
            else {
                panic!(
                    "decrypted a message that carries no unread genuine message: {}",
                    hex(bytes)
                );
            };
            assert_eq!(plaintext, g.plaintext, "wrong plaintext for {}", g.name);
            assert_eq!(
                bob.writes,
                writes + 1,
                "{} decrypted with {} writes",
                g.name,
                bob.writes - writes
            );
            g.status = Status::Read;
            let writes = bob.writes;
            let again = group::decrypt(bob, from, bytes);
            assert_eq!(again, Err(GroupDecryptError::Duplicate), "{} again", g.name);
            assert_eq!(
                group::decrypt(bob, from, &g.bytes),
                Err(GroupDecryptError::Duplicate),
                "{} (genuine bytes) after it decrypted",
                g.name
            );
            assert_eq!(bob.writes, writes, "a replay of {} wrote to the store", g.name);
            Outcome::Decrypted(g.name)
        }
        Err(e) => {
            assert_eq!(
                bob.writes,
                writes,
                "a refused message ({e:?}) wrote to the store: {}",
                hex(bytes)
            );
            assert_eq!(
                record_debug(bob, &fx.alice),
                before,
                "a refused message changed the record"
            );
            if from == &fx.alice {
                if let Some(g) = messages
                    .iter()
                    .find(|g| g.status == Status::Unread && g.bytes == bytes)
                {
                    panic!("the unread genuine message {} was refused: {e:?}", g.name);
                }
                if let Some(g) = messages
                    .iter()
                    .find(|g| g.status != Status::Unread && g.bytes == bytes)
                {
                    assert_eq!(e, GroupDecryptError::Duplicate, "{} ({:?})", g.name, g.status);
                }
            }
            Outcome::Refused(e)
        }
    };
    // After a refusal (which wrote nothing, as checked above) the next message of chain B must
    // decrypt; after a success, every unread message must.
    let refused = matches!(outcome, Outcome::Refused(_));
    for g in messages
        .iter_mut()
        .filter(|g| g.status == Status::Unread && (!refused || g.name == PROBE))
    {
        match group::decrypt(bob, &fx.alice, &g.bytes) {
            Ok(p) => assert_eq!(p, g.plaintext, "{} decrypted wrong after the input", g.name),
            Err(e) => panic!(
                "{} no longer decrypts after the input ({outcome:?}): {e:?}",
                g.name
            ),
        }
        g.status = Status::Read;
    }
    outcome
}

fn distribute_input(
    fx: &Fixture,
    bob: &mut Tracked,
    messages: &mut [Genuine],
    from: &Address,
    bytes: &[u8],
) -> Outcome {
    let Ok(m) = SenderKeyDistributionMessage::parse(bytes) else {
        return Outcome::Unparsed;
    };
    assert_eq!(
        m.serialized(),
        bytes,
        "a parsed distribution message changed its bytes"
    );
    assert_eq!(
        SenderKeyDistributionMessage::parse(m.serialized()).as_ref(),
        Ok(&m),
        "a distribution message parses differently the second time"
    );
    let alices = from == &fx.alice && m.distribution_id() == &GROUP;
    let same_id = fx
        .chains
        .iter()
        .position(|c| c.id == m.chain_id())
        .filter(|_| alices);
    let stored = match same_id {
        Some(c) if fx.chains[c].signing_key == *m.signing_key() => Stored::Kept(c),
        Some(c) => Stored::Replaced(c),
        None if alices => Stored::Added,
        None => Stored::Elsewhere,
    };
    let held = |bob: &Tracked| {
        bob.sender_key(from, m.distribution_id())
            .unwrap()
            .map_or(0, |r| r.len())
    };
    let before_len = held(bob);
    let before_alice = record_debug(bob, &fx.alice);
    let writes = bob.writes;
    group::process_distribution_message(bob, from, &m).unwrap();
    assert_eq!(
        bob.writes,
        writes + 1,
        "storing a distribution message: {} writes",
        bob.writes - writes
    );
    let expected_len = match stored {
        Stored::Kept(_) | Stored::Replaced(_) => before_len,
        Stored::Added | Stored::Elsewhere => (before_len + 1).min(MAX_SENDER_KEY_STATES),
    };
    assert_eq!(held(bob), expected_len, "{stored:?}: chains held");
    if stored == Stored::Elsewhere {
        assert_eq!(
            record_debug(bob, &fx.alice),
            before_alice,
            "Alice's chains changed"
        );
    }
    let replaced = match stored {
        Stored::Replaced(c) => Some(c),
        _ => None,
    };
    for g in messages.iter().filter(|g| Some(g.chain) != replaced) {
        let got = group::decrypt(bob, &fx.alice, &g.bytes);
        match g.status {
            Status::Unread => assert_eq!(
                got.as_ref(),
                Ok(&g.plaintext),
                "{} after storing {stored:?}",
                g.name
            ),
            Status::Read | Status::Stale => assert_eq!(
                got,
                Err(GroupDecryptError::Duplicate),
                "{} ({:?}) after storing {stored:?}",
                g.name,
                g.status
            ),
        }
    }
    // A replaced chain's messages: only no panic.
    if let Some(c) = replaced {
        for g in messages.iter().filter(|g| g.chain == c) {
            let _ = group::decrypt(bob, &fx.alice, &g.bytes);
        }
    }
    Outcome::Stored(stored)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
