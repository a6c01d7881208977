//! The main job: the multi-device story, end to end, through the in-memory relay.
//!
//! 1. Alice's phone links a laptop and a tablet (each link payload shown as a QR code).
//! 2. Bob's phone links a laptop the same way; Carol registers her phone.
//! 3. Alice and Bob message each other: every message reaches every other device of both
//!    accounts, the sender's own devices as sent copies.
//! 4. A group of Alice, Bob and Carol: each sender's key goes to each device once.
//! 5. Alice unlinks the tablet: it learns so from the signed device list, Alice's next group
//!    message rotates the key and skips it, and a leaked copy cannot be read by it.
//! 6. Bob's laptop loses its session with Alice's phone: a retry heals it.
//! 7. A photo from Alice's phone: the encrypted blob goes to the blob store once, the key and
//!    hashes inside the message to every device, each of which fetches, checks and decrypts it.
//! 8. App state: Alice's phone shares the app-state key with her laptop; Bob muted on the laptop
//!    is muted on the phone, and a call made on the phone is in the laptop's call log.
//! 9. A new tablet for Alice: the phone packages her history (thousands of messages) into
//!    encrypted chunks, the tablet imports them with a progress bar.
//! 10. A summary; the exit status is non-zero if anything unexpected happened.
//!
//! Run with `scripts/demo` (`cargo run --release --locked -p tandem --example demo`). Real
//! randomness from the operating system; a simulated clock that starts at the real time.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use rand::Rng;
use rand::rngs::ThreadRng;
use tandem::Address;
use tandem::account::DeviceRefusal;
use tandem::app_state::{
    AppStateKeyRing, AppStateSync, CallDirection, CallLogEntry, CallMedia, CallOutcome, CollectionName,
    MemoryAppStateServer, Mutation, SyncAction,
};
use tandem::blob::{BlobId, BlobStore, MemoryBlobStore};
use tandem::client::{
    Client, Conversation, DeviceOutcome, Directory, Envelope, EnvelopeKind, MemoryRelay, Received,
    SelfMessage, SendReport,
};
use tandem::crypto::KeyPair;
use tandem::history::{
    ChunkLimits, ContactName, HistoryImporter, HistoryItem, HistoryPackage, HistorySyncType,
};
use tandem::linking::LinkStatus;
use tandem::media::{self, MediaKey, MediaKind, MediaPointer};
use tandem::store::{SessionStore, SqliteOptions, SqliteStore, StoreError};

type Res<T> = Result<T, Box<dyn Error>>;

/// A device of the demo: the client over its own SQLite file (the embedded default).
type Device = Client<SqliteStore>;

/// Simulated time between two steps of the story.
const STEP_MS: u64 = 1_500;

/// What one device got over the whole story.
#[derive(Default)]
struct Tally {
    messages: u32,
    sent_copies: u32,
    sender_keys: u32,
    retries_served: u32,
    expected_refusals: u32,
    failures: u32,
}

/// One received envelope, as the transcript and the checks see it.
struct Event {
    at: Address,
    from: Address,
    received: Received,
}

/// The relay, every device, the clock and the bookkeeping.
struct World {
    relay: MemoryRelay,
    /// The server's media store: sees only ciphertext.
    blobs: MemoryBlobStore,
    /// The server's app-state store: sees only MACs and ciphertext.
    app_server: MemoryAppStateServer,
    /// Each device's app state (collections and app-state keys).
    app: BTreeMap<Address, (AppStateSync, AppStateKeyRing)>,
    /// What Alice's phone shows: its chat history (for history sync to a new device).
    alice_history: Vec<HistoryItem>,
    rng: ThreadRng,
    clients: BTreeMap<Address, Device>,
    /// The folder of the SQLite files, one per device (removed at the end).
    dir: PathBuf,
    opened: u32,
    labels: BTreeMap<Address, String>,
    now: u64,
    direct_sent: u32,
    group_sent: u32,
    posted: u64,
    tallies: BTreeMap<Address, Tally>,
    /// Devices whose next failure is a deliberate one (one entry per expected refusal).
    expected: Vec<Address>,
    /// Unexpected failures and failed checks.
    problems: Vec<String>,
}

fn device<'a>(clients: &'a mut BTreeMap<Address, Device>, a: &Address) -> Res<&'a mut Device> {
    clients.get_mut(a).ok_or_else(|| format!("no device {a}").into())
}

