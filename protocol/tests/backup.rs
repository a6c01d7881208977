//! Encrypted backups: round trips under a recovery code and a password, wrong keys, tampering
//! with every byte, truncation, chunk reordering and swapping, Argon2 downgrades, and a reader
//! written here from the spec with RustCrypto directly (not through `tandem::backup`) that must
//! decrypt what tandem writes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use tandem::backup::{
    AppStateExport, Argon2Params, BACKUP_MAGIC, BackupContents, BackupInfo, BackupLock, BackupOptions,
    BackupUnlock, CreateError, LockInfo, RecoveryCode, RestoreError, create_backup, inspect_backup,
    open_backup, restore_backup, seal_backup,
};
use tandem::history::{ContactName, HistoryItem};

const FLOOR: Argon2Params = Argon2Params::FLOOR;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn contents(messages: usize) -> BackupContents {
    let history = (0..messages)
        .map(|i| HistoryItem {
            chat_id: format!("chat-{}", i % 3),
            sender: if i % 2 == 0 {
                "me".into()
            } else {
                format!("peer-{}", i % 3)
            },
            message_id: format!("m{i}"),
            timestamp_ms: 1_760_000_000_000 + i as u64 * 1000,
            body: format!("message number {i}").into_bytes(),
            media: (i % 5 == 0).then(|| vec![0xEE; 40]),
        })
        .collect();
    BackupContents {
        history,
        contacts: vec![
            ContactName {
                id: "peer-1".into(),
                name: "Bob".into(),
            },
            ContactName {
                id: "peer-2".into(),
                name: "Carol ☕".into(),
            },
        ],
        app_state: vec![
            AppStateExport {
                collection: "regular".into(),
                data: vec![1, 2, 3],
            },
            AppStateExport {
                collection: "critical_block".into(),
                data: vec![],
            },
        ],
    }
}

fn small_chunks() -> BackupOptions {
    BackupOptions { chunk_size: 64 }
}

/// A code-only backup of `contents(messages)` in 64-byte chunks.
fn code_backup(seed: u64, messages: usize) -> (RecoveryCode, BackupContents, Vec<u8>) {
    let mut r = rng(seed);
    let code = RecoveryCode::generate(&mut r);
    let c = contents(messages);
    let backup = create_backup(&mut r, &c, &[BackupLock::RecoveryCode(&code)], &small_chunks()).unwrap();
    (code, c, backup)
}

/// Where the body starts in a backup with these locks (`true` = password).
fn header_len(locks: &[bool]) -> usize {
    8 + 1 + 4 + 1 + locks.iter().map(|&p| if p { 45 } else { 33 }).sum::<usize>() + 48 * locks.len()
}

#[test]
fn round_trip_under_a_recovery_code() {
    let (code, c, backup) = code_backup(1, 40);
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&code)).unwrap(),
        c
    );
    // The code as the user types it back from the screen.
    let typed = RecoveryCode::parse(&code.to_grouped_string().replace(' ', "-")).unwrap();
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&typed)).unwrap(),
        c
    );
    assert_eq!(
        inspect_backup(&backup).unwrap(),
        BackupInfo {
            chunk_size: 64,
            locks: vec![LockInfo::RecoveryCode]
        }
    );
}

#[test]
fn round_trip_under_a_password_and_under_both() {
    let mut r = rng(2);
    let c = contents(25);
    let locks = [BackupLock::Password {
        password: b"correct horse battery staple",
        params: FLOOR,
    }];
    let backup = create_backup(&mut r, &c, &locks, &BackupOptions::default()).unwrap();
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::Password(b"correct horse battery staple")).unwrap(),
        c
    );

    let code = RecoveryCode::generate(&mut r);
    let locks = [
        BackupLock::RecoveryCode(&code),
        BackupLock::Password {
            password: "pässword".as_bytes(),
            params: FLOOR,
        },
    ];
    let backup = create_backup(&mut r, &c, &locks, &small_chunks()).unwrap();
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&code)).unwrap(),
        c
    );
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::Password("pässword".as_bytes())).unwrap(),
        c
    );
    assert_eq!(
        inspect_backup(&backup).unwrap().locks,
        vec![LockInfo::RecoveryCode, LockInfo::Password(FLOOR)]
    );
}

