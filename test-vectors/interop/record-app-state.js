#!/usr/bin/env node
// Records `app-state` vectors (WhatsApp app-state sync: key expansion, LTHash, index/value/
// snapshot/patch MACs, patch chains and snapshots, tampered patches) from Baileys, the
// TypeScript WhatsApp Web client, as an external oracle for tandem's `app_state` module.
//
//   BAILEYS=/path/to/node_modules/@whiskeysockets/baileys node record-app-state.js [--seed S] \
//       > ../app-state/app-state-baileys-6.17.16.json
//
// Baileys is not in this folder's package.json: its npm package (6.17.16, the `latest` tag)
// depends on two GitHub repositories (`@whiskeysockets/eslint-config`, `libsignal`), which a
// registry-only install cannot fetch. To install it elsewhere: `npm pack
// @whiskeysockets/baileys@6.17.16`, unpack, delete the `@whiskeysockets/eslint-config`
// dependency and set `libsignal` to `6.0.0` (the same code, published on npm) in its
// package.json, then `npm install <that folder> --install-links --ignore-scripts`. Only
// `lib/Utils/chat-utils.js`, `lib/Utils/lt-hash.js`, `lib/Utils/crypto.js` and `WAProto` are used;
// nothing touches the network.
//
// What comes from Baileys: every patch is made by `encodeSyncdPatch` (one mutation each, its
// IV drawn through `crypto.randomBytes`, which this script replaces with a seeded generator so
// the IV is known), every patch chain and snapshot is checked by Baileys' own
// `decodePatches` / `decodeSyncdSnapshot` (with MAC validation), and LTHash results come from
// `LT_HASH_ANTI_TAMPERING.subtractThenAdd`. Baileys keeps its MAC helpers private, so the
// single-primitive cases (key expansion, index/value/snapshot/patch MACs) are computed here with
// node:crypto from the published construction and each is checked against the bytes Baileys put
// in its patches: an index MAC, a value blob (IV, ciphertext, MAC) and both patch MACs for every
// patch. Tampered patches are refused by Baileys too (checked), except where noted.

'use strict';

const crypto = require('node:crypto');
const path = require('node:path');

const BAILEYS = process.env.BAILEYS;
if (!BAILEYS) {
  console.error('set BAILEYS to the @whiskeysockets/baileys package folder');
  process.exit(2);
}
const args = process.argv.slice(2);
const seedArg = args.indexOf('--seed');
const SEED = seedArg >= 0 ? args[seedArg + 1] : '1';

// Seeded randomness: HMAC-SHA256(seed, counter) blocks.
let drbgCounter = 0;
function seeded(n) {
  const out = [];
  let len = 0;
  while (len < n) {
    const block = crypto.createHmac('sha256', `tandem-app-state-${SEED}`).update(String(drbgCounter++)).digest();
    out.push(block);
    len += block.length;
  }
  return Buffer.concat(out).subarray(0, n);
}
const ivLog = [];
crypto.randomBytes = (n) => {
  const b = seeded(n);
  ivLog.push(b);
  return b;
};

const pkg = require(path.join(BAILEYS, 'package.json'));
const chat = require(path.join(BAILEYS, 'lib/Utils/chat-utils.js'));
const { LT_HASH_ANTI_TAMPERING } = require(path.join(BAILEYS, 'lib/Utils/lt-hash.js'));
const { proto } = require(path.join(BAILEYS, 'WAProto'));

const hex = (b) => Buffer.from(b).toString('hex');
const SET = proto.SyncdMutation.SyncdOperation.SET;
const REMOVE = proto.SyncdMutation.SyncdOperation.REMOVE;