impl World {
    fn new() -> Res<Self> {
        let now = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
        let dir = std::env::temp_dir().join(format!("tandem-demo-{}-{now}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        println!(
            "(each device keeps its state in its own SQLite file under {})",
            dir.display()
        );
        Ok(Self {
            dir,
            opened: 0,
            relay: MemoryRelay::new(),
            blobs: MemoryBlobStore::new(),
            app_server: MemoryAppStateServer::new(),
            app: BTreeMap::new(),
            alice_history: Vec::new(),
            rng: rand::rng(),
            clients: BTreeMap::new(),
            labels: BTreeMap::new(),
            now,
            direct_sent: 0,
            group_sent: 0,
            posted: 0,
            tallies: BTreeMap::new(),
            expected: Vec::new(),
            problems: Vec::new(),
        })
    }

    fn tick(&mut self) {
        self.now += STEP_MS;
    }

    fn label(&self, a: &Address) -> String {
        self.labels.get(a).cloned().unwrap_or_else(|| a.to_string())
    }

    /// Opens the SQLite store of the next device.
    fn store_maker(&mut self) -> impl FnOnce(&KeyPair, u32) -> Result<SqliteStore, StoreError> + use<> {
        self.opened += 1;
        let path = self.dir.join(format!("device-{}.db", self.opened));
        move |identity, registration_id| {
            SqliteStore::create(path, identity, registration_id, SqliteOptions::default())
                .map_err(StoreError::from)
        }
    }

    fn add(&mut self, client: Device, label: &str) -> Address {
        let a = client.address().clone();
        self.labels.insert(a.clone(), label.to_string());
        self.tallies.insert(a.clone(), Tally::default());
        self.clients.insert(a.clone(), client);
        a
    }

    fn post(&mut self, envelopes: Vec<Envelope>) {
        self.posted += envelopes.len() as u64;
        self.relay.post(envelopes);
    }

    /// A new account: its primary publishes its keys and its first signed device list.
    fn primary(&mut self, name: &str, label: &str) -> Res<Address> {
        self.tick();
        let make = self.store_maker();
        let mut client = Client::new_primary_with(name, self.now, &mut self.rng, make)?;
        let upload = client.upload(20, &mut self.rng)?;
        self.relay.upload_device(upload);
        let list = client.device_list().ok_or("a primary has a device list")?;
        self.relay.set_device_list(name, list);
        let a = self.add(client, label);
        println!("{label} registers account {name:?} as device {}", a.device_id);
        Ok(a)
    }

    /// Links a companion: it shows a QR code, the primary scans it and approves, the companion
    /// finishes with the approval and publishes its keys.
    fn link(&mut self, name: &str, label: &str, show_qr: bool) -> Res<Address> {
        self.tick();
        let pending = Client::begin_link(name, self.now, &mut self.rng);
        let payload = pending.qr_payload();
        println!("{label} shows its link code:");
        if show_qr {
            print!("{}", qr(&payload)?);
        }
        println!("  {payload}");
        let primary = device(&mut self.clients, &Address::new(name, 0))?;
        let approval = primary.approve_link(&payload, self.now, &mut self.rng)?;
        self.relay.set_device_list(name, approval.device_list.serialize());
        let make = self.store_maker();
        let mut client = pending.finish_with(&approval.message, &mut self.rng, make)?;
        let upload = client.upload(20, &mut self.rng)?;
        self.relay.upload_device(upload);
        let a = self.add(client, label);
        println!(
            "{}'s phone approves: {label} linked as device {}",
            capitalized(name),
            a.device_id
        );
        Ok(a)
    }

    fn send(&mut self, from: &Address, to: &str, body: &str) -> Res<SendReport> {
        self.tick();
        let client = device(&mut self.clients, from)?;
        let report = client.send(&mut self.relay, to, body.as_bytes(), self.now, &mut self.rng)?;
        self.direct_sent += 1;
        if from.name == "alice" {
            self.alice_history.push(HistoryItem {
                chat_id: to.to_string(),
                sender: "alice".into(),
                message_id: hex(&report.message_id),
                timestamp_ms: self.now,
                body: body.as_bytes().to_vec(),
                media: None,
            });
        }
        println!("{} → {to}: {body:?}", self.label(from));
        println!("  {} envelopes; {}", report.envelopes.len(), outcomes(&report));
        self.post(report.envelopes.clone());
        Ok(report)
    }

    fn send_group(&mut self, from: &Address, group: [u8; 16], body: &str) -> Res<SendReport> {
        self.tick();
        let client = device(&mut self.clients, from)?;
        let report = client.send_group(&mut self.relay, group, body.as_bytes(), self.now, &mut self.rng)?;
        self.group_sent += 1;
        println!("{} → group: {body:?}", self.label(from));
        println!(
            "  {} envelopes: {} sender-key distributions + {} copies of the group message; {}",
            report.envelopes.len(),
            distributions(&report),
            report.envelopes.len() - distributions(&report),
            outcomes(&report)
        );
        self.post(report.envelopes.clone());
        Ok(report)
    }

    /// Hands every queued envelope to its device, and their replies too, until nothing is left.
    fn deliver_all(&mut self) -> Res<Vec<Event>> {
        self.tick();
        let mut events = Vec::new();
        loop {
            let addresses: Vec<Address> = self.clients.keys().cloned().collect();
            let mut any = false;
            for a in addresses {
                for envelope in self.relay.fetch(&a) {
                    any = true;
                    let client = device(&mut self.clients, &a)?;
                    let receipt = client.receive(&mut self.relay, &envelope, self.now, &mut self.rng);
                    let asks_retry = receipt
                        .replies
                        .iter()
                        .any(|e| e.kind == EnvelopeKind::RetryRequest);
                    self.post(receipt.replies);
                    let event = Event {
                        at: a.clone(),
                        from: envelope.sender.clone(),
                        received: receipt.received,
                    };
                    self.record(&event, asks_retry);
                    events.push(event);
                }
            }
            if !any {
                return Ok(events);
            }
        }
    }

    /// Prints one received envelope and counts it.
    fn record(&mut self, event: &Event, asks_retry: bool) {
        if event.at == Address::new("alice", 0) {
            if let Received::Message { from, message } = &event.received {
                self.alice_history.push(HistoryItem {
                    chat_id: message.group_id.map_or_else(|| from.name.clone(), |g| hex(&g)),
                    sender: from.name.clone(),
                    message_id: hex(&message.id),
                    timestamp_ms: message.timestamp,
                    body: message.body.clone(),
                    media: message.attachment.clone(),
                });
            }
        }
        let label = self.label(&event.at);
        let failed = matches!(event.received, Received::Failed(_));
        let expected = failed && self.claim_expected(&event.at);
        let line = match &event.received {
            Received::Message { from, message } if message.group_id.is_some() => {
                format!("group message from {from}: {:?}", text(&message.body))
            }
            Received::Message { from, message } => format!("message from {from}: {:?}", text(&message.body)),
            Received::SentCopy {
                from,
                conversation,
                message,
            } => format!(
                "sent copy from own {from}, in {}: {:?}",
                conversation_name(conversation),
                text(&message.body)
            ),
            Received::GroupKey { from, .. } => format!("sender key of {from}"),
            Received::RetryServed { to, .. } => format!("served a retry: re-sent the message to {to}"),
            Received::FromOwnDevice { from, message } => match message {
                SelfMessage::HistorySync(_) => format!("history chunk notification from own {from}"),
                SelfMessage::AppStateKeys(_) => format!("app-state keys from own {from}"),
                other => format!("self message from own {from}: {other:?}"),
            },
            Received::Duplicate => "a duplicate, ignored".to_string(),
            Received::Failed(why) => {
                let mark = if expected {
                    "refused (expected)"
                } else {
                    "✗ UNEXPECTED failure"
                };
                let retry = if asks_retry { "; asks for a retry" } else { "" };
                format!("{mark}: envelope from {}: {why:?}{retry}", event.from)
            }
            other => format!("{other:?}"),
        };
        println!("  {label:<15} ← {line}");
        if failed && !expected {
            self.problems.push(format!(
                "{label}: unexpected failure on an envelope from {}",
                event.from
            ));
        }
        let Some(t) = self.tallies.get_mut(&event.at) else {
            return;
        };
        match &event.received {
            Received::Message { .. } => t.messages += 1,
            Received::SentCopy { .. } => t.sent_copies += 1,
            Received::GroupKey { .. } => t.sender_keys += 1,
            Received::RetryServed { .. } => t.retries_served += 1,
            Received::Failed(_) if expected => t.expected_refusals += 1,
            Received::Failed(_) => t.failures += 1,
            _ => {}
        }
    }

    /// The next failure on `at` is a deliberate one.
    fn expect_refusal(&mut self, at: &Address) {
        self.expected.push(at.clone());
    }

    /// Whether a failure on `at` was expected (each expectation covers one failure).
    fn claim_expected(&mut self, at: &Address) -> bool {
        match self.expected.iter().position(|a| a == at) {
            Some(i) => {
                self.expected.remove(i);
                true
            }
            None => false,
        }
    }

    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            println!("  ✓ {what}");
        } else {
            println!("  ✗ {what}: NO");
            self.problems.push(format!("check failed: {what}"));
        }
    }

    fn labels_of(&self, devices: &BTreeSet<Address>) -> String {
        devices
            .iter()
            .map(|a| self.label(a))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The link payload as a QR code for a dark terminal (light modules drawn, quiet zone included).
fn qr(payload: &str) -> Res<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::L)?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build();
    Ok(image.lines().map(|l| format!("  {l}\n")).collect())
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn conversation_name(c: &Conversation) -> String {
    match c {
        Conversation::Direct(account) => format!("the chat with {account}"),
        Conversation::Group(_) => "the group".to_string(),
    }
}