#[test]
fn empty_and_large_contents_round_trip() {
    let mut r = rng(3);
    let code = RecoveryCode::generate(&mut r);
    let lock = [BackupLock::RecoveryCode(&code)];
    let unlock = BackupUnlock::RecoveryCode(&code);
    let empty = BackupContents::default();
    let backup = create_backup(&mut r, &empty, &lock, &BackupOptions::default()).unwrap();
    assert_eq!(backup.len(), header_len(&[false]) + 16, "one empty last chunk");
    assert_eq!(restore_backup(&backup, &unlock).unwrap(), empty);

    // About 2.5 MiB: three 1 MiB chunks.
    let mut big = contents(0);
    big.history = (0..2500)
        .map(|i| HistoryItem {
            chat_id: format!("chat-{}", i % 7),
            sender: "me".into(),
            message_id: format!("{i}"),
            timestamp_ms: i,
            body: vec![(i % 251) as u8; 1000],
            media: None,
        })
        .collect();
    let backup = create_backup(&mut r, &big, &lock, &BackupOptions::default()).unwrap();
    let plain_len = big.encode().len();
    assert_eq!(
        backup.len(),
        header_len(&[false]) + plain_len + 16 * plain_len.div_ceil(1 << 20)
    );
    assert_eq!(restore_backup(&backup, &unlock).unwrap(), big);
}

#[test]
fn wrong_code_or_password_is_wrong_key() {
    let (_, _, backup) = code_backup(4, 10);
    let other = RecoveryCode::generate(&mut rng(99));
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&other)),
        Err(RestoreError::WrongKey)
    );
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::Password(b"a password")),
        Err(RestoreError::NoMatchingLock)
    );

    let mut r = rng(5);
    let locks = [BackupLock::Password {
        password: b"right",
        params: FLOOR,
    }];
    let backup = create_backup(&mut r, &contents(3), &locks, &BackupOptions::default()).unwrap();
    for wrong in [&b"wrong"[..], b"Right", b"right ", b""] {
        assert_eq!(
            restore_backup(&backup, &BackupUnlock::Password(wrong)),
            Err(RestoreError::WrongKey)
        );
    }
    let code = RecoveryCode::generate(&mut r);
    assert_eq!(
        restore_backup(&backup, &BackupUnlock::RecoveryCode(&code)),
        Err(RestoreError::NoMatchingLock)
    );
}

#[test]
fn every_flipped_byte_is_refused() {
    let (code, _, backup) = code_backup(6, 12);
    let unlock = BackupUnlock::RecoveryCode(&code);
    let header_end = header_len(&[false]);
    assert!(backup.len() > header_end + 4 * 80, "several chunks");
    for i in 0..backup.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bad = backup.clone();
            bad[i] ^= mask;
            let err = open_backup(&bad, &unlock).expect_err("a flipped byte must be refused");
            let allowed: &[RestoreError] = match i {
                0..8 => &[RestoreError::NotABackup],
                8 => &[RestoreError::UnknownVersion(1 ^ mask)],
                // The chunk size: out of range, or another size the wrap's associated data
                // does not match.
                9..13 => &[RestoreError::Malformed, RestoreError::WrongKey],
                13 | 14 => &[RestoreError::Malformed],
                _ if i < header_end => &[RestoreError::WrongKey],
                _ => &[RestoreError::Tampered],
            };
            assert!(allowed.contains(&err), "byte {i} ^ {mask:#x}: {err:?}");
        }
    }
}

