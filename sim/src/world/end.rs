//! The end of a run: quiesce, probe (and settle app state and history syncs), and the checks
//! that everything owed was decrypted, that app state converged, that every photo read is the
//! one sent, and that every companion got its history.

use super::*;

impl World {
    /// Ends every fault (holds and stale answers expire), then delivers everything and lets
    /// the re-sends and retries run out.
    pub fn quiesce(&mut self) {
        let latest = self
            .stale
            .values()
            .map(|s| s.until)
            .max()
            .unwrap_or(0)
            .max(self.network.latest_hold());
        self.clock.advance_to(latest + 1);
        self.stale.clear();
        let mut settled = true;
        for _ in 0..QUIESCE_ROUNDS {
            settled = self.deliver_all();
            // Envelopes kept after a transient failure wait: let the time pass.
            match self.network.next_hold(self.clock.now()) {
                Some(t) if settled => self.clock.advance_to(t),
                _ => break,
            }
        }
        if !settled || self.network.total() > 0 {
            let left = self.network.total();
            self.violation(
                ViolationKind::NoQuiesce,
                format!("{left} envelopes still moving after {QUIESCE_ROUNDS} rounds"),
            );
        }
    }

    /// Sends one more message per account (to the next account) and per group, to show that
    /// nothing is stuck, and delivers them.
    pub fn probe(&mut self) {
        let n = self.accounts.len();
        if n > 1 {
            for a in 0..n {
                if let Some(p) = self.primary(a) {
                    self.send_direct(p, (a + 1) % n, true);
                }
            }
        }
        for g in 0..self.groups.len() {
            let first = self.groups.get(g).and_then(|x| x.members.iter().next().copied());
            if let Some(p) = first.and_then(|a| self.primary(a)) {
                self.send_to_group(p, g, true);
            }
        }
        self.quiesce();
        self.settle_app_state();
        self.settle_history();
    }

    /// The end-of-run check: every owed message decrypted on every device that should have it.
    pub fn check_delivered(&mut self, step: usize) {
        self.step = step;
        let mut missing: Vec<(String, Option<&'static str>)> = Vec::new();
        let mut excused_lost = 0;
        let mut excused_gone = 0;
        let mut excused_removed = 0;
        let mut excused_previous = 0;
        for m in self.ledger.all() {
            let sender_alive = self.devices.get(m.sender).is_some_and(|i| i.alive);
            let mut lacking: BTreeMap<Option<&'static str>, Vec<String>> = BTreeMap::new();
            for &r in &m.required {
                let alive = self.devices.get(r).is_some_and(|i| i.alive);
                if !alive || m.decrypted.get(&r).copied().unwrap_or(0) > 0 {
                    continue;
                }
                let later_installation = self
                    .devices
                    .get(r)
                    .is_some_and(|i| m.sent_to_epoch.get(&i.account).is_some_and(|e| i.epoch > *e));
                if m.exempt.contains_key(&r) {
                    excused_lost += 1;
                } else if later_installation {
                    excused_previous += 1;
                } else if self.sender_removed_in_flight(m) || self.receiver_removed_before_resend(m, r) {
                    excused_removed += 1;
                } else if !sender_alive {
                    excused_gone += 1;
                } else {
                    let known = self.known_missing(r, m.number);
                    lacking
                        .entry(known)
                        .or_default()
                        .push(self.address(r).to_string());
                }
            }
            for (known, devices) in lacking {
                let detail = format!(
                    "message {} ({}, sent at step {} by {}) never decrypted on {}",
                    m.number,
                    if m.group.is_some() { "group" } else { "1:1" },
                    m.step,
                    m.sender_address,
                    devices.join(", ")
                );
                missing.push((detail, known));
            }
        }
        self.stats.excused_lost += excused_lost;
        self.stats.excused_sender_gone += excused_gone;
        self.stats.excused_previous_installation += excused_previous;
        self.stats.excused_removed_sender += excused_removed;
        for (detail, known) in missing {
            self.violation_unless(ViolationKind::Missing, detail, known);
        }
        self.check_app_state();
        self.check_media();
        self.check_history();
    }

    /// Whether the sender's account was removed from the message's group after sending it: a
    /// receiver that applied the removal first refuses it, by decision (spec 05), so the message
    /// is not due there.
    fn sender_removed_in_flight(&self, m: &MessageRecord) -> bool {
        let (Some(group), Some(sender)) = (
            m.group.and_then(|g| self.groups.get(g)),
            self.devices.get(m.sender).map(|i| i.account),
        ) else {
            return false;
        };
        group
            .removed
            .iter()
            .any(|(a, step)| *a == sender && *step >= m.step)
    }

    /// Whether device `r` missed a group message (it was not sent to it) and its account left
    /// the group before the re-send: a re-send goes to the members it was sent to that still are
    /// members, by decision (spec 05), so the message is not due there.
    fn receiver_removed_before_resend(&self, m: &MessageRecord, r: DevId) -> bool {
        let (Some(group), Some(info)) = (m.group.and_then(|g| self.groups.get(g)), self.devices.get(r))
        else {
            return false;
        };
        !m.addressed.contains(&info.address)
            && group
                .removed
                .iter()
                .any(|(a, step)| *a == info.account && *step >= m.step)
    }
}
