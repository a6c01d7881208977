//! Sending: the app's retry loop, what the ledger owes, the relay's device-mismatch answer and
//! the re-sends it triggers.

use super::*;
use tandem::client::SelfMessage;

impl World {
    pub(super) fn message(&mut self, from: DevRef, to: u16) {
        if let Some((d, to)) = self.direct_target(from, to) {
            self.send_direct(d, to, false);
        }
    }

    pub(super) fn group_message(&mut self, group: u16, from: DevRef) {
        if let Some((d, g)) = self.group_sender(group, from) {
            self.send_to_group(d, g, false);
        }
    }

    /// The sending device and the receiving account of a 1:1 event (the next account if `to`
    /// is the sender's own).
    pub(super) fn direct_target(&self, from: DevRef, to: u16) -> Option<(DevId, usize)> {
        let d = self.resolve(from)?;
        let mut to = self.account_index(to)?;
        let own = self.devices.get(d).map_or(0, |i| i.account);
        if to == own {
            to = (to + 1) % self.accounts.len();
            if to == own {
                return None;
            }
        }
        Some((d, to))
    }

    /// The sending device and the group of a group event: `from.account` indexes the group's
    /// members.
    pub(super) fn group_sender(&self, group: u16, from: DevRef) -> Option<(DevId, usize)> {
        let g = self.group_index(group)?;
        let members: Vec<usize> = self.groups.get(g)?.members.iter().copied().collect();
        if members.is_empty() {
            return None;
        }
        let account = *members.get(usize::from(from.account) % members.len())?;
        Some((self.device_of(account, from.device)?, g))
    }

    pub(super) fn send_direct(&mut self, d: DevId, to: usize, probe: bool) {
        let number = self.ledger.next_number();
        let from = self.address(d);
        let to_name = self.name(to);
        let body = format!("m{number} {from}->{to_name}").into_bytes();
        let own = self.devices.get(d).map_or(0, |i| i.account);
        let audience = BTreeSet::from([own, to]);
        self.send_with(d, audience, None, body, probe, |c, dir, rng, now, body| {
            c.send(dir, &to_name, body, now, rng)
        });
    }

    pub(super) fn send_to_group(&mut self, d: DevId, g: usize, probe: bool) {
        let Some(group) = self.groups.get(g) else { return };
        let (id, audience) = (group.id, group.members.clone());
        let number = self.ledger.next_number();
        let body = format!("m{number} {}->group{g}", self.address(d)).into_bytes();
        self.send_with(
            d,
            audience,
            Some(g),
            body,
            probe,
            move |c, dir, rng, now, body| c.send_group(dir, id, body, now, rng),
        );
    }

