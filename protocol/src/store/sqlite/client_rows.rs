//! The client-state tables (schema version 2): this device's record, known accounts, groups,
//! sent messages and retry counters, behind the traits of [`crate::client::state`].

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::error::SqliteStoreError;
use super::seal::Row;
use crate::address::Address;
use crate::client::state::{
    DeviceListStore, GroupRecord, GroupStore, KnownAccountRecord, LocalDeviceRecord, LocalDeviceStore,
    ReceivedMessageStore, RetryCounter, SentMessageRecord, SentMessageStore, decode_group,
    decode_known_account, decode_local_device, decode_sent_message, encode_group, encode_known_account,
    encode_local_device, encode_sent_message,
};
use crate::consts::{MAX_RECEIVED_MESSAGE_IDS, MAX_SENT_MESSAGES};
use crate::store::StoreError;
use crate::store::serialize::RecordError;

fn counter_code(counter: RetryCounter) -> i64 {
    match counter {
        RetryCounter::Asked => 0,
        RetryCounter::Served => 1,
    }
}

fn group_id(bytes: &[u8]) -> Result<[u8; 16], SqliteStoreError> {
    bytes
        .try_into()
        .map_err(|_| RecordError::InvalidField("groups.group_id").into())
}

impl SqliteStore {
    fn load_local_device(&self) -> Result<Option<LocalDeviceRecord>, SqliteStoreError> {
        let Some(stored) = self.blob("SELECT record FROM local_device WHERE id = 0", [])? else {
            return Ok(None);
        };
        Ok(Some(decode_local_device(
            &self.unprotect(Row::LocalDevice, &stored)?,
        )?))
    }

    fn put_local_device(&mut self, record: &LocalDeviceRecord) -> Result<(), SqliteStoreError> {
        let blob = self.protect(Row::LocalDevice, &encode_local_device(record))?;
        self.conn.execute(
            "INSERT INTO local_device (id, record) VALUES (0, ?1)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            params![blob],
        )?;
        Ok(())
    }

    fn load_known_accounts(
        &self,
        only: Option<&str>,
    ) -> Result<Vec<(String, KnownAccountRecord)>, SqliteStoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, record FROM known_accounts WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map(params![only], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, bytes) = row?;
            out.push((name, decode_known_account(&bytes)?));
        }
        Ok(out)
    }

    fn load_groups(&self, only: Option<&[u8; 16]>) -> Result<Vec<([u8; 16], GroupRecord)>, SqliteStoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_id, record FROM groups WHERE ?1 IS NULL OR group_id = ?1 ORDER BY group_id",
        )?;
        let rows = stmt.query_map(params![only.map(|g| g.as_slice())], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row?;
            out.push((group_id(&id)?, decode_group(&bytes)?));
        }
        Ok(out)
    }

    fn load_sent(&self, message_id: &[u8; 16]) -> Result<Option<SentMessageRecord>, SqliteStoreError> {
        let Some(stored) = self.blob(
            "SELECT record FROM sent_messages WHERE message_id = ?1",
            params![message_id.as_slice()],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(decode_sent_message(
            &self.unprotect(Row::SentMessage(message_id), &stored)?,
        )?))
    }

    fn put_sent(
        &mut self,
        message_id: &[u8; 16],
        record: &SentMessageRecord,
    ) -> Result<(), SqliteStoreError> {
        let blob = self.protect(Row::SentMessage(message_id), &encode_sent_message(record))?;
        // Keeps `seq` (the place in the bound) when the message is saved again.
        self.conn.execute(
            "INSERT INTO sent_messages (message_id, record) VALUES (?1, ?2)
             ON CONFLICT (message_id) DO UPDATE SET record = excluded.record",
            params![message_id.as_slice(), blob],
        )?;
        self.conn.execute(
            "DELETE FROM sent_messages WHERE seq <= (SELECT max(seq) FROM sent_messages) - ?1",
            params![MAX_SENT_MESSAGES as i64],
        )?;
        Ok(())
    }
}

impl LocalDeviceStore for SqliteStore {
    fn local_device(&self) -> Result<Option<LocalDeviceRecord>, StoreError> {
        Ok(self.load_local_device()?)
    }
    fn save_local_device(&mut self, record: &LocalDeviceRecord) -> Result<(), StoreError> {
        Ok(self.put_local_device(record)?)
    }
}

