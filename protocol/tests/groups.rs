//! Sender keys through the stores: distribution, encryption, decryption in any order, bounds,
//! tampering, rotation; and a property test with several senders and receivers.

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
use tandem::consts::{MAX_GROUP_FORWARD_JUMPS, MAX_MESSAGE_KEYS};
use tandem::crypto::KeyPair;
use tandem::group::{self, GroupDecryptError};
use tandem::store::{MemoryStore, SenderKeyStore};
use tandem::wire::SenderKeyDistributionMessage;

const GROUP: [u8; 16] = *b"tandem-group-id!";

fn store(seed: u64) -> (MemoryStore, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (MemoryStore::new(KeyPair::generate(&mut rng), 1), rng)
}

fn member(name: &str) -> Address {
    Address::new(name, 1)
}

/// A sender and one receiver holding its chain.
fn setup(seed: u64) -> (MemoryStore, ChaCha20Rng, MemoryStore) {
    let (mut sender, mut rng) = store(seed);
    let (mut receiver, _) = store(seed + 1);
    let skdm = group::create_distribution_message(&mut sender, &member("alice"), GROUP, &mut rng).unwrap();
    let parsed = SenderKeyDistributionMessage::parse(skdm.serialized()).unwrap();
    assert_eq!(parsed, skdm);
    group::process_distribution_message(&mut receiver, &member("alice"), &parsed).unwrap();
    (sender, rng, receiver)
}

fn enc(sender: &mut MemoryStore, rng: &mut ChaCha20Rng, text: &[u8]) -> Vec<u8> {
    group::encrypt(sender, &member("alice"), GROUP, text, rng)
        .unwrap()
        .serialized()
        .to_vec()
}

#[test]
fn messages_decrypt_in_any_order_once() {
    let (mut s, mut rng, mut r) = setup(1);
    let msgs: Vec<_> = (0..6u8).map(|i| enc(&mut s, &mut rng, &[i; 50])).collect();
    assert_eq!(msgs[0][0], 0x33);
    for i in [4usize, 0, 5, 2, 1, 3] {
        assert_eq!(
            group::decrypt(&mut r, &member("alice"), &msgs[i]).unwrap(),
            vec![i as u8; 50]
        );
    }
    for m in &msgs {
        assert_eq!(
            group::decrypt(&mut r, &member("alice"), m),
            Err(GroupDecryptError::Duplicate)
        );
    }
}

#[test]
fn tampering_is_refused_and_changes_nothing() {
    let (mut s, mut rng, mut r) = setup(2);
    let m = enc(&mut s, &mut rng, b"hello group");
    let before = format!("{:?}", r.sender_key(&member("alice"), &GROUP).unwrap());
    for i in [1usize, m.len() / 2, m.len() - 70, m.len() - 1] {
        let mut bad = m.clone();
        bad[i] ^= 0x04;
        assert!(
            group::decrypt(&mut r, &member("alice"), &bad).is_err(),
            "byte {i}"
        );
    }
    let mut bad_version = m.clone();
    bad_version[0] = 0x23;
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &bad_version),
        Err(GroupDecryptError::UnknownVersion)
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &m[..m.len() / 2]),
        Err(GroupDecryptError::Malformed)
    );
    assert_eq!(
        format!("{:?}", r.sender_key(&member("alice"), &GROUP).unwrap()),
        before
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &m).unwrap(),
        b"hello group"
    );
    // Signed by the sender, but from someone else's address: no chain there.
    assert_eq!(
        group::decrypt(&mut r, &member("mallory"), &m),
        Err(GroupDecryptError::NoSenderKey)
    );
}

#[test]
fn bounds_on_skipped_keys_and_forward_jumps() {
    let (mut s, mut rng, mut r) = setup(3);
    let n = MAX_MESSAGE_KEYS + 10;
    let msgs: Vec<_> = (0..=n).map(|i| enc(&mut s, &mut rng, &i.to_le_bytes())).collect();
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &msgs[n]).unwrap(),
        n.to_le_bytes()
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &msgs[0]),
        Err(GroupDecryptError::Duplicate)
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &msgs[10]).unwrap(),
        10usize.to_le_bytes()
    );

    let jump = usize::try_from(MAX_GROUP_FORWARD_JUMPS).unwrap() + 1;
    let far: Vec<_> = (0..=jump).map(|_| enc(&mut s, &mut rng, b"x")).collect();
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &far[jump]),
        Err(GroupDecryptError::TooFarAhead)
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &far[jump - 1]).unwrap(),
        b"x"
    );
}

