//! Round trips (bytes → record → bytes equal, and a decoded record behaves as the original) and
//! strictness of the storage format.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;
use crate::address::Address;
use crate::group;
use crate::session::{self, CiphertextMessage, PreKeyBundle};
use crate::store::{MemoryStore, PreKeyStore, SenderKeyStore, SessionStore, SignedPreKeyStore};
use crate::wire::MessageType;

struct Device {
    store: MemoryStore,
    rng: ChaCha20Rng,
    bundle: PreKeyBundle,
}

fn device(seed: u64) -> Device {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = KeyPair::generate(&mut rng);
    let registration_id = session::generate_registration_id(&mut rng);
    let mut store = MemoryStore::new(identity.clone(), registration_id);
    let signed = SignedPreKeyRecord::generate(7, &identity, 1_700_000_000_000, &mut rng);
    let one_time = PreKeyRecord::generate(42 + u32::try_from(seed % 1000).unwrap(), &mut rng);
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
    Device { store, rng, bundle }
}

fn alice() -> Address {
    Address::new("alice", 1)
}
fn bob() -> Address {
    Address::new("bob", 1)
}

fn send(from: &mut Device, to: &Address, text: &[u8]) -> CiphertextMessage {
    session::encrypt(&mut from.store, to, text).unwrap()
}

fn receive(at: &mut Device, from: &Address, m: &CiphertextMessage) -> Result<Vec<u8>, session::DecryptError> {
    match m.message_type() {
        MessageType::PreKey => {
            session::decrypt_prekey_message(&mut at.store, from, m.serialized(), &mut at.rng)
        }
        _ => session::decrypt_message(&mut at.store, from, m.serialized(), &mut at.rng),
    }
}

fn session_round_trip(record: &SessionRecord) -> SessionRecord {
    let bytes = encode_session_record(record);
    let decoded = decode_session_record(&bytes).unwrap();
    assert_eq!(*encode_session_record(&decoded), *bytes);
    decoded
}

/// Bob ends with: an archived session (Alice re-initiated), a current session with several
/// receiving chains and skipped keys, and messages of both sessions still in flight. Alice ends
/// with a pending prekey on her new session.
#[test]
fn session_records_round_trip_and_keep_decrypting() {
    let (mut a, mut b) = (device(1), device(2));
    let bundle = b.bundle.clone();
    session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng).unwrap();
    let mut in_flight = Vec::new();
    let first = send(&mut a, &bob(), b"first");
    in_flight.push(send(&mut a, &bob(), b"late, old session"));
    assert_eq!(receive(&mut b, &alice(), &first).unwrap(), b"first");
    for round in 0..3u8 {
        let reply = send(&mut b, &alice(), &[round; 10]);
        assert_eq!(receive(&mut a, &bob(), &reply).unwrap(), vec![round; 10]);
        let skipped = send(&mut a, &bob(), &[round, 1]);
        let read = send(&mut a, &bob(), &[round, 2]);
        assert_eq!(receive(&mut b, &alice(), &read).unwrap(), vec![round, 2]);
        in_flight.push(skipped);
    }
    // Alice starts over (a new session from a fresh bundle without the used one-time prekey).
    let mut fresh = b.bundle.clone();
    fresh.pre_key = None;
    session::process_prekey_bundle(&mut a.store, &bob(), &fresh, &mut a.rng).unwrap();
    let restart = send(&mut a, &bob(), b"restart");
    in_flight.push(send(&mut a, &bob(), b"restart 2"));
    assert_eq!(receive(&mut b, &alice(), &restart).unwrap(), b"restart");

    let bob_record = b.store.session(&alice()).unwrap().unwrap();
    assert_eq!(bob_record.archived_len(), 1);
    assert!(bob_record.current().unwrap().receiver_chains.len() == 1);
    assert!(bob_record.previous().front().unwrap().receiver_chains.len() >= 3);
    let alice_record = a.store.session(&bob()).unwrap().unwrap();
    assert!(alice_record.current().unwrap().has_pending_prekey());
    let alice_decoded = session_round_trip(&alice_record);
    assert!(alice_decoded.current().unwrap().has_pending_prekey());

    // Behaviour: a Bob whose record went through the format decrypts every in-flight message
    // exactly as the original Bob (same randomness), and both end in the same record.
    let decoded = session_round_trip(&bob_record);
    let mut twin = Device {
        store: b.store.clone(),
        rng: b.rng.clone(),
        bundle: b.bundle.clone(),
    };
    twin.store.save_session(&alice(), decoded).unwrap();
    for m in in_flight.iter().rev() {
        let original = receive(&mut b, &alice(), m);
        assert!(original.is_ok());
        assert_eq!(receive(&mut twin, &alice(), m), original);
        assert_eq!(
            receive(&mut twin, &alice(), m),
            Err(session::DecryptError::Duplicate)
        );
    }
    let after = b.store.session(&alice()).unwrap().unwrap();
    let twin_after = twin.store.session(&alice()).unwrap().unwrap();
    assert_eq!(
        *encode_session_record(&after),
        *encode_session_record(&twin_after)
    );

    // And the decoded Alice keeps encrypting what the original would.
    let mut alice_twin = Device {
        store: a.store.clone(),
        rng: a.rng.clone(),
        bundle: a.bundle.clone(),
    };
    alice_twin.store.save_session(&bob(), alice_decoded).unwrap();
    assert_eq!(send(&mut a, &bob(), b"x"), send(&mut alice_twin, &bob(), b"x"));
}

