//! Multi-device scenarios through the in-memory relay: every message to every device, sent
//! copies, groups with sender-key distribution and rotation, unlinking, ghost devices, retries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::Address;
use tandem::account::DeviceRefusal;
use tandem::client::{
    Client, ClientError, ClientStore, Conversation, DeviceOutcome, DeviceUpload, Envelope, EnvelopeKind,
    MemoryRelay, ReceiveFailure, Received, SelfMessage,
};
use tandem::crypto::KeyPair;
use tandem::store::{MemoryStore, SqliteOptions, SqliteStore, StoreError};

const T0: u64 = 1_760_000_000_000;

type MakeStore<S> = Box<dyn FnMut(&KeyPair, u32) -> Result<S, StoreError>>;

struct World<S: ClientStore> {
    relay: MemoryRelay,
    rng: ChaCha20Rng,
    clients: BTreeMap<Address, Client<S>>,
    now: u64,
    make: MakeStore<S>,
}

fn memory(seed: u64) -> World<MemoryStore> {
    World::with(
        seed,
        Box::new(|id: &KeyPair, reg: u32| Ok(MemoryStore::new(id.clone(), reg))),
    )
}

/// Every device in its own SQLite file (WAL) in a fresh temporary folder.
fn sqlite(seed: u64, test: &str) -> World<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("tandem-fanout-{}-{test}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    World::with(
        seed,
        Box::new(move |id: &KeyPair, reg: u32| {
            n += 1;
            SqliteStore::create(
                dir.join(format!("device-{n}.db")),
                id,
                reg,
                SqliteOptions::default(),
            )
            .map_err(StoreError::from)
        }),
    )
}

impl<S: ClientStore> World<S> {
    fn with(seed: u64, make: MakeStore<S>) -> Self {
        Self {
            relay: MemoryRelay::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            clients: BTreeMap::new(),
            now: T0,
            make,
        }
    }

    fn primary(&mut self, name: &str) -> Address {
        let mut c = Client::new_primary_with(name, self.now, &mut self.rng, &mut self.make).unwrap();
        let upload = c.upload(20, &mut self.rng).unwrap();
        self.relay.upload_device(upload);
        self.relay.set_device_list(name, c.device_list().unwrap());
        let a = c.address().clone();
        self.clients.insert(a.clone(), c);
        a
    }

    fn link(&mut self, name: &str) -> Address {
        let pending = Client::begin_link(name, self.now, &mut self.rng);
        let primary = self.clients.get_mut(&Address::new(name, 0)).unwrap();
        let approval = primary
            .approve_link(&pending.qr_payload(), self.now, &mut self.rng)
            .unwrap();
        self.relay.set_device_list(name, approval.device_list.serialize());
        let mut c = pending
            .finish_with(&approval.message, &mut self.rng, &mut self.make)
            .unwrap();
        let upload: DeviceUpload = c.upload(20, &mut self.rng).unwrap();
        self.relay.upload_device(upload);
        let a = c.address().clone();
        self.clients.insert(a.clone(), c);
        a
    }

    /// Delivers everything queued until the relay is empty; returns what each device received.
    fn deliver_all(&mut self) -> BTreeMap<Address, Vec<Received>> {
        let mut got: BTreeMap<Address, Vec<Received>> = BTreeMap::new();
        loop {
            let mut any = false;
            let addresses: Vec<Address> = self.clients.keys().cloned().collect();
            for a in addresses {
                let envelopes = self.relay.fetch(&a);
                for e in envelopes {
                    any = true;
                    let c = self.clients.get_mut(&a).unwrap();
                    let receipt = c.receive(&mut self.relay, &e, self.now, &mut self.rng);
                    self.relay.post(receipt.replies);
                    got.entry(a.clone()).or_default().push(receipt.received);
                }
            }
            if !any {
                return got;
            }
        }
    }

    fn send(&mut self, from: &Address, to: &str, body: &[u8]) -> tandem::client::SendReport {
        let c = self.clients.get_mut(from).unwrap();
        let report = c
            .send(&mut self.relay, to, body, self.now, &mut self.rng)
            .unwrap();
        self.relay.post(report.envelopes.clone());
        report
    }

    fn send_group(&mut self, from: &Address, group: [u8; 16], body: &[u8]) -> tandem::client::SendReport {
        let c = self.clients.get_mut(from).unwrap();
        let report = c
            .send_group(&mut self.relay, group, body, self.now, &mut self.rng)
            .unwrap();
        self.relay.post(report.envelopes.clone());
        report
    }
}

/// A store a device can be restarted from: the client is dropped and opened again.
trait Reopen: ClientStore + Sized {
    fn reopen(client: Client<Self>) -> Self;
}

impl Reopen for MemoryStore {
    fn reopen(mut client: Client<Self>) -> Self {
        client.store_mut().clone()
    }
}

impl Reopen for SqliteStore {
    fn reopen(mut client: Client<Self>) -> Self {
        let path = client.store_mut().path().unwrap().to_string();
        drop(client);
        SqliteStore::open(path, SqliteOptions::default()).unwrap()
    }
}

impl<S: Reopen> World<S> {
    /// Drops the device's client and carries on from its store alone.
    fn restart(&mut self, a: &Address) {
        let old = self.clients.remove(a).unwrap();
        let client = Client::open(S::reopen(old)).unwrap();
        assert_eq!(client.address(), a);
        self.clients.insert(a.clone(), client);
    }
}

fn bodies(got: &BTreeMap<Address, Vec<Received>>) -> BTreeMap<Address, Vec<Vec<u8>>> {
    got.iter()
        .map(|(a, rs)| {
            let b = rs
                .iter()
                .filter_map(|r| match r {
                    Received::Message { message, .. } | Received::SentCopy { message, .. } => {
                        Some(message.body.clone())
                    }
                    _ => None,
                })
                .collect();
            (a.clone(), b)
        })
        .filter(|(_, b): &(Address, Vec<Vec<u8>>)| !b.is_empty())
        .collect()
}

fn addr(name: &str, id: u32) -> Address {
    Address::new(name, id)
}