#[test]
fn a_change_to_an_unused_lock_fails_the_body() {
    let mut r = rng(7);
    let code = RecoveryCode::generate(&mut r);
    let locks = [
        BackupLock::RecoveryCode(&code),
        BackupLock::Password {
            password: b"pw",
            params: FLOOR,
        },
    ];
    let backup = create_backup(&mut r, &contents(5), &locks, &small_chunks()).unwrap();
    let unlock = BackupUnlock::RecoveryCode(&code);
    // The password lock's wrapped key: the code lock still opens, the header hash differs.
    let mut bad = backup.clone();
    bad[header_len(&[false, true]) - 1] ^= 1;
    assert_eq!(open_backup(&bad, &unlock), Err(RestoreError::Tampered));
    // The password lock's salt is in every wrap's associated data.
    let mut bad = backup.clone();
    bad[14 + 33 + 13 + 5] ^= 1;
    assert_eq!(open_backup(&bad, &unlock), Err(RestoreError::WrongKey));
}

/// The sealed chunks of a backup with one code lock and 64-byte chunks.
fn chunks(backup: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (header, body) = backup.split_at(header_len(&[false]));
    (
        header.to_vec(),
        body.chunks(64 + 16).map(<[u8]>::to_vec).collect(),
    )
}

#[test]
fn truncation_is_refused_and_whole_chunks_cut_are_truncated() {
    let (code, _, backup) = code_backup(8, 12);
    let unlock = BackupUnlock::RecoveryCode(&code);
    for n in 0..backup.len() {
        assert!(open_backup(&backup[..n], &unlock).is_err(), "prefix of {n} bytes");
    }
    let (header, sealed) = chunks(&backup);
    for keep in 1..sealed.len() {
        let cut: Vec<u8> = header
            .iter()
            .chain(sealed[..keep].iter().flatten())
            .copied()
            .collect();
        assert_eq!(
            open_backup(&cut, &unlock),
            Err(RestoreError::Truncated),
            "{keep} chunks kept"
        );
    }
    assert_eq!(open_backup(&header, &unlock), Err(RestoreError::Truncated));
    assert_eq!(open_backup(&header[..20], &unlock), Err(RestoreError::Truncated));
}

#[test]
fn reordered_repeated_appended_or_swapped_chunks_are_refused() {
    let (code, _, backup) = code_backup(9, 12);
    let unlock = BackupUnlock::RecoveryCode(&code);
    let (header, sealed) = chunks(&backup);
    let join = |parts: Vec<&Vec<u8>>| -> Vec<u8> {
        header
            .iter()
            .chain(parts.into_iter().flatten())
            .copied()
            .collect()
    };
    let n = sealed.len();
    assert!(n >= 4);
    let mut swapped: Vec<&Vec<u8>> = sealed.iter().collect();
    swapped.swap(1, 2);
    assert_eq!(open_backup(&join(swapped), &unlock), Err(RestoreError::Tampered));
    let mut repeated: Vec<&Vec<u8>> = sealed.iter().collect();
    repeated[2] = &sealed[1];
    assert_eq!(open_backup(&join(repeated), &unlock), Err(RestoreError::Tampered));
    let mut appended: Vec<&Vec<u8>> = sealed.iter().collect();
    appended.push(&sealed[n - 1]);
    assert_eq!(open_backup(&join(appended), &unlock), Err(RestoreError::Tampered));
    let mut dropped: Vec<&Vec<u8>> = sealed.iter().collect();
    dropped.remove(1);
    assert_eq!(open_backup(&join(dropped), &unlock), Err(RestoreError::Tampered));
    assert!(open_backup(&join(sealed.iter().collect()), &unlock).is_ok());

    // The same contents under the same code, another backup (another backup key): its chunk 1
    // does not open in this one.
    let mut r = rng(10);
    let other = create_backup(
        &mut r,
        &contents(12),
        &[BackupLock::RecoveryCode(&code)],
        &small_chunks(),
    )
    .unwrap();
    let (_, other_sealed) = chunks(&other);
    let mut mixed: Vec<&Vec<u8>> = sealed.iter().collect();
    mixed[1] = &other_sealed[1];
    assert_eq!(open_backup(&join(mixed), &unlock), Err(RestoreError::Tampered));
}