#[test]
fn an_empty_session_record_round_trips() {
    let decoded = session_round_trip(&SessionRecord::new());
    assert!(decoded.current().is_none());
    assert_eq!(decoded.archived_len(), 0);
}

#[test]
fn sender_key_records_round_trip_and_keep_working() {
    let group_id = *b"tandem-group-id!";
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut sender = MemoryStore::new(KeyPair::generate(&mut rng), 1);
    let mut receiver = MemoryStore::new(KeyPair::generate(&mut rng), 2);
    let me = Address::new("alice", 1);
    let skdm = group::create_distribution_message(&mut sender, &me, group_id, &mut rng).unwrap();
    group::process_distribution_message(&mut receiver, &me, &skdm).unwrap();
    let messages: Vec<_> = (0..8u8)
        .map(|i| {
            group::encrypt(&mut sender, &me, group_id, &[i; 20], &mut rng)
                .unwrap()
                .serialized()
                .to_vec()
        })
        .collect();
    // Out of order: skipped keys 0..=5 are kept, 7 is read.
    group::decrypt(&mut receiver, &me, &messages[7]).unwrap();

    for store in [&sender, &receiver] {
        let record = store.sender_key(&me, &group_id).unwrap().unwrap();
        let bytes = encode_sender_key_record(&record);
        let decoded = decode_sender_key_record(&bytes).unwrap();
        assert_eq!(*encode_sender_key_record(&decoded), *bytes);
    }
    let own = sender.sender_key(&me, &group_id).unwrap().unwrap();
    assert!(own.newest().unwrap().signing_key.is_some());
    let held = receiver.sender_key(&me, &group_id).unwrap().unwrap();
    assert!(held.newest().unwrap().signing_key.is_none());
    assert_eq!(held.newest().unwrap().skipped.len(), 7);

    // The decoded sender signs messages the receiver accepts; the decoded receiver reads the
    // skipped messages once.
    let mut sender_twin = sender.clone();
    let decoded = decode_sender_key_record(&encode_sender_key_record(&own)).unwrap();
    sender_twin.save_sender_key(&me, &group_id, decoded).unwrap();
    let mut receiver_twin = receiver.clone();
    let decoded = decode_sender_key_record(&encode_sender_key_record(&held)).unwrap();
    receiver_twin.save_sender_key(&me, &group_id, decoded).unwrap();
    let next = group::encrypt(&mut sender_twin, &me, group_id, b"after", &mut rng).unwrap();
    assert_eq!(
        group::decrypt(&mut receiver_twin, &me, next.serialized()).unwrap(),
        b"after"
    );
    for (i, m) in messages.iter().enumerate().take(7) {
        assert_eq!(
            group::decrypt(&mut receiver_twin, &me, m).unwrap(),
            vec![i as u8; 20]
        );
        assert_eq!(group::decrypt(&mut receiver, &me, m).unwrap(), vec![i as u8; 20]);
    }
    assert_eq!(
        group::decrypt(&mut receiver_twin, &me, &messages[7]),
        Err(group::GroupDecryptError::Duplicate)
    );
}

