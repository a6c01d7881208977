//! `tandem-crash-child DIR SEED run|final ROUNDS`: one side of the storage crash test
//! (`test-vectors/tests/crash.rs`). It runs a conversation between two devices, Alice and Bob,
//! each with its own [`SqliteStore`] file in `DIR` (Alice's sealed with a storage key, Bob's
//! not), and is meant to be killed with SIGKILL at any instant and restarted on the same files.
//!
//! # The journal
//!
//! Besides the two databases, `DIR/journal` is an append-only text file — one record a line,
//! each appended with `write` + `fsync` — that plays the network and the two apps:
//!
//! - `start`: a process started (written before anything else is done).
//! - `setup`: both stores exist, Bob's prekeys are saved and Alice has processed his bundle.
//! - `sent S N P|W HEX`: sender `S` (`A` or `B`) put its message number `N` on the wire, a
//!   `PreKeySignalMessage` (`P`) or a `SignalMessage` (`W`) with these bytes.
//! - `recv R N ok HEX`: receiver `R` decrypted the peer's message `N` to these bytes.
//! - `recv R N dup`: the store reported the peer's message `N` as a duplicate, which the
//!   protocol below allows only for the first step after a restart (see there).
//! - `done`: the `final` run completed its rounds.
//!
//! A torn last line (the kill came in the middle of an append) is cut off at the next start.
//!
//! # The protocol, and what a kill can leave behind
//!
//! Every step runs inside [`SqliteStore::transaction`] and journals its outcome *after* the
//! transaction committed, so the journal never claims more than the store did. A kill between
//! the commit and the journal line leaves exactly one of two gaps, and only for the step that
//! was in flight — which, since the conversation is a deterministic function of the journal, is
//! also the first step of the next process:
//!
//! - **A send** (encrypted and committed, not journalled): the message never reached the wire.
//!   The sender's chain advanced past it — an *orphan* counter — and the next process encrypts
//!   the same plaintext again at the next counter; the receiver keeps the orphan's key as a
//!   skipped key and loses nothing. The checker sees it as a counter gap right after a `start`.
//! - **A delivery** (decrypted and committed, not journalled): the next process delivers the
//!   message again and the store answers [`DecryptError::Duplicate`]; that is recorded as
//!   `dup` (the message was decrypted once, by the killed process). A duplicate anywhere but in
//!   the first step after a restart is an error.
//!
//! Every other outcome of any step is an error that stops this process with a non-zero exit
//! (no step is ever retried), as is a wrong plaintext.
//!
//! At each start, after the setup, each device is also handed again the last message it
//! journalled as received, which must come back as a duplicate: a store that lost a committed
//! decryption would decrypt it a second time.
//!
//! # The conversation
//!
//! Round `r` (from 0) is Alice's if `r` is even, Bob's if odd. Its sender sends 1 to 4 messages
//! (a number drawn from `SEED` and `r`), then the receiver decrypts them, in order or shuffled
//! (also drawn), and the next round starts: every round is a DH ratchet step. Message `N` of
//! sender `S` is [`plaintext`]`(S, N)`.
//!
//! `run` loops until killed (or gives up after two minutes, in case nobody kills it). `final
//! ROUNDS` finishes the current round and then `ROUNDS` more, journals `done`, prints a summary
//! and exits 0.

