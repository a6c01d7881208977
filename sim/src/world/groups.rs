//! Groups: membership is the group service's; every device of the members is told at once.

use super::*;

impl World {
    pub(super) fn group_index(&self, g: u16) -> Option<usize> {
        (!self.groups.is_empty()).then(|| usize::from(g) % self.groups.len())
    }

    pub(super) fn set_members_on(&mut self, d: DevId, g: usize) {
        let Some(group) = self.groups.get(g) else { return };
        let id = group.id;
        let names: Vec<String> = group.members.iter().map(|m| self.name(*m)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Some(Err(e)) = self.call(d, |c, _, _, _| c.set_group_members(id, &refs)) {
            let a = self.address(d);
            self.violation(
                ViolationKind::OperationFailed,
                format!("{a} setting group {g}'s members: {e}"),
            );
        }
    }

    /// Tells every device of the members (and of `removed`) the group's membership.
    pub(super) fn apply_membership(&mut self, g: usize, removed: Option<usize>) {
        let Some(group) = self.groups.get(g) else { return };
        let mut accounts = group.members.clone();
        accounts.extend(removed);
        for d in self.live_devices_of(&accounts) {
            self.set_members_on(d, g);
        }
        self.stats.membership_changes += 1;
    }

    pub(super) fn create_group(&mut self, creator: u16, members: &[u16]) {
        let Some(c) = self.account_index(creator) else {
            return;
        };
        let mut set = BTreeSet::from([c]);
        set.extend(members.iter().filter_map(|m| self.account_index(*m)));
        let index = self.groups.len();
        let mut id = [0x47u8; 16];
        if let Some(head) = id.get_mut(..8) {
            head.copy_from_slice(&(index as u64).to_be_bytes());
        }
        self.groups.push(GroupInfo {
            id,
            members: set,
            removed: Vec::new(),
        });
        self.apply_membership(index, None);
    }

    pub(super) fn add_member(&mut self, group: u16, account: u16) {
        let (Some(g), Some(a)) = (self.group_index(group), self.account_index(account)) else {
            return;
        };
        let Some(info) = self.groups.get_mut(g) else {
            return;
        };
        if info.members.insert(a) {
            self.apply_membership(g, None);
        }
    }

    pub(super) fn remove_member(&mut self, group: u16, member: u16) {
        let Some(g) = self.group_index(group) else { return };
        let Some(info) = self.groups.get_mut(g) else {
            return;
        };
        if info.members.len() <= 1 {
            return;
        }
        let Some(&m) = info.members.iter().nth(usize::from(member) % info.members.len()) else {
            return;
        };
        info.members.remove(&m);
        info.removed.push((m, self.step));
        self.apply_membership(g, Some(m));
    }
}
