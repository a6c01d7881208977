//! The `argon2id` and `backup` kinds.
//!
//! `argon2id` (RFC 9106, version 0x13, Argon2id): `password`, `salt`, `secret`, `ad` (hex, may
//! be empty), `m_cost_kib`, `t_cost`, `p_cost` (numbers), `tag` (32 bytes). Valid cases only:
//! `tandem::backup::argon2id` must give `tag`.
//!
//! `backup` (`spec/10-backup.md`): one encrypted backup and how to open it.
//!
//! | field | meaning |
//! |---|---|
//! | `unlock` | `"recovery-code"` or `"password"`: what the restore offers |
//! | `code` | the recovery code (as displayed, groups of 4), when a code lock exists or is offered |
//! | `password` | the password (UTF-8), when a password lock exists or is offered |
//! | `backup` | the backup bytes |
//! | valid cases also: | |
//! | `code_draws` | optional: the 64-byte random draws that generated `code` (rejection sampling) |
//! | `backup_key` | the random backup key (32 bytes; the first draw) |
//! | `chunk_size` | plaintext bytes per chunk |
//! | `locks` | each lock in header order: `kind` (`recovery-code` / `password`), `salt` (32 bytes, drawn after the key, in lock order), `kek` (the key-encryption key), and for passwords `m_cost_kib`, `t_cost`, `p_cost` |
//! | `plaintext` | the body's plaintext (the `BackupContents` protobuf) |
//!
//! A valid case is checked three ways: (1) tandem's `seal_backup`, handed `backup_key` and the
//! salts as its random draws, must write `backup` byte for byte (and `RecoveryCode::generate`
//! fed `code_draws` must give `code`); (2) the checker reads `backup` by the spec's offsets and
//! recomputes every field from the primitives alone (HKDF-SHA256 and Argon2id for each `kek`,
//! AES-256-GCM unwrap to `backup_key`, SHA-256 of the header, each chunk opened with its
//! STREAM nonce) without calling the backup module; (3) `open_backup` with the offered key
//! must give `plaintext`, and `restore_backup` must accept it. An invalid case passes when
//! `open_backup` fails with exactly `error` (`WrongKey`, `Tampered`, `Truncated`, `WeakParams`,
//! `ParamsTooCostly`, `UnknownVersion`, `NotABackup`, `Malformed`, `NoMatchingLock`).

use std::convert::Infallible;

use rand_core::{TryCryptoRng, TryRng};
use serde::Deserialize;
use tandem::backup::{
    Argon2Params, BackupContents, BackupLock, BackupOptions, BackupUnlock, RECOVERY_CODE_INFO, RecoveryCode,
    argon2id, open_backup, restore_backup, seal_backup,
};
use tandem::crypto::{aes256_gcm_open, hkdf_sha256, sha256};

use super::{Hex, fields, outcome, same, valid_only};
use crate::file::{Case, Expect};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Argon2idCase {
    password: Hex,
    salt: Hex,
    secret: Hex,
    ad: Hex,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    tag: Hex,
}