fn a_message_reaches_every_device_of_both_accounts<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    w.link("alice");
    w.link("alice");
    let bob = w.primary("bob");
    w.link("bob");
    let report = w.send(&alice, "bob", b"hi bob");
    assert_eq!(report.envelopes.len(), 4, "{:?}", report.devices);
    assert!(
        report
            .devices
            .iter()
            .all(|(_, o)| *o == DeviceOutcome::NewSession)
    );
    let got = w.deliver_all();
    let expected: BTreeMap<Address, Vec<Vec<u8>>> =
        [addr("alice", 1), addr("alice", 2), addr("bob", 0), addr("bob", 1)]
            .into_iter()
            .map(|a| (a, vec![b"hi bob".to_vec()]))
            .collect();
    assert_eq!(bodies(&got), expected);
    // Alice's other devices see it as sent by her, in the conversation with Bob.
    assert!(
        matches!(&got[&addr("alice", 1)][0], Received::SentCopy { conversation: Conversation::Direct(d), .. } if d == "bob")
    );

    let reply = w.send(&bob, "alice", b"hi alice");
    assert!(
        reply
            .devices
            .iter()
            .all(|(_, o)| matches!(o, DeviceOutcome::NewSession | DeviceOutcome::Encrypted))
    );
    let got = w.deliver_all();
    let expected: BTreeMap<Address, Vec<Vec<u8>>> = [
        addr("alice", 0),
        addr("alice", 1),
        addr("alice", 2),
        addr("bob", 1),
    ]
    .into_iter()
    .map(|a| (a, vec![b"hi alice".to_vec()]))
    .collect();
    assert_eq!(bodies(&got), expected);
    // Second message: existing sessions.
    let again = w.send(&alice, "bob", b"again");
    assert!(
        again.devices.iter().all(|(_, o)| *o == DeviceOutcome::Encrypted),
        "{:?}",
        again.devices
    );
    assert_eq!(bodies(&w.deliver_all()).len(), 4);
}

fn a_ghost_device_added_by_the_server_gets_nothing<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    w.primary("bob");
    // The server adds a device to Bob's account that Bob's account key never signed.
    let mut ghost_rng = ChaCha20Rng::seed_from_u64(99);
    let mut ghost = Client::new_primary("bob", T0, &mut ghost_rng);
    let mut upload = ghost.upload(5, &mut ghost_rng).unwrap();
    upload.address = addr("bob", 7);
    w.relay.upload_device(upload);
    let report = w.send(&alice, "bob", b"secret");
    assert_eq!(
        report
            .envelopes
            .iter()
            .map(|e| e.recipient.clone())
            .collect::<Vec<_>>(),
        vec![addr("bob", 0)]
    );
    assert!(report.devices.contains(&(
        addr("bob", 7),
        DeviceOutcome::Refused(DeviceRefusal::MissingSignedIdentity)
    )));
    let _ = KeyPair::generate(&mut ghost_rng);
}

fn groups_distribute_the_key_once_and_rotate_when_a_device_is_unlinked<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let laptop = w.link("alice");
    let tablet = w.link("alice");
    let bob = w.primary("bob");
    let carol = w.primary("carol");
    let g = *b"group-of-three!!";
    for a in [&alice, &laptop, &tablet, &bob, &carol] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob", "carol"])
            .unwrap();
    }
    let first = w.send_group(&alice, g, b"hello group");
    // Key distribution to 4 devices (laptop, tablet, bob, carol) + the message to each.
    assert_eq!(first.envelopes.len(), 8);
    let got = bodies(&w.deliver_all());
    assert_eq!(got.len(), 4);
    assert!(got.values().all(|b| b == &vec![b"hello group".to_vec()]));

    let second = w.send_group(&alice, g, b"steady state");
    assert_eq!(second.envelopes.len(), 4, "no key distribution the second time");
    assert_eq!(bodies(&w.deliver_all()).len(), 4);

    // Alice unlinks the tablet; the next group message rotates the key and skips the tablet.
    let list = w
        .clients
        .get_mut(&alice)
        .unwrap()
        .unlink(tablet.device_id, w.now + 1, &mut w.rng)
        .unwrap();
    w.relay.set_device_list("alice", &list);
    w.now += 10;
    let after = w.send_group(&alice, g, b"after unlink");
    let recipients: Vec<_> = after.envelopes.iter().map(|e| e.recipient.clone()).collect();
    assert!(!recipients.contains(&tablet));
    assert!(
        after
            .devices
            .contains(&(tablet.clone(), DeviceOutcome::Refused(DeviceRefusal::NotOnList)))
    );
    // A copy of the new group message (e.g. leaked by the server) cannot be read by the tablet.
    let leaked: Envelope = after
        .envelopes
        .iter()
        .find(|e| e.kind == tandem::client::EnvelopeKind::SenderKey)
        .unwrap()
        .clone();
    let mut to_tablet = leaked.clone();
    to_tablet.recipient = tablet.clone();
    let got = bodies(&w.deliver_all());
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec![laptop.clone(), bob.clone(), carol.clone()]
    );
    let t = w.clients.get_mut(&tablet).unwrap();
    let r = t.receive(&mut w.relay, &to_tablet, w.now, &mut w.rng);
    assert!(
        matches!(r.received, Received::Failed(ReceiveFailure::GroupDecrypt(_))),
        "{:?}",
        r.received
    );
}

fn a_removed_member_cannot_read_later_group_messages<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    let carol = w.primary("carol");
    let g = [7u8; 16];
    for a in [&alice, &bob, &carol] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob", "carol"])
            .unwrap();
    }
    w.send_group(&alice, g, b"one");
    w.deliver_all();
    for a in [&alice, &bob] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    let two = w.send_group(&alice, g, b"two");
    assert!(two.envelopes.iter().all(|e| e.recipient != carol));
    let leaked = two
        .envelopes
        .iter()
        .find(|e| e.kind == tandem::client::EnvelopeKind::SenderKey)
        .unwrap()
        .clone();
    assert_eq!(
        bodies(&w.deliver_all()).keys().cloned().collect::<Vec<_>>(),
        vec![bob.clone()]
    );
    let mut to_carol = leaked;
    to_carol.recipient = carol.clone();
    let c = w.clients.get_mut(&carol).unwrap();
    let r = c.receive(&mut w.relay, &to_carol, w.now, &mut w.rng);
    assert!(matches!(r.received, Received::Failed(_)), "{:?}", r.received);
}