#[test]
fn prekey_records_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let identity = KeyPair::generate(&mut rng);
    let pre = PreKeyRecord::generate(5, &mut rng);
    let bytes = encode_pre_key_record(&pre);
    let decoded = decode_pre_key_record(&bytes).unwrap();
    assert_eq!(decoded.id, 5);
    assert_eq!(decoded.key_pair.public, pre.key_pair.public);
    assert_eq!(decoded.key_pair.private, pre.key_pair.private);
    assert_eq!(*encode_pre_key_record(&decoded), *bytes);

    let signed = SignedPreKeyRecord::generate(6, &identity, 1_700_000_000_123, &mut rng);
    let bytes = encode_signed_pre_key_record(&signed);
    let decoded = decode_signed_pre_key_record(&bytes).unwrap();
    assert_eq!(decoded.id, 6);
    assert_eq!(decoded.timestamp, 1_700_000_000_123);
    assert_eq!(decoded.signature, signed.signature);
    assert_eq!(decoded.key_pair.private, signed.key_pair.private);
    assert_eq!(*encode_signed_pre_key_record(&decoded), *bytes);
}

fn sample_pre_key() -> PreKeyRecordProto {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let pre = PreKeyRecord::generate(5, &mut rng);
    PreKeyRecordProto::decode(encode_pre_key_record(&pre).as_slice()).unwrap()
}

#[test]
fn decoding_is_strict() {
    let good = sample_pre_key().encode_to_vec();
    assert!(decode_pre_key_record(&good).is_ok());

    // Truncated, an unknown field, a field repeated, fields out of order: not canonical.
    assert_eq!(
        decode_pre_key_record(&good[..good.len() - 1]).err(),
        Some(RecordError::Malformed)
    );
    let mut unknown = good.clone();
    unknown.extend_from_slice(&[0x28, 0x01]); // field 5, varint 1
    assert_eq!(
        decode_pre_key_record(&unknown).err(),
        Some(RecordError::Malformed)
    );
    let mut repeated = good.clone();
    repeated.extend_from_slice(&[0x10, 0x05]); // field 2 (id) again
    assert_eq!(
        decode_pre_key_record(&repeated).err(),
        Some(RecordError::Malformed)
    );
    let mut reordered = vec![0x10, 0x05]; // id first, then version
    reordered.extend_from_slice(&[0x08, 0x01]);
    reordered.extend_from_slice(&good[4..]);
    assert_eq!(
        decode_pre_key_record(&reordered).err(),
        Some(RecordError::Malformed)
    );

    // A version this build does not read.
    let mut proto = sample_pre_key();
    proto.version = Some(2);
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::UnknownVersion(2))
    );
    // Missing and malformed fields.
    let mut proto = sample_pre_key();
    proto.version = None;
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::MissingField("version"))
    );
    let mut proto = sample_pre_key();
    proto.private_key = None;
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::MissingField("private_key"))
    );
    let mut proto = sample_pre_key();
    proto.private_key = Some(vec![0x40; 31]);
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::InvalidField("private_key"))
    );
    let mut proto = sample_pre_key();
    proto.private_key = Some(vec![0xFF; 32]); // not clamped
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::InvalidField("private_key"))
    );
    let mut proto = sample_pre_key();
    if let Some(key) = proto.public_key.as_mut() {
        key[0] = 0x06;
    }
    assert_eq!(
        decode_pre_key_record(&proto.encode_to_vec()).err(),
        Some(RecordError::InvalidField("public_key"))
    );
    // A record of another kind.
    assert!(decode_session_record(&good).is_err());
    assert!(decode_signed_pre_key_record(&good).is_err());
}

#[test]
fn lists_beyond_the_bounds_are_refused() {
    let record = SenderKeyRecordProto {
        version: Some(RECORD_VERSION),
        states: (0..=MAX_SENDER_KEY_STATES)
            .map(|i| SenderKeyStateRecordProto {
                chain_id: Some(u32::try_from(i).unwrap()),
                chain_key: Some(chain_key_to_proto(&Secret::new([1; 32]), 0)),
                signing_public: Some(PublicKey::from_raw([9; 32]).serialize().to_vec()),
                signing_private: None,
                skipped: Vec::new(),
            })
            .collect(),
    };
    assert_eq!(
        decode_sender_key_record(&record.encode_to_vec()).err(),
        Some(RecordError::TooMany("states"))
    );
    let record = SessionRecordProto {
        version: Some(RECORD_VERSION),
        current: None,
        previous: (0..=ARCHIVED_STATES_MAX_LENGTH)
            .map(|_| SessionStateRecordProto::default())
            .collect(),
    };
    assert_eq!(
        decode_session_record(&record.encode_to_vec()).err(),
        Some(RecordError::TooMany("previous"))
    );
    let empty_state = SessionRecordProto {
        version: Some(RECORD_VERSION),
        current: Some(SessionStateRecordProto::default()),
        previous: Vec::new(),
    };
    assert_eq!(
        decode_session_record(&empty_state.encode_to_vec()).err(),
        Some(RecordError::MissingField("sender_chain"))
    );
}
