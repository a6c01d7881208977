//! Fanout: one 100-byte message to many devices, tandem beside vodozemac in the same run.
//!
//! Every tandem session is established before measuring (the recipient device answered, so
//! pairwise messages are `SignalMessage`s, not prekey messages): steady state.
//!
//! - 1:1 fanout to an account of N devices (N = 2, 4, 10: a primary and N-1 linked companions),
//!   measured at `Client::send` (device-list verification, sessions, padding, envelopes), at the
//!   protocol layer (`session::encrypt` to the same N sessions) and beside vodozemac Olm
//!   encrypting the same 100 B to N established sessions. Throughput is per device.
//! - Group send to 1,000 devices (250 accounts of 4 devices, and 1,000 single-device accounts):
//!   - first message: a fresh sender key distributed over the 1,000 pairwise sessions, then the
//!     group message. A fresh key each iteration comes from a real rotation: a member is removed
//!     and re-added before each timed `send_group` (outside the timing), which is what the
//!     client does after any membership change. vodozemac: a new Megolm session, its session
//!     key Olm-encrypted to 1,000 sessions, one Megolm encryption;
//!   - steady state: one group encryption addressed to the 1,000 devices. vodozemac: one Megolm
//!     encryption. The parts of `send_group` are measured apart too: verifying every member's
//!     device list through `refresh_devices`, and `group::encrypt` alone.
//! - One 100 B message to 1,000 devices by pairwise sessions: `session::encrypt` over 1,000
//!   established sessions (the `Client` API cannot address 1,000 devices 1:1), beside
//!   vodozemac Olm over 1,000 sessions.
//!
//! Only the sender's work is measured: envelopes are built but not handed to the relay. Setup
//! (about 10 s: 2,000 recipient devices and their sessions) is outside the measurements.
//!
//! Reading the Olm baseline: vodozemac recomputes its ratchet public key (an X25519 base-point
//! multiplication) on every Olm encryption, about two thirds of its per-message cost.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tandem::Address;
use tandem::client::{Client, DeviceOutcome, EnvelopeKind, MemoryRelay, Received};
use tandem::group;
use tandem::session;
use vodozemac::megolm::{self, GroupSession};
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

const T0: u64 = 1_760_000_000_000;
const BODY: [u8; 100] = [7; 100];
const GROUP: [u8; 16] = [1; 16];
/// A second distribution id for the protocol-layer benches, so they leave the client's own
/// sender key (and its record of who holds it) alone.
const RAW_GROUP: [u8; 16] = [2; 16];

/// The relay (directory) and the RNG every device draws from.
struct Net {
    relay: MemoryRelay,
    rng: ChaCha20Rng,
}