fn a_device_that_lost_its_session_is_healed_by_a_retry<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    w.send(&alice, "bob", b"first");
    w.deliver_all();
    w.send(&bob, "alice", b"reply");
    w.deliver_all();
    // Bob's device loses its session with Alice (e.g. restored from an old backup).
    w.clients
        .get_mut(&bob)
        .unwrap()
        .store_mut()
        .remove_session(&alice)
        .unwrap();
    w.send(&alice, "bob", b"after the loss");
    let got = w.deliver_all();
    let bob_got = &got[&bob];
    assert!(
        matches!(bob_got[0], Received::Failed(ReceiveFailure::Decrypt(_))),
        "{bob_got:?}"
    );
    assert!(
        bob_got
            .iter()
            .any(|r| matches!(r, Received::Message { message, .. } if message.body == b"after the loss"))
    );
    assert!(
        got[&alice]
            .iter()
            .any(|r| matches!(r, Received::RetryServed { .. }))
    );
    // And the healed session keeps working both ways.
    w.send(&bob, "alice", b"healed");
    assert_eq!(bodies(&w.deliver_all())[&alice], vec![b"healed".to_vec()]);
}

fn status_updates_reach_the_audience_only<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let laptop = w.link("alice");
    let bob = w.primary("bob");
    let carol = w.primary("carol");
    let dave = w.primary("dave");
    w.clients
        .get_mut(&alice)
        .unwrap()
        .set_status_audience(&["bob", "carol"])
        .unwrap();
    let report = {
        let c = w.clients.get_mut(&alice).unwrap();
        c.send_status(&mut w.relay, b"at the beach", w.now, &mut w.rng)
            .unwrap()
    };
    w.relay.post(report.envelopes.clone());
    let got = bodies(&w.deliver_all());
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec![laptop, bob.clone(), carol.clone()]
    );
    assert!(!got.contains_key(&dave));
    // Carol is dropped from the audience: the status key rotates and she cannot read the next.
    w.clients
        .get_mut(&alice)
        .unwrap()
        .set_status_audience(&["bob"])
        .unwrap();
    let c = w.clients.get_mut(&alice).unwrap();
    let next = c
        .send_status(&mut w.relay, b"back home", w.now, &mut w.rng)
        .unwrap();
    let leaked = next
        .envelopes
        .iter()
        .find(|e| e.kind == tandem::client::EnvelopeKind::SenderKey)
        .unwrap()
        .clone();
    w.relay.post(next.envelopes.clone());
    assert!(bodies(&w.deliver_all()).contains_key(&bob));
    let mut to_carol = leaked;
    to_carol.recipient = carol.clone();
    let r = w
        .clients
        .get_mut(&carol)
        .unwrap()
        .receive(&mut w.relay, &to_carol, w.now, &mut w.rng);
    assert!(
        matches!(r.received, Received::Failed(ReceiveFailure::GroupDecrypt(_))),
        "{:?}",
        r.received
    );
}

fn a_stale_device_list_is_healed_by_sending_only_to_the_missing_devices<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    let report = w.send(&alice, "bob", b"hello");
    assert_eq!(report.envelopes.len(), 1);
    // Bob links a laptop while the message is in flight; the server says Bob's devices changed.
    let laptop = w.link("bob");
    let c = w.clients.get_mut(&alice).unwrap();
    let missing = c
        .resend_to_missing(&mut w.relay, report.message_id, w.now, &mut w.rng)
        .unwrap();
    assert_eq!(
        missing
            .envelopes
            .iter()
            .map(|e| e.recipient.clone())
            .collect::<Vec<_>>(),
        vec![laptop.clone()]
    );
    w.relay.post(missing.envelopes.clone());
    let got = bodies(&w.deliver_all());
    assert_eq!(got[&bob], vec![b"hello".to_vec()]);
    assert_eq!(got[&laptop], vec![b"hello".to_vec()]);
    // Asking again sends nothing: everyone has it.
    let c = w.clients.get_mut(&alice).unwrap();
    assert!(
        c.resend_to_missing(&mut w.relay, report.message_id, w.now, &mut w.rng)
            .unwrap()
            .envelopes
            .is_empty()
    );
}

/// 50 accounts × 4 devices in one group, with membership churn: every message is checked on
/// every device that should have it and on none that should not.
fn fifty_accounts_of_four_devices_in_one_group_with_churn<S: ClientStore>(mut w: World<S>) {
    let names: Vec<String> = (0..50).map(|i| format!("user{i:02}")).collect();
    for n in &names {
        w.primary(n);
        for _ in 0..3 {
            w.link(n);
        }
    }
    let g = [0x42; 16];
    let mut members: Vec<String> = names.clone();
    let set_members = |w: &mut World<S>, members: &[String]| {
        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
        let addresses: Vec<Address> = w.clients.keys().cloned().collect();
        for a in addresses {
            if members.contains(&a.name) {
                w.clients
                    .get_mut(&a)
                    .unwrap()
                    .set_group_members(g, &refs)
                    .unwrap();
            }
        }
    };
    set_members(&mut w, &members);
    let mut checked = 0usize;
    for round in 0..6 {
        // Churn: remove two members and add back one removed earlier.
        if round > 0 {
            let removed: Vec<String> = members.drain(..2).collect();
            if round > 1 {
                let back = names[(round * 7) % 50].clone();
                if !members.contains(&back) && !removed.contains(&back) {
                    members.push(back);
                }
            }
            set_members(&mut w, &members);
        }
        let sender = Address::new(members[round % members.len()].clone(), (round % 4) as u32);
        let body = format!("round {round}").into_bytes();
        w.send_group(&sender, g, &body);
        let got = bodies(&w.deliver_all());
        for a in w.clients.keys() {
            let should = members.contains(&a.name) && a != &sender;
            let has = got.get(a).is_some_and(|b| b.contains(&body));
            assert_eq!(
                has,
                should,
                "round {round}: {a} should{} have it",
                if should { "" } else { " not" }
            );
            checked += 1;
        }
    }
    println!("checked {checked} (device, message) pairs over 200 devices");
}