/// Checks an `argon2id` case.
pub fn argon2id_case(case: &Case) -> Result<(), String> {
    valid_only(case)?;
    let c: Argon2idCase = fields(case)?;
    let params = Argon2Params {
        m_cost_kib: c.m_cost_kib,
        t_cost: c.t_cost,
        p_cost: c.p_cost,
    };
    let tag = argon2id(&c.password.0, &c.salt.0, &params, &c.secret.0, &c.ad.0)
        .map_err(|e| format!("argon2id refused: {e:?}"))?;
    same("tag", tag.expose(), &c.tag.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupCase {
    unlock: String,
    code: Option<String>,
    password: Option<String>,
    backup: Hex,
    code_draws: Option<Vec<Hex>>,
    backup_key: Option<Hex>,
    chunk_size: Option<u32>,
    locks: Option<Vec<LockFields>>,
    plaintext: Option<Hex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFields {
    kind: String,
    salt: Hex,
    kek: Hex,
    m_cost_kib: Option<u32>,
    t_cost: Option<u32>,
    p_cost: Option<u32>,
}

impl LockFields {
    fn params(&self) -> Result<Argon2Params, String> {
        match (self.m_cost_kib, self.t_cost, self.p_cost) {
            (Some(m_cost_kib), Some(t_cost), Some(p_cost)) => Ok(Argon2Params {
                m_cost_kib,
                t_cost,
                p_cost,
            }),
            _ => Err("a password lock needs `m_cost_kib`, `t_cost` and `p_cost`".into()),
        }
    }
}

/// Checks a `backup` case.
pub fn backup_case(case: &Case) -> Result<(), String> {
    let c: BackupCase = fields(case)?;
    let code = c
        .code
        .as_deref()
        .map(RecoveryCode::parse)
        .transpose()
        .map_err(|e| format!("`code` is not a recovery code: {e}"))?;
    let password = c.password.as_deref().map(str::as_bytes);
    let unlock = match (c.unlock.as_str(), &code, password) {
        ("recovery-code", Some(code), _) => BackupUnlock::RecoveryCode(code),
        ("password", _, Some(p)) => BackupUnlock::Password(p),
        _ => {
            return Err(
                "`unlock` must be `recovery-code` (with `code`) or `password` (with `password`)".into(),
            );
        }
    };
    let result = open_backup(&c.backup.0, &unlock);
    outcome(case, result, |plain| {
        let want = need(&c.plaintext, "plaintext")?;
        same("plaintext (open_backup)", &plain, &want.0)?;
        restore_backup(&c.backup.0, &unlock).map_err(|e| format!("restore_backup refused: {e:?}"))?;
        let contents = BackupContents::decode(&plain).map_err(|e| format!("plaintext: {e:?}"))?;
        same("plaintext re-encoded", &contents.encode(), &want.0)?;
        check_generation(&c, code.as_ref(), password)?;
        check_independently(&c, code.as_ref(), password)
    })?;
    if matches!(case.expect, Expect::Invalid { .. })
        && (c.backup_key.is_some() || c.locks.is_some() || c.plaintext.is_some() || c.code_draws.is_some())
    {
        return Err("an invalid case has only `unlock`, `code`, `password` and `backup`".into());
    }
    Ok(())
}

fn need<'a, T>(value: &'a Option<T>, field: &str) -> Result<&'a T, String> {
    value.as_ref().ok_or(format!("a valid case needs `{field}`"))
}

/// (1) tandem, handed the recorded draws, writes the same code and the same bytes.
fn check_generation(
    c: &BackupCase,
    code: Option<&RecoveryCode>,
    password: Option<&[u8]>,
) -> Result<(), String> {
    if let Some(draws) = &c.code_draws {
        let code = code.ok_or("`code_draws` without `code`")?;
        let mut rng = Scripted::new(draws.iter().map(|h| h.0.as_slice()).collect());
        let generated = RecoveryCode::generate(&mut rng);
        rng.finish()?;
        if &generated != code {
            return Err(format!(
                "code_draws give {}, not the recorded code",
                generated.to_grouped_string().as_str()
            ));
        }
    }
    let locks_fields = need(&c.locks, "locks")?;
    let mut draws = vec![need(&c.backup_key, "backup_key")?.0.as_slice()];
    let mut locks = Vec::new();
    for lock in locks_fields {
        draws.push(lock.salt.0.as_slice());
        locks.push(match lock.kind.as_str() {
            "recovery-code" => BackupLock::RecoveryCode(code.ok_or("a code lock needs `code`")?),
            "password" => BackupLock::Password {
                password: password.ok_or("a password lock needs `password`")?,
                params: lock.params()?,
            },
            other => return Err(format!("unknown lock kind `{other}`")),
        });
    }
    let options = BackupOptions {
        chunk_size: *need(&c.chunk_size, "chunk_size")?,
    };
    let mut rng = Scripted::new(draws);
    let made = seal_backup(&mut rng, &need(&c.plaintext, "plaintext")?.0, &locks, &options)
        .map_err(|e| format!("seal_backup refused: {e:?}"))?;
    rng.finish()?;
    same("backup (seal_backup with the recorded draws)", &made, &c.backup.0)
}

/// (2) Every field recomputed from the primitives, reading the bytes by the spec's offsets.
fn check_independently(
    c: &BackupCase,
    code: Option<&RecoveryCode>,
    password: Option<&[u8]>,
) -> Result<(), String> {
    let locks = need(&c.locks, "locks")?;
    let backup = c.backup.0.as_slice();
    let mut at = 0usize;
    fn read<'a>(backup: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], String> {
        let got = backup.get(*at..*at + n).ok_or("backup shorter than its header")?;
        *at += n;
        Ok(got)
    }
    same("magic", read(backup, &mut at, 8)?, b"TANDEMBK")?;
    same("version", read(backup, &mut at, 1)?, &[1])?;
    let chunk_size = u32::from_le_bytes(read(backup, &mut at, 4)?.try_into().map_err(|_| "chunk size")?);
    if Some(chunk_size) != c.chunk_size {
        return Err(format!(
            "header chunk size {chunk_size}, case says {:?}",
            c.chunk_size
        ));
    }
    same(
        "lock count",
        read(backup, &mut at, 1)?,
        &[u8::try_from(locks.len()).map_err(|_| "too many locks")?],
    )?;
    for lock in locks {
        match lock.kind.as_str() {
            "recovery-code" => same("lock kind", read(backup, &mut at, 1)?, &[1])?,
            _ => {
                same("lock kind", read(backup, &mut at, 1)?, &[2])?;
                let p = lock.params()?;
                same("m", read(backup, &mut at, 4)?, &p.m_cost_kib.to_le_bytes())?;
                same("t", read(backup, &mut at, 4)?, &p.t_cost.to_le_bytes())?;
                same("p", read(backup, &mut at, 4)?, &p.p_cost.to_le_bytes())?;
            }
        }
        same("salt", read(backup, &mut at, 32)?, &lock.salt.0)?;
    }
    let descriptor_len = at;
    let mut wrapped = Vec::new();
    for _ in locks {
        wrapped.push(read(backup, &mut at, 48)?.to_vec());
    }
    let header_len = at;
    let descriptor = backup.get(..descriptor_len).ok_or("descriptor")?;
    let backup_key: [u8; 32] = need(&c.backup_key, "backup_key")?.array("backup_key")?;
    for (index, (lock, wrapped)) in locks.iter().zip(&wrapped).enumerate() {
        let kek = match lock.kind.as_str() {
            "recovery-code" => {
                let code = code.ok_or("a code lock needs `code`")?;
                hkdf_sha256::<32>(code.digits(), &lock.salt.0, RECOVERY_CODE_INFO)
                    .map_err(|e| format!("{e:?}"))?
            }
            _ => argon2id(
                password.ok_or("no password")?,
                &lock.salt.0,
                &lock.params()?,
                &[],
                &[],
            )
            .map_err(|e| format!("{e:?}"))?,
        };
        same(&format!("lock {index} kek"), kek.expose(), &lock.kek.0)?;
        let mut aad = descriptor.to_vec();
        aad.push(u8::try_from(index).map_err(|_| "index")?);
        let unwrapped = aes256_gcm_open(&kek, &[0; 12], &aad, wrapped)
            .map_err(|_| format!("lock {index}: the kek does not unwrap"))?;
        same(&format!("lock {index} unwrapped key"), &unwrapped, &backup_key)?;
    }
    let header_hash = sha256(&[backup.get(..header_len).ok_or("header")?]);
    let body = backup.get(header_len..).ok_or("body")?;
    let full = usize::try_from(chunk_size).map_err(|_| "chunk size")? + 16;
    let count = body.len().div_ceil(full).max(1);
    let key = tandem::crypto::Secret::new(backup_key);
    let mut plain = Vec::new();
    for (i, sealed) in body.chunks(full).enumerate() {
        let index = u32::try_from(i).map_err(|_| "index")?.to_be_bytes();
        let last = u8::from(i + 1 == count);
        let nonce = [0, 0, 0, 0, 0, 0, 0, index[0], index[1], index[2], index[3], last];
        plain.extend(
            aes256_gcm_open(&key, &nonce, &header_hash, sealed)
                .map_err(|_| format!("chunk {i} does not open"))?,
        );
    }
    same(
        "plaintext (independent)",
        &plain,
        &need(&c.plaintext, "plaintext")?.0,
    )
}