impl Net {
    fn new(seed: u64) -> Self {
        Self {
            relay: MemoryRelay::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// An account of `devices` devices: the primary first, then linked companions.
    fn account(&mut self, name: &str, devices: usize) -> Vec<Client> {
        let mut primary = Client::new_primary(name, T0, &mut self.rng);
        let upload = primary.upload(devices as u32 + 1, &mut self.rng).unwrap();
        self.relay.upload_device(upload);
        self.relay.set_device_list(name, primary.device_list().unwrap());
        let mut companions = Vec::new();
        for _ in 1..devices {
            let pending = Client::begin_link(name, T0, &mut self.rng);
            let approval = primary
                .approve_link(&pending.qr_payload(), T0, &mut self.rng)
                .unwrap();
            self.relay.set_device_list(name, approval.device_list.serialize());
            let mut c = pending.finish(&approval.message, &mut self.rng).unwrap();
            let upload = c.upload(devices as u32 + 1, &mut self.rng).unwrap();
            self.relay.upload_device(upload);
            companions.push(c);
        }
        let mut all = vec![primary];
        all.extend(companions);
        all
    }

    /// `device` reads what is queued for it, then answers `to` (only the envelopes for `to` are
    /// posted): the sender's sessions with it are then established both ways.
    fn read_and_answer(&mut self, device: &mut Client, to: &str) {
        for e in self.relay.fetch(device.address()) {
            let r = device.receive(&mut self.relay, &e, T0, &mut self.rng);
            assert!(
                matches!(r.received, Received::Message { .. } | Received::GroupKey { .. }),
                "{:?}",
                r.received
            );
        }
        let report = device
            .send(&mut self.relay, to, b"ack", T0, &mut self.rng)
            .unwrap();
        self.relay
            .post(report.envelopes.into_iter().filter(|e| e.recipient.name == to));
    }

    /// `device` reads what is queued for it; every envelope must be a message.
    fn read(&mut self, device: &mut Client) -> usize {
        let envelopes = self.relay.fetch(device.address());
        for e in &envelopes {
            let r = device.receive(&mut self.relay, e, T0, &mut self.rng);
            assert!(matches!(r.received, Received::Message { .. }), "{:?}", r.received);
        }
        envelopes.len()
    }
}

/// Alice (one device) with established sessions to every device of "bob" (`n` devices).
fn direct_world(n: usize) -> (Net, Client, Vec<Address>) {
    let mut net = Net::new(n as u64);
    let mut alice = net.account("alice", 1).remove(0);
    let mut bob = net.account("bob", n);
    let first = alice
        .send(&mut net.relay, "bob", b"hi", T0, &mut net.rng)
        .unwrap();
    assert_eq!(first.envelopes.len(), n);
    net.relay.post(first.envelopes);
    for d in &mut bob {
        net.read_and_answer(d, "alice");
    }
    assert_eq!(net.read(&mut alice), n);
    let check = alice
        .send(&mut net.relay, "bob", &BODY, T0, &mut net.rng)
        .unwrap();
    assert_eq!(check.envelopes.len(), n);
    assert!(check.envelopes.iter().all(|e| e.kind == EnvelopeKind::Whisper));
    assert!(check.devices.iter().all(|(_, o)| *o == DeviceOutcome::Encrypted));
    let addresses = bob.iter().map(|c| c.address().clone()).collect();
    (net, alice, addresses)
}

/// Alice (one device) in a group with `accounts` accounts of `per_account` devices each; every
/// device holds her sender key and answered her, so all sessions are established.
struct GroupWorld {
    net: Net,
    alice: Client,
    members: Vec<String>,
    devices: Vec<Address>,
}

fn group_world(accounts: usize, per_account: usize) -> GroupWorld {
    let mut net = Net::new(1_000 + accounts as u64);
    let mut alice = net.account("alice", 1).remove(0);
    let names: Vec<String> = (0..accounts).map(|i| format!("member-{i:04}")).collect();
    let mut recipients: Vec<Client> = Vec::new();
    for name in &names {
        for mut d in net.account(name, per_account) {
            d.set_group_members(GROUP, &["alice", name]).unwrap();
            recipients.push(d);
        }
    }
    let mut members: Vec<String> = names.clone();
    members.push("alice".into());
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    alice.set_group_members(GROUP, &refs).unwrap();
    let total = accounts * per_account;

    let first = alice
        .send_group(&mut net.relay, GROUP, b"warm-up", T0, &mut net.rng)
        .unwrap();
    assert_eq!(first.envelopes.len(), 2 * total);
    net.relay.post(first.envelopes);
    for d in &mut recipients {
        net.read_and_answer(d, "alice");
    }
    assert_eq!(net.read(&mut alice), total);
    let devices: Vec<Address> = recipients.iter().map(|c| c.address().clone()).collect();
    drop(recipients);

    let steady = alice
        .send_group(&mut net.relay, GROUP, &BODY, T0, &mut net.rng)
        .unwrap();
    assert_eq!(steady.envelopes.len(), total);
    assert!(steady.envelopes.iter().all(|e| e.kind == EnvelopeKind::SenderKey));
    let mut world = GroupWorld {
        net,
        alice,
        members,
        devices,
    };
    let rotated = world.rotate_and_send();
    assert_eq!(rotated.envelopes.len(), 2 * total);
    assert_eq!(
        rotated
            .envelopes
            .iter()
            .filter(|e| e.kind == EnvelopeKind::Whisper)
            .count(),
        total
    );

    let me = world.alice.address().clone();
    group::create_distribution_message(world.alice.store_mut(), &me, RAW_GROUP, &mut world.net.rng).unwrap();
    world
}

impl GroupWorld {
    /// A member removed and re-added: the client rotates its sender key on the next send.
    fn rotate(&mut self) {
        let all: Vec<&str> = self.members.iter().map(String::as_str).collect();
        self.alice.set_group_members(GROUP, &all[1..]).unwrap();
        self.alice.set_group_members(GROUP, &all).unwrap();
    }

    fn rotate_and_send(&mut self) -> tandem::client::SendReport {
        self.rotate();
        self.alice
            .send_group(&mut self.net.relay, GROUP, &BODY, T0, &mut self.net.rng)
            .unwrap()
    }
}

/// `n` established Olm sessions (each has received an answer): the outbound halves.
fn olm_sessions(n: usize) -> Vec<Session> {
    let alice = Account::new();
    (0..n)
        .map(|_| {
            let mut bob = Account::new();
            bob.generate_one_time_keys(1);
            let otk = *bob.one_time_keys().values().next().unwrap();
            let mut a = alice
                .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
                .unwrap();
            let Ok(OlmMessage::PreKey(m)) = a.encrypt(b"hi") else {
                panic!("first Olm message is a prekey message")
            };
            let mut b = bob
                .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &m)
                .unwrap()
                .session;
            a.decrypt(&b.encrypt(b"hello").unwrap()).unwrap();
            assert!(matches!(a.encrypt(b"x").unwrap(), OlmMessage::Normal(_)));
            a
        })
        .collect()
}

fn olm_fanout(sessions: &mut [Session], text: &[u8]) -> usize {
    sessions
        .iter_mut()
        .map(|s| s.encrypt(text).map(|m| m.to_parts().1.len()).unwrap_or(0))
        .sum()
}

fn tandem_fanout(client: &mut Client, to: &[Address], text: &[u8]) -> usize {
    to.iter()
        .map(|a| {
            session::encrypt(client.store_mut(), a, text)
                .map(|m| m.serialized().len())
                .unwrap_or(0)
        })
        .sum()
}

/// Times `iters` runs of `routine` on `state`, each after `prepare` (not timed).
fn timed<S, T>(
    iters: u64,
    state: &mut S,
    mut prepare: impl FnMut(&mut S),
    mut routine: impl FnMut(&mut S) -> T,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        prepare(state);
        let start = Instant::now();
        black_box(routine(state));
        total += start.elapsed();
    }
    total
}