// The construction, with node:crypto (checked against Baileys' patches below).
function expand(keyData) {
  const okm = Buffer.from(crypto.hkdfSync('sha256', keyData, Buffer.alloc(0), 'WhatsApp Mutation Keys', 160));
  return {
    index: okm.subarray(0, 32),
    valueEncryption: okm.subarray(32, 64),
    valueMac: okm.subarray(64, 96),
    snapshotMac: okm.subarray(96, 128),
    patchMac: okm.subarray(128, 160),
  };
}
const hmac = (alg, key, ...parts) => {
  const h = crypto.createHmac(alg, key);
  for (const p of parts) h.update(p);
  return h.digest();
};
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};
const valueMac = (k, op, keyId, ivCt) =>
  hmac('sha512', k.valueMac, Buffer.from([op + 1]), keyId, ivCt, u64(keyId.length + 1)).subarray(0, 32);
const snapshotMac = (k, lthash, version, name) => hmac('sha256', k.snapshotMac, lthash, u64(version), Buffer.from(name));
const patchMac = (k, snap, macs, version, name) =>
  hmac('sha256', k.patchMac, snap, ...macs, u64(version), Buffer.from(name));

function check(cond, what) {
  if (!cond) {
    console.error(`check failed: ${what}`);
    process.exit(1);
  }
}

// Keys: 6-byte ids, device 0 then a 4-byte epoch (tandem's layout).
function makeKey(epoch) {
  const id = Buffer.alloc(6);
  id.writeUInt32BE(epoch, 2);
  return { id, data: seeded(32) };
}
const key1 = makeKey(0xeafd);
const key2 = makeKey(0xeafe);
const keyStore = new Map([key1, key2].map((k) => [k.id.toString('base64'), { keyData: k.data }]));
const getKey = async (b64) => keyStore.get(b64);

const cases = [];

// Typed actions as Baileys' protobuf objects, with tandem's index, collection and version.
const T0 = 1767225600000;
const peer = '4915112345678@s.whatsapp.net';
const chatA = '4915187654321@s.whatsapp.net';
const group = '120363025246125888@g.us';
const actions = {
  muteA: { type: 'regular_high', index: ['mute', chatA], version: 2, value: (ts) => ({ timestamp: ts, muteAction: { muted: true, muteEndTimestamp: ts + 8 * 3600 * 1000 } }) },
  unmuteA: { type: 'regular_high', index: ['mute', chatA], version: 2, value: (ts) => ({ timestamp: ts, muteAction: { muted: false } }) },
  star: { type: 'regular_high', index: ['star', group, '3EB0C767D26A1B2C', '0', peer], version: 2, value: (ts) => ({ timestamp: ts, starAction: { starred: true } }) },
  deleteChat: { type: 'regular_high', index: ['deleteChat', chatA, '1'], version: 6, value: (ts) => ({ timestamp: ts, deleteChatAction: {} }) },
  statusPrivacy: { type: 'regular_high', index: ['status_privacy'], version: 7, value: (ts) => ({ timestamp: ts, statusPrivacy: { mode: 1, userJid: [peer, chatA] } }) },
  pinA: { type: 'regular_low', index: ['pin_v1', chatA], version: 5, value: (ts) => ({ timestamp: ts, pinAction: { pinned: true } }) },
  archiveA: { type: 'regular_low', index: ['archive', chatA], version: 3, value: (ts) => ({ timestamp: ts, archiveChatAction: { archived: true } }) },
  sentinel: { type: 'regular_low', index: ['sentinel'], version: 3, value: (ts) => ({ timestamp: ts, keyExpiration: { expiredKeyEpoch: 0xeafd } }) },
  contact: { type: 'critical_unblock_low', index: ['contact', peer], version: 2, value: (ts) => ({ timestamp: ts, contactAction: { fullName: 'Ada Lovelace', firstName: 'Ada' } }) },
  contactNoFirst: { type: 'critical_unblock_low', index: ['contact', chatA], version: 2, value: (ts) => ({ timestamp: ts, contactAction: { fullName: 'Émilie du Châtelet "Q\\uote"' } }) },
  pushName: { type: 'critical_block', index: ['setting_pushName'], version: 1, value: (ts) => ({ timestamp: ts, pushNameSetting: { name: 'Grace' } }) },
  callLog: {
    type: 'regular',
    index: ['call_log', 'CA11D0F1E2D3C4B5'],
    version: 1,
    value: (ts) => ({
      timestamp: ts,
      callLogAction: {
        callLogRecord: { callResult: 0, duration: 754, startTime: ts - 754000, isIncoming: true, isVideo: true, callId: 'CA11D0F1E2D3C4B5', participants: [{ userJid: peer, callResult: 0 }] },
      },
    }),
  },
  callLogMissed: {
    type: 'regular',
    index: ['call_log', 'CA22'],
    version: 1,
    value: (ts) => ({
      timestamp: ts,
      callLogAction: {
        callLogRecord: { callResult: 4, duration: 0, startTime: ts, isIncoming: true, isVideo: false, callId: 'CA22', participants: [{ userJid: peer, callResult: 4 }] },
      },
    }),
  },
};