use std::collections::HashSet;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tandem::Address;
use tandem::crypto::{KeyPair, Secret};
use tandem::session::{self, DecryptError, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use tandem::store::{
    IdentityStore, PreKeyStore, SessionStore, SignedPreKeyStore, SqliteOptions, SqliteStore,
    SqliteStoreError, StorageKey, StoreError,
};
use tandem::wire::MessageType;

/// Errors are reported as text on stderr.
type Result<T> = std::result::Result<T, String>;

/// How long a `run` goes on when nobody kills it.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem-crash-child: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Wraps an error with what was being done.
fn ctx<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// What the process was asked to do.
enum Mode {
    /// Talk until killed.
    Run,
    /// Finish the current round, then this many more; then stop.
    Final(u64),
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || "usage: tandem-crash-child DIR SEED run|final ROUNDS".to_string();
    let (dir, seed, mode) = match args.as_slice() {
        [dir, seed, mode, rest @ ..] => {
            let seed: u64 = seed.parse().map_err(ctx("SEED"))?;
            let mode = match (mode.as_str(), rest) {
                ("run", []) => Mode::Run,
                ("final", [rounds]) => Mode::Final(rounds.parse().map_err(ctx("ROUNDS"))?),
                _ => return Err(usage()),
            };
            (PathBuf::from(dir), seed, mode)
        }
        _ => return Err(usage()),
    };
    let started = Instant::now();
    let (mut journal, records) = Journal::open(&dir.join("journal"))?;
    let mut state = State::from_records(records)?;
    journal.append("start")?;
    state.starts += 1;
    // Fresh ratchet keys in every process (a restart must not draw the keys of the last one).
    let mut rng = ChaCha20Rng::seed_from_u64(mix(seed ^ mix(state.starts)));
    let fixtures = Fixtures::new(seed);
    let mut devices = Devices::open(&dir, &fixtures, &state, &mut rng, &mut journal)?;
    state.setup = true;
    devices.probe(&state, &mut rng)?;

    let mut convo = Conversation::resume(seed, &state);
    let stop_at = match mode {
        Mode::Run => None,
        Mode::Final(rounds) => Some(convo.round + 1 + rounds),
    };
    let mut first_step = true;
    let mut steps = 0u64;
    loop {
        if stop_at.is_some_and(|r| convo.round >= r) {
            break;
        }
        if stop_at.is_none() && started.elapsed() > RUN_DEADLINE {
            return Err("nobody killed this run: giving up".into());
        }
        match convo.next(&state) {
            Step::Send(from, n) => devices.send(from, n, &mut state, &mut journal)?,
            Step::Deliver(to, n) => {
                devices.deliver(to, n, first_step, &mut state, &mut journal, &mut rng)?;
            }
            Step::RoundDone => {
                convo.finish_round();
                continue;
            }
        }
        first_step = false;
        steps += 1;
    }
    journal.append("done")?;
    println!(
        "final run: {steps} steps, {} rounds in all, {} + {} messages sent, {} starts",
        convo.round,
        state.sent.alice.len(),
        state.sent.bob.len(),
        state.starts
    );
    Ok(())
}

// ---- Devices ----

/// Alice or Bob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Alice,
    Bob,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }
    /// The letter in the journal.
    fn letter(self) -> &'static str {
        match self {
            Self::Alice => "A",
            Self::Bob => "B",
        }
    }
    fn from_letter(s: &str) -> Result<Self> {
        match s {
            "A" => Ok(Self::Alice),
            "B" => Ok(Self::Bob),
            _ => Err(format!("journal: unknown side {s:?}")),
        }
    }
    fn address(self) -> Address {
        match self {
            Self::Alice => Address::new("alice", 1),
            Self::Bob => Address::new("bob", 1),
        }
    }
}

/// One value per side.
#[derive(Default)]
struct PerSide<T> {
    alice: T,
    bob: T,
}

impl<T> PerSide<T> {
    fn get(&self, side: Side) -> &T {
        match side {
            Side::Alice => &self.alice,
            Side::Bob => &self.bob,
        }
    }
    fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Alice => &mut self.alice,
            Side::Bob => &mut self.bob,
        }
    }
}

/// Message `n` of `from`: names both, and has a length that varies with `n` (1 to 3 AES
/// blocks and more).
fn plaintext(from: Side, n: u64) -> Vec<u8> {
    let mut text = format!("{} #{n}:", from.letter()).into_bytes();
    let fill = (n.wrapping_mul(37) % 61) as u8;
    text.extend((0..fill).map(|i| b'a' + (i % 26)));
    text
}

/// Everything drawn from the seed alone: the same in every process.
struct Fixtures {
    alice: KeyPair,
    alice_registration: u32,
    alice_key: StorageKey,
    bob: KeyPair,
    bob_registration: u32,
    signed: SignedPreKeyRecord,
    one_time: PreKeyRecord,
}

