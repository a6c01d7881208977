//! Reading and writing the rows of each table (sealing and encoding on the way), with the
//! optimistic version check of `sessions` and `sender_keys`.

use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

use super::SqliteStore;
use super::error::SqliteStoreError;
use super::seal::Row;
use crate::address::Address;
use crate::crypto::PublicKey;
use crate::group::SenderKeyRecord;
use crate::session::{PreKeyRecord, SessionRecord, SignedPreKeyRecord};
use crate::store::serialize::{
    RecordError, decode_pre_key_record, decode_sender_key_record, decode_session_record,
    decode_signed_pre_key_record, encode_pre_key_record, encode_sender_key_record, encode_session_record,
    encode_signed_pre_key_record,
};

impl SqliteStore {
    pub(super) fn load_identity(&self, address: &Address) -> Result<Option<PublicKey>, SqliteStoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT public_key FROM identities WHERE name = ?1 AND device_id = ?2",
                params![address.name, address.device_id],
                |row| row.get(0),
            )
            .optional()?;
        bytes
            .map(|b| {
                PublicKey::deserialize(&b)
                    .map_err(|_| RecordError::InvalidField("identities.public_key").into())
            })
            .transpose()
    }

    pub(super) fn put_identity(
        &mut self,
        address: &Address,
        key: &PublicKey,
    ) -> Result<(), SqliteStoreError> {
        self.conn.execute(
            "INSERT INTO identities (name, device_id, public_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, device_id) DO UPDATE SET public_key = excluded.public_key",
            params![address.name, address.device_id, key.serialize().as_slice()],
        )?;
        Ok(())
    }

    pub(super) fn load_pre_key(&self, id: u32) -> Result<Option<PreKeyRecord>, SqliteStoreError> {
        let Some(stored) = self.blob("SELECT record FROM pre_keys WHERE id = ?1", params![id])? else {
            return Ok(None);
        };
        let record = decode_pre_key_record(&self.unprotect(Row::PreKey(id), &stored)?)?;
        if record.id != id {
            return Err(RecordError::InvalidField("pre_keys.id").into());
        }
        Ok(Some(record))
    }

    pub(super) fn put_pre_key(&mut self, record: &PreKeyRecord) -> Result<(), SqliteStoreError> {
        let blob = self.protect(Row::PreKey(record.id), &encode_pre_key_record(record))?;
        self.conn.execute(
            "INSERT INTO pre_keys (id, record) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            params![record.id, blob],
        )?;
        Ok(())
    }

    pub(super) fn delete_pre_key(&mut self, id: u32) -> Result<(), SqliteStoreError> {
        self.conn
            .execute("DELETE FROM pre_keys WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub(super) fn load_signed_pre_key(
        &self,
        id: u32,
    ) -> Result<Option<SignedPreKeyRecord>, SqliteStoreError> {
        let Some(stored) = self.blob("SELECT record FROM signed_pre_keys WHERE id = ?1", params![id])? else {
            return Ok(None);
        };
        let record = decode_signed_pre_key_record(&self.unprotect(Row::SignedPreKey(id), &stored)?)?;
        if record.id != id {
            return Err(RecordError::InvalidField("signed_pre_keys.id").into());
        }
        Ok(Some(record))
    }

    pub(super) fn put_signed_pre_key(&mut self, record: &SignedPreKeyRecord) -> Result<(), SqliteStoreError> {
        let blob = self.protect(
            Row::SignedPreKey(record.id),
            &encode_signed_pre_key_record(record),
        )?;
        self.conn.execute(
            "INSERT INTO signed_pre_keys (id, record) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            params![record.id, blob],
        )?;
        Ok(())
    }

    pub(super) fn load_session(&self, address: &Address) -> Result<Option<SessionRecord>, SqliteStoreError> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT record, version FROM sessions WHERE name = ?1 AND device_id = ?2",
                params![address.name, address.device_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let version = row.as_ref().map(|(_, v)| *v);
        let record = row
            .map(|(stored, _)| {
                let stored = Zeroizing::new(stored);
                Ok::<_, SqliteStoreError>(decode_session_record(
                    &self.unprotect(Row::Session(address), &stored)?,
                )?)
            })
            .transpose()?;
        self.session_reads.borrow_mut().insert(address.clone(), version);
        Ok(record)
    }

    pub(super) fn put_session(
        &mut self,
        address: &Address,
        record: &SessionRecord,
    ) -> Result<(), SqliteStoreError> {
        let blob = self.protect(Row::Session(address), &encode_session_record(record))?;
        let expected = self.session_reads.get_mut().remove(address);
        let changed = match expected {
            // Never read: a blind write.
            None => self.conn.execute(
                "INSERT INTO sessions (name, device_id, record, version) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (name, device_id) DO UPDATE SET record = excluded.record, version = version + 1",
                params![address.name, address.device_id, blob],
            )?,
            // Read as absent: it must still be.
            Some(None) => self.conn.execute(
                "INSERT INTO sessions (name, device_id, record, version) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (name, device_id) DO NOTHING",
                params![address.name, address.device_id, blob],
            )?,
            // Read at a version: it must still be at it.
            Some(Some(version)) => self.conn.execute(
                "UPDATE sessions SET record = ?3, version = version + 1
                 WHERE name = ?1 AND device_id = ?2 AND version = ?4",
                params![address.name, address.device_id, blob, version],
            )?,
        };
        if changed != 1 {
            return Err(SqliteStoreError::Conflict);
        }
        Ok(())
    }

    pub(super) fn delete_session(&mut self, address: &Address) -> Result<(), SqliteStoreError> {
        self.session_reads.get_mut().remove(address);
        self.conn.execute(
            "DELETE FROM sessions WHERE name = ?1 AND device_id = ?2",
            params![address.name, address.device_id],
        )?;
        Ok(())
    }

    pub(super) fn load_sender_key(
        &self,
        sender: &Address,
        distribution_id: &[u8; 16],
    ) -> Result<Option<SenderKeyRecord>, SqliteStoreError> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT record, version FROM sender_keys
                 WHERE name = ?1 AND device_id = ?2 AND distribution_id = ?3",
                params![sender.name, sender.device_id, distribution_id.as_slice()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let version = row.as_ref().map(|(_, v)| *v);
        let record = row
            .map(|(stored, _)| {
                let stored = Zeroizing::new(stored);
                Ok::<_, SqliteStoreError>(decode_sender_key_record(
                    &self.unprotect(Row::SenderKey(sender, distribution_id), &stored)?,
                )?)
            })
            .transpose()?;
        self.sender_key_reads
            .borrow_mut()
            .insert((sender.clone(), *distribution_id), version);
        Ok(record)
    }

    pub(super) fn put_sender_key(
        &mut self,
        sender: &Address,
        distribution_id: &[u8; 16],
        record: &SenderKeyRecord,
    ) -> Result<(), SqliteStoreError> {
        let blob = self.protect(
            Row::SenderKey(sender, distribution_id),
            &encode_sender_key_record(record),
        )?;
        let key = (sender.clone(), *distribution_id);
        let expected = self.sender_key_reads.get_mut().remove(&key);
        let (name, device, dist) = (&sender.name, sender.device_id, distribution_id.as_slice());
        let changed = match expected {
            None => self.conn.execute(
                "INSERT INTO sender_keys (name, device_id, distribution_id, record, version)
                 VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (name, device_id, distribution_id)
                 DO UPDATE SET record = excluded.record, version = version + 1",
                params![name, device, dist, blob],
            )?,
            Some(None) => self.conn.execute(
                "INSERT INTO sender_keys (name, device_id, distribution_id, record, version)
                 VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (name, device_id, distribution_id) DO NOTHING",
                params![name, device, dist, blob],
            )?,
            Some(Some(version)) => self.conn.execute(
                "UPDATE sender_keys SET record = ?4, version = version + 1
                 WHERE name = ?1 AND device_id = ?2 AND distribution_id = ?3 AND version = ?5",
                params![name, device, dist, blob, version],
            )?,
        };
        if changed != 1 {
            return Err(SqliteStoreError::Conflict);
        }
        Ok(())
    }

    /// One blob column of at most one row.
    pub(super) fn blob(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, SqliteStoreError> {
        Ok(self
            .conn
            .query_row(sql, params, |row| row.get::<_, Vec<u8>>(0))
            .optional()?
            .map(Zeroizing::new))
    }
}