fn a_retry_request_from_a_device_that_was_not_a_recipient_is_refused<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    w.primary("bob");
    let mallory = w.primary("mallory");
    let report = w.send(&alice, "bob", b"for bob only");
    // The server hands Mallory a copy of Alice's envelope to Bob; Mallory cannot read it and asks
    // Alice for a retry of that message.
    let mut copy = report.envelopes[0].clone();
    copy.recipient = mallory.clone();
    let m = w.clients.get_mut(&mallory).unwrap();
    let receipt = m.receive(&mut w.relay, &copy, w.now, &mut w.rng);
    assert!(matches!(receipt.received, Received::Failed(_)));
    assert_eq!(receipt.replies.len(), 1, "a genuine retry request");
    let a = w.clients.get_mut(&alice).unwrap();
    let served = a.receive(&mut w.relay, &receipt.replies[0], w.now, &mut w.rng);
    assert_eq!(served.received, Received::Failed(ReceiveFailure::BadRetry));
    assert!(served.replies.is_empty(), "nothing re-sent to Mallory");
}

fn a_forged_first_message_from_a_device_is_refused<S: ClientStore>(mut w: World<S>) {
    use tandem::session;
    use tandem::store::SignedPreKeyStore;
    let alice = w.primary("alice");
    w.primary("bob");
    // The server makes up a "bob.0" with its own key and a session to Alice from her bundle.
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let fake = KeyPair::generate(&mut rng);
    let mut store = MemoryStore::new(fake, 9);
    let _ = store.signed_pre_key(1);
    let bundle = tandem::client::Directory::prekey_bundle(&mut w.relay, &alice).unwrap();
    session::process_prekey_bundle(&mut store, &alice, &bundle, &mut rng).unwrap();
    let forged = session::encrypt(&mut store, &alice, &tandem::client::pad(b"hello, it's bob")).unwrap();
    let envelope = Envelope {
        sender: addr("bob", 0),
        recipient: alice.clone(),
        kind: tandem::client::EnvelopeKind::PreKey,
        message_id: [1; 16],
        timestamp: w.now,
        payload: forged.serialized().to_vec(),
    };
    let a = w.clients.get_mut(&alice).unwrap();
    let r = a.receive(&mut w.relay, &envelope, w.now, &mut w.rng);
    assert_eq!(
        r.received,
        Received::Failed(ReceiveFailure::Decrypt(
            tandem::session::DecryptError::UntrustedIdentity
        ))
    );
}

fn an_unlinked_device_is_no_longer_accepted_as_a_sender<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let tablet = w.link("alice");
    let bob = w.primary("bob");
    w.send(&tablet, "bob", b"from the tablet");
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"from the tablet".to_vec()]);
    let list = w
        .clients
        .get_mut(&alice)
        .unwrap()
        .unlink(tablet.device_id, w.now + 1, &mut w.rng)
        .unwrap();
    w.relay.set_device_list("alice", &list);
    w.now += 10;
    w.send(&tablet, "bob", b"after the unlink");
    let got = w.deliver_all();
    assert!(
        got[&bob]
            .iter()
            .all(|r| matches!(r, Received::Failed(ReceiveFailure::UnverifiedSender))),
        "{:?}",
        got[&bob]
    );
}

/// Each scenario runs against both stores.
macro_rules! both_stores {
    ($($name:ident = $seed:expr),* $(,)?) => {
        mod in_memory {
            $(#[test]
            fn $name() {
                super::$name(super::memory($seed));
            })*
        }
        mod in_sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::sqlite($seed, stringify!($name)));
            })*
        }
    };
}

/// Everything a device knows lives in its store: restarted devices keep their sessions, their
/// groups (no second sender-key distribution), the messages they sent (a retry asked before the
/// restart is served after it), the account keys they learned (a re-registered account is not
/// trusted anew) and, for a primary, the account state (the next device id).
fn a_device_restarted_from_its_store_carries_on<S: Reopen>(mut w: World<S>) {
    let alice = w.primary("alice");
    let laptop = w.link("alice");
    let bob = w.primary("bob");
    let tablet = w.link("bob");
    let g = *b"restart-group-01";
    for a in [&alice, &laptop, &bob, &tablet] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    w.send(&alice, "bob", b"before");
    w.send_group(&alice, g, b"group before");
    w.deliver_all();
    for a in [&alice, &laptop, &bob, &tablet] {
        w.restart(a);
    }
    // Sessions: the conversation goes on in both directions.
    w.send(&alice, "bob", b"after");
    let expected: BTreeMap<Address, Vec<Vec<u8>>> = [laptop.clone(), bob.clone(), tablet.clone()]
        .into_iter()
        .map(|a| (a, vec![b"after".to_vec()]))
        .collect();
    assert_eq!(bodies(&w.deliver_all()), expected);
    w.send(&tablet, "alice", b"reply");
    assert_eq!(bodies(&w.deliver_all()).len(), 3);
    // Groups: every member device still holds Alice's sender key, so only the group message goes.
    let report = w.send_group(&alice, g, b"group after");
    assert!(
        report.envelopes.iter().all(|e| e.kind == EnvelopeKind::SenderKey),
        "{:?}",
        report.envelopes.iter().map(|e| e.kind).collect::<Vec<_>>()
    );
    assert_eq!(bodies(&w.deliver_all()).len(), 3);
    // Sent messages: the tablet loses its session and asks for a retry; Alice restarts before
    // the request arrives, and serves it from her store.
    w.clients
        .get_mut(&tablet)
        .unwrap()
        .store_mut()
        .remove_session(&alice)
        .unwrap();
    w.send(&alice, "bob", b"lost and retried");
    let request = {
        let envelopes = w.relay.fetch(&tablet);
        let mut replies = Vec::new();
        for e in envelopes {
            let c = w.clients.get_mut(&tablet).unwrap();
            let r = c.receive(&mut w.relay, &e, w.now, &mut w.rng);
            assert!(
                matches!(r.received, Received::Failed(ReceiveFailure::Decrypt(_))),
                "{:?}",
                r.received
            );
            replies.extend(r.replies);
        }
        replies
    };
    assert_eq!(request.len(), 1);
    assert_eq!(request[0].kind, EnvelopeKind::RetryRequest);
    w.restart(&alice);
    w.restart(&tablet);
    w.relay.post(request);
    let got = w.deliver_all();
    assert!(
        got[&alice]
            .iter()
            .any(|r| matches!(r, Received::RetryServed { .. })),
        "{:?}",
        got[&alice]
    );
    assert_eq!(bodies(&got)[&tablet], vec![b"lost and retried".to_vec()]);
    // The primary's account state: the next companion gets device id 2.
    w.restart(&alice);
    assert_eq!(w.link("alice"), addr("alice", 2));
    // Known account keys: Bob re-registers (new account key); Alice's restarted devices do not
    // trust it on first use again.
    let mut fresh = Client::new_primary("bob", w.now, &mut w.rng);
    w.relay.upload_device(fresh.upload(5, &mut w.rng).unwrap());
    w.relay.set_device_list("bob", fresh.device_list().unwrap());
    w.restart(&laptop);
    let c = w.clients.get_mut(&laptop).unwrap();
    assert_eq!(
        c.send(&mut w.relay, "bob", b"to whom?", w.now, &mut w.rng).err(),
        Some(ClientError::AccountKeyChanged("bob".into()))
    );
}