impl Fixtures {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let alice = KeyPair::generate(&mut rng);
        let alice_registration = session::generate_registration_id(&mut rng);
        let bob = KeyPair::generate(&mut rng);
        let bob_registration = session::generate_registration_id(&mut rng);
        let signed = SignedPreKeyRecord::generate(7, &bob, 1_700_000_000_000, &mut rng);
        let one_time = PreKeyRecord::generate(42, &mut rng);
        let mut key = [0u8; 32];
        for (i, b) in (0u64..).zip(key.iter_mut()) {
            *b = (mix(seed ^ i) & 0xff) as u8;
        }
        Self {
            alice,
            alice_registration,
            alice_key: StorageKey::new(Secret::new(key)),
            bob,
            bob_registration,
            signed,
            one_time,
        }
    }

    fn bundle(&self) -> PreKeyBundle {
        PreKeyBundle {
            registration_id: self.bob_registration,
            device_id: 1,
            pre_key: Some((self.one_time.id, self.one_time.key_pair.public)),
            signed_pre_key_id: self.signed.id,
            signed_pre_key: self.signed.key_pair.public,
            signed_pre_key_signature: self.signed.signature.to_bytes().to_vec(),
            identity_key: self.bob.public,
        }
    }

    fn options(&self, side: Side) -> SqliteOptions {
        SqliteOptions {
            key: (side == Side::Alice).then(|| self.alice_key.clone()),
            ..SqliteOptions::default()
        }
    }

    fn identity(&self, side: Side) -> (&KeyPair, u32) {
        match side {
            Side::Alice => (&self.alice, self.alice_registration),
            Side::Bob => (&self.bob, self.bob_registration),
        }
    }
}

/// The two stores.
struct Devices {
    stores: PerSide<SqliteStore>,
}

impl Devices {
    /// Opens both stores; before the journal says `setup`, (re)does the setup, which every
    /// step of is idempotent: a store is created unless it opens, the prekeys are upserted,
    /// and Alice processes Bob's bundle unless she already has a session.
    fn open(
        dir: &Path,
        fixtures: &Fixtures,
        state: &State,
        rng: &mut ChaCha20Rng,
        journal: &mut Journal,
    ) -> Result<Self> {
        let open = |side: Side| -> Result<SqliteStore> {
            let path = dir.join(format!("{side:?}.db").to_lowercase());
            let (identity, registration) = fixtures.identity(side);
            let options = fixtures.options(side);
            let store = if state.setup {
                SqliteStore::open(&path, options).map_err(ctx("opening a store"))?
            } else {
                open_or_create(&path, identity, registration, options)?
            };
            let stored = store.identity_key_pair().map_err(ctx("identity"))?;
            if stored.public != identity.public {
                return Err(format!("{side:?}'s store has another identity"));
            }
            Ok(store)
        };
        let mut stores = PerSide {
            alice: open(Side::Alice)?,
            bob: open(Side::Bob)?,
        };
        if !state.setup {
            stores
                .bob
                .transaction(|s| {
                    s.save_signed_pre_key(fixtures.signed.clone())?;
                    s.save_pre_key(fixtures.one_time.clone())?;
                    Ok::<_, StoreError>(())
                })
                .map_err(ctx("saving Bob's prekeys"))?;
            let bob = Side::Bob.address();
            let bundle = fixtures.bundle();
            stores
                .alice
                .transaction(|s| {
                    if s.session(&bob)?.is_none() {
                        session::process_prekey_bundle(s, &bob, &bundle, rng)?;
                    }
                    Ok::<_, session::BundleError>(())
                })
                .map_err(ctx("processing Bob's bundle"))?;
            journal.append("setup")?;
        }
        Ok(Self { stores })
    }

    /// Hands each device the last message it journalled as received: it must be a duplicate.
    fn probe(&mut self, state: &State, rng: &mut ChaCha20Rng) -> Result<()> {
        for to in [Side::Alice, Side::Bob] {
            let Some(n) = *state.last_received.get(to) else {
                continue;
            };
            match self.decrypt(to, &state.message(to.other(), n)?, rng) {
                Err(DecryptError::Duplicate) => {}
                Ok(_) => {
                    return Err(format!(
                        "{to:?} decrypted {:?}'s message {n} again after a restart: the store lost \
                         a committed decryption",
                        to.other()
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "{to:?} redelivered {:?}'s message {n}: {e:?}, expected Duplicate",
                        to.other()
                    ));
                }
            }
        }
        Ok(())
    }

    fn decrypt(
        &mut self,
        to: Side,
        (kind, bytes): &(MessageType, Vec<u8>),
        rng: &mut ChaCha20Rng,
    ) -> std::result::Result<Vec<u8>, DecryptError> {
        let from = to.other().address();
        self.stores.get_mut(to).transaction(|s| match kind {
            MessageType::PreKey => session::decrypt_prekey_message(s, &from, bytes, rng),
            _ => session::decrypt_message(s, &from, bytes, rng),
        })
    }