fn direct(c: &mut Criterion) {
    let mut olm = olm_sessions(10);
    let mut g = c.benchmark_group("1:1 fanout 100 B, steady state");
    for n in [2usize, 4, 10] {
        let (mut net, mut alice, bob) = direct_world(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("tandem Client::send", n), |b| {
            b.iter(|| {
                alice
                    .send(&mut net.relay, "bob", black_box(&BODY), T0, &mut net.rng)
                    .map(|r| r.envelopes.len())
            })
        });
        g.bench_function(BenchmarkId::new("tandem session::encrypt xN", n), |b| {
            b.iter(|| tandem_fanout(&mut alice, &bob, black_box(&BODY)))
        });
        g.bench_function(BenchmarkId::new("vodozemac olm encrypt xN", n), |b| {
            b.iter(|| olm_fanout(&mut olm[..n], black_box(&BODY)))
        });
    }
    g.finish();
}

fn group_send(c: &mut Criterion, accounts: usize, per_account: usize, baselines: bool) {
    let mut w = group_world(accounts, per_account);
    let total = accounts * per_account;
    let mut g = c.benchmark_group(format!(
        "group 100 B to {total} devices ({accounts}x{per_account})"
    ));
    g.throughput(Throughput::Elements(total as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);

    g.bench_function("first/tandem Client::send_group", |b| {
        b.iter_custom(|iters| {
            timed(iters, &mut w, GroupWorld::rotate, |w| {
                w.alice
                    .send_group(&mut w.net.relay, GROUP, black_box(&BODY), T0, &mut w.net.rng)
                    .map(|r| r.envelopes.len())
            })
        })
    });
    g.bench_function("steady/tandem Client::send_group", |b| {
        b.iter(|| {
            w.alice
                .send_group(&mut w.net.relay, GROUP, black_box(&BODY), T0, &mut w.net.rng)
                .map(|r| r.envelopes.len())
        })
    });
    g.bench_function("steady part/tandem refresh_devices xMembers", |b| {
        b.iter(|| {
            w.members
                .iter()
                .map(|m| {
                    w.alice
                        .refresh_devices(&w.net.relay, m, T0)
                        .map(|s| s.trusted.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });

    if baselines {
        let me = w.alice.address().clone();
        g.bench_function("first/tandem protocol (SKDM xN + group)", |b| {
            b.iter(|| {
                let GroupWorld {
                    net, alice, devices, ..
                } = &mut w;
                group::reset_own_sender_key(alice.store_mut(), &me, RAW_GROUP).unwrap();
                let skdm =
                    group::create_distribution_message(alice.store_mut(), &me, RAW_GROUP, &mut net.rng)
                        .unwrap();
                let n = tandem_fanout(alice, devices, skdm.serialized());
                let m = group::encrypt(alice.store_mut(), &me, RAW_GROUP, black_box(&BODY), &mut net.rng)
                    .map(|m| m.serialized().len());
                (n, m)
            })
        });
        let mut olm = olm_sessions(total);
        g.bench_function("first/vodozemac (key by olm xN + megolm)", |b| {
            b.iter(|| {
                let mut session = GroupSession::new(megolm::SessionConfig::version_1());
                let key = session.session_key().to_bytes();
                let n = olm_fanout(&mut olm, &key);
                (n, session.encrypt(black_box(BODY)).to_bytes().len())
            })
        });
        g.bench_function("steady/tandem group::encrypt", |b| {
            b.iter(|| {
                group::encrypt(
                    w.alice.store_mut(),
                    &me,
                    RAW_GROUP,
                    black_box(&BODY),
                    &mut w.net.rng,
                )
                .map(|m| m.serialized().len())
            })
        });
        let mut megolm_session = GroupSession::new(megolm::SessionConfig::version_1());
        g.bench_function("steady/vodozemac megolm encrypt", |b| {
            b.iter(|| megolm_session.encrypt(black_box(BODY)).to_bytes().len())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("pairwise 100 B to {total} devices, steady state"));
        g.throughput(Throughput::Elements(total as u64));
        g.sample_size(20);
        g.bench_function("tandem session::encrypt xN", |b| {
            b.iter(|| tandem_fanout(&mut w.alice, &w.devices, black_box(&BODY)))
        });
        g.bench_function("vodozemac olm encrypt xN", |b| {
            b.iter(|| olm_fanout(&mut olm, black_box(&BODY)))
        });
        g.finish();
    } else {
        g.finish();
    }
}

fn group_multi_device(c: &mut Criterion) {
    group_send(c, 250, 4, true);
}

fn group_single_device(c: &mut Criterion) {
    group_send(c, 1_000, 1, false);
}

criterion_group! {
    name = benches;
    // No plots: rendering them (no gnuplot, the plotters backend) takes longer than the benches.
    config = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = direct, group_multi_device, group_single_device
}
criterion_main!(benches);