/// An attachment (a media pointer) travels inside the message, 1:1 and in groups, to every
/// device; self messages reach only our own devices, history only from the primary.
fn attachments_and_self_messages_reach_the_right_devices<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let laptop = w.link("alice");
    let tablet = w.link("alice");
    let bob = w.primary("bob");
    let pointer = b"a media pointer".to_vec();
    let c = w.clients.get_mut(&alice).unwrap();
    let report = c
        .send_attachment(
            &mut w.relay,
            &Conversation::Direct("bob".into()),
            b"a photo",
            &pointer,
            w.now,
            &mut w.rng,
        )
        .unwrap();
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    for a in [&laptop, &tablet, &bob] {
        assert!(
            got[a].iter().any(|r| matches!(r,
                Received::Message { message, .. } | Received::SentCopy { message, .. }
                    if message.attachment.as_deref() == Some(pointer.as_slice()) && message.body == b"a photo")),
            "{a}: {:?}",
            got[a]
        );
    }
    let g = *b"attachment-group";
    for a in [&alice, &laptop, &tablet, &bob] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    let c = w.clients.get_mut(&bob).unwrap();
    let report = c
        .send_attachment(
            &mut w.relay,
            &Conversation::Group(g),
            b"",
            b"group pointer",
            w.now,
            &mut w.rng,
        )
        .unwrap();
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    for a in [&alice, &laptop, &tablet] {
        assert!(got[a].iter().any(|r| matches!(r,
            Received::Message { message, .. } if message.attachment.as_deref() == Some(&b"group pointer"[..]))));
    }
    // History: primary → one companion only.
    let c = w.clients.get_mut(&alice).unwrap();
    let report = c
        .send_to_own_devices(
            &mut w.relay,
            &SelfMessage::HistorySync(b"notification".to_vec()),
            Some(1),
            w.now,
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(report.envelopes.len(), 1);
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    assert_eq!(
        got[&laptop],
        vec![Received::FromOwnDevice {
            from: alice.clone(),
            message: SelfMessage::HistorySync(b"notification".to_vec())
        }]
    );
    assert!(!got.contains_key(&tablet) && !got.contains_key(&bob));
    // A companion cannot send history.
    let c = w.clients.get_mut(&laptop).unwrap();
    assert_eq!(
        c.send_to_own_devices(
            &mut w.relay,
            &SelfMessage::HistorySync(vec![1]),
            None,
            w.now,
            &mut w.rng
        )
        .err(),
        Some(ClientError::NotPrimary)
    );
    // Nor app-state keys: the primary is their authority (found by the simulator: a companion
    // with a stale view answered the unlinked sibling's key request).
    assert_eq!(
        c.send_to_own_devices(
            &mut w.relay,
            &SelfMessage::AppStateKeys(b"keys".to_vec()),
            None,
            w.now,
            &mut w.rng
        )
        .err(),
        Some(ClientError::NotPrimary)
    );
    // From the primary they reach every other device of the account, no one else.
    let c = w.clients.get_mut(&alice).unwrap();
    let report = c
        .send_to_own_devices(
            &mut w.relay,
            &SelfMessage::AppStateKeys(b"keys".to_vec()),
            None,
            w.now,
            &mut w.rng,
        )
        .unwrap();
    w.relay.post(report.envelopes);
    let got = w.deliver_all();
    let reached: Vec<&Address> = got.keys().collect();
    assert_eq!(reached, vec![&laptop, &tablet]);
}

/// A message decrypted twice in different ciphertexts — a re-send after a retry request, then the
/// late original, which asks for (and gets) a second re-send — is shown once; the second is a
/// `Duplicate`. (Found by the simulator.)
fn a_message_re_sent_after_a_retry_is_shown_once<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    w.send(&alice, "bob", b"first");
    w.deliver_all();
    w.clients
        .get_mut(&bob)
        .unwrap()
        .store_mut()
        .remove_session(&alice)
        .unwrap();
    let report = w.send(&alice, "bob", b"once only");
    let original = report.envelopes[0].clone();
    let got = w.deliver_all();
    assert_eq!(bodies(&got)[&bob], vec![b"once only".to_vec()]);
    // The original arrives again (a late copy): it no longer decrypts, a retry follows, and the
    // second re-send decrypts — to a message already shown.
    w.relay.post([original]);
    let got = w.deliver_all();
    assert!(!bodies(&got).contains_key(&bob), "{:?}", got[&bob]);
    assert!(got[&bob].contains(&Received::Duplicate), "{:?}", got[&bob]);
    assert!(
        got[&alice]
            .iter()
            .any(|r| matches!(r, Received::RetryServed { .. }))
    );
    // And later messages are shown as usual.
    w.send(&alice, "bob", b"after");
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"after".to_vec()]);
}