impl DeviceListStore for SqliteStore {
    fn known_account(&self, account: &str) -> Result<Option<KnownAccountRecord>, StoreError> {
        Ok(self.load_known_accounts(Some(account))?.pop().map(|(_, r)| r))
    }
    fn save_known_account(&mut self, account: &str, record: &KnownAccountRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO known_accounts (name, record) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET record = excluded.record",
                params![account, encode_known_account(record)],
            )
            .map_err(SqliteStoreError::from)?;
        Ok(())
    }
    fn known_accounts(&self) -> Result<Vec<(String, KnownAccountRecord)>, StoreError> {
        Ok(self.load_known_accounts(None)?)
    }
}

impl GroupStore for SqliteStore {
    fn group(&self, group_id: &[u8; 16]) -> Result<Option<GroupRecord>, StoreError> {
        Ok(self.load_groups(Some(group_id))?.pop().map(|(_, r)| r))
    }
    fn save_group(&mut self, group_id: &[u8; 16], record: &GroupRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO groups (group_id, record) VALUES (?1, ?2)
                 ON CONFLICT (group_id) DO UPDATE SET record = excluded.record",
                params![group_id.as_slice(), encode_group(record)],
            )
            .map_err(SqliteStoreError::from)?;
        Ok(())
    }
    fn groups(&self) -> Result<Vec<([u8; 16], GroupRecord)>, StoreError> {
        Ok(self.load_groups(None)?)
    }
}

impl SentMessageStore for SqliteStore {
    fn sent_message(&self, message_id: &[u8; 16]) -> Result<Option<SentMessageRecord>, StoreError> {
        Ok(self.load_sent(message_id)?)
    }
    fn save_sent_message(
        &mut self,
        message_id: &[u8; 16],
        record: &SentMessageRecord,
    ) -> Result<(), StoreError> {
        Ok(self.put_sent(message_id, record)?)
    }
    fn retry_count(
        &self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
    ) -> Result<Option<u32>, StoreError> {
        self.conn
            .query_row(
                "SELECT count FROM retry_counts
                 WHERE counter = ?1 AND name = ?2 AND device_id = ?3 AND message_id = ?4",
                params![
                    counter_code(counter),
                    peer.name,
                    peer.device_id,
                    message_id.as_slice()
                ],
                |row| row.get::<_, u32>(0),
            )
            .optional()
            .map_err(|e| SqliteStoreError::from(e).into())
    }
    fn save_retry_count(
        &mut self,
        counter: RetryCounter,
        peer: &Address,
        message_id: &[u8; 16],
        count: u32,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO retry_counts (counter, name, device_id, message_id, count) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (counter, name, device_id, message_id) DO UPDATE SET count = excluded.count",
                params![counter_code(counter), peer.name, peer.device_id, message_id.as_slice(), count],
            )
            .map_err(SqliteStoreError::from)?;
        Ok(())
    }
    fn retry_count_len(&self, counter: RetryCounter) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM retry_counts WHERE counter = ?1",
                params![counter_code(counter)],
                |row| row.get(0),
            )
            .map_err(SqliteStoreError::from)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

impl ReceivedMessageStore for SqliteStore {
    fn was_received(&self, sender_account: &str, message_id: &[u8; 16]) -> Result<bool, StoreError> {
        let found: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM received_messages WHERE name = ?1 AND message_id = ?2",
                params![sender_account, message_id.as_slice()],
                |row| row.get(0),
            )
            .optional()
            .map_err(SqliteStoreError::from)?;
        Ok(found.is_some())
    }
    fn remember_received(&mut self, sender_account: &str, message_id: &[u8; 16]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO received_messages (name, message_id) VALUES (?1, ?2)
                 ON CONFLICT (name, message_id) DO NOTHING",
                params![sender_account, message_id.as_slice()],
            )
            .map_err(SqliteStoreError::from)?;
        self.conn
            .execute(
                "DELETE FROM received_messages WHERE seq <= (SELECT max(seq) FROM received_messages) - ?1",
                params![MAX_RECEIVED_MESSAGE_IDS as i64],
            )
            .map_err(SqliteStoreError::from)?;
        Ok(())
    }
}
