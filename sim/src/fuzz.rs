//! Fuzzer bytes to events: the `sim_events` cargo-fuzz target lets the fuzzer choose the
//! events, in the style of libsignal's stateful targets.
//!
//! A small world — three accounts in memory, one group of all three, at most two companions
//! each — then one event per three input bytes `[kind, a, b]`, at most [`MAX_EVENTS`]:
//! `kind % 26` picks the event kind (in [`crate::event::KINDS`] order), `a` and `b` its
//! arguments. Then the run ends as every run does (quiesce, probe, check). Every input is a
//! valid trace; the properties are the simulator's invariants and "no panic".

use crate::event::{DevRef, Event};
use crate::run::{RunOptions, RunReport, run_trace};

/// Events taken from one input, at most.
pub const MAX_EVENTS: usize = 48;

fn dev(a: u8) -> DevRef {
    DevRef {
        account: u16::from(a & 0x0f),
        device: a >> 4,
    }
}

/// The trace an input stands for.
pub fn events_from_bytes(data: &[u8]) -> Vec<Event> {
    let mut trace = vec![
        Event::CreateAccount { durable: false },
        Event::CreateAccount { durable: false },
        Event::CreateAccount { durable: false },
        Event::CreateGroup {
            creator: 0,
            members: vec![1, 2],
        },
    ];
    for chunk in data.chunks_exact(3).take(MAX_EVENTS) {
        let [kind, a, b] = [chunk.first(), chunk.get(1), chunk.get(2)].map(|x| x.copied().unwrap_or(0));
        let ms = u32::from(b) * 1_000;
        let event = match kind % 26 {
            0 => Event::DeliverAll,
            1 => Event::Link {
                account: u16::from(a),
                durable: false,
            },
            2 => Event::Unlink {
                account: u16::from(a),
                companion: b,
            },
            3 => Event::Reinstall {
                account: u16::from(a),
                durable: false,
            },
            4 => Event::Message {
                from: dev(a),
                to: u16::from(b),
            },
            5 => Event::GroupMessage {
                group: u16::from(b >> 4),
                from: dev(a),
            },
            6 => Event::CreateGroup {
                creator: u16::from(a),
                members: vec![u16::from(b & 0x0f), u16::from(b >> 4)],
            },
            7 => Event::AddMember {
                group: u16::from(a),
                account: u16::from(b),
            },
            8 => Event::RemoveMember {
                group: u16::from(a),
                member: u16::from(b),
            },
            9 => Event::Deliver {
                device: dev(a),
                count: b % 8 + 1,
            },
            10 => Event::DeliverAll,
            11 => Event::Tick { ms },
            12 => Event::DropAttempt {
                device: dev(a),
                nth: b,
            },
            13 => Event::Lose {
                device: dev(a),
                nth: b,
            },
            14 => Event::Duplicate {
                device: dev(a),
                nth: b,
            },
            15 => Event::Delay {
                device: dev(a),
                nth: b & 0x0f,
                ms: u32::from(b >> 4) * 10_000,
            },
            16 => Event::Reorder {
                device: dev(a),
                perm: u32::from(b),
            },
            17 => Event::Stale {
                account: u16::from(a),
                ms,
            },
            18 => Event::Crash {
                device: dev(a),
                point: b % 48,
            },
            19 => Event::Setting {
                device: dev(a),
                what: u16::from(b) * 7,
                sync: b & 1 == 0,
            },
            20 => Event::AppSync { device: dev(a) },
            21 => Event::Photo {
                from: dev(a),
                to: u16::from(b),
            },
            22 => Event::GroupPhoto {
                group: u16::from(b >> 4),
                from: dev(a),
            },
            23 => Event::AppTamper {
                device: dev(a),
                attack: b % 6,
                n: u16::from(b >> 3),
            },
            24 => Event::BlobFault {
                nth: u16::from(a),
                corrupt: b & 1 == 1,
            },
            _ => Event::HistoryFault {
                nth: u16::from(a),
                corrupt: b & 1 == 1,
            },
        };
        trace.push(event);
    }
    trace
}

/// Runs an input (world seed 0, at most two companions per account).
pub fn run_bytes(data: &[u8]) -> RunReport {
    let trace = events_from_bytes(data);
    run_trace(
        0,
        &trace,
        RunOptions {
            max_companions: 2,
            log: false,
            stop_at_first: true,
            strict: false,
            transient_attempts: crate::world::TRANSIENT_ATTEMPTS,
        },
    )
}