/// Rewrites the Argon2 costs of the password lock of a backup whose only lock is a password.
fn with_params(backup: &[u8], params: Argon2Params) -> Vec<u8> {
    let mut out = backup.to_vec();
    out[15..19].copy_from_slice(&params.m_cost_kib.to_le_bytes());
    out[19..23].copy_from_slice(&params.t_cost.to_le_bytes());
    out[23..27].copy_from_slice(&params.p_cost.to_le_bytes());
    out
}

#[test]
fn argon2_downgrade_and_hostile_costs_are_refused_before_any_work() {
    let mut r = rng(11);
    let locks = [BackupLock::Password {
        password: b"pw",
        params: FLOOR,
    }];
    let backup = create_backup(&mut r, &contents(3), &locks, &BackupOptions::default()).unwrap();
    let unlock = BackupUnlock::Password(b"pw");
    assert!(open_backup(&backup, &unlock).is_ok());
    assert_eq!(with_params(&backup, FLOOR)[..], backup[..]);
    for weak in [
        Argon2Params {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        },
        Argon2Params {
            m_cost_kib: FLOOR.m_cost_kib - 1,
            ..FLOOR
        },
        Argon2Params { t_cost: 1, ..FLOOR },
        Argon2Params { p_cost: 0, ..FLOOR },
    ] {
        assert_eq!(
            open_backup(&with_params(&backup, weak), &unlock),
            Err(RestoreError::WeakParams)
        );
    }
    // 4 GiB, or a billion passes: refused at once (this test would not finish otherwise).
    for costly in [
        Argon2Params {
            m_cost_kib: u32::MAX,
            ..FLOOR
        },
        Argon2Params {
            t_cost: 1_000_000_000,
            ..FLOOR
        },
        Argon2Params { p_cost: 255, ..FLOOR },
    ] {
        assert_eq!(
            open_backup(&with_params(&backup, costly), &unlock),
            Err(RestoreError::ParamsTooCostly)
        );
    }
    // Within bounds but not what the backup was made with: the key differs.
    let raised = Argon2Params { t_cost: 3, ..FLOOR };
    assert_eq!(
        open_backup(&with_params(&backup, raised), &unlock),
        Err(RestoreError::WrongKey)
    );

    // Nor can weak parameters be written.
    let weak = [BackupLock::Password {
        password: b"pw",
        params: Argon2Params { t_cost: 1, ..FLOOR },
    }];
    assert!(matches!(
        seal_backup(&mut r, b"x", &weak, &BackupOptions::default()),
        Err(CreateError::Params(_))
    ));
}

#[test]
fn version_magic_and_creation_refusals() {
    let (code, _, backup) = code_backup(12, 3);
    let unlock = BackupUnlock::RecoveryCode(&code);
    let mut v2 = backup.clone();
    v2[8] = 2;
    assert_eq!(open_backup(&v2, &unlock), Err(RestoreError::UnknownVersion(2)));
    assert_eq!(open_backup(b"PK\x03\x04", &unlock), Err(RestoreError::NotABackup));
    assert_eq!(
        open_backup(&BACKUP_MAGIC[..5], &unlock),
        Err(RestoreError::Truncated)
    );
    assert_eq!(open_backup(b"", &unlock), Err(RestoreError::Truncated));

    struct NoDraws;
    impl rand_chacha::rand_core::TryRng for NoDraws {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            panic!("drew randomness")
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            panic!("drew randomness")
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
            panic!("drew randomness")
        }
    }
    impl rand_chacha::rand_core::TryCryptoRng for NoDraws {}
    let opts = BackupOptions::default();
    let c = BackupLock::RecoveryCode(&code);
    assert_eq!(
        seal_backup(&mut NoDraws, b"x", &[], &opts),
        Err(CreateError::NoLock)
    );
    assert_eq!(
        seal_backup(&mut NoDraws, b"x", &[c; 5], &opts),
        Err(CreateError::TooManyLocks)
    );
    assert_eq!(
        seal_backup(
            &mut NoDraws,
            b"x",
            &[BackupLock::Password {
                password: b"",
                params: FLOOR
            }],
            &opts
        ),
        Err(CreateError::EmptyPassword)
    );
    for chunk_size in [0, 63, (16 << 20) + 1] {
        assert_eq!(
            seal_backup(&mut NoDraws, b"x", &[c], &BackupOptions { chunk_size }),
            Err(CreateError::BadChunkSize)
        );
    }
}

