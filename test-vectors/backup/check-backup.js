// Decrypts the valid cases of a `backup` vector file with node:crypto alone, from the byte
// layout in spec/10-backup.md: no tandem code involved.
//
//   node test-vectors/backup/check-backup.js test-vectors/backup/backup-seed-1.json
//
// For each valid case: reads the header by its offsets; for a recovery-code lock derives the
// key-encryption key with HKDF-SHA256 (Node 20 has no Argon2id, so a password lock's kek is
// taken from the case and only its unwrap is checked); unwraps the backup key with AES-256-GCM
// and compares it with `backup_key`; opens every chunk with its STREAM nonce and the SHA-256 of
// the header, and compares the result with `plaintext`. For invalid cases that are offered a
// code, checks that they fail somewhere in the same procedure. Exits 1 on any mismatch.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

const file = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (file.kind !== 'backup') throw new Error('not a backup vector file');

function gcmOpen(key, nonce, aad, sealed) {
  const d = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

// Returns {backupKey, plaintext} or throws.
function open(backup, unlock, code, kekOf) {
  let at = 0;
  const take = (n) => {
    if (at + n > backup.length) throw new Error('truncated');
    const b = backup.subarray(at, at + n);
    at += n;
    return b;
  };
  if (take(8).toString('latin1') !== 'TANDEMBK') throw new Error('magic');
  if (take(1)[0] !== 1) throw new Error('version');
  const chunkSize = take(4).readUInt32LE(0);
  if (chunkSize < 64 || chunkSize > 16 * 1024 * 1024) throw new Error('chunk size');
  const n = take(1)[0];
  if (n < 1 || n > 4) throw new Error('lock count');
  const locks = [];
  for (let i = 0; i < n; i++) {
    const kind = take(1)[0];
    if (kind === 1) locks.push({ kind: 'recovery-code', salt: take(32) });
    else if (kind === 2) {
      const m = take(4).readUInt32LE(0), t = take(4).readUInt32LE(0), p = take(4).readUInt32LE(0);
      if (m < 19456 || t < 2 || p < 1) throw new Error('weak params');
      if (m > 1048576 || t > 16 || p > 16) throw new Error('costly params');
      locks.push({ kind: 'password', salt: take(32) });
    } else throw new Error('lock kind');
  }
  const descriptor = backup.subarray(0, at);
  for (const l of locks) l.wrapped = take(48);
  const header = backup.subarray(0, at);
  let backupKey = null;
  locks.forEach((l, i) => {
    if (backupKey || l.kind !== unlock) return;
    const kek = l.kind === 'recovery-code'
      ? Buffer.from(crypto.hkdfSync('sha256', Buffer.from(code, 'ascii'), l.salt, Buffer.from('tandem backup recovery code v1'), 32))
      : kekOf(i);
    try {
      backupKey = gcmOpen(kek, Buffer.alloc(12), Buffer.concat([descriptor, Buffer.from([i])]), l.wrapped);
    } catch (e) { /* another lock may open */ }
  });
  if (!backupKey) throw new Error('wrong key');
  const hash = crypto.createHash('sha256').update(header).digest();
  const body = backup.subarray(at);
  const full = chunkSize + 16;
  const count = Math.max(1, Math.ceil(body.length / full));
  const out = [];
  for (let i = 0; i < count; i++) {
    const sealed = body.subarray(i * full, Math.min(body.length, (i + 1) * full));
    if (sealed.length < 16) throw new Error('truncated');
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(i, 7);
    nonce[11] = i === count - 1 ? 1 : 0;
    out.push(gcmOpen(backupKey, nonce, hash, sealed));
  }
  return { backupKey, plaintext: Buffer.concat(out) };
}

let passed = 0, failed = 0;
for (const c of file.cases) {
  const digits = c.code ? c.code.replace(/[\s-]/g, '') : null;
  const backup = Buffer.from(c.backup, 'hex');
  try {
    if (c.expect === 'valid') {
      const kekOf = (i) => Buffer.from(c.locks[i].kek, 'hex');
      const r = open(backup, c.unlock, digits, kekOf);
      if (r.backupKey.toString('hex') !== c.backup_key) throw new Error('backup key differs');
      if (r.plaintext.toString('hex') !== c.plaintext) throw new Error('plaintext differs');
      c.locks.forEach((l, i) => {
        if (l.kind === 'recovery-code') {
          const kek = crypto.hkdfSync('sha256', Buffer.from(digits, 'ascii'), Buffer.from(l.salt, 'hex'),
            Buffer.from('tandem backup recovery code v1'), 32);
          if (Buffer.from(kek).toString('hex') !== l.kek) throw new Error(`lock ${i} kek differs`);
        }
      });
      passed++;
    } else if (c.unlock === 'recovery-code') {
      let opened = false;
      try { open(backup, 'recovery-code', digits, () => Buffer.alloc(32)); opened = true; } catch (e) { /* refused */ }
      if (opened) throw new Error(`opened, but should fail with ${c.error}`);
      passed++;
    }
  } catch (e) {
    failed++;
    console.log(`FAIL ${c.id}: ${e.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
