//! Receiving: what the app does with each receipt, and what the ledger checks.

use super::*;

/// A transient failure (`ReceiveFailure::is_transient`) is offered again this many times at most.
/// How many times the app offers a transiently failed envelope again, by default.
pub const TRANSIENT_ATTEMPTS: u32 = 12;
/// How long the app waits before offering a kept envelope again.
const TRANSIENT_WAIT_MS: u64 = 5_000;

/// What becomes of a received envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Acknowledged: the relay forgets it; the replies go out.
    Ack,
    /// Kept (a transient failure): offered again later.
    Keep,
    /// Already dealt with (offered again at once).
    Done,
}

impl World {
    /// Delivers the next deliverable envelope to a device; false if there is none.
    pub(super) fn deliver_one(&mut self, d: DevId) -> bool {
        let address = self.address(d);
        let Some(flight) = self.network.take(&address, self.clock.now()) else {
            return false;
        };
        self.receive(d, flight, true);
        true
    }

    pub(super) fn receive(&mut self, d: DevId, flight: InFlight, first: bool) {
        let address = self.address(d);
        let envelope = flight.envelope.clone();
        // The receive and the app's saving of its replies in the outbox are one transaction.
        let Some(result) = self.with_client(d, |c, dir, rng, now| {
            c.receive_with(dir, &envelope, now, rng, |receipt, store| {
                store.outbox_push(&receipt.replies)
            })
        }) else {
            return;
        };
        self.stats.delivered += 1;
        let crash = self.crashed(d);
        let receipt = match (result, crash) {
            (Ok(receipt), _) => Some(receipt),
            (Err(_), Some(_)) => None,
            (Err(e), None) => {
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{address} receiving: {e}"),
                );
                return;
            }
        };
        // After a crash mid-step nothing happened; right after the step, the app saw the
        // result (and kept a decrypted message) but asks nothing more of the dead process.
        let next = match (crash, &receipt) {
            (Some(CrashKind::MidStep), _) | (_, None) => Next::Ack,
            (_, Some(receipt)) => self.handle(d, &flight, &receipt.received, first && crash.is_none()),
        };
        match (crash, next) {
            (Some(kind), _) => {
                // Not acknowledged: the relay delivers it again after the restart (which sends
                // the outbox).
                self.count_crash(kind);
                self.note(|| format!("{address} crashed ({kind:?}) receiving; restarts"));
                self.network.put_back(&address, flight);
                self.restart(d);
            }
            (None, Next::Ack) => self.flush_outbox(d),
            (None, Next::Done) => self.flush_outbox(d),
            (None, Next::Keep) => {
                // A transient failure: the app keeps the envelope and offers it again later,
                // a bounded number of times.
                let mut flight = flight;
                flight.attempts += 1;
                if flight.attempts > self.transient_attempts {
                    self.stats.transient_given_up += 1;
                    self.note(|| format!("{address} gave up on a {:?} envelope", flight.envelope.kind));
                } else {
                    self.stats.transient_kept += 1;
                    flight.hold_until = self.clock.now() + TRANSIENT_WAIT_MS;
                    self.network.put_back(&address, flight);
                }
                self.flush_outbox(d);
            }
        }
    }

    /// What the app does with a receipt; returns what becomes of the envelope.
    pub(super) fn handle(&mut self, d: DevId, flight: &InFlight, received: &Received, first: bool) -> Next {
        let address = self.address(d);
        match received {
            Received::Message { from, message } | Received::SentCopy { from, message, .. } => {
                self.decrypted(d, from, message);
                self.media_received(d, message);
            }
            Received::FromOwnDevice { from, message } => {
                self.own_device_message(d, from, message);
                self.history_self_message(d, from, message);
            }
            Received::GroupKey { .. } => {
                if let Some(info) = self.devices.get(flight.sender) {
                    let (account, epoch) = (info.account, info.epoch);
                    self.check_epoch(d, account, epoch, "took a sender key from");
                }
            }
            Received::RetryServed { to, .. } => {
                self.stats.retries_served += 1;
                let to = to.clone();
                self.note(|| format!("{address} served a retry to {to}"));
            }
            Received::Duplicate => {
                self.stats.duplicates += 1;
                let n = self.ledger.find(&flight.envelope.message_id);
                let unread = n
                    .and_then(|n| self.ledger.get(n))
                    .is_some_and(|m| m.decrypted.get(&d).copied().unwrap_or(0) == 0);
                if let (Some(n), true) = (n, unread && flight.envelope.kind == EnvelopeKind::SenderKey) {
                    self.unread_duplicates.insert((d, n));
                    self.note(|| format!("{address} was told message {n} is a duplicate; it never read it"));
                }
            }
            Received::Failed(f) => {
                if first && *f == ReceiveFailure::UnverifiedSender {
                    // The app asks why: an account-key change is shown to the user, who accepts
                    // it; then the envelope is processed again.
                    let name = flight.envelope.sender.name.clone();
                    let why = self.call(d, |c, dir, _, now| c.refresh_devices(dir, &name, now).err());
                    if let Some(Some(ClientError::AccountKeyChanged(n))) = why {
                        if self.accept_key_change(d, &n) {
                            self.receive(d, flight.clone(), false);
                            return Next::Done;
                        }
                    }
                }
                self.failure(d, flight, received);
                if f.is_transient() {
                    return Next::Keep;
                }
            }
            _ => {}
        }
        Next::Ack
    }

    pub(super) fn failure(&mut self, d: DevId, flight: &InFlight, received: &Received) {
        let Received::Failed(f) = received else { return };
        let label = match f {
            ReceiveFailure::Decrypt(e) => format!("decrypt: {e:?}"),
            ReceiveFailure::GroupDecrypt(e) => format!("group decrypt: {e:?}"),
            ReceiveFailure::Store(_) => "store".to_string(),
            ReceiveFailure::Directory(_) => "directory".to_string(),
            other => format!("{other:?}"),
        };
        let address = self.address(d);
        let e = &flight.envelope;
        let (kind, sender, number) = (e.kind, e.sender.clone(), self.ledger.find(&e.message_id));
        self.note(|| {
            format!("{address} could not read {kind:?} from {sender} (message {number:?}): {label}")
        });
        *self.stats.failures.entry(label).or_default() += 1;
    }

    pub(super) fn decrypted(&mut self, d: DevId, from: &Address, message: &DataMessage) {
        self.stats.decrypted += 1;
        let address = self.address(d);
        let Some(n) = self.ledger.find(&message.id) else {
            self.violation(
                ViolationKind::WrongContent,
                format!("{address} decrypted an unknown message from {from}"),
            );
            return;
        };
        let Some(m) = self.ledger.get(n) else { return };
        let (sender, sender_address) = (m.sender, m.sender_address.clone());
        if message.body != m.body || from != &m.sender_address || message.group_id != m.group_id {
            let detail = format!(
                "{address} decrypted message {n} as {:?} from {from} (group {:?}); sent {:?} by {} (group {:?})",
                String::from_utf8_lossy(&message.body),
                message.group_id.is_some(),
                String::from_utf8_lossy(&m.body),
                m.sender_address,
                m.group_id.is_some()
            );
            self.violation(ViolationKind::WrongContent, detail);
            return;
        }
        let entitled = m.allowed.contains(&d);
        let count = {
            let Some(m) = self.ledger.get_mut(n) else { return };
            let c = m.decrypted.entry(d).or_default();
            *c += 1;
            *c
        };
        self.note(|| format!("{address} decrypted message {n} from {from}"));
        if !entitled {
            let why = self.why_not_entitled(d, n);
            let detail = format!("{address} decrypted message {n} from {from}: {why}");
            self.violation(ViolationKind::NotEntitled, detail);
        }
        if count > 1 {
            let detail = format!("{address} decrypted message {n} {count} times");
            self.violation(ViolationKind::DecryptedTwice, detail);
        }
        if let Some(info) = self.devices.get(sender) {
            let (account, epoch) = (info.account, info.epoch);
            let _ = sender_address;
            self.check_epoch(d, account, epoch, "decrypted from");
        }
    }

    pub(super) fn why_not_entitled(&self, d: DevId, n: usize) -> String {
        let (Some(m), Some(info)) = (self.ledger.get(n), self.devices.get(d)) else {
            return String::new();
        };
        if !m.audience.contains(&info.account) {
            return "its account was not a recipient when the message was sent".into();
        }
        if info.born > m.step {
            return format!(
                "the device was created at step {}, after the message (step {})",
                info.born, m.step
            );
        }
        "not a recipient".into()
    }

    /// Delivers everything deliverable, round after round, until nothing moves.
    pub fn deliver_all(&mut self) -> bool {
        for _ in 0..QUIESCE_ROUNDS {
            self.process_resends();
            let mut moved = false;
            for address in self.network.busy_devices() {
                let Some(&d) = self.by_address.get(&address) else {
                    self.stats.wiped += self.network.wipe(&address) as u64;
                    continue;
                };
                while self.deliver_one(d) {
                    moved = true;
                }
            }
            if !moved {
                return true;
            }
        }
        false
    }
}
