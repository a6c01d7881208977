//! The message relay's queues, and the delivery faults.
//!
//! # The delivery model
//!
//! The server is store-and-forward with at-least-once delivery, as a real one is: an envelope
//! stays queued for its device until the device acknowledges it (after processing it), so
//!
//! - a failed delivery attempt ([`Network::drop_attempt`]) is retried later — the envelope goes
//!   to the back of the queue;
//! - a lost acknowledgement ([`Network::duplicate`]) delivers it a second time;
//! - a device that crashes while processing an envelope gets it again after the restart;
//! - a delay ([`Network::delay`]) or a reordering ([`Network::reorder`]) changes only the order.
//!
//! None of these may lose a message or show it twice. Separately, [`Network::lose`] models an
//! envelope really lost (server data loss): the message it carried is then not owed to that
//! device (no protocol can deliver what nobody holds), but every *later* message must still
//! get through.
//!
//! The server keeps a queue only for registered devices: posting to an unknown address is
//! refused, and a device's queue is wiped when it is unlinked or its account reinstalled.

use std::collections::{BTreeMap, VecDeque};

use tandem::Address;
use tandem::client::Envelope;

/// An envelope waiting in a queue.
#[derive(Clone, Debug)]
pub struct InFlight {
    /// The envelope.
    pub envelope: Envelope,
    /// Not deliverable before this time (a delay fault).
    pub hold_until: u64,
    /// The sending device incarnation (the simulator's index), known when it was posted.
    pub sender: usize,
    /// Times the device kept it after a transient failure.
    pub attempts: u32,
}

/// Every device's queue.
#[derive(Debug, Default)]
pub struct Network {
    queues: BTreeMap<Address, VecDeque<InFlight>>,
}

impl Network {
    /// Queues an envelope for its recipient (`sender`: the sending incarnation).
    pub fn post(&mut self, envelope: Envelope, sender: usize) {
        self.queues
            .entry(envelope.recipient.clone())
            .or_default()
            .push_back(InFlight {
                envelope,
                hold_until: 0,
                sender,
                attempts: 0,
            });
    }

    /// Drops a device's queue; returns how many envelopes it held.
    pub fn wipe(&mut self, device: &Address) -> usize {
        self.queues.remove(device).map_or(0, |q| q.len())
    }

    /// Takes the first envelope deliverable at `now`.
    pub fn take(&mut self, device: &Address, now: u64) -> Option<InFlight> {
        let q = self.queues.get_mut(device)?;
        let i = q.iter().position(|f| f.hold_until <= now)?;
        let out = q.remove(i);
        if q.is_empty() {
            self.queues.remove(device);
        }
        out
    }

    /// Puts an envelope back at the front (it was not acknowledged).
    pub fn put_back(&mut self, device: &Address, flight: InFlight) {
        self.queues.entry(device.clone()).or_default().push_front(flight);
    }

    /// How many envelopes wait for a device.
    pub fn pending(&self, device: &Address) -> usize {
        self.queues.get(device).map_or(0, VecDeque::len)
    }

    /// Envelopes waiting in all.
    pub fn total(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// The devices with something waiting.
    pub fn busy_devices(&self) -> Vec<Address> {
        self.queues.keys().cloned().collect()
    }

    /// The earliest hold time still ahead of `now`, if any.
    pub fn next_hold(&self, now: u64) -> Option<u64> {
        self.queues
            .values()
            .flat_map(|q| q.iter().map(|f| f.hold_until))
            .filter(|t| *t > now)
            .min()
    }

    /// The latest hold time.
    pub fn latest_hold(&self) -> u64 {
        self.queues
            .values()
            .flat_map(|q| q.iter().map(|f| f.hold_until))
            .max()
            .unwrap_or(0)
    }

    fn nth(&mut self, device: &Address, nth: u8) -> Option<(&mut VecDeque<InFlight>, usize)> {
        let q = self.queues.get_mut(device)?;
        if q.is_empty() {
            return None;
        }
        let i = usize::from(nth) % q.len();
        Some((q, i))
    }

    /// A failed delivery attempt: the envelope goes to the back of the queue.
    pub fn drop_attempt(&mut self, device: &Address, nth: u8) -> bool {
        let Some((q, i)) = self.nth(device, nth) else {
            return false;
        };
        if let Some(f) = q.remove(i) {
            q.push_back(f);
        }
        true
    }

    /// A lost envelope: removed for good, and returned.
    pub fn lose(&mut self, device: &Address, nth: u8) -> Option<Envelope> {
        let (q, i) = self.nth(device, nth)?;
        q.remove(i).map(|f| f.envelope)
    }

    /// A lost acknowledgement: a copy of the envelope is delivered again later.
    pub fn duplicate(&mut self, device: &Address, nth: u8) -> bool {
        let Some((q, i)) = self.nth(device, nth) else {
            return false;
        };
        if let Some(f) = q.get(i).cloned() {
            q.push_back(f);
        }
        true
    }

    /// Holds an envelope back until `until`.
    pub fn delay(&mut self, device: &Address, nth: u8, until: u64) -> bool {
        let Some((q, i)) = self.nth(device, nth) else {
            return false;
        };
        if let Some(f) = q.get_mut(i) {
            f.hold_until = f.hold_until.max(until);
        }
        true
    }

    /// Shuffles a device's queue (Fisher–Yates driven by a small generator seeded with `perm`).
    pub fn reorder(&mut self, device: &Address, perm: u32) -> bool {
        let Some(q) = self.queues.get_mut(device) else {
            return false;
        };
        let mut x = u64::from(perm) | 1;
        let q = q.make_contiguous();
        for i in (1..q.len()).rev() {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = (x % (i as u64 + 1)) as usize;
            q.swap(i, j);
        }
        q.len() > 1
    }
}
