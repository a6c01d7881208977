//! Accounts and devices: creating, linking, unlinking, reinstalling, restarting; account-key
//! changes.

use super::*;

impl World {
    pub(super) fn store_maker(
        &mut self,
        durable: bool,
    ) -> impl FnOnce(&KeyPair, u32) -> Result<SimStore, StoreError> + use<> {
        // Without SQLite (the fuzz build) every device keeps its state in memory.
        let durable = durable && cfg!(feature = "sqlite");
        let path = durable.then(|| {
            let dir = self.dir.get_or_insert_with(|| {
                let n = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let p = base_dir().join(format!("tandem-sim-{}-{}-{n}", std::process::id(), self.seed));
                let _ = std::fs::create_dir_all(&p);
                TempDir(p)
            });
            dir.0.join(format!("device-{}.db", self.devices.len()))
        });
        move |identity: &KeyPair, registration_id: u32| match path {
            #[cfg(feature = "sqlite")]
            Some(p) => SimStore::sqlite(p, identity, registration_id),
            _ => Ok(SimStore::memory(identity, registration_id)),
        }
    }

    pub(super) fn register(&mut self, account: usize, client: Client<SimStore>, durable: bool) -> DevId {
        let d = self.devices.len();
        let address = client.address().clone();
        let epoch = self.accounts.get(account).map_or(0, |a| a.epoch);
        self.devices.push(DeviceInfo {
            address: address.clone(),
            account,
            epoch,
            alive: true,
            durable,
            born: self.step,
        });
        if let Some(a) = self.accounts.get_mut(account) {
            a.devices.insert(address.device_id, d);
        }
        self.by_address.insert(address, d);
        self.clients.insert(d, client);
        self.stats.devices += 1;
        // The app restores the account's groups on a new device.
        let groups: Vec<usize> = (0..self.groups.len())
            .filter(|g| self.groups.get(*g).is_some_and(|g| g.members.contains(&account)))
            .collect();
        for g in groups {
            self.set_members_on(d, g);
        }
        d
    }

    pub(super) fn publish(&mut self, d: DevId) -> bool {
        let Some(Ok(upload)) = self.call(d, |c, _, rng, _| c.upload(PREKEYS, rng)) else {
            self.violation(
                ViolationKind::OperationFailed,
                format!("upload of {} failed", self.address(d)),
            );
            return false;
        };
        self.relay.upload_device(upload);
        true
    }

    pub(super) fn create_account(&mut self, durable: bool) {
        let index = self.accounts.len();
        self.accounts.push(Account {
            name: format!("a{index}"),
            epoch: 0,
            devices: BTreeMap::new(),
        });
        self.stats.accounts += 1;
        self.new_primary(index, durable);
    }

    pub(super) fn new_primary(&mut self, account: usize, durable: bool) {
        let name = self.name(account);
        let now = self.clock.now();
        let make = self.store_maker(durable);
        let client = match Client::new_primary_with(&name, now, &mut self.rng, make) {
            Ok(c) => c,
            Err(e) => {
                self.violation(ViolationKind::OperationFailed, format!("new primary {name}: {e}"));
                return;
            }
        };
        let list = client.device_list().map(<[u8]>::to_vec);
        let d = self.register(account, client, durable);
        if self.publish(d) {
            if let Some(list) = list {
                self.relay.set_device_list(&name, &list);
            }
        }
        self.note(|| format!("{name}.0 is device #{d}"));
        self.app_device_added(account, d, true);
    }