#[test]
fn secrets_are_not_printed() {
    let code = RecoveryCode::generate(&mut rng(13));
    let digits = std::str::from_utf8(code.digits()).unwrap().to_owned();
    let printed = format!(
        "{code:?} {:?} {:?}",
        BackupUnlock::RecoveryCode(&code),
        BackupUnlock::Password(b"hunter2")
    );
    assert!(
        !printed.contains(&digits[..8]) && !printed.contains("hunter2"),
        "{printed}"
    );
}

// ---- An independent reader, from spec/10-backup.md, with RustCrypto directly ----

fn gcm_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    Aes256Gcm::new(key.into())
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .ok()
}

/// Decrypts a backup with one recovery-code lock, reading the header by its offsets.
fn independent_open(backup: &[u8], digits: &[u8]) -> Option<Vec<u8>> {
    let mut r = backup;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (a, b) = r.split_at_checked(n)?;
        r = b;
        Some(a)
    };
    assert_eq!(take(8)?, b"TANDEMBK");
    assert_eq!(take(1)?, [1]);
    let chunk_size = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    assert_eq!(take(1)?, [1], "one lock");
    assert_eq!(take(1)?, [1], "a recovery-code lock");
    let salt = take(32)?.to_vec();
    let wrapped = take(48)?.to_vec();
    let header = &backup[..47 + 48];
    let descriptor = &backup[..47];

    let mut kek = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(&salt), digits)
        .expand(b"tandem backup recovery code v1", &mut kek)
        .ok()?;
    let mut aad = descriptor.to_vec();
    aad.push(0);
    let backup_key: [u8; 32] = gcm_open(&kek, &[0; 12], &aad, &wrapped)?.try_into().ok()?;

    let header_hash: [u8; 32] = Sha256::digest(header).into();
    let body = &backup[header.len()..];
    let sealed: Vec<&[u8]> = body.chunks(chunk_size + 16).collect();
    let mut out = Vec::new();
    for (i, chunk) in sealed.iter().enumerate() {
        let mut nonce = [0u8; 12];
        nonce[7..11].copy_from_slice(&(i as u32).to_be_bytes());
        nonce[11] = u8::from(i + 1 == sealed.len());
        out.extend(gcm_open(&backup_key, &nonce, &header_hash, chunk)?);
    }
    Some(out)
}

#[test]
fn an_independent_reader_decrypts_what_tandem_writes() {
    for (seed, messages, chunk_size) in [(20, 0, 64), (21, 7, 64), (22, 30, 100), (23, 50, 1 << 20)] {
        let mut r = rng(seed);
        let code = RecoveryCode::generate(&mut r);
        let c = contents(messages);
        let backup = create_backup(
            &mut r,
            &c,
            &[BackupLock::RecoveryCode(&code)],
            &BackupOptions { chunk_size },
        )
        .unwrap();
        let plain = independent_open(&backup, code.digits()).expect("the independent reader opens it");
        assert_eq!(plain, *c.encode());
        assert_eq!(BackupContents::decode(&plain).unwrap(), c);
    }
}
