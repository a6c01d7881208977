//! Traces from a seed: the setup (accounts, companions, groups), then events drawn from the
//! configured mix. The trace depends only on the seed and the configuration, never on how the
//! world reacts, so it can be stored, replayed and shrunk.

use rand::RngExt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::config::Config;
use crate::event::{DevRef, Event};

/// Keeps the trace's random stream apart from the world's (which draws keys).
const TRACE_STREAM: u64 = 0x7472_6163_6500_0001;

/// The trace of run `seed` under `config`.
pub fn generate(seed: u64, config: &Config) -> Vec<Event> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ TRACE_STREAM);
    let accounts = config.accounts.max(1);
    let mut trace = Vec::with_capacity(config.events + accounts * 4);
    for _ in 0..accounts {
        trace.push(Event::CreateAccount {
            durable: rng.random_bool(config.durable_share.clamp(0.0, 1.0)),
        });
    }
    for a in 0..accounts {
        let max = config.max_companions();
        let n = if config.full {
            max
        } else {
            rng.random_range(0..=max)
        };
        for _ in 0..n {
            trace.push(Event::Link {
                account: a as u16,
                durable: rng.random_bool(config.durable_share.clamp(0.0, 1.0)),
            });
        }
    }
    for _ in 0..config.groups {
        trace.push(create_group(&mut rng, config));
    }
    let table = config.weights.table();
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return trace;
    }
    for _ in 0..config.events {
        let mut pick = rng.random_range(0..total);
        let mut kind = 4;
        for (k, w) in table {
            if pick < w {
                kind = k;
                break;
            }
            pick -= w;
        }
        trace.push(event_of_kind(kind, &mut rng, config));
    }
    trace
}

fn account(rng: &mut ChaCha20Rng, config: &Config) -> u16 {
    rng.random_range(0..config.accounts.max(1)) as u16
}

fn device(rng: &mut ChaCha20Rng, config: &Config) -> DevRef {
    DevRef {
        account: account(rng, config),
        device: rng.random_range(0..4),
    }
}

fn create_group(rng: &mut ChaCha20Rng, config: &Config) -> Event {
    let size = rng.random_range(1..config.group_size.max(2));
    Event::CreateGroup {
        creator: account(rng, config),
        members: (0..size).map(|_| account(rng, config)).collect(),
    }
}

fn event_of_kind(kind: usize, rng: &mut ChaCha20Rng, config: &Config) -> Event {
    let durable = rng.random_bool(config.durable_share.clamp(0.0, 1.0));
    match kind {
        1 => Event::Link {
            account: account(rng, config),
            durable,
        },
        2 => Event::Unlink {
            account: account(rng, config),
            companion: rng.random_range(0..3),
        },
        3 => Event::Reinstall {
            account: account(rng, config),
            durable,
        },
        5 => Event::GroupMessage {
            group: rng.random_range(0..64),
            from: DevRef {
                account: rng.random_range(0..64),
                device: rng.random_range(0..4),
            },
        },
        6 => create_group(rng, config),
        7 => Event::AddMember {
            group: rng.random_range(0..64),
            account: account(rng, config),
        },
        8 => Event::RemoveMember {
            group: rng.random_range(0..64),
            member: rng.random_range(0..64),
        },
        9 => Event::Deliver {
            device: device(rng, config),
            count: rng.random_range(1..=8),
        },
        10 => Event::DeliverAll,
        11 => Event::Tick {
            ms: rng.random_range(1..=60_000),
        },
        12 => Event::DropAttempt {
            device: device(rng, config),
            nth: rng.random_range(0..8),
        },
        13 => Event::Lose {
            device: device(rng, config),
            nth: rng.random_range(0..8),
        },
        14 => Event::Duplicate {
            device: device(rng, config),
            nth: rng.random_range(0..8),
        },
        15 => Event::Delay {
            device: device(rng, config),
            nth: rng.random_range(0..8),
            ms: rng.random_range(1..=120_000),
        },
        16 => Event::Reorder {
            device: device(rng, config),
            perm: rng.random(),
        },
        17 => Event::Stale {
            account: account(rng, config),
            ms: rng.random_range(1_000..=120_000),
        },
        18 => Event::Crash {
            device: device(rng, config),
            point: if rng.random_bool(0.2) {
                0
            } else {
                rng.random_range(1..=40)
            },
        },
        19 => Event::Setting {
            device: device(rng, config),
            what: rng.random(),
            sync: rng.random_bool(0.6),
        },
        20 => Event::AppSync {
            device: device(rng, config),
        },
        21 => Event::Photo {
            from: device(rng, config),
            to: account(rng, config),
        },
        22 => Event::GroupPhoto {
            group: rng.random_range(0..64),
            from: DevRef {
                account: rng.random_range(0..64),
                device: rng.random_range(0..4),
            },
        },
        23 => Event::AppTamper {
            device: device(rng, config),
            attack: rng.random_range(0..6),
            n: rng.random(),
        },
        24 => Event::BlobFault {
            nth: rng.random(),
            corrupt: rng.random_bool(0.5),
        },
        25 => Event::HistoryFault {
            nth: rng.random(),
            corrupt: rng.random_bool(0.5),
        },
        _ => Event::Message {
            from: device(rng, config),
            to: account(rng, config),
        },
    }
}