/// A group message re-sent to missing devices goes only to accounts that were members when it was
/// sent and still are: a member added since does not get it. (Found by the simulator.)
fn a_group_resend_skips_members_added_since<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    w.primary("bob");
    let carol = w.primary("carol");
    let g = *b"resend-members-1";
    for a in [&alice, &addr("bob", 0)] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    w.clients
        .get_mut(&carol)
        .unwrap()
        .set_group_members(g, &["alice", "bob", "carol"])
        .unwrap();
    let report = w.send_group(&alice, g, b"before carol");
    w.deliver_all();
    // Bob links a laptop that missed the message; Carol joins.
    let laptop = w.link("bob");
    w.clients
        .get_mut(&laptop)
        .unwrap()
        .set_group_members(g, &["alice", "bob", "carol"])
        .unwrap();
    w.clients
        .get_mut(&alice)
        .unwrap()
        .set_group_members(g, &["alice", "bob", "carol"])
        .unwrap();
    let c = w.clients.get_mut(&alice).unwrap();
    let resend = c
        .resend_to_missing(&mut w.relay, report.message_id, w.now, &mut w.rng)
        .unwrap();
    let to: Vec<Address> = resend.envelopes.iter().map(|e| e.recipient.clone()).collect();
    assert_eq!(to, vec![laptop.clone()], "only Bob's new device, not Carol");
    w.relay.post(resend.envelopes);
    assert_eq!(bodies(&w.deliver_all())[&laptop], vec![b"before carol".to_vec()]);
}

/// A message from a device linked a moment ago, read while the directory still serves the older
/// list, fails as `UnverifiedSender` — transient: nothing was kept, and the same envelope offered
/// again once the list is fresh is read. (Found by the simulator.)
fn a_message_refused_on_a_stale_list_is_read_when_offered_again<S: ClientStore>(mut w: World<S>) {
    w.primary("alice");
    let bob = w.primary("bob");
    let before = w.clients[&addr("alice", 0)].device_list().unwrap().to_vec();
    let laptop = w.link("alice");
    let fresh = w.clients[&addr("alice", 0)].device_list().unwrap().to_vec();
    w.send(&laptop, "bob", b"from the new laptop");
    let envelope = w.relay.fetch(&bob).pop().unwrap();
    w.relay.set_device_list("alice", &before);
    let c = w.clients.get_mut(&bob).unwrap();
    let first = c.receive(&mut w.relay, &envelope, w.now, &mut w.rng);
    let Received::Failed(why) = &first.received else {
        panic!("{:?}", first.received)
    };
    assert_eq!(why, &ReceiveFailure::UnverifiedSender);
    assert!(why.is_transient());
    assert!(first.replies.is_empty());
    w.relay.set_device_list("alice", &fresh);
    let c = w.clients.get_mut(&bob).unwrap();
    let again = c.receive(&mut w.relay, &envelope, w.now, &mut w.rng);
    assert!(
        matches!(&again.received, Received::Message { message, .. } if message.body == b"from the new laptop"),
        "{:?}",
        again.received
    );
}

/// After a peer reinstalls (new identity at the same address), its previous installation's group
/// messages are no longer read: the sender keys of a device go with its old identity. (Found by
/// the simulator.)
fn group_messages_from_a_previous_installation_are_not_read<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    let g = *b"reinstall-group!";
    for a in [&alice, &bob] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    w.send_group(&alice, g, b"from the old phone");
    assert_eq!(
        bodies(&w.deliver_all())[&bob],
        vec![b"from the old phone".to_vec()]
    );
    // One more from the old installation, held back by the network.
    w.send_group(&alice, g, b"late, from the old phone");
    let late: Vec<Envelope> = w.relay.fetch(&bob);
    assert_eq!(late.len(), 1);
    // Alice reinstalls: a new identity at alice.0; Bob accepts the new key.
    w.clients.remove(&alice);
    w.primary("alice");
    let key = *w.clients[&alice].identity_key();
    let c = w.clients.get_mut(&bob).unwrap();
    c.accept_account_key("alice", key).unwrap();
    c.refresh_devices(&w.relay, "alice", w.now).unwrap();
    let r = c.receive(&mut w.relay, &late[0], w.now, &mut w.rng);
    assert!(
        !matches!(r.received, Received::Message { .. }),
        "read a message of the previous installation: {:?}",
        r.received
    );
}

/// A message sent to a previous installation of an account is never re-encrypted to a later
/// one: the new phone's retry for it is refused even after the new account key is accepted
/// (else accepting a key change would hand a re-registered account — maybe not its owner —
/// every message still held for retries). Later messages reach the new phone. (Found by the
/// simulator.)
fn a_retry_from_a_later_installation_is_refused<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    w.send(&alice, "bob", b"to bob's old phone");
    let held: Vec<Envelope> = w.relay.fetch(&bob);
    assert_eq!(held.len(), 1);
    // Bob reinstalls (a new identity at bob.0); the held envelope reaches the new phone, which
    // cannot read it and asks for a retry.
    w.clients.remove(&bob);
    w.primary("bob");
    let c = w.clients.get_mut(&bob).unwrap();
    let r = c.receive(&mut w.relay, &held[0], w.now, &mut w.rng);
    assert!(matches!(r.received, Received::Failed(_)), "{:?}", r.received);
    let retry: Vec<Envelope> = r
        .replies
        .into_iter()
        .filter(|e| e.kind == EnvelopeKind::RetryRequest)
        .collect();
    assert_eq!(retry.len(), 1);
    // Alice accepts Bob's new key; the retry is refused, nothing is re-encrypted.
    let key = *w.clients[&bob].identity_key();
    let c = w.clients.get_mut(&alice).unwrap();
    c.accept_account_key("bob", key).unwrap();
    c.refresh_devices(&w.relay, "bob", w.now).unwrap();
    let served = c.receive(&mut w.relay, &retry[0], w.now, &mut w.rng);
    assert!(
        matches!(served.received, Received::Failed(ReceiveFailure::BadRetry)),
        "{:?}",
        served.received
    );
    assert!(served.replies.is_empty());
    // Nor does a re-send to missing devices reach the new installation.
    let message_id = held[0].message_id;
    let again = c
        .resend_to_missing(&mut w.relay, message_id, w.now, &mut w.rng)
        .unwrap();
    assert!(again.envelopes.is_empty(), "{:?}", again.devices);
    // A message sent after accepting the key reaches the new phone.
    w.send(&alice, "bob", b"to bob's new phone");
    assert_eq!(
        bodies(&w.deliver_all())[&bob],
        vec![b"to bob's new phone".to_vec()]
    );
}