    pub(super) fn link(&mut self, account: usize, durable: bool) {
        let companions = self
            .accounts
            .get(account)
            .map_or(0, |a| a.devices.len().saturating_sub(1));
        if companions >= self.max_companions {
            return;
        }
        let Some(p) = self.primary(account) else { return };
        let name = self.name(account);
        let pending = Client::begin_link(&name, self.clock.now(), &mut self.rng);
        let qr = pending.qr_payload();
        let approval = match self.call(p, |c, _, rng, now| c.approve_link(&qr, now, rng)) {
            Some(Ok(a)) => a,
            other => {
                let detail = format!("{name} approving a link: {other:?}");
                self.violation(ViolationKind::OperationFailed, detail);
                return;
            }
        };
        self.relay
            .set_device_list(&name, approval.device_list.serialize());
        let make = self.store_maker(durable);
        let client = match pending.finish_with(&approval.message, &mut self.rng, make) {
            Ok(c) => c,
            Err(e) => {
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{name} finishing a link: {e}"),
                );
                return;
            }
        };
        let d = self.register(account, client, durable);
        self.publish(d);
        self.stats.links += 1;
        self.app_device_added(account, d, false);
        let a = self.address(d);
        self.note(|| format!("linked {a} (device #{d})"));
        self.history_on_link(account, d);
    }

    pub(super) fn kill(&mut self, d: DevId) {
        let Some(info) = self.devices.get_mut(d) else {
            return;
        };
        info.alive = false;
        let address = info.address.clone();
        let account = info.account;
        if let Some(a) = self.accounts.get_mut(account) {
            a.devices.remove(&address.device_id);
        }
        self.by_address.remove(&address);
        self.clients.remove(&d);
        self.stats.wiped += self.network.wipe(&address) as u64;
    }

    pub(super) fn unlink(&mut self, account: usize, companion: u8) {
        let companions: Vec<(u32, DevId)> = self
            .accounts
            .get(account)
            .map(|a| {
                a.devices
                    .iter()
                    .filter(|(id, _)| **id != 0)
                    .map(|(i, d)| (*i, *d))
                    .collect()
            })
            .unwrap_or_default();
        if companions.is_empty() {
            return;
        }
        let Some(&(device_id, d)) = companions.get(usize::from(companion) % companions.len()) else {
            return;
        };
        let Some(p) = self.primary(account) else { return };
        let list = match self.call(p, |c, _, rng, now| c.unlink(device_id, now, rng)) {
            Some(Ok(l)) => l,
            other => {
                let detail = format!("unlinking {}: {other:?}", self.address(d));
                self.violation(ViolationKind::OperationFailed, detail);
                return;
            }
        };
        let name = self.name(account);
        self.relay.set_device_list(&name, &list);
        let address = self.address(d);
        self.relay.remove_device(&address);
        self.kill(d);
        self.app_device_gone(d, true);
        self.stats.unlinks += 1;
        self.app_unlinked(account);
        self.note(|| format!("unlinked {address} (device #{d})"));
    }

    pub(super) fn reinstall(&mut self, account: usize, durable: bool) {
        let name = self.name(account);
        self.relay.remove_account(&name);
        let devices: Vec<DevId> = self
            .accounts
            .get(account)
            .map(|a| a.devices.values().copied().collect())
            .unwrap_or_default();
        for d in devices {
            self.kill(d);
            self.app_device_gone(d, false);
        }
        self.app_reinstalled(account);
        if let Some(a) = self.accounts.get_mut(account) {
            a.epoch += 1;
        }
        self.stats.reinstalls += 1;
        self.note(|| format!("{name} reinstalled"));
        self.new_primary(account, durable);
    }

    /// Restarts a device from its store (after a crash, or a plain restart).
    pub(super) fn restart(&mut self, d: DevId) {
        let Some(mut client) = self.clients.remove(&d) else {
            return;
        };
        let store = std::mem::replace(client.store_mut(), SimStore::gone());
        drop(client);
        self.stats.restarts += 1;
        let reopened = store
            .revive()
            .map_err(|e| e.to_string())
            .and_then(|s| Client::open(s).map_err(|e| e.to_string()));
        match reopened {
            Ok(c) => {
                self.clients.insert(d, c);
                self.app_restart(d);
                // The app starts again: it sends what its outbox holds.
                self.flush_outbox(d);
            }
            Err(e) => {
                let a = self.address(d);
                self.violation(ViolationKind::RestartFailed, format!("{a}: {e}"));
                // The device is lost; the world carries on without it.
                if let Some(info) = self.devices.get_mut(d) {
                    info.alive = false;
                }
                if let Some(acc) = self.devices.get(d).map(|i| i.account) {
                    if let Some(acct) = self.accounts.get_mut(acc) {
                        acct.devices.remove(&a.device_id);
                    }
                }
                self.by_address.remove(&a);
            }
        }
    }

    /// The app's answer to an account-key change: the user accepts the new key (from the
    /// directory's primary entry).
    pub(super) fn accept_key_change(&mut self, d: DevId, name: &str) -> bool {
        let Some(account) = self.account_of_name(name) else {
            return false;
        };
        if self.devices.get(d).is_some_and(|i| i.account == account) {
            // A device never takes a new key for its own account (that would be a stale or forged
            // list); it waits for the directory to catch up.
            return false;
        }
        let epoch = self.served_epoch(account);
        let name = name.to_string();
        let accepted = self.call(d, |c, dir, _, _| {
            let served = dir.devices(&name).map_err(|e| e.to_string())?;
            let primary = served
                .devices
                .iter()
                .find(|x| x.device_id == 0)
                .ok_or("no primary served")?;
            c.accept_account_key(&name, primary.identity_key)
                .map_err(|e| e.to_string())
        });
        match accepted {
            Some(Ok(())) => {
                self.stats.key_changes += 1;
                self.known_epoch.insert((d, account), epoch);
                let a = self.address(d);
                self.note(|| format!("{a} accepted {name}'s new account key (installation {epoch})"));
                true
            }
            other => {
                let a = self.address(d);
                self.note(|| format!("{a} could not accept {name}'s key: {other:?}"));
                false
            }
        }
    }

    /// Checks (and records) that device `d` knows account `account` at installation `epoch`.
    pub(super) fn check_epoch(&mut self, d: DevId, account: usize, epoch: u32, what: &str) {
        if self.devices.get(d).is_some_and(|i| i.account == account) {
            return;
        }
        match self.known_epoch.get(&(d, account)).copied() {
            None => {
                self.known_epoch.insert((d, account), epoch);
            }
            Some(k) if k < epoch => {
                let a = self.address(d);
                let name = self.name(account);
                self.violation(
                    ViolationKind::SilentKeyChange,
                    format!("{a} {what} {name} installation {epoch}, knowing only installation {k}"),
                );
                self.known_epoch.insert((d, account), epoch);
            }
            Some(k) if k > epoch && what == "decrypted from" => {
                // A message from the account's previous installation read after the new key was
                // accepted (a sender key outlives the identity that distributed it).
                self.stats.old_installation_reads += 1;
                let a = self.address(d);
                self.note(|| format!("{a} read a message from installation {epoch} after accepting {k}"));
            }
            Some(_) => {}
        }
    }
}