#[test]
fn rotation_starts_a_new_chain_and_late_messages_of_the_old_one_still_decrypt() {
    let (mut s, mut rng, mut r) = setup(4);
    let first_chain = group::create_distribution_message(&mut s, &member("alice"), GROUP, &mut rng).unwrap();
    let old = enc(&mut s, &mut rng, b"before rotation");
    group::reset_own_sender_key(&mut s, &member("alice"), GROUP).unwrap();
    let skdm = group::create_distribution_message(&mut s, &member("alice"), GROUP, &mut rng).unwrap();
    let new = enc(&mut s, &mut rng, b"after rotation");
    // A member removed before the rotation does not get the new chain.
    let (mut removed, _) = store(40);
    group::process_distribution_message(&mut removed, &member("alice"), &first_chain).unwrap();
    assert_eq!(
        group::decrypt(&mut removed, &member("alice"), &old).unwrap(),
        b"before rotation"
    );
    assert_eq!(
        group::decrypt(&mut removed, &member("alice"), &new),
        Err(GroupDecryptError::NoSenderKey)
    );

    group::process_distribution_message(&mut r, &member("alice"), &skdm).unwrap();
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &new).unwrap(),
        b"after rotation"
    );
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &old).unwrap(),
        b"before rotation"
    );
    // A repeated distribution message does not rewind the chain.
    group::process_distribution_message(&mut r, &member("alice"), &skdm).unwrap();
    assert_eq!(
        group::decrypt(&mut r, &member("alice"), &new),
        Err(GroupDecryptError::Duplicate)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Three senders, three receivers; every receiver gets each sender's messages in its own
    /// random order with random losses and duplicates: each delivered message decrypts exactly
    /// once with its plaintext, duplicates are reported as such.
    #[test]
    fn several_senders_random_orders(
        seed in 0u64..1000,
        counts in proptest::collection::vec(1usize..25, 3),
        orders in proptest::collection::vec(proptest::collection::vec(any::<(u16, bool, bool)>(), 0..80), 3),
    ) {
        let senders = ["s0", "s1", "s2"];
        let mut sent: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut receivers: Vec<MemoryStore> = (0..3).map(|i| store(seed * 10 + 5 + i).0).collect();
        for (k, name) in senders.iter().enumerate() {
            let (mut s, mut rng) = store(seed * 10 + k as u64);
            let skdm = group::create_distribution_message(&mut s, &member(name), GROUP, &mut rng).unwrap();
            for r in receivers.iter_mut() {
                group::process_distribution_message(r, &member(name), &skdm).unwrap();
            }
            sent.push((0..counts[k]).map(|i| {
                group::encrypt(&mut s, &member(name), GROUP, format!("{name}:{i}").as_bytes(), &mut rng).unwrap().serialized().to_vec()
            }).collect());
        }
        for (r, order) in receivers.iter_mut().zip(&orders) {
            let mut done = std::collections::HashSet::new();
            for &(pick, lose, dup) in order {
                let k = usize::from(pick) % 3;
                let i = usize::from(pick / 3) % counts[k];
                if lose { continue; }
                let got = group::decrypt(r, &member(senders[k]), &sent[k][i]);
                if done.insert((k, i)) {
                    prop_assert_eq!(got.unwrap(), format!("{}:{i}", senders[k]).into_bytes());
                } else {
                    prop_assert_eq!(got, Err(GroupDecryptError::Duplicate));
                }
                if dup {
                    prop_assert_eq!(group::decrypt(r, &member(senders[k]), &sent[k][i]), Err(GroupDecryptError::Duplicate));
                }
            }
        }
    }
}