/// Hands tandem the recorded draws, in order; any other draw is a failure.
struct Scripted<'a> {
    draws: Vec<&'a [u8]>,
    next: usize,
    misuse: Option<String>,
}

impl<'a> Scripted<'a> {
    fn new(draws: Vec<&'a [u8]>) -> Self {
        Self {
            draws,
            next: 0,
            misuse: None,
        }
    }

    fn finish(self) -> Result<(), String> {
        if let Some(why) = self.misuse {
            return Err(why);
        }
        if self.next != self.draws.len() {
            return Err(format!(
                "tandem drew {} of the {} recorded random values",
                self.next,
                self.draws.len()
            ));
        }
        Ok(())
    }
}

impl TryRng for Scripted<'_> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misuse.get_or_insert("tandem asked for a u32".into());
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misuse.get_or_insert("tandem asked for a u64".into());
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match self.draws.get(self.next) {
            Some(bytes) if bytes.len() == dst.len() => {
                dst.copy_from_slice(bytes);
                self.next += 1;
            }
            _ => {
                self.misuse.get_or_insert(format!(
                    "tandem drew {} random bytes as draw #{}, which the case does not record",
                    dst.len(),
                    self.next
                ));
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for Scripted<'_> {}

/// Writes `test-vectors/backup/backup-seed-1.json`:
/// `cargo test -p tandem-vectors --lib -- --ignored write_backup_vectors`.
#[cfg(test)]
mod generate {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use serde_json::{Value, json};
    use tandem::backup::{AppStateExport, create_backup};
    use tandem::history::{ContactName, HistoryItem};

    use super::*;

    /// Records every draw of the inner generator.
    struct Recording {
        inner: ChaCha20Rng,
        draws: Vec<Vec<u8>>,
    }

    impl TryRng for Recording {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            unimplemented!("tandem draws bytes")
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            unimplemented!("tandem draws bytes")
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            self.inner.fill_bytes(dst);
            self.draws.push(dst.to_vec());
            Ok(())
        }
    }

    impl TryCryptoRng for Recording {}

    fn contents(messages: usize) -> BackupContents {
        BackupContents {
            history: (0..messages)
                .map(|i| HistoryItem {
                    chat_id: format!("alice.{}@tandem", i % 2),
                    sender: if i % 3 == 0 {
                        "me".into()
                    } else {
                        format!("alice.{}@tandem", i % 2)
                    },
                    message_id: format!("3EB0{i:04}"),
                    timestamp_ms: 1_760_000_000_000 + i as u64 * 61_000,
                    body: format!("message {i}").into_bytes(),
                    media: (i == 1).then(|| vec![0x0A, 0x03, 0x01, 0x02, 0x03]),
                })
                .collect(),
            contacts: vec![ContactName {
                id: "alice.0@tandem".into(),
                name: "Alice".into(),
            }],
            app_state: vec![AppStateExport {
                collection: "regular".into(),
                data: vec![0x08, 0x01],
            }],
        }
    }

    const PASSWORD: &str = "correct horse battery staple";

    /// Makes one backup recording its draws; returns the case fields.
    fn make(
        rng: &mut Recording,
        contents: &BackupContents,
        code: &RecoveryCode,
        with: &[&str],
        params: Argon2Params,
        chunk_size: u32,
    ) -> (Vec<u8>, Value) {
        let locks: Vec<BackupLock<'_>> = with
            .iter()
            .map(|k| match *k {
                "recovery-code" => BackupLock::RecoveryCode(code),
                _ => BackupLock::Password {
                    password: PASSWORD.as_bytes(),
                    params,
                },
            })
            .collect();
        rng.draws.clear();
        let backup = create_backup(rng, contents, &locks, &BackupOptions { chunk_size }).unwrap();
        let draws = std::mem::take(&mut rng.draws);
        let locks: Vec<Value> = with
            .iter()
            .zip(&draws[1..])
            .map(|(kind, salt)| {
                if *kind == "recovery-code" {
                    let kek = hkdf_sha256::<32>(code.digits(), salt, RECOVERY_CODE_INFO).unwrap();
                    json!({"kind": kind, "salt": hex::encode(salt), "kek": hex::encode(kek.expose())})
                } else {
                    let kek = argon2id(PASSWORD.as_bytes(), salt, &params, &[], &[]).unwrap();
                    json!({"kind": kind, "salt": hex::encode(salt), "kek": hex::encode(kek.expose()),
                        "m_cost_kib": params.m_cost_kib, "t_cost": params.t_cost, "p_cost": params.p_cost})
                }
            })
            .collect();
        let fields = json!({
            "backup_key": hex::encode(&draws[0]),
            "chunk_size": chunk_size,
            "locks": locks,
            "plaintext": hex::encode(contents.encode().as_slice()),
            "backup": hex::encode(&backup),
        });
        (backup, fields)
    }

    fn valid(
        id: &str,
        comment: &str,
        unlock: &str,
        code: Option<&str>,
        password: bool,
        mut fields: Value,
    ) -> Value {
        let obj = fields.as_object_mut().unwrap();
        obj.insert("id".into(), json!(id));
        obj.insert("comment".into(), json!(comment));
        obj.insert("expect".into(), json!("valid"));
        obj.insert("unlock".into(), json!(unlock));
        if let Some(code) = code {
            obj.insert("code".into(), json!(code));
        }
        if password {
            obj.insert("password".into(), json!(PASSWORD));
        }
        fields
    }

    fn invalid(id: &str, comment: &str, error: &str, unlock: &str, secret: &str, backup: &[u8]) -> Value {
        let key = if unlock == "password" { "password" } else { "code" };
        json!({"id": id, "comment": comment, "expect": "invalid", "error": error,
            "unlock": unlock, key: secret, "backup": hex::encode(backup)})
    }

    fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out[at] ^= 0x01;
        out
    }

    pub(super) fn file(seed: u64) -> Value {
        let mut rng = Recording {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: Vec::new(),
        };
        let code = RecoveryCode::generate(&mut rng);
        let code_draws: Vec<String> = rng.draws.iter().map(hex::encode).collect();
        let shown = code.to_grouped_string().to_string();
        let other_code = RecoveryCode::generate(&mut rng).to_grouped_string().to_string();
        let floor = Argon2Params::FLOOR;
        let c = contents(4);

        let mut cases = Vec::new();
        let (code_only, mut f) = make(&mut rng, &c, &code, &["recovery-code"], floor, 64);
        f.as_object_mut()
            .unwrap()
            .insert("code_draws".into(), json!(code_draws));
        cases.push(valid(
            "code",
            "one recovery-code lock, 64-byte chunks",
            "recovery-code",
            Some(&shown),
            false,
            f,
        ));
        let (pw_only, f) = make(&mut rng, &c, &code, &["password"], floor, 1 << 20);
        cases.push(valid(
            "password",
            "one password lock at the Argon2 floor",
            "password",
            None,
            true,
            f,
        ));
        let (both, f) = make(&mut rng, &c, &code, &["recovery-code", "password"], floor, 128);
        cases.push(valid(
            "both-by-code",
            "code and password locks, opened by the code",
            "recovery-code",
            Some(&shown),
            true,
            f.clone(),
        ));
        cases.push(valid(
            "both-by-password",
            "the same backup, opened by the password",
            "password",
            Some(&shown),
            true,
            f,
        ));
        let (_, f) = make(
            &mut rng,
            &BackupContents::default(),
            &code,
            &["recovery-code"],
            floor,
            64,
        );
        cases.push(valid(
            "empty",
            "empty contents: one empty last chunk",
            "recovery-code",
            Some(&shown),
            false,
            f,
        ));

        // Offsets in `code_only`: descriptor 0..47 (salt 15..47), wrap 47..95, body 95.. in 80-byte chunks.
        let body = 95;
        let n_chunks = (code_only.len() - body).div_ceil(80);
        cases.push(invalid(
            "wrong-code",
            "another code",
            "WrongKey",
            "recovery-code",
            &other_code,
            &code_only,
        ));
        cases.push(invalid(
            "wrong-password",
            "",
            "WrongKey",
            "password",
            "Correct horse battery staple",
            &pw_only,
        ));
        cases.push(invalid(
            "no-password-lock",
            "a password for a code-only backup",
            "NoMatchingLock",
            "password",
            PASSWORD,
            &code_only,
        ));
        cases.push(invalid(
            "flip-magic",
            "",
            "NotABackup",
            "recovery-code",
            &shown,
            &flip(&code_only, 0),
        ));
        cases.push(invalid(
            "flip-version",
            "",
            "UnknownVersion",
            "recovery-code",
            &shown,
            &flip(&code_only, 8),
        ));
        cases.push(invalid(
            "flip-salt",
            "a bit of the lock's salt",
            "WrongKey",
            "recovery-code",
            &shown,
            &flip(&code_only, 20),
        ));
        cases.push(invalid(
            "flip-wrap",
            "a bit of the wrapped key",
            "WrongKey",
            "recovery-code",
            &shown,
            &flip(&code_only, 60),
        ));
        cases.push(invalid(
            "flip-body-first",
            "a bit of the first chunk",
            "Tampered",
            "recovery-code",
            &shown,
            &flip(&code_only, body + 3),
        ));
        cases.push(invalid(
            "flip-body-tag",
            "a bit of the last chunk's tag",
            "Tampered",
            "recovery-code",
            &shown,
            &flip(&code_only, code_only.len() - 1),
        ));
        let unused_wrap = 14 + 33 + 45 + 48 + 10;
        cases.push(invalid(
            "flip-unused-lock",
            "a bit of the password lock's wrap, opened by the code: the header hash in every chunk",
            "Tampered",
            "recovery-code",
            &shown,
            &flip(&both, unused_wrap),
        ));
        cases.push(invalid(
            "truncated-chunk",
            "the last whole chunk cut off",
            "Truncated",
            "recovery-code",
            &shown,
            &code_only[..body + (n_chunks - 1) * 80],
        ));
        cases.push(invalid(
            "truncated-mid-chunk",
            "cut inside the last chunk",
            "Tampered",
            "recovery-code",
            &shown,
            &code_only[..code_only.len() - 5],
        ));
        cases.push(invalid(
            "truncated-header",
            "cut inside the wrapped key",
            "Truncated",
            "recovery-code",
            &shown,
            &code_only[..70],
        ));
        cases.push(invalid(
            "truncated-body-empty",
            "the header alone",
            "Truncated",
            "recovery-code",
            &shown,
            &code_only[..body],
        ));
        let mut swapped = code_only.clone();
        let (a, b) = (body, body + 80);
        let first: Vec<u8> = code_only[a..b].to_vec();
        swapped[a..b].copy_from_slice(&code_only[b..b + 80]);
        swapped[b..b + 80].copy_from_slice(&first);
        cases.push(invalid(
            "chunks-swapped",
            "chunks 0 and 1 exchanged",
            "Tampered",
            "recovery-code",
            &shown,
            &swapped,
        ));
        let mut appended = code_only.clone();
        appended.extend_from_slice(&code_only[body..body + 80]);
        cases.push(invalid(
            "chunk-appended",
            "chunk 0 again after the last",
            "Tampered",
            "recovery-code",
            &shown,
            &appended,
        ));
        let with_params = |p: Argon2Params| {
            let mut out = pw_only.clone();
            out[15..19].copy_from_slice(&p.m_cost_kib.to_le_bytes());
            out[19..23].copy_from_slice(&p.t_cost.to_le_bytes());
            out[23..27].copy_from_slice(&p.p_cost.to_le_bytes());
            out
        };
        cases.push(invalid(
            "weak-memory",
            "m one below the floor (a downgrade): refused before Argon2 runs",
            "WeakParams",
            "password",
            PASSWORD,
            &with_params(Argon2Params {
                m_cost_kib: floor.m_cost_kib - 1,
                ..floor
            }),
        ));
        cases.push(invalid(
            "weak-passes",
            "t = 1",
            "WeakParams",
            "password",
            PASSWORD,
            &with_params(Argon2Params { t_cost: 1, ..floor }),
        ));
        cases.push(invalid(
            "costly-memory",
            "m = 4 GiB: refused, nothing allocated",
            "ParamsTooCostly",
            "password",
            PASSWORD,
            &with_params(Argon2Params {
                m_cost_kib: u32::MAX,
                ..floor
            }),
        ));
        cases.push(invalid(
            "raised-passes",
            "t = 3, within bounds: another key",
            "WrongKey",
            "password",
            PASSWORD,
            &with_params(Argon2Params { t_cost: 3, ..floor }),
        ));
        let mut small_chunk = code_only.clone();
        small_chunk[9..13].copy_from_slice(&63u32.to_le_bytes());
        cases.push(invalid(
            "chunk-size-too-small",
            "",
            "Malformed",
            "recovery-code",
            &shown,
            &small_chunk,
        ));
        json!({
            "kind": "backup",
            "source": format!("tandem {} (ChaCha20 seed {seed}); valid cases also decrypted by test-vectors/backup/check-backup.js with node:crypto", env!("CARGO_PKG_VERSION")),
            "description": "Encrypted backups (spec/10-backup.md): every random draw, key-encryption key and the plaintext written out; invalid cases are altered copies.",
            "cases": cases,
        })
    }

    #[test]
    #[ignore = "writes the vector file"]
    fn write_backup_vectors() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("backup/backup-seed-1.json");
        let text = serde_json::to_string_pretty(&file(1)).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
    }
}