/// A group message overtaken in flight by a redistribution of the sender key (sent after a retry
/// was served) is older than the receiver's copy of the chain. It was never read, so it is not
/// a duplicate: the receiver asks for it again and it is re-sent pairwise. A replay of a message
/// that was read stays a `Duplicate`. (Found by the simulator.)
fn a_group_message_older_than_a_redistributed_key_is_asked_for_again<S: ClientStore>(mut w: World<S>) {
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    let g = *b"overtaken-group!";
    for a in [&alice, &bob] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    // The first message's distribution is held back: Bob cannot read it and asks for a retry.
    w.send_group(&alice, g, b"first");
    let first: Vec<Envelope> = w.relay.fetch(&bob);
    let message = first.iter().find(|e| e.kind == EnvelopeKind::SenderKey).unwrap();
    let c = w.clients.get_mut(&bob).unwrap();
    let r = c.receive(&mut w.relay, message, w.now, &mut w.rng);
    assert!(matches!(r.received, Received::Failed(_)), "{:?}", r.received);
    w.relay.post(r.replies);
    // The second goes under the key Alice believes Bob has, and is delayed.
    w.send_group(&alice, g, b"second");
    let late: Vec<Envelope> = w.relay.fetch(&bob);
    assert_eq!(late.len(), 1);
    // Alice serves the retry (the first, pairwise); her next message redistributes the key.
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"first".to_vec()]);
    w.send_group(&alice, g, b"third");
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"third".to_vec()]);
    // The delayed second arrives, older than Bob's copy of the chain: asked for again.
    let c = w.clients.get_mut(&bob).unwrap();
    let r = c.receive(&mut w.relay, &late[0], w.now, &mut w.rng);
    assert!(matches!(r.received, Received::Failed(_)), "{:?}", r.received);
    assert!(r.replies.iter().any(|e| e.kind == EnvelopeKind::RetryRequest));
    w.relay.post(r.replies);
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"second".to_vec()]);
    // Offered once more (a replay), it is a duplicate now, and nothing is asked.
    let c = w.clients.get_mut(&bob).unwrap();
    let r = c.receive(&mut w.relay, &late[0], w.now, &mut w.rng);
    assert_eq!(r.received, Received::Duplicate);
    assert!(r.replies.is_empty());
}

both_stores! {
    a_group_message_older_than_a_redistributed_key_is_asked_for_again = 23,
    a_retry_from_a_later_installation_is_refused = 22,
    group_messages_from_a_previous_installation_are_not_read = 18,
    a_message_refused_on_a_stale_list_is_read_when_offered_again = 17,
    a_group_resend_skips_members_added_since = 16,
    a_message_re_sent_after_a_retry_is_shown_once = 15,
    attachments_and_self_messages_reach_the_right_devices = 14,
    a_device_restarted_from_its_store_carries_on = 12,
    a_retry_request_from_a_device_that_was_not_a_recipient_is_refused = 9,
    a_forged_first_message_from_a_device_is_refused = 10,
    an_unlinked_device_is_no_longer_accepted_as_a_sender = 11,
    a_message_reaches_every_device_of_both_accounts = 1,
    a_ghost_device_added_by_the_server_gets_nothing = 2,
    groups_distribute_the_key_once_and_rotate_when_a_device_is_unlinked = 3,
    a_removed_member_cannot_read_later_group_messages = 4,
    a_device_that_lost_its_session_is_healed_by_a_retry = 5,
    status_updates_reach_the_audience_only = 6,
    a_stale_device_list_is_healed_by_sending_only_to_the_missing_devices = 7,
    fifty_accounts_of_four_devices_in_one_group_with_churn = 8,
}