/// Pairwise envelopes in a group send: the sender-key distributions.
fn distributions(report: &SendReport) -> usize {
    report
        .envelopes
        .iter()
        .filter(|e| e.kind != EnvelopeKind::SenderKey)
        .count()
}

/// Per-device outcomes of a send, grouped: "new session: bob.0, bob.1; encrypted: alice.1".
fn outcomes(report: &SendReport) -> String {
    let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (address, outcome) in &report.devices {
        let kind = match outcome {
            DeviceOutcome::Encrypted => "encrypted".to_string(),
            DeviceOutcome::NewSession => "new session".to_string(),
            DeviceOutcome::Refused(why) => format!("refused ({why:?})"),
            DeviceOutcome::Failed(why) => format!("failed ({why})"),
            other => format!("{other:?}"),
        };
        by_kind.entry(kind).or_default().push(address.to_string());
    }
    by_kind
        .iter()
        .map(|(kind, devices)| format!("{kind}: {}", devices.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The devices that read (as a message or a sent copy) a message with this body.
fn readers(events: &[Event], body: &str) -> BTreeSet<Address> {
    events
        .iter()
        .filter(|e| match &e.received {
            Received::Message { message, .. } | Received::SentCopy { message, .. } => {
                message.body == body.as_bytes()
            }
            _ => false,
        })
        .map(|e| e.at.clone())
        .collect()
}

fn set<const N: usize>(devices: [&Address; N]) -> BTreeSet<Address> {
    devices.into_iter().cloned().collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn heading(title: &str) {
    println!("\n━━ {title} ━━");
}

/// Every device of the story.
struct Cast {
    alice_phone: Address,
    alice_laptop: Address,
    alice_tablet: Address,
    bob_phone: Address,
    bob_laptop: Address,
    carol_phone: Address,
}

impl Cast {
    fn all(&self) -> [&Address; 6] {
        [
            &self.alice_phone,
            &self.alice_laptop,
            &self.alice_tablet,
            &self.bob_phone,
            &self.bob_laptop,
            &self.carol_phone,
        ]
    }
}

fn step1_alice_links(w: &mut World) -> Res<(Address, Address, Address)> {
    heading("1. Alice's phone links a laptop and a tablet");
    let phone = w.primary("alice", "Alice's phone")?;
    println!();
    let laptop = w.link("alice", "Alice's laptop", true)?;
    println!();
    let tablet = w.link("alice", "Alice's tablet", true)?;
    Ok((phone, laptop, tablet))
}

fn step2_bob_links(w: &mut World) -> Res<(Address, Address, Address)> {
    heading("2. Bob's phone links a laptop; Carol registers her phone");
    let phone = w.primary("bob", "Bob's phone")?;
    println!();
    let laptop = w.link("bob", "Bob's laptop", true)?;
    println!();
    let carol = w.primary("carol", "Carol's phone")?;
    Ok((phone, laptop, carol))
}

/// Sends a 1:1 message and checks exactly `expected` read it.
fn direct(w: &mut World, from: &Address, to: &str, body: &str, expected: &BTreeSet<Address>) -> Res<()> {
    w.send(from, to, body)?;
    let events = w.deliver_all()?;
    let got = readers(&events, body);
    let what = format!("read on {} devices: {}", expected.len(), w.labels_of(expected));
    w.check(&got == expected, &what);
    Ok(())
}

fn step3_direct_messages(w: &mut World, c: &Cast) -> Res<()> {
    heading("3. Alice and Bob message each other: every device gets it");
    let to_bob = set([&c.bob_phone, &c.bob_laptop, &c.alice_laptop, &c.alice_tablet]);
    direct(w, &c.alice_phone, "bob", "Hi Bob! Sent from my phone.", &to_bob)?;
    println!();
    let to_alice = set([&c.alice_phone, &c.alice_laptop, &c.alice_tablet, &c.bob_phone]);
    direct(
        w,
        &c.bob_laptop,
        "alice",
        "Hi Alice, answering from my laptop.",
        &to_alice,
    )?;
    Ok(())
}

/// A group message: checks who read it and how many sender-key distributions it took.
fn group_message(
    w: &mut World,
    (from, group): (&Address, [u8; 16]),
    body: &str,
    expected: &BTreeSet<Address>,
    expected_distributions: usize,
) -> Res<(SendReport, Vec<Event>)> {
    let report = w.send_group(from, group, body)?;
    let events = w.deliver_all()?;
    let what = format!("{expected_distributions} sender-key distributions");
    w.check(distributions(&report) == expected_distributions, &what);
    let what = format!("read on {} devices: {}", expected.len(), w.labels_of(expected));
    w.check(readers(&events, body) == *expected, &what);
    Ok((report, events))
}

fn step4_group(w: &mut World, c: &Cast) -> Res<[u8; 16]> {
    heading("4. A group of Alice, Bob and Carol: each sender key goes to each device once");
    let mut group = [0u8; 16];
    w.rng.fill_bytes(&mut group);
    for a in c.all() {
        device(&mut w.clients, a)?.set_group_members(group, &["alice", "bob", "carol"])?;
    }
    println!("every device knows the group: alice, bob, carol\n");
    let others =
        |me: &Address| -> BTreeSet<Address> { c.all().into_iter().filter(|a| *a != me).cloned().collect() };
    let mut events = Vec::new();
    for (sender, bodies) in [
        (
            &c.alice_phone,
            ["Welcome to the group!", "Second message: no key this time."],
        ),
        (
            &c.bob_phone,
            ["Bob here, hello all.", "And again, key already known."],
        ),
    ] {
        let [first, second] = bodies;
        events.extend(group_message(w, (sender, group), first, &others(sender), 5)?.1);
        println!();
        events.extend(group_message(w, (sender, group), second, &others(sender), 0)?.1);
        println!();
    }
    // Each receiving device got each sender's key exactly once.
    let mut keys: BTreeMap<(Address, Address), u32> = BTreeMap::new();
    for e in &events {
        if let Received::GroupKey { from, .. } = &e.received {
            *keys.entry((e.at.clone(), from.clone())).or_default() += 1;
        }
    }
    let once = keys.len() == 10 && keys.values().all(|n| *n == 1);
    w.check(
        once,
        "each of the 5 other devices got each sender's key exactly once (10 keys)",
    );
    Ok(group)
}

fn link_status(w: &World, tablet: &Address) -> Res<Option<LinkStatus>> {
    let served = w.relay.devices(&tablet.name)?;
    let client = w.clients.get(tablet).ok_or("no tablet")?;
    Ok(client.link_status(&served.signed_list))
}

fn step5_unlink(w: &mut World, c: &Cast, group: [u8; 16]) -> Res<()> {
    heading("5. Alice unlinks the tablet");
    let before = link_status(w, &c.alice_tablet)?;
    println!("the tablet reads the served device list: {before:?}");
    w.tick();
    let phone = device(&mut w.clients, &c.alice_phone)?;
    let list = phone.unlink(c.alice_tablet.device_id, w.now, &mut w.rng)?;
    w.relay.set_device_list("alice", &list);
    println!(
        "Alice's phone unlinks device {} and publishes the new signed device list",
        c.alice_tablet.device_id
    );
    println!("(the server still serves the tablet's keys: the signed list alone decides)");
    let after = link_status(w, &c.alice_tablet)?;
    println!("the tablet reads the served device list: {after:?}");
    w.check(before == Some(LinkStatus::Linked), "the tablet was linked before");
    w.check(
        after == Some(LinkStatus::Unlinked),
        "the tablet sees it is unlinked",
    );
    println!();

    let body = "The tablet is gone; new key.";
    let remaining = set([&c.alice_laptop, &c.bob_phone, &c.bob_laptop, &c.carol_phone]);
    let report = w.send_group(&c.alice_phone, group, body)?;
    // The server leaks a copy of the group message to the tablet.
    let leaked = report
        .envelopes
        .iter()
        .find(|e| e.kind == EnvelopeKind::SenderKey)
        .cloned()
        .map(|e| Envelope {
            recipient: c.alice_tablet.clone(),
            ..e
        });
    println!("  (the server leaks a copy of the group message to the tablet)");
    let leaked_any = leaked.is_some();
    w.post(leaked.into_iter().collect());
    // The tablet cannot read it and asks for a retry; Alice's phone refuses the unlinked device.
    w.expect_refusal(&c.alice_tablet);
    w.expect_refusal(&c.alice_phone);
    let events = w.deliver_all()?;
    w.check(
        distributions(&report) == 4,
        "the key rotated: a new sender key to the 4 remaining devices",
    );
    let skipped = report.envelopes.iter().all(|e| e.recipient != c.alice_tablet)
        && report.devices.contains(&(
            c.alice_tablet.clone(),
            DeviceOutcome::Refused(DeviceRefusal::NotOnList),
        ));
    w.check(
        skipped,
        "nothing was sent to the tablet (refused: not on the list)",
    );
    let what = format!("read on {} devices: {}", remaining.len(), w.labels_of(&remaining));
    w.check(readers(&events, body) == remaining, &what);
    let tablet_refused = events
        .iter()
        .any(|e| e.at == c.alice_tablet && matches!(e.received, Received::Failed(_)));
    w.check(
        leaked_any && tablet_refused,
        "the tablet cannot read the leaked copy",
    );
    Ok(())
}

fn step6_retry(w: &mut World, c: &Cast) -> Res<()> {
    heading("6. Bob's laptop lost its session with Alice's phone: a retry heals it");
    device(&mut w.clients, &c.bob_laptop)?
        .store_mut()
        .remove_session(&c.alice_phone)?;
    println!(
        "Bob's laptop loses its session with {} (restored from an old backup)",
        c.alice_phone
    );
    let body = "Did everyone get this?";
    w.send(&c.alice_phone, "bob", body)?;
    w.expect_refusal(&c.bob_laptop);
    let events = w.deliver_all()?;
    let expected = set([&c.bob_phone, &c.bob_laptop, &c.alice_laptop]);
    let what = format!("read on {} devices: {}", expected.len(), w.labels_of(&expected));
    w.check(readers(&events, body) == expected, &what);
    let served = events
        .iter()
        .any(|e| e.at == c.alice_phone && matches!(e.received, Received::RetryServed { .. }));
    w.check(served, "Alice's phone served the retry");
    println!();
    let reply = set([&c.alice_phone, &c.alice_laptop, &c.bob_phone]);
    direct(w, &c.bob_laptop, "alice", "Got it, after a retry.", &reply)
}

fn step7_photo(w: &mut World, c: &Cast) -> Res<()> {
    heading("7. A photo from Alice's phone reaches every device");
    let mut photo = vec![0u8; 250_000];
    w.rng.fill_bytes(&mut photo);
    let key = MediaKey::generate(&mut w.rng);
    let (blob, digest) = media::encrypt(MediaKind::Image, &key, &photo);
    let id = BlobId::of(&digest);
    w.blobs.put(&id, &blob)?;
    println!(
        "Alice's phone encrypts a {} KB photo (AES-256-CBC + HMAC under a fresh media key) and uploads {} bytes as blob {id}",
        photo.len() / 1000,
        blob.len()
    );
    let mut pointer = MediaPointer::new(MediaKind::Image, key, digest);
    pointer.mimetype = Some("image/jpeg".into());
    pointer.caption = Some("The view from here".into());
    w.tick();
    let client = device(&mut w.clients, &c.alice_phone)?;
    let report = client.send_attachment(
        &mut w.relay,
        &Conversation::Direct("bob".into()),
        b"The view from here",
        &pointer.to_bytes(),
        w.now,
        &mut w.rng,
    )?;
    w.direct_sent += 1;
    println!(
        "the key and hashes go inside the message: {} envelopes; {}",
        report.envelopes.len(),
        outcomes(&report)
    );
    w.post(report.envelopes);
    let events = w.deliver_all()?;
    let mut opened = BTreeSet::new();
    for e in &events {
        let (Received::Message { message, .. } | Received::SentCopy { message, .. }) = &e.received else {
            continue;
        };
        let Some(bytes) = &message.attachment else {
            continue;
        };
        let received = MediaPointer::from_bytes(bytes)?;
        let fetched = w.blobs.get(&BlobId::of(&received.digest))?;
        if received.decrypt(&fetched)? == photo {
            opened.insert(e.at.clone());
        }
    }
    let expected = set([&c.alice_laptop, &c.bob_phone, &c.bob_laptop]);
    let what = format!("fetched, checked and decrypted on {}", w.labels_of(&expected));
    w.check(opened == expected, &what);
    w.blobs.tamper(&id, |b| {
        if let Some(x) = b.get_mut(100) {
            *x ^= 1;
        }
    })?;
    let refused = w
        .blobs
        .get(&id)
        .map_err(|e| e.to_string())
        .and_then(|b| pointer.decrypt(&b).map_err(|e| e.to_string()));
    println!("the server flips one bit of the blob: {refused:?}");
    w.check(refused.is_err(), "a blob altered by the server is refused");
    Ok(())
}

/// One device's app state syncs with the server; returns what other devices changed.
fn sync_app(w: &mut World, at: &Address) -> Res<Vec<SyncAction>> {
    let (sync, ring) = w.app.get_mut(at).ok_or("no app state")?;
    let report = sync.sync(&mut w.app_server, ring, &mut w.rng)?;
    Ok(report
        .received
        .values()
        .flatten()
        .filter_map(|change| change.action())
        .collect())
}

fn step8_app_state(w: &mut World, c: &Cast) -> Res<()> {
    heading("8. App state: a setting changed on the laptop, a call made on the phone");
    let mut ring = AppStateKeyRing::new();
    let key = ring.rotate(&mut w.rng, 0, w.now as i64)?;
    println!("Alice's phone mints app-state key {:?}", key.id());
    let shared = ring.to_bytes().to_vec();
    w.app.insert(c.alice_phone.clone(), (AppStateSync::new(), ring));
    w.tick();
    let client = device(&mut w.clients, &c.alice_phone)?;
    let report = client.send_to_own_devices(
        &mut w.relay,
        &SelfMessage::AppStateKeys(shared),
        None,
        w.now,
        &mut w.rng,
    )?;
    println!(
        "and shares it with its own devices only: {} envelope(s)",
        report.envelopes.len()
    );
    w.post(report.envelopes);
    for e in w.deliver_all()? {
        if let Received::FromOwnDevice {
            message: SelfMessage::AppStateKeys(bytes),
            ..
        } = &e.received
        {
            w.app.insert(
                e.at.clone(),
                (AppStateSync::new(), AppStateKeyRing::from_bytes(bytes)?),
            );
        }
    }
    w.check(
        w.app.keys().cloned().collect::<BTreeSet<_>>() == set([&c.alice_phone, &c.alice_laptop]),
        "the key reached Alice's laptop and no other device",
    );
    let muted = SyncAction::Mute {
        chat: "bob".into(),
        muted: true,
        end_ms: None,
    };
    {
        let (sync, _) = w.app.get_mut(&c.alice_laptop).ok_or("no app state")?;
        sync.queue(Mutation::set(&muted, w.now as i64))?;
    }
    sync_app(w, &c.alice_laptop)?;
    println!("Alice's laptop mutes Bob and pushes an encrypted, MACed patch");
    let seen = sync_app(w, &c.alice_phone)?;
    println!("Alice's phone syncs: {seen:?}");
    w.check(seen.contains(&muted), "Bob is muted on Alice's phone too");
    let call = SyncAction::CallLog(CallLogEntry {
        call_id: format!("call-{}", w.now),
        peer: "bob".into(),
        direction: CallDirection::Outgoing,
        media: CallMedia::Voice,
        start_ms: w.now as i64,
        duration_secs: 184,
        outcome: CallOutcome::Connected,
    });
    {
        let (sync, _) = w.app.get_mut(&c.alice_phone).ok_or("no app state")?;
        sync.queue(Mutation::set(&call, w.now as i64))?;
    }
    sync_app(w, &c.alice_phone)?;
    println!("Alice calls Bob from her phone (3 min 4 s); the call log entry is synced");
    let seen = sync_app(w, &c.alice_laptop)?;
    let log: Vec<SyncAction> = w
        .app
        .get(&c.alice_laptop)
        .map(|(sync, _)| sync.collection(CollectionName::Regular).actions())
        .unwrap_or_default();
    println!("Alice's laptop syncs: {seen:?}");
    w.check(log.contains(&call), "the call is in the laptop's call log");
    println!(
        "(the server holds only MACs and ciphertext; patches in `regular`: {})",
        w.app_server.patches(CollectionName::Regular).len()
    );
    Ok(())
}

fn step9_history(w: &mut World, c: &Cast) -> Res<Address> {
    heading("9. A new tablet for Alice: history sync with a progress bar");
    // Alice's phone has years of history before this story; the story's messages are the newest.
    let mut history: Vec<HistoryItem> = (0..6000u64)
        .map(|i| HistoryItem {
            chat_id: if i % 3 == 0 { "carol".into() } else { "bob".into() },
            sender: if i % 2 == 0 { "alice".into() } else { "bob".into() },
            message_id: format!("old-{i}"),
            timestamp_ms: w.now - 86_400_000 * 365 + i * 60_000,
            body: format!("an older message, number {i}").into_bytes(),
            media: None,
        })
        .collect();
    history.extend(w.alice_history.iter().cloned());
    let tablet = w.link("alice", "Alice's new tablet", false)?;
    let contacts = vec![
        ContactName {
            id: "bob".into(),
            name: "Bob".into(),
        },
        ContactName {
            id: "carol".into(),
            name: "Carol".into(),
        },
    ];
    let limits = ChunkLimits {
        max_messages: 500,
        max_bytes: 1 << 20,
    };
    let package = HistoryPackage::build(&mut w.rng, HistorySyncType::Full, &history, &contacts, &limits)?;
    let notifications = package.upload_all(&mut w.rng, &mut w.blobs)?;
    println!(
        "Alice's phone packages {} messages into {} zlib-compressed chunks, each encrypted under its own key and uploaded",
        history.len(),
        package.chunk_count()
    );
    w.tick();
    for n in &notifications {
        let client = device(&mut w.clients, &c.alice_phone)?;
        let report = client.send_to_own_devices(
            &mut w.relay,
            &SelfMessage::HistorySync(n.encode().to_vec()),
            Some(tablet.device_id),
            w.now,
            &mut w.rng,
        )?;
        w.relay.post(report.envelopes);
    }
    println!("and sends each chunk's key and hashes to the tablet alone, over their pairwise session");
    let mut importer = HistoryImporter::new();
    let mut shown = Vec::new();
    loop {
        let mut any = false;
        for envelope in w.relay.fetch(&tablet) {
            any = true;
            let client = device(&mut w.clients, &tablet)?;
            let receipt = client.receive(&mut w.relay, &envelope, w.now, &mut w.rng);
            w.relay.post(receipt.replies);
            if let Received::FromOwnDevice {
                message: SelfMessage::HistorySync(bytes),
                ..
            } = receipt.received
            {
                importer.receive_bytes(&bytes)?;
            }
        }
        while let Some(chunk) = importer.apply_next(&w.blobs)? {
            let p = chunk.progress;
            let filled = (p.chunks_applied * 30 / p.chunk_count.max(1)) as usize;
            println!("  [{}{}] {p}", "█".repeat(filled), "·".repeat(30 - filled));
            w.blobs.delete(&chunk.blob)?;
            shown.extend(chunk.items);
        }
        if !any {
            break;
        }
    }
    w.check(importer.is_complete(), "the sync completed");
    w.check(shown == history, "the tablet shows every message once, in order");
    Ok(tablet)
}

fn summary(w: &mut World, c: &Cast, started: Instant) -> ExitCode {
    heading("10. Summary");
    for a in &w.expected.clone() {
        w.problems
            .push(format!("an expected refusal on {a} did not happen"));
    }
    let refusals: u32 = w.tallies.values().map(|t| t.expected_refusals).sum();
    let failures: u32 = w.tallies.values().map(|t| t.failures).sum();
    println!(
        "messages sent           {:>4}  ({} 1:1, {} group)",
        w.direct_sent + w.group_sent,
        w.direct_sent,
        w.group_sent
    );
    println!(
        "envelopes posted        {:>4}  (incl. retry traffic and the leaked copy)",
        w.posted
    );
    println!("envelopes delivered     {:>4}", w.relay.delivered());
    println!(
        "expected refusals       {refusals:>4}  (leaked copy on the tablet, the tablet's retry request, Bob's laptop without a session)"
    );
    println!("unexpected failures     {failures:>4}");
    println!();
    println!(
        "{:<15} {:<8} {:>8} {:>11} {:>11} {:>8} {:>9} {:>8}",
        "device", "address", "messages", "sent copies", "sender keys", "retries", "refusals", "failures"
    );
    for a in c.all() {
        let Some(t) = w.tallies.get(a) else { continue };
        println!(
            "{:<15} {:<8} {:>8} {:>11} {:>11} {:>8} {:>9} {:>8}",
            w.label(a),
            a.to_string(),
            t.messages,
            t.sent_copies,
            t.sender_keys,
            t.retries_served,
            t.expected_refusals,
            t.failures
        );
    }
    println!("\nruntime {:.2?}", started.elapsed());
    if w.problems.is_empty() {
        println!("OK: every check passed, no unexpected failure");
        ExitCode::SUCCESS
    } else {
        println!("FAILED:");
        for p in &w.problems {
            println!("  {p}");
        }
        ExitCode::FAILURE
    }
}

fn main() -> Res<ExitCode> {
    let started = Instant::now();
    let mut w = World::new()?;
    let (alice_phone, alice_laptop, alice_tablet) = step1_alice_links(&mut w)?;
    let (bob_phone, bob_laptop, carol_phone) = step2_bob_links(&mut w)?;
    let cast = Cast {
        alice_phone,
        alice_laptop,
        alice_tablet,
        bob_phone,
        bob_laptop,
        carol_phone,
    };
    step3_direct_messages(&mut w, &cast)?;
    let group = step4_group(&mut w, &cast)?;
    step5_unlink(&mut w, &cast, group)?;
    step6_retry(&mut w, &cast)?;
    step7_photo(&mut w, &cast)?;
    step8_app_state(&mut w, &cast)?;
    step9_history(&mut w, &cast)?;
    let code = summary(&mut w, &cast, started);
    // The stores were files in a temporary folder; the story is over.
    let _ = std::fs::remove_dir_all(&w.dir);
    Ok(code)
}