    /// `from` encrypts and commits its message `n`, then puts it on the wire.
    fn send(&mut self, from: Side, n: u64, state: &mut State, journal: &mut Journal) -> Result<()> {
        let to = from.other().address();
        let text = plaintext(from, n);
        let message = self
            .stores
            .get_mut(from)
            .transaction(|s| session::encrypt(s, &to, &text))
            .map_err(|e| format!("{from:?} encrypting message {n}: {e:?}"))?;
        let kind = message.message_type();
        let letter = match kind {
            MessageType::PreKey => "P",
            _ => "W",
        };
        let hex = hex::encode(message.serialized());
        journal.append(&format!("sent {} {n} {letter} {hex}", from.letter()))?;
        state.record_sent(from, n, kind, hex)
    }

    /// `to` decrypts the peer's message `n` and commits, then journals it.
    fn deliver(
        &mut self,
        to: Side,
        n: u64,
        first_step: bool,
        state: &mut State,
        journal: &mut Journal,
        rng: &mut ChaCha20Rng,
    ) -> Result<()> {
        let from = to.other();
        let outcome = match self.decrypt(to, &state.message(from, n)?, rng) {
            Ok(text) if text == plaintext(from, n) => format!("ok {}", hex::encode(&text)),
            Ok(text) => {
                return Err(format!(
                    "{to:?} decrypted {from:?}'s message {n} to {:?}",
                    String::from_utf8_lossy(&text)
                ));
            }
            // The killed process decrypted and committed it but did not journal it.
            Err(DecryptError::Duplicate) if first_step => "dup".to_string(),
            Err(e) => return Err(format!("{to:?} decrypting {from:?}'s message {n}: {e:?}")),
        };
        journal.append(&format!("recv {} {n} {outcome}", to.letter()))?;
        state.record_received(to, n);
        Ok(())
    }
}

/// Opens the store at `path`, or creates it if there is none or a killed `create` left it
/// without an identity.
fn open_or_create(
    path: &Path,
    identity: &KeyPair,
    registration: u32,
    options: SqliteOptions,
) -> Result<SqliteStore> {
    if path.exists() {
        match SqliteStore::open(path, options.clone()) {
            Ok(store) => return Ok(store),
            Err(SqliteStoreError::NotInitialized) => {}
            Err(e) => return Err(format!("opening {}: {e}", path.display())),
        }
    }
    SqliteStore::create(path, identity, registration, options)
        .map_err(|e| format!("creating {}: {e}", path.display()))
}

// ---- The journal ----

/// One line of the journal.
enum Record {
    Start,
    Setup,
    Sent {
        from: Side,
        n: u64,
        kind: MessageType,
        /// Hex, decoded only when the message is delivered (the journal is read at every
        /// start, and most of it is old traffic).
        hex: String,
    },
    Received {
        to: Side,
        n: u64,
    },
    Done,
}

impl Record {
    fn parse(line: &str) -> Result<Self> {
        let bad = || format!("journal: bad line {line:?}");
        // At most five fields: the last one (hex) is not scanned.
        let fields: Vec<&str> = line.splitn(5, ' ').collect();
        Ok(match fields.as_slice() {
            ["start"] => Self::Start,
            ["setup"] => Self::Setup,
            ["done"] => Self::Done,
            ["sent", side, n, kind, hex] => Self::Sent {
                from: Side::from_letter(side)?,
                n: n.parse().map_err(|_| bad())?,
                kind: match *kind {
                    "P" => MessageType::PreKey,
                    "W" => MessageType::Whisper,
                    _ => return Err(bad()),
                },
                hex: (*hex).to_string(),
            },
            ["recv", side, n, "ok", _] | ["recv", side, n, "dup"] => Self::Received {
                to: Side::from_letter(side)?,
                n: n.parse().map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        })
    }
}

/// The append-only journal file.
struct Journal {
    file: File,
}

impl Journal {
    /// Opens (or makes) the journal, cuts off a torn last line, and returns its records.
    fn open(path: &Path) -> Result<(Self, Vec<Record>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(ctx("opening the journal"))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(ctx("reading the journal"))?;
        // ASCII only, even a torn line.
        let mut text = String::from_utf8(text).map_err(ctx("journal"))?;
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            file.set_len(complete as u64)
                .map_err(ctx("cutting the journal"))?;
            file.sync_all().map_err(ctx("syncing the journal"))?;
            text.truncate(complete);
        }
        let records = text.lines().map(Record::parse).collect::<Result<Vec<_>>>()?;
        Ok((Self { file }, records))
    }