// Builds a chain of patches for one collection with Baileys' encodeSyncdPatch.
async function chain(name, steps) {
  let state = chat.newLTHashState();
  const out = [];
  let ts = T0;
  for (const step of steps) {
    ts += 60000;
    const a = actions[step.action];
    check(a.type === name, `${step.action} is in ${a.type}`);
    const key = step.key || key1;
    const operation = step.op === 'remove' ? REMOVE : SET;
    const syncAction = a.value(ts);
    ivLog.length = 0;
    const before = state;
    const { patch, state: after } = await chat.encodeSyncdPatch(
      { type: name, index: a.index, syncAction, apiVersion: a.version, operation },
      key.id.toString('base64'),
      state,
      getKey,
    );
    check(ivLog.length === 1, 'one IV per patch');
    const iv = ivLog[0];
    const bytes = Buffer.from(proto.SyncdPatch.encode({ ...patch, version: { version: after.version } }).finish());
    // Check Baileys' bytes against the construction.
    const k = expand(key.data);
    const m = patch.mutations[0].record;
    const indexJson = Buffer.from(JSON.stringify(a.index));
    check(hmac('sha256', k.index, indexJson).equals(Buffer.from(m.index.blob)), 'index MAC');
    const blob = Buffer.from(m.value.blob);
    const ivCt = blob.subarray(0, blob.length - 32);
    check(ivCt.subarray(0, 16).equals(iv), 'IV');
    check(valueMac(k, operation, key.id, ivCt).equals(blob.subarray(blob.length - 32)), 'value MAC');
    const decipher = crypto.createDecipheriv('aes-256-cbc', k.valueEncryption, iv);
    const plaintext = Buffer.concat([decipher.update(ivCt.subarray(16)), decipher.final()]);
    const data = proto.SyncActionData.decode(plaintext);
    check(Buffer.from(data.index).equals(indexJson), 'plaintext index');
    const lthash = Buffer.from(after.hash);
    check(snapshotMac(k, lthash, after.version, name).equals(Buffer.from(patch.snapshotMac)), 'snapshot MAC');
    check(patchMac(k, patch.snapshotMac, [blob.subarray(blob.length - 32)], after.version, name).equals(Buffer.from(patch.patchMac)), 'patch MAC');
    out.push({
      step,
      key,
      operation,
      bytes,
      iv,
      plaintext,
      value: Buffer.from(proto.SyncActionValue.encode(syncAction).finish()),
      index: a.index,
      indexJson,
      indexMac: Buffer.from(m.index.blob),
      blob,
      valueMac: blob.subarray(blob.length - 32),
      snapshotMac: Buffer.from(patch.snapshotMac),
      patchMac: Buffer.from(patch.patchMac),
      version: after.version,
      lthash,
      before,
      after,
      apiVersion: a.version,
    });
    state = after;
  }
  // Baileys decodes the whole chain from scratch with MAC checks.
  const decoded = await chat.decodePatches(name, out.map((p) => proto.SyncdPatch.decode(p.bytes)), chat.newLTHashState(), getKey, {}, undefined, undefined, true);
  check(Buffer.from(decoded.state.hash).equals(out[out.length - 1].lthash), `${name}: Baileys decodes its chain`);
  return out;
}