/// The application keeps a message in its own table in the same transaction as the decrypt: when
/// its save fails, nothing of the step is kept and the envelope decrypts again later; when it
/// succeeds, both the row and the ratchet step are there (so a crash between them is impossible).
#[test]
fn the_app_keeps_a_message_in_the_same_transaction_as_its_decrypt() {
    use tandem::client::ReceiveWithError;
    let mut w = sqlite(13, "receive_with");
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    w.clients
        .get_mut(&bob)
        .unwrap()
        .store_mut()
        .connection()
        .execute_batch("CREATE TABLE app_messages (id BLOB PRIMARY KEY, body BLOB NOT NULL)")
        .unwrap();
    w.send(&alice, "bob", b"keep me");
    let envelope = w.relay.fetch(&bob).pop().unwrap();
    let save = |receipt: &tandem::client::Receipt, store: &mut SqliteStore| -> Result<(), String> {
        if let Received::Message { message, .. } = &receipt.received {
            store
                .connection()
                .execute(
                    "INSERT INTO app_messages (id, body) VALUES (?1, ?2)",
                    (message.id.as_slice(), message.body.as_slice()),
                )
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let rows = |w: &mut World<SqliteStore>| -> i64 {
        w.clients
            .get_mut(&bob)
            .unwrap()
            .store_mut()
            .connection()
            .query_row("SELECT count(*) FROM app_messages", [], |r| r.get(0))
            .unwrap()
    };
    // The app's save fails after writing its row: everything rolls back.
    let c = w.clients.get_mut(&bob).unwrap();
    let failed = c.receive_with(&mut w.relay, &envelope, w.now, &mut w.rng, |r, s| {
        save(r, s)?;
        Err::<(), String>("the app's disk is full".into())
    });
    assert_eq!(
        failed.err(),
        Some(ReceiveWithError::Keep("the app's disk is full".into()))
    );
    assert_eq!(rows(&mut w), 0);
    // Delivered again, it decrypts (the session did not advance) and is kept.
    let c = w.clients.get_mut(&bob).unwrap();
    let receipt = c
        .receive_with(&mut w.relay, &envelope, w.now, &mut w.rng, save)
        .unwrap();
    assert!(matches!(&receipt.received, Received::Message { message, .. } if message.body == b"keep me"));
    assert_eq!(rows(&mut w), 1);
    // A third delivery is a duplicate: the decrypt was committed with the row.
    let c = w.clients.get_mut(&bob).unwrap();
    assert_eq!(
        c.receive(&mut w.relay, &envelope, w.now, &mut w.rng).received,
        Received::Duplicate
    );
    // The conversation goes on.
    w.send(&bob, "alice", b"got it");
    assert_eq!(bodies(&w.deliver_all())[&alice], vec![b"got it".to_vec()]);
}

/// The outbox: a group send and the application's saving of its envelopes are one transaction.
/// A crash before the envelopes were saved rolls the send back (the key is not taken as
/// delivered, so the next send distributes it again); a completed one keeps both. (Found by the
/// simulator: a sender crashed right after a group send had committed, its envelopes never
/// left, and later messages went without the key.)
#[test]
fn a_send_and_its_outbox_commit_together() {
    let mut w = sqlite(19, "outbox");
    let alice = w.primary("alice");
    let bob = w.primary("bob");
    let g = *b"outbox-group-001";
    for a in [&alice, &bob] {
        w.clients
            .get_mut(a)
            .unwrap()
            .set_group_members(g, &["alice", "bob"])
            .unwrap();
    }
    let c = w.clients.get_mut(&alice).unwrap();
    c.store_mut()
        .connection()
        .execute_batch("CREATE TABLE outbox (envelope BLOB NOT NULL)")
        .unwrap();
    // The app dies after the send step, before saving the envelopes: all of it rolls back.
    let crashed: Result<(), ClientError> = c.atomically(|c| {
        let report = c.send_group(&mut w.relay, g, b"lost with the crash", w.now, &mut w.rng)?;
        assert!(report.envelopes.iter().any(|e| e.kind != EnvelopeKind::SenderKey));
        Err(ClientError::Store("the process died".into()))
    });
    assert!(crashed.is_err());
    // The next send still carries the key (a pairwise distribution), saved with its envelopes.
    let saved = c
        .atomically(|c| {
            let report = c.send_group(&mut w.relay, g, b"sent", w.now, &mut w.rng)?;
            for e in &report.envelopes {
                c.store_mut()
                    .connection()
                    .execute("INSERT INTO outbox (envelope) VALUES (?1)", [&e.payload])
                    .map_err(|e| ClientError::Store(e.to_string()))?;
            }
            Ok::<_, ClientError>(report)
        })
        .unwrap();
    assert!(
        saved.envelopes.iter().any(|e| e.kind != EnvelopeKind::SenderKey),
        "the key goes again: the crashed send was rolled back"
    );
    let rows: i64 = c
        .store_mut()
        .connection()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as usize, saved.envelopes.len());
    w.relay.post(saved.envelopes);
    assert_eq!(bodies(&w.deliver_all())[&bob], vec![b"sent".to_vec()]);
}

/// A companion linked while the directory still served the older list misses a sibling's sent
/// copy; once the list is fresh, `resend_to_missing` reaches it.
#[test]
fn a_sent_copy_missed_on_a_stale_list_is_re_sent_once_fresh() {
    let mut w = memory(20);
    w.primary("alice");
    let laptop = w.link("alice");
    w.primary("bob");
    let before = w.clients[&addr("alice", 0)].device_list().unwrap().to_vec();
    let tablet = w.link("alice");
    let fresh = w.clients[&addr("alice", 0)].device_list().unwrap().to_vec();
    w.relay.set_device_list("alice", &before);
    let report = w.send(&laptop, "bob", b"to bob");
    assert!(report.envelopes.iter().all(|e| e.recipient != tablet));
    w.deliver_all();
    w.relay.set_device_list("alice", &fresh);
    let c = w.clients.get_mut(&laptop).unwrap();
    let again = c
        .resend_to_missing(&mut w.relay, report.message_id, w.now, &mut w.rng)
        .unwrap();
    let to: Vec<Address> = again.envelopes.iter().map(|e| e.recipient.clone()).collect();
    assert_eq!(to, vec![tablet.clone()], "{:?}", again.devices);
}

/// The primary trusts the list it signed over an older one the directory still serves: after an
/// unlink, neither its messages' sent copies nor its self messages (a new app-state key) go to
/// the unlinked companion, though a stale or withholding directory still lists it. (Found by the
/// simulator: the key rotated at an unlink was encrypted to the unlinked device.)
#[test]
fn an_unlinked_companion_gets_nothing_while_the_directory_still_lists_it() {
    let mut w = memory(21);
    let alice = w.primary("alice");
    let laptop = w.link("alice");
    let tablet = w.link("alice");
    w.primary("bob");
    let before = w.send(&alice, "bob", b"before");
    assert!(before.envelopes.iter().any(|e| e.recipient == tablet));
    w.deliver_all();
    // Alice unlinks the tablet; the directory goes on serving the list that has it.
    w.now += 1;
    let c = w.clients.get_mut(&alice).unwrap();
    c.unlink(tablet.device_id, w.now, &mut w.rng).unwrap();
    let after = w.send(&alice, "bob", b"after");
    let to: Vec<&Address> = after.envelopes.iter().map(|e| &e.recipient).collect();
    assert!(to.contains(&&laptop), "{to:?}");
    assert!(!to.contains(&&tablet), "{to:?}");
    let c = w.clients.get_mut(&alice).unwrap();
    let keys = c
        .send_to_own_devices(
            &mut w.relay,
            &SelfMessage::AppStateKeys(b"the rotated key".to_vec()),
            None,
            w.now,
            &mut w.rng,
        )
        .unwrap();
    let to: Vec<&Address> = keys.envelopes.iter().map(|e| &e.recipient).collect();
    assert_eq!(to, vec![&laptop]);
}