    /// Appends one record and waits until it is on disk.
    fn append(&mut self, line: &str) -> Result<()> {
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .map_err(ctx("writing the journal"))?;
        self.file.sync_data().map_err(ctx("syncing the journal"))
    }
}

/// What the journal says happened.
#[derive(Default)]
struct State {
    starts: u64,
    setup: bool,
    /// Per sender, its messages by number.
    sent: PerSide<Vec<(MessageType, String)>>,
    /// Per receiver, the numbers of the peer's messages it received.
    received: PerSide<HashSet<u64>>,
    /// Per receiver, the last one.
    last_received: PerSide<Option<u64>>,
}

impl State {
    fn from_records(records: Vec<Record>) -> Result<Self> {
        let mut state = Self::default();
        for record in records {
            match record {
                Record::Start => state.starts += 1,
                Record::Setup => state.setup = true,
                Record::Sent { from, n, kind, hex } => state.record_sent(from, n, kind, hex)?,
                Record::Received { to, n } => state.record_received(to, n),
                Record::Done => {}
            }
        }
        Ok(state)
    }

    fn record_sent(&mut self, from: Side, n: u64, kind: MessageType, hex: String) -> Result<()> {
        let sent = self.sent.get_mut(from);
        if n != sent.len() as u64 {
            return Err(format!("journal: {from:?} sent message {n} after {}", sent.len()));
        }
        sent.push((kind, hex));
        Ok(())
    }

    fn record_received(&mut self, to: Side, n: u64) {
        self.received.get_mut(to).insert(n);
        *self.last_received.get_mut(to) = Some(n);
    }

    /// Message `n` of `from`, as it is on the wire.
    fn message(&self, from: Side, n: u64) -> Result<(MessageType, Vec<u8>)> {
        let (kind, hex) = usize::try_from(n)
            .ok()
            .and_then(|i| self.sent.get(from).get(i))
            .ok_or_else(|| format!("{from:?}'s message {n} was never sent"))?;
        let bytes = hex::decode(hex).map_err(|_| format!("journal: {from:?}'s message {n}: bad hex"))?;
        Ok((*kind, bytes))
    }
}

// ---- The conversation ----

/// SplitMix64: the schedule's pseudo-random numbers.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The next thing to do.
enum Step {
    /// This side sends its message number n.
    Send(Side, u64),
    /// This side receives the peer's message number n.
    Deliver(Side, u64),
    /// The round is over.
    RoundDone,
}

/// Where the conversation is: the round, and each side's first message number in its current
/// (or next) round.
struct Conversation {
    seed: u64,
    round: u64,
    base: PerSide<u64>,
}

impl Conversation {
    /// The position the journal leaves the conversation at.
    fn resume(seed: u64, state: &State) -> Self {
        let mut convo = Self {
            seed,
            round: 0,
            base: PerSide::default(),
        };
        while let Step::RoundDone = convo.next(state) {
            convo.finish_round();
        }
        convo
    }

    fn sender(&self) -> Side {
        if self.round % 2 == 0 {
            Side::Alice
        } else {
            Side::Bob
        }
    }

    /// How many messages the current round has: 1 to 4.
    fn len(&self) -> u64 {
        1 + mix(self.seed ^ mix(self.round)) % 4
    }

    /// The order the receiver takes the round's messages in: half the rounds shuffled.
    fn order(&self) -> Vec<u64> {
        let len = self.len();
        let mut order: Vec<u64> = (0..len).collect();
        let mut draw = mix(self.seed.rotate_left(17) ^ self.round);
        if draw % 2 == 1 {
            for i in (1..order.len()).rev() {
                draw = mix(draw);
                let j = (draw % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
        }
        order
    }

    fn next(&self, state: &State) -> Step {
        let from = self.sender();
        let base = *self.base.get(from);
        let sent = state.sent.get(from).len() as u64;
        if sent < base + self.len() {
            return Step::Send(from, sent);
        }
        let received = state.received.get(from.other());
        match self
            .order()
            .into_iter()
            .map(|i| base + i)
            .find(|n| !received.contains(n))
        {
            Some(n) => Step::Deliver(from.other(), n),
            None => Step::RoundDone,
        }
    }

    fn finish_round(&mut self) {
        let len = self.len();
        *self.base.get_mut(self.sender()) += len;
        self.round += 1;
    }
}