async function refusedByBaileys(name, patches) {
  try {
    await chat.decodePatches(name, patches.map((p) => proto.SyncdPatch.decode(p)), chat.newLTHashState(), getKey, {}, undefined, undefined, true);
    return false;
  } catch (e) {
    return e.message || String(e);
  }
}

function keyJson(k) {
  return { key_id: hex(k.id), key_data: hex(k.data) };
}

function flip(buf, at, bit = 0) {
  const b = Buffer.from(buf);
  b[at] ^= 1 << bit;
  return b;
}

// Offsets of the pieces of a one-mutation patch, found by searching its bytes.
function offsetOf(bytes, piece) {
  const at = bytes.indexOf(piece);
  check(at >= 0, 'piece found');
  return at;
}

async function main() {
  // Key expansion.
  for (const [i, k] of [key1, key2].entries()) {
    const e = expand(k.data);
    cases.push({
      id: `expand-keys-${i + 1}`,
      expect: 'valid',
      op: 'expand-keys',
      key_data: hex(k.data),
      index_key: hex(e.index),
      value_encryption_key: hex(e.valueEncryption),
      value_mac_key: hex(e.valueMac),
      snapshot_mac_key: hex(e.snapshotMac),
      patch_mac_key: hex(e.patchMac),
    });
  }

  // LTHash straight from Baileys.
  const lt = async (base, add, sub) => Buffer.from(await LT_HASH_ANTI_TAMPERING.subtractThenAdd(new Uint8Array(base).buffer, add.map((a) => new Uint8Array(a).buffer), sub.map((s) => new Uint8Array(s).buffer)));
  const zero = Buffer.alloc(128);
  const m1 = seeded(32), m2 = seeded(32), m3 = seeded(32), odd = seeded(7);
  const randomBase = seeded(128);
  const ltCases = [
    ['lthash-add-one', zero, [m1], []],
    ['lthash-add-three', zero, [m1, m2, m3], []],
    ['lthash-subtract-from-zero', zero, [], [m1]],
    ['lthash-add-subtract-same', zero, [m1], [m1]],
    ['lthash-random-base', randomBase, [m2, odd], [m3]],
    ['lthash-all-ones-wraps', Buffer.alloc(128, 0xff), [m1], []],
    ['lthash-empty-item', zero, [Buffer.alloc(0)], []],
  ];
  for (const [id, base, add, sub] of ltCases) {
    cases.push({ id, expect: 'valid', op: 'lthash', base: hex(base), add: add.map(hex), subtract: sub.map(hex), result: hex(await lt(base, add, sub)) });
  }

  // Patch chains, one per collection, and the single-primitive cases taken from them.
  const chains = {
    regular_high: await chain('regular_high', [
      { action: 'muteA' },
      { action: 'star' },
      { action: 'unmuteA' },
      { action: 'statusPrivacy' },
      { action: 'star', op: 'remove' },
      { action: 'deleteChat', key: key2 },
    ]),
    // The sentinel is under key2 too: tandem skips a patch under an older key epoch than one
    // already applied in the collection (spec 08.6); Baileys has no such rule.
    regular_low: await chain('regular_low', [{ action: 'pinA' }, { action: 'archiveA', key: key2 }, { action: 'sentinel', key: key2 }]),
    critical_unblock_low: await chain('critical_unblock_low', [{ action: 'contact' }, { action: 'contactNoFirst' }, { action: 'contact', op: 'remove' }]),
    critical_block: await chain('critical_block', [{ action: 'pushName' }]),
    regular: await chain('regular', [{ action: 'callLog' }, { action: 'callLogMissed', key: key2 }]),
  };

  let n = 0;
  for (const [name, ps] of Object.entries(chains)) {
    for (const p of ps) {
      n++;
      if (n <= 4 || p.operation === REMOVE) {
        cases.push({ id: `index-mac-${name}-v${p.version}`, expect: 'valid', op: 'index-mac', key_data: hex(p.key.data), index: p.indexJson.toString(), mac: hex(p.indexMac) });
      }
      cases.push({
        id: `value-${name}-v${p.version}`,
        expect: 'valid',
        op: 'value',
        key_data: hex(p.key.data),
        key_id: hex(p.key.id),
        operation: p.operation === SET ? 'SET' : 'REMOVE',
        iv: hex(p.iv),
        plaintext: hex(p.plaintext),
        blob: hex(p.blob),
      });
      cases.push({ id: `snapshot-mac-${name}-v${p.version}`, expect: 'valid', op: 'snapshot-mac', key_data: hex(p.key.data), lthash: hex(p.lthash), version: p.version, collection: name, mac: hex(p.snapshotMac) });
      cases.push({ id: `patch-mac-${name}-v${p.version}`, expect: 'valid', op: 'patch-mac', key_data: hex(p.key.data), snapshot_mac: hex(p.snapshotMac), value_macs: [hex(p.valueMac)], version: p.version, collection: name, mac: hex(p.patchMac) });
    }
  }
  // A patch MAC over several value MACs and one over none (the construction; Baileys makes
  // only one-mutation patches).
  {
    const p = chains.regular_high[0];
    const k = expand(p.key.data);
    const macs = chains.regular_high.map((q) => q.valueMac);
    cases.push({ id: 'patch-mac-six-values', expect: 'valid', op: 'patch-mac', key_data: hex(p.key.data), snapshot_mac: hex(p.snapshotMac), value_macs: macs.map(hex), version: 7, collection: 'regular_high', mac: hex(patchMac(k, p.snapshotMac, macs, 7, 'regular_high')) });
    cases.push({ id: 'patch-mac-no-values', expect: 'valid', op: 'patch-mac', key_data: hex(p.key.data), snapshot_mac: hex(p.snapshotMac), value_macs: [], version: 1, collection: 'regular_high', mac: hex(patchMac(k, p.snapshotMac, [], 1, 'regular_high')) });
  }
  // Value blobs that must not open.
  {
    const p = chains.regular_high[0];
    const base = { op: 'value', key_data: hex(p.key.data), key_id: hex(p.key.id), operation: 'SET', iv: hex(p.iv), plaintext: hex(p.plaintext) };
    cases.push({ id: 'value-ciphertext-bit-flipped', expect: 'invalid', error: 'BadMac', ...base, blob: hex(flip(p.blob, 20)) });
    cases.push({ id: 'value-mac-bit-flipped', expect: 'invalid', error: 'BadMac', ...base, blob: hex(flip(p.blob, p.blob.length - 1, 7)) });
    cases.push({ id: 'value-iv-bit-flipped', expect: 'invalid', error: 'BadMac', ...base, blob: hex(flip(p.blob, 0)) });
    cases.push({ id: 'value-as-remove', expect: 'invalid', error: 'BadMac', ...base, operation: 'REMOVE', blob: hex(p.blob) });
    cases.push({ id: 'value-other-key-id', expect: 'invalid', error: 'BadMac', ...base, key_id: hex(key2.id), blob: hex(p.blob) });
    cases.push({ id: 'value-too-short', expect: 'invalid', error: 'BadLength', ...base, blob: hex(p.blob.subarray(0, 40)) });
  }

  // Whole chains applied to an empty state: version and LTHash after each patch, and (where
  // Baileys' inputs are tandem's typed actions) the patch tandem must encode from the same
  // mutation and IV, byte for byte.
  const stepJson = (p) => ({
    patch: hex(p.bytes),
    version: p.version,
    lthash: hex(p.lthash),
    encode: { operation: p.operation === SET ? 'SET' : 'REMOVE', index: p.index, value: hex(p.value), action_version: p.apiVersion, key_id: hex(p.key.id), iv: hex(p.iv) },
  });
  const allKeys = [keyJson(key1), keyJson(key2)];
  for (const [name, ps] of Object.entries(chains)) {
    cases.push({ id: `chain-${name}`, expect: 'valid', op: 'patches', collection: name, keys: allKeys, steps: ps.map(stepJson) });
  }

  // A snapshot of each chain's end, checked by Baileys' decodeSyncdSnapshot.
  for (const [name, ps] of Object.entries(chains)) {
    const records = new Map();
    for (const p of ps) {
      const rec = proto.SyncdPatch.decode(p.bytes).mutations[0].record;
      if (p.operation === SET) records.set(hex(p.indexMac), rec);
      else records.delete(hex(p.indexMac));
    }
    const last = ps[ps.length - 1];
    const snap = { version: { version: last.version }, records: [...records.values()], mac: last.snapshotMac, keyId: { id: last.key.id } };
    const bytes = Buffer.from(proto.SyncdSnapshot.encode(snap).finish());
    const dec = await chat.decodeSyncdSnapshot(name, proto.SyncdSnapshot.decode(bytes), getKey, undefined, true);
    check(Buffer.from(dec.state.hash).equals(last.lthash), `${name}: Baileys decodes the snapshot`);
    cases.push({ id: `snapshot-${name}`, expect: 'valid', op: 'patches', collection: name, keys: allKeys, steps: [{ snapshot: hex(bytes), version: last.version, lthash: hex(last.lthash) }] });
    if (name === 'regular_high') {
      const flipped = flip(bytes, bytes.indexOf(last.snapshotMac) + 3);
      check(await decodeSnapshotRefused(name, flipped), 'Baileys refuses a flipped snapshot MAC');
      cases.push({ id: 'snapshot-mac-flipped', expect: 'invalid', error: 'BadSnapshotMac', op: 'patches', collection: name, keys: allKeys, steps: [{ snapshot: hex(flipped) }, { snapshot: hex(bytes), version: last.version, lthash: hex(last.lthash) }], fails_at: 0 });
      // A snapshot older than the state: the chain's first two patches, then the snapshot of v1.
      const first = ps[0];
      const oldSnap = Buffer.from(proto.SyncdSnapshot.encode({ version: { version: 1 }, records: [proto.SyncdPatch.decode(first.bytes).mutations[0].record], mac: first.snapshotMac, keyId: { id: first.key.id } }).finish());
      cases.push({
        id: 'snapshot-older-than-state',
        expect: 'invalid',
        error: 'OldSnapshot',
        comment: 'Baileys accepts it (it does not compare versions); tandem refuses a snapshot below the held version',
        op: 'patches',
        collection: name,
        keys: allKeys,
        steps: [stepJsonNoEncode(ps[0]), stepJsonNoEncode(ps[1]), { snapshot: hex(oldSnap) }, stepJsonNoEncode(ps[2])],
        fails_at: 2,
      });
    }
  }

  // Tampered chains (regular_high). Each must fail at `fails_at` with tandem's error; every
  // later step must still apply, which shows the refusal changed nothing.
  const ps = chains.regular_high;
  const bad = async (id, error, steps, failsAt, baileysPatches, comment) => {
    const c = { id, expect: 'invalid', error, op: 'patches', collection: 'regular_high', keys: allKeys, steps, fails_at: failsAt };
    if (baileysPatches) {
      const why = await refusedByBaileys('regular_high', baileysPatches);
      check(why, `Baileys refuses ${id}`);
      c.comment = `Baileys: ${why}`;
    }
    if (comment) c.comment = comment;
    cases.push(c);
  };
  const good = (i) => stepJsonNoEncode(ps[i]);
  const tampered = (bytes) => ({ patch: hex(bytes) });
  {
    const p = ps[1];
    const ctAt = offsetOf(p.bytes, p.blob) + 24;
    const idxAt = offsetOf(p.bytes, p.indexMac) + 5;
    const vmAt = offsetOf(p.bytes, p.valueMac) + 31;
    const smAt = offsetOf(p.bytes, p.snapshotMac);
    const pmAt = offsetOf(p.bytes, p.patchMac) + 16;
    const t = (at, bit) => flip(p.bytes, at, bit);
    await bad('patch-ciphertext-bit', 'BadValueMac', [good(0), tampered(t(ctAt, 3)), good(1)], 1, [ps[0].bytes, t(ctAt, 3)]);
    await bad('patch-index-mac-bit', 'BadIndexMac', [good(0), tampered(t(idxAt, 0)), good(1)], 1, [ps[0].bytes, t(idxAt, 0)]);
    await bad('patch-value-mac-bit', 'BadPatchMac', [good(0), tampered(t(vmAt, 6)), good(1)], 1, [ps[0].bytes, t(vmAt, 6)]);
    await bad('patch-snapshot-mac-bit', 'BadPatchMac', [good(0), tampered(t(smAt, 1)), good(1)], 1, [ps[0].bytes, t(smAt, 1)]);
    await bad('patch-patch-mac-bit', 'BadPatchMac', [good(0), tampered(t(pmAt, 2)), good(1)], 1, [ps[0].bytes, t(pmAt, 2)]);
    // SET → REMOVE: the operation byte (`08 00` → `08 01`) of the one mutation.
    const opAt = p.bytes.indexOf(Buffer.from([0x12])) + 0;
    const mutStart = offsetOf(p.bytes, Buffer.from([0x08, 0x00]));
    check(mutStart > opAt, 'operation found');
    await bad('patch-operation-flipped', 'BadValueMac', [good(0), tampered(flip(p.bytes, mutStart + 1, 0)), good(1)], 1, [ps[0].bytes, flip(p.bytes, mutStart + 1, 0)]);
    // The same patch served as another collection's.
    cases.push({ id: 'patch-other-collection', expect: 'invalid', error: 'BadPatchMac', op: 'patches', collection: 'regular_low', keys: allKeys, steps: [tampered(ps[0].bytes)], fails_at: 0 });
  }
  await bad('patch-dropped', 'VersionGap', [good(0), good(2), good(1), good(2)], 1, [ps[0].bytes, ps[2].bytes]);
  await bad('patches-reordered', 'VersionGap', [good(0), good(2), good(1), good(2), good(3)], 1, null, 'Baileys applies patches in any order and would refuse this one by its LTHash');
  await bad('patch-replayed', 'StaleVersion', [good(0), good(1), good(1), good(2)], 2, null, 'Baileys accepts a replayed SET-only patch: subtracting and adding the same value MAC leaves the LTHash as it was');
  await bad('patch-unknown-key', 'UnknownKey', [good(0), good(1), good(2), good(3), good(4), good(5)], 5, null, 'the checker is given only key 1 for this case');
  cases[cases.length - 1].keys = [keyJson(key1)];
  await bad('patch-version-zero', 'StaleVersion', [tampered(reversion(ps[0].bytes, 0))], 0, null, 'version field rewritten to 0');

  const out = {
    kind: 'app-state',
    source: `recorded from Baileys (@whiskeysockets/baileys ${pkg.version}, lib/Utils/chat-utils.js encodeSyncdPatch/decodePatches/decodeSyncdSnapshot, lib/Utils/lt-hash.js) by test-vectors/interop/record-app-state.js --seed ${SEED}`,
    description: 'WhatsApp app-state sync: key expansion, LTHash, index/value/snapshot/patch MACs, patch chains and snapshots of every collection, tampered patches and snapshots. Patches are Baileys encodeSyncdPatch output with the version field added (Baileys leaves it to the server).',
    cases,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  console.error(`app-state: ${cases.length} cases`);
}

function stepJsonNoEncode(p) {
  return { patch: hex(p.bytes), version: p.version, lthash: hex(p.lthash) };
}

function reversion(bytes, v) {
  const p = proto.SyncdPatch.decode(bytes);
  p.version = { version: v };
  return Buffer.from(proto.SyncdPatch.encode(p).finish());
}

async function decodeSnapshotRefused(name, bytes) {
  try {
    await chat.decodeSyncdSnapshot(name, proto.SyncdSnapshot.decode(bytes), getKey, undefined, true);
    return false;
  } catch (e) {
    return true;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