    /// Sends with the app's retry loop: an accepted account-key change or a crash (after the
    /// restart) makes the app send again.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_with(
        &mut self,
        d: DevId,
        audience: BTreeSet<usize>,
        group: Option<usize>,
        body: Vec<u8>,
        probe: bool,
        op: impl Fn(
            &mut Client<SimStore>,
            &mut SimDirectory<'_>,
            &mut ChaCha20Rng,
            u64,
            &[u8],
        ) -> Result<SendReport, ClientError>,
    ) {
        let from = self.address(d);
        for _ in 0..ATTEMPTS {
            // The send and the app's saving of its envelopes are one transaction (the outbox).
            let Some(result) = self.with_client(d, |c, dir, rng, now| {
                c.atomically(|c| {
                    let report = op(c, dir, rng, now, &body)?;
                    c.store_mut()
                        .outbox_push(&report.envelopes)
                        .map_err(|e| ClientError::Store(e.to_string()))?;
                    Ok::<_, ClientError>(report)
                })
            }) else {
                return;
            };
            match (result, self.crashed(d)) {
                (Ok(report), Some(CrashKind::AfterStep)) => {
                    // The send and its outbox are on disk: the restarted app sends the outbox.
                    self.stats.crashes_after_step += 1;
                    self.note(|| {
                        format!("{from} crashed after the send committed; its outbox goes on restart")
                    });
                    self.restart(d);
                    self.record_send(d, audience, group, body, probe, report);
                    return;
                }
                (Err(e), Some(kind)) => {
                    self.count_crash(kind);
                    self.note(|| format!("{from} crashed in the send ({e}); the app sends again"));
                    self.restart(d);
                }
                (Ok(report), _) => {
                    self.record_send(d, audience, group, body, probe, report);
                    self.flush_outbox(d);
                    return;
                }
                (Err(ClientError::AccountKeyChanged(name)), None) => {
                    if !self.accept_key_change(d, &name) {
                        return;
                    }
                }
                (Err(e), None) => {
                    if audience.iter().any(|a| self.stale_now(*a)) {
                        // A stale directory can make a send fail (a list signed by an old key):
                        // the app tells the user, who tries again later (a new message).
                        self.stats.sends_failed_stale += 1;
                        self.note(|| format!("{from} could not send while the directory is stale: {e}"));
                    } else {
                        self.violation(ViolationKind::OperationFailed, format!("{from} sending: {e}"));
                    }
                    return;
                }
            }
        }
        self.note(|| format!("{from} gave up sending"));
    }

    /// Sends a self message (`send_to_own_devices`) with the app's outbox and retry loop (a
    /// crash that undid it: restart, send again; one after it committed: the restarted app sends
    /// the outbox). The report, if it was sent.
    pub(super) fn send_self(
        &mut self,
        from: DevId,
        message: &SelfMessage,
        only: Option<u32>,
    ) -> Option<SendReport> {
        let address = self.address(from);
        for _ in 0..ATTEMPTS {
            let result = self.with_client(from, |c, dir, rng, now| {
                c.atomically(|c| {
                    let report = c.send_to_own_devices(dir, message, only, now, rng)?;
                    c.store_mut()
                        .outbox_push(&report.envelopes)
                        .map_err(|e| ClientError::Store(e.to_string()))?;
                    Ok::<_, ClientError>(report)
                })
            })?;
            match (result, self.crashed(from)) {
                (Ok(report), Some(CrashKind::AfterStep)) => {
                    self.count_crash(CrashKind::AfterStep);
                    self.restart(from);
                    return Some(report);
                }
                (_, Some(kind)) => {
                    self.count_crash(kind);
                    self.restart(from);
                }
                (Ok(report), None) => {
                    self.flush_outbox(from);
                    return Some(report);
                }
                (Err(e), None) => {
                    let stale = self.devices.get(from).is_some_and(|i| self.stale_now(i.account));
                    self.note(|| format!("{address} could not send to its own devices: {e}"));
                    if !stale {
                        self.violation(
                            ViolationKind::OperationFailed,
                            format!("{address} sending to its own devices: {e}"),
                        );
                    }
                    return None;
                }
            }
        }
        None
    }

    /// Hands a device's outbox to the relay (after a step, and when the app starts again).
    pub(super) fn flush_outbox(&mut self, d: DevId) {
        let Some(client) = self.clients.get_mut(&d) else {
            return;
        };
        match client.store_mut().outbox_drain() {
            Ok(envelopes) => self.post(d, envelopes),
            Err(e) => {
                let a = self.address(d);
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{a}: reading the outbox: {e}"),
                );
            }
        }
    }

    pub(super) fn count_crash(&mut self, kind: CrashKind) {
        match kind {
            CrashKind::MidStep => self.stats.crashes_mid_step += 1,
            CrashKind::AfterStep => self.stats.crashes_after_step += 1,
        }
    }

    pub(super) fn record_send(
        &mut self,
        d: DevId,
        audience: BTreeSet<usize>,
        group: Option<usize>,
        body: Vec<u8>,
        probe: bool,
        report: SendReport,
    ) {
        let mut required = self.live_devices_of(&audience);
        required.remove(&d);
        let number = self.ledger.next_number();
        let group_id = group.and_then(|g| self.groups.get(g)).map(|g| g.id);
        self.stats.owed += required.len() as u64;
        match (group, probe) {
            (_, true) => self.stats.probes += 1,
            (Some(_), false) => self.stats.group_messages += 1,
            (None, false) => self.stats.messages += 1,
        }
        self.ledger.add(MessageRecord {
            number,
            id: report.message_id,
            sender: d,
            sender_address: self.address(d),
            group,
            group_id,
            audience,
            body,
            step: self.step,
            allowed: required.clone(),
            required,
            exempt: BTreeMap::new(),
            decrypted: BTreeMap::new(),
            addressed: BTreeSet::new(),
            probe,
            resent: false,
            sent_to_epoch: BTreeMap::new(),
        });
        let n = report.envelopes.len();
        let from = self.address(d);
        self.note(|| format!("{from} sent message {number}: {n} envelopes"));
        self.after_send(d, number, report);
        if self.missing(number) {
            self.stats.mismatches += 1;
            self.resends.push(Resend {
                message: number,
                attempts: 0,
                tries: 0,
            });
        }
    }

    /// Checks whom a send encrypted to and notes whom it addressed (its envelopes go out through
    /// the outbox: [`Self::flush_outbox`]).
    pub(super) fn after_send(&mut self, d: DevId, number: usize, report: SendReport) {
        let accounts: BTreeSet<usize> = report
            .envelopes
            .iter()
            .filter_map(|e| self.account_of_name(&e.recipient.name))
            .collect();
        for a in accounts {
            let epoch = self.served_epoch(a);
            self.check_epoch(d, a, epoch, "encrypted to");
            if let Some(m) = self.ledger.get_mut(number) {
                m.sent_to_epoch.entry(a).or_insert(epoch);
            }
        }
        if let Some(m) = self.ledger.get_mut(number) {
            m.addressed
                .extend(report.envelopes.iter().map(|e| e.recipient.clone()));
        }
    }

    /// Whether live required devices of a message were not addressed (what the relay reports
    /// to the sender as a device mismatch).
    pub(super) fn missing(&self, number: usize) -> bool {
        let Some(m) = self.ledger.get(number) else {
            return false;
        };
        m.required.iter().any(|r| {
            self.devices
                .get(*r)
                .is_some_and(|i| i.alive && !m.addressed.contains(&i.address))
        })
    }

    /// Posts envelopes sent by device `sender`.
    pub(super) fn post(&mut self, sender: DevId, envelopes: Vec<Envelope>) {
        for e in envelopes {
            if self.by_address.contains_key(&e.recipient) {
                if e.kind == EnvelopeKind::RetryRequest {
                    self.stats.retry_requests += 1;
                }
                self.stats.posted += 1;
                self.network.post(e, sender);
            } else {
                self.stats.refused += 1;
            }
        }
    }

    /// Re-sends messages that missed devices, once the directory answers freshly for their
    /// accounts.
    pub(super) fn process_resends(&mut self) {
        if self.resends.is_empty() {
            return;
        }
        let now = self.clock.now();
        let pending = std::mem::take(&mut self.resends);
        for mut r in pending {
            let Some(m) = self.ledger.get(r.message) else {
                continue;
            };
            let (sender, id, audience) = (m.sender, m.id, m.audience.clone());
            let stale = audience
                .iter()
                .any(|a| self.stale.get(&self.name(*a)).is_some_and(|s| s.until > now));
            if !self.clients.contains_key(&sender) || !self.missing(r.message) {
                continue;
            }
            if stale {
                self.resends.push(r);
                continue;
            }
            // A crash or an accepted account-key change makes the app try again at once
            // (bounded by ATTEMPTS); a completed re-send counts toward RESENDS.
            r.tries += 1;
            let result = self.with_client(sender, |c, dir, rng, now| {
                c.atomically(|c| {
                    let report = c.resend_to_missing(dir, id, now, rng)?;
                    c.store_mut()
                        .outbox_push(&report.envelopes)
                        .map_err(|e| ClientError::Store(e.to_string()))?;
                    Ok::<_, ClientError>(report)
                })
            });
            let from = self.address(sender);
            let crash = self.crashed(sender);
            if let Some(kind) = crash {
                self.count_crash(kind);
                // After the step committed, the restarted app sends the outbox.
                self.restart(sender);
            }
            match (result, crash) {
                (None, _) => continue,
                (Some(Err(_)), Some(_)) => {}
                (Some(Ok(report)), None | Some(CrashKind::AfterStep)) => {
                    r.attempts += 1;
                    self.stats.resends += 1;
                    let mut now_live = self.live_devices_of(&audience);
                    now_live.remove(&sender);
                    if let Some(m) = self.ledger.get_mut(r.message) {
                        m.allowed.extend(now_live);
                        m.resent = true;
                    }
                    let n = report.envelopes.len();
                    let number = r.message;
                    self.note(|| format!("{from} re-sent message {number} to {n} missing devices"));
                    self.after_send(sender, r.message, report);
                    self.flush_outbox(sender);
                }
                (Some(Ok(_)), Some(CrashKind::MidStep)) => {}
                (Some(Err(ClientError::AccountKeyChanged(name))), None) => {
                    self.accept_key_change(sender, &name);
                }
                (Some(Err(ClientError::UnknownMessage)), None) => continue,
                (Some(Err(e)), None) => {
                    self.violation(ViolationKind::OperationFailed, format!("{from} re-sending: {e}"));
                    continue;
                }
            }
            if r.attempts < RESENDS && r.tries < RESENDS + ATTEMPTS as u32 && self.missing(r.message) {
                self.resends.push(r);
            }
        }
    }
}
