//! The faults that are not plain queue operations: lost envelopes, stale directory answers.

use super::*;

impl World {
    pub(super) fn lose(&mut self, device: DevRef, nth: u8) {
        let Some(d) = self.resolve(device) else { return };
        let address = self.address(d);
        let Some(e) = self.network.lose(&address, nth) else {
            return;
        };
        self.fault("lose");
        // The message is no longer owed to the device that lost it (the recipient, or for a
        // retry request, the device that asked).
        let owner = if e.kind == EnvelopeKind::RetryRequest {
            self.by_address.get(&e.sender).copied()
        } else {
            Some(d)
        };
        if let (Some(n), Some(owner)) = (self.ledger.find(&e.message_id), owner) {
            if let Some(m) = self.ledger.get_mut(n) {
                m.exempt.insert(owner, "lost");
            }
        }
        if e.kind != EnvelopeKind::RetryRequest {
            self.history_envelope_lost(&e.message_id);
        }
        let kind = e.kind;
        self.note(|| format!("lost a {kind:?} envelope for {address}"));
    }

    pub(super) fn make_stale(&mut self, account: u16, ms: u32) {
        let Some(a) = self.account_index(account) else {
            return;
        };
        let name = self.name(a);
        let Ok(devices) = self.relay.devices(&name) else {
            return;
        };
        let epoch = self.accounts.get(a).map_or(0, |x| x.epoch);
        let until = self.clock.now() + u64::from(ms);
        // A stale answer still being served stays (the cache does not refresh); an expired one
        // is replaced by the current answer.
        let now = self.clock.now();
        match self.stale.get_mut(&name) {
            Some(s) if s.until > now => s.until = s.until.max(until),
            _ => {
                self.stale.insert(
                    name,
                    Stale {
                        devices,
                        until,
                        epoch,
                    },
                );
            }
        }
        self.fault("stale");
    }
}
