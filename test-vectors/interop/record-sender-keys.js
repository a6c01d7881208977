'use strict';
// Records `sender-key-transcript` vector files (format: ../README.md and the interop README) from
// Signal's official libsignal and writes one to stdout:
//
//   node record-sender-keys.js client            > ../libsignal/sender-keys/sender-key-transcripts-libsignal-client-0.103.0.json
//   node record-sender-keys.js classic           > ../libsignal/sender-keys/sender-key-transcripts-libsignal-client-0.72.1.json
//   node record-sender-keys.js client rotation   > ../libsignal/sender-keys/sender-key-rotations-libsignal-client-0.103.0.json
//   node record-sender-keys.js classic rotation  > ../libsignal/sender-keys/sender-key-rotations-libsignal-client-0.72.1.json
//
// `client` is @signalapp/libsignal-client 0.103.0, `classic` the npm alias libsignal-client-classic
// (@signalapp/libsignal-client 0.72.1). A case is one sender chain as a group member receives it:
// the sender's SenderKeyDistributionMessage (exact bytes), the sender's signing private key (read
// back from the sender's serialized SenderKeyRecord: SenderKeyRecordStructure.senderKeyStates(1)
// [0].senderSigningKey(3).private(2)), the messages the sender made (exact bytes), and the order
// in which the receiver got them. `rotation` files add `later_distributions`: more distribution
// messages (new chains after the sender dropped its record, or repeated / crafted ones) that the
// receiver processes between receives.
//
// Before anything is written, every case is checked:
// - replayed from its JSON under the recording library with a fresh receiver store: every receive
//   gives its plaintext except the one at `fails_at`, which must be refused with the error named
//   by `error` (the refusal text goes into the comment);
// - replayed the same way under the other official release (0.72.1 for 0.103.0 and the other way
//   round); a disagreement is printed on stderr and makes the script exit 1;
// - re-derived independently (HMAC-SHA256 chain, HKDF-SHA256 "WhisperGroup", AES-256-CBC, written
//   here from the protocol description): every message except one received only at `fails_at`
//   is the sender's chain from its distribution message at `iteration`, its protobuf is the
//   canonical encoding, its signature verifies (PublicKey.verify over the bytes before the last
//   64) under the distribution message's signing key, and the signing private key gives that key.
// The script exits 1 if any of this does not hold. A summary (limits, wire layouts, refusals) goes
// to stderr.

const crypto = require('crypto');

const lib = process.argv[2] || 'client';
const fileKind = process.argv[3] || 'transcripts';
if (!['client', 'classic'].includes(lib) || !['transcripts', 'rotation'].includes(fileKind) || process.argv.length > 4) {
  process.stderr.write('usage: node record-sender-keys.js [client|classic] [rotation] > FILE\n');
  process.exit(2);
}

const note = (s) => process.stderr.write(s + '\n');
function fail(msg) {
  process.stderr.write('record-sender-keys: ' + msg + '\n');
  process.exit(1);
}
const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

// --- the two official releases ----------------------------------------------------------------

function library(pkg) {
  const C = require(pkg);
  const version = require(pkg + '/package.json').version;
  // Records are kept serialized, so a failed decrypt can change nothing stored (the library only
  // saves after a success; this also means every call reads what the last one saved).
  class Store extends C.SenderKeyStore {
    constructor() { super(); this.m = new Map(); }
    async saveSenderKey(sender, distributionId, record) { this.m.set(`${sender.toString()}|${distributionId}`, Buffer.from(record.serialize())); }
    async getSenderKey(sender, distributionId) {
      const b = this.m.get(`${sender.toString()}|${distributionId}`);
      return b ? C.SenderKeyRecord.deserialize(b) : null;
    }
    only() {
      if (this.m.size !== 1) throw new Error('store holds ' + this.m.size + ' records');
      return [...this.m.values()][0];
    }
  }
  return { C, version, name: `libsignal-client ${version}`, Store };
}
const LIBS = { client: library('@signalapp/libsignal-client'), classic: library('libsignal-client-classic') };
const L = LIBS[lib];
const OTHER = LIBS[lib === 'client' ? 'classic' : 'client'];

// The sender's address (not in the files: neither message carries it; tandem may use any).
const SENDER_NAME = '6f1d9c2e-2b7a-4d0e-9a51-3c8e7b4f0d21';
const senderAddress = (K) => K.C.ProtocolAddress.new(SENDER_NAME, 1);

// --- a minimal protobuf reader (wire format only) ---------------------------------------------

function readVarint(buf, pos) {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
}
function parseProto(buf) {
  const fields = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const tag = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      fields.push({ tag, wire, value: v });
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error('truncated field');
      fields.push({ tag, wire, value: buf.slice(pos, pos + len), start: pos, end: pos + len });
      pos += len;
    } else {
      throw new Error('unexpected wire type ' + wire);
    }
  }
  return fields;
}
const field = (fields, tag) => fields.find((f) => f.tag === tag);
const layout = (fields) => fields.map((f) => `${f.tag}:${f.wire === 0 ? 'varint' : `bytes[${f.value.length}]`}`).join(' ');
function varint(n) {
  const out = [];
  while (n >= 128) { out.push((n % 128) | 128); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

// SenderKeyDistributionMessage = version byte || protobuf { 1 distribution uuid (16 bytes),
// 2 chain id, 3 iteration, 4 chain key (32), 5 signing key (33, 0x05 || key) } (no signature).
function parseSkdm(bytes) {
  const f = parseProto(bytes.slice(1));
  return {
    version: bytes[0], fields: f,
    distributionId: field(f, 1).value, chainId: field(f, 2).value, iteration: field(f, 3).value,
    chainKey: field(f, 4).value, signingKey: field(f, 5).value,
  };
}
// SenderKeyMessage = version byte || protobuf { 1 distribution uuid, 2 chain id, 3 iteration,
// 4 ciphertext } || 64-byte signature over everything before it.
function parseSkm(bytes) {
  const body = bytes.slice(0, bytes.length - 64);
  const f = parseProto(body.slice(1));
  return {
    version: bytes[0], fields: f, body, signature: bytes.slice(bytes.length - 64),
    distributionId: field(f, 1).value, chainId: field(f, 2).value, iteration: field(f, 3).value,
    ciphertext: field(f, 4).value,
  };
}
// The canonical encoding (fields in tag order, iteration written even when 0), as libsignal
// writes it; the re-derivation check compares against it.
function encodeSkmBody(distributionId, chainId, iteration, ciphertext) {
  return Buffer.concat([
    Buffer.from([0x0a, 16]), distributionId,
    Buffer.from([0x10]), varint(chainId),
    Buffer.from([0x18]), varint(iteration),
    Buffer.from([0x22]), varint(ciphertext.length), ciphertext,
  ]);
}
// SenderKeyRecordStructure { repeated SenderKeyStateStructure senderKeyStates = 1 };
// SenderKeyStateStructure { 1 chain id, 2 SenderChainKey { 1 iteration, 2 seed },
// 3 SenderSigningKey { 1 public, 2 private }, 4 repeated SenderMessageKey { 1 iteration, 2 seed },
// 5 message version } (as observed; see the README).
function recordStates(bytes) {
  return parseProto(bytes).filter((s) => s.tag === 1).map((s) => {
    const f = parseProto(s.value);
    const ck = parseProto(field(f, 2).value);
    const sk = parseProto(field(f, 3).value);
    return {
      fields: f, chainId: field(f, 1).value, iteration: field(ck, 1) ? field(ck, 1).value : 0, seed: field(ck, 2).value,
      signingPublic: field(sk, 1).value, signingPrivate: field(sk, 2) ? field(sk, 2).value : null,
      messageKeys: f.filter((x) => x.tag === 4).map((x) => parseProto(x.value)),
      version: field(f, 5) ? field(f, 5).value : null,
    };
  });
}

// --- independent re-derivation (from the protocol description, not from libsignal) -----------

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
// Sender chain: message-key seed = HMAC(chain key, 0x01), next chain key = HMAC(chain key, 0x02);
// message key = HKDF-SHA256(seed, no salt, "WhisperGroup", 48) = iv (16) || AES-256 key (32).
function messageKeyAt(chainKey, fromIteration, iteration) {
  let ck = chainKey;
  for (let i = fromIteration; i < iteration; i++) ck = hmac(ck, Buffer.from([2]));
  const okm = Buffer.from(crypto.hkdfSync('sha256', hmac(ck, Buffer.from([1])), Buffer.alloc(0), Buffer.from('WhisperGroup'), 48));
  return { iv: okm.slice(0, 16), key: okm.slice(16) };
}
function aesCbc(mk, plaintext) {
  const c = crypto.createCipheriv('aes-256-cbc', mk.key, mk.iv);
  return Buffer.concat([c.update(plaintext), c.final()]);
}

// --- sender and receiver --------------------------------------------------------------------

// First bytes of everything the library made (SenderKeyDistributionMessage.create, groupEncrypt).
const MADE = { skdm: new Set(), skm: new Set() };

// One sender device with its own store; `rotate()` drops its record (the app's way to start a
// new chain for the same distribution id: the Node API has no reset call).
class Sender {
  constructor(K, distributionId) {
    this.K = K;
    this.distributionId = distributionId; // uuid string
    this.store = new K.Store();
    this.iteration = 0;
  }
  async distribute() {
    const m = await this.K.C.SenderKeyDistributionMessage.create(senderAddress(this.K), this.distributionId, this.store);
    const bytes = Buffer.from(m.serialize());
    MADE.skdm.add(bytes[0]);
    const states = recordStates(this.store.only());
    if (states.length !== 1) fail('sender record holds ' + states.length + ' states');
    const p = parseSkdm(bytes);
    if (p.chainId !== states[0].chainId || p.iteration !== states[0].iteration || !p.chainKey.equals(states[0].seed) || !p.signingKey.equals(states[0].signingPublic)) {
      fail('distribution message does not match the sender record');
    }
    return { distribution_message: hex(bytes), sender_signing_private: hex(states[0].signingPrivate) };
  }
  async send(plaintext) {
    const ct = await this.K.C.groupEncrypt(senderAddress(this.K), this.distributionId, this.store, plaintext);
    if (ct.type() !== this.K.C.CiphertextMessageType.SenderKey) fail('groupEncrypt gave message type ' + ct.type());
    const bytes = Buffer.from(ct.serialize());
    MADE.skm.add(bytes[0]);
    const it = parseSkm(bytes).iteration;
    if (it !== this.iteration) fail(`sender message has iteration ${it}, expected ${this.iteration}`);
    this.iteration++;
    return { plaintext: hex(plaintext), ciphertext: hex(bytes), iteration: it };
  }
  rotate() {
    this.store = new this.K.Store();
    this.iteration = 0;
  }
  signingPrivate() { return recordStates(this.store.only())[0].signingPrivate; }
}

// Plaintexts: random bytes, every third size readable text.
function plaintext(n) {
  if (n % 3 === 0) return Buffer.from('tandem group hello '.repeat(Math.ceil(n / 19) + 1).slice(0, n));
  return crypto.randomBytes(n);
}
const uuidHex = (uuid) => uuid.replace(/-/g, '');

// libsignal's refusal -> the name of tandem's error variant.
function errorName(K, e) {
  const m = String(e && e.message);
  if (e && e.code === K.C.ErrorCode.DuplicatedMessage) return 'Duplicate';
  if (/too far into the future/.test(m)) return 'TooFarAhead';
  if (/invalid signature detected/.test(m)) return 'BadSignature';
  if (/ciphertext version was (too old|unrecognized)/.test(m)) return 'UnknownVersion';
  if (/serialized bytes were too short|protobuf encoding was invalid/.test(m)) return 'Malformed';
  if (/missing sender key state/.test(m)) return 'NoSenderKey';
  if (/decryption failed/.test(m)) return 'BadCiphertext';
  return 'Unmapped';
}
const describe = (e) => `${e.name}${e.code !== undefined ? ` (code ${e.code})` : ''}: ${e.message}`;

// Replays case c from its JSON with library K and a fresh receiver store. Returns per receive
// { ok } or { error, text }.
async function replay(K, c) {
  const C = K.C;
  const store = new K.Store();
  const addr = senderAddress(K);
  const later = c.later_distributions || [];
  const processDist = (h) => C.processSenderKeyDistributionMessage(addr, C.SenderKeyDistributionMessage.deserialize(unhex(h)), store);
  await processDist(c.distribution_message);
  const out = [];
  for (let r = 0; r <= c.receives.length; r++) {
    for (const d of later) if (d.before === r) await processDist(d.distribution_message);
    if (r === c.receives.length) break;
    const m = c.messages[c.receives[r]];
    try {
      const pt = Buffer.from(await C.groupDecrypt(addr, store, unhex(m.ciphertext)));
      out.push(hex(pt) === m.plaintext ? { ok: true } : { error: 'WrongPlaintext', text: 'decrypted to another plaintext' });
    } catch (e) {
      out.push({ error: errorName(K, e), text: describe(e) });
    }
  }
  return out;
}
// Problem text, or null when the replay matches the case exactly.
function judge(c, results) {
  for (const [r, res] of results.entries()) {
    if (r === c.fails_at) {
      if (res.ok) return `receive ${r} (message ${c.receives[r]}) was accepted but must fail with ${c.error}`;
      if (res.error !== c.error) return `receive ${r} (message ${c.receives[r]}) failed with ${res.error} (${res.text}), expected ${c.error}`;
    } else if (!res.ok) {
      return `receive ${r} (message ${c.receives[r]}) failed: ${res.text}`;
    }
  }
  return null;
}

// Independent checks of every message the sender's chain made (see the header).
function rederive(c) {
  const dists = [{ before: 0, distribution_message: c.distribution_message, sender_signing_private: c.sender_signing_private }, ...(c.later_distributions || [])];
  const failOnly = c.fails_at === undefined ? null : c.receives[c.fails_at];
  for (const d of dists) {
    const p = parseSkdm(unhex(d.distribution_message));
    if (p.version !== 0x33) fail(`${c.id}: distribution message version byte 0x${p.version.toString(16)}`);
    if (hex(p.distributionId) !== c.distribution_id) fail(`${c.id}: distribution message for another distribution id`);
    if (d.sender_signing_private !== null) {
      const pub = Buffer.from(L.C.PrivateKey.deserialize(unhex(d.sender_signing_private)).getPublicKey().serialize());
      if (!pub.equals(p.signingKey)) fail(`${c.id}: sender_signing_private does not give the distribution message's signing key`);
    }
  }
  let checked = 0;
  for (const [i, m] of c.messages.entries()) {
    const firstOk = c.receives.findIndex((x, r) => x === i && r !== c.fails_at);
    if (i === failOnly && firstOk < 0) continue; // a tampered copy or a message refused for its own reason
    // The distribution message it comes from: the newest one with its chain id processed before
    // its first successful receive (or the first one for a message never received).
    const sm = parseSkm(unhex(m.ciphertext));
    const before = firstOk < 0 ? 0 : firstOk;
    const candidates = dists.filter((d) => d.before <= before).map((d) => parseSkdm(unhex(d.distribution_message)))
      .filter((p) => p.chainId === sm.chainId);
    const p = candidates[candidates.length - 1];
    if (!p) fail(`${c.id}: message ${i} has a chain id no distribution message has`);
    if (!sm.distributionId.equals(p.distributionId)) fail(`${c.id}: message ${i} has another distribution id`);
    if (sm.iteration !== m.iteration) fail(`${c.id}: message ${i} iteration field ${sm.iteration} != ${m.iteration}`);
    if (m.iteration < p.iteration) fail(`${c.id}: message ${i} is before its distribution message's iteration`);
    const ct = aesCbc(messageKeyAt(p.chainKey, p.iteration, m.iteration), unhex(m.plaintext));
    const body = encodeSkmBody(p.distributionId, p.chainId, m.iteration, ct);
    if (!sm.body.slice(1).equals(body)) fail(`${c.id}: message ${i} does not re-derive from its chain (protobuf differs)`);
    if (![0x33, 0x34].includes(sm.version)) fail(`${c.id}: message ${i} version byte`);
    const key = L.C.PublicKey.deserialize(p.signingKey);
    if (!key.verify(sm.body, sm.signature)) fail(`${c.id}: message ${i}: signature does not verify over the bytes before it`);
    if (!L.C.SenderKeyMessage.deserialize(unhex(m.ciphertext)).verifySignature(key)) fail(`${c.id}: message ${i}: verifySignature disagrees`);
    checked++;
  }
  return checked;
}

// --- tampering --------------------------------------------------------------------------------

const TAMPER = {
  'bad-signature': { error: 'BadSignature', text: 'first signature byte flipped (low bit)', f: (b) => { b[b.length - 64] ^= 0x01; return b; } },
  'bad-signature-last-byte': { error: 'BadSignature', text: 'last signature byte flipped (low bit)', f: (b) => { b[b.length - 1] ^= 0x01; return b; } },
  'bad-ciphertext': { error: 'BadSignature', text: 'a byte in the middle of the AES ciphertext flipped (the signature covers it)',
    f: (b) => { const s = parseSkm(b).fields.find((x) => x.tag === 4); b[1 + s.start + ((s.end - s.start) >> 1)] ^= 0x01; return b; } },
  'tampered-iteration': { error: 'BadSignature', text: 'iteration field 1 -> 3 (same length; the signature is checked before the chain is moved)',
    f: (b) => { const s = parseSkm(b).fields; const at = 1 + fieldOffset(s, 3); if (b[at] !== 1) throw new Error('iteration is not 1'); b[at] = 3; return b; } },
  'tampered-chain-id': { error: 'NoSenderKey', text: 'low bit of the chain id flipped (no chain with that id: looked up before the signature)',
    f: (b) => { const s = parseSkm(b).fields; b[1 + fieldOffset(s, 2)] ^= 0x01; return b; } },
  'tampered-distribution-id': { error: 'NoSenderKey', text: 'first byte of the distribution uuid flipped (no record for it: looked up before the signature)',
    f: (b) => { const s = parseSkm(b).fields.find((x) => x.tag === 1); b[1 + s.start] ^= 0x01; return b; } },
  'version-too-old': { error: 'UnknownVersion', text: 'version byte 0x33 -> 0x23', f: (b) => { b[0] = 0x23; return b; } },
  'version-unknown': { error: 'UnknownVersion', text: 'version byte 0x33 -> 0x43', f: (b) => { b[0] = 0x43; return b; } },
  'version-low-nibble': { error: 'BadSignature', text: 'version byte 0x33 -> 0x34 without re-signing (the low nibble is not checked, but the signature covers the byte)', f: (b) => { b[0] = 0x34; return b; } },
  'truncated-half': { error: 'Malformed', text: 'cut to half its length (shorter than version byte + signature)', f: (b) => b.slice(0, b.length >> 1) },
  'truncated-one-byte': { error: 'Malformed', text: 'last byte cut off (the protobuf then ends inside the ciphertext field)', f: (b) => b.slice(0, b.length - 1) },
};
// Offset (in the protobuf) of the value of varint field `tag`.
function fieldOffset(fields, tag) {
  // Re-parse to find where the varint value starts: key bytes are 1 byte for tags < 16.
  let pos = 0;
  for (const f of fields) {
    if (f.tag === tag) return pos + 1;
    pos += 1 + (f.wire === 0 ? varint(f.value).length : varint(f.value.length).length + f.value.length);
  }
  throw new Error('no field ' + tag);
}

// --- scenarios -------------------------------------------------------------------------------

function newCase(id, comment, distributionId, dist) {
  return {
    id, comment, expect: 'valid',
    distribution_id: uuidHex(distributionId),
    distribution_message: dist.distribution_message,
    sender_signing_private: dist.sender_signing_private,
    messages: [], receives: [],
  };
}
function invalid(c, error, failsAt) {
  // Keep the documented field order: id, comment, expect, error, fails_at, then the rest.
  const { id, comment, expect, ...rest } = c;
  void expect;
  return { id, comment, expect: 'invalid', error, fails_at: failsAt, ...rest };
}

async function simple(id, comment, sizes, receives, opts = {}) {
  const dist = crypto.randomUUID();
  const s = new Sender(L, dist);
  const d = await s.distribute();
  const c = newCase(id, comment, dist, d);
  for (const n of sizes) c.messages.push(await s.send(plaintext(n)));
  c.receives = receives;
  return { c, s, dist };
}

async function transcriptCases(chain) {
  const cases = [];
  cases.push((await simple('in-order', 'the sender sends 5 messages (0, 1, 100, 1000, 4096 bytes), the receiver gets them in order', [0, 1, 100, 1000, 4096], [0, 1, 2, 3, 4])).c);
  cases.push((await simple('large', 'a 64 KiB message between two small ones, in order', [3, 65536, 16], [0, 1, 2])).c);
  cases.push((await simple('out-of-order', 'the sender sends 5 messages, the receiver gets them in the order 4, 0, 3, 1, 2 (0-3 from skipped keys)', [16, 15, 17, 32, 31], [4, 0, 3, 1, 2])).c);
  cases.push((await simple('lost', 'the sender sends 6 messages, the receiver gets 0, 2 and 5 only (1, 3, 4 are lost)', [5, 6, 7, 8, 9, 10], [0, 2, 5])).c);

  {
    // Late join: the distribution message is made after the sender already sent 10 messages.
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    await s.distribute();
    const early = [];
    for (let i = 0; i < 10; i++) early.push(await s.send(plaintext(20 + i)));
    const d = await s.distribute();
    if (parseSkdm(unhex(d.distribution_message)).iteration !== 10) fail('late distribution message is not at iteration 10');
    const c = newCase('late-join', 'the distribution message is made after the sender already sent 10 messages (iterations 0-9), so it starts at iteration 10; the receiver gets iterations 10, 11, 12 (earlier messages are not listed: they cannot be read with this chain)', dist, d);
    const later = [];
    for (let i = 0; i < 3; i++) later.push(await s.send(plaintext(40 + i)));
    c.messages = [...later];
    c.receives = [0, 1, 2];
    cases.push(c);
    const bad = invalid({ ...newCase('late-join-earlier-message', 'as late-join; first the receiver gets the sender\'s message at iteration 9, sent before the distribution message was made (older than the chain it was given), then 10, 11, 12', dist, d) }, 'Duplicate', 0);
    bad.messages = [...later, early[9]];
    bad.receives = [3, 0, 1, 2];
    cases.push(bad);
  }

  {
    const mk = (id, comment, sizes, receives, failsAt, error, extra) => ({ id, comment, sizes, receives, failsAt, error, extra });
    const specs = [
      mk('duplicate', 'the sender sends 3 messages; the receiver gets 0, 1, then 1 again, then 2', [11, 12, 13], [0, 1, 1, 2], 2, 'Duplicate'),
      mk('duplicate-skipped', 'the sender sends 3 messages; the receiver gets 2, then 0 (from a skipped key), then 0 again (the key was used up), then 1', [11, 12, 13], [2, 0, 0, 1], 2, 'Duplicate'),
    ];
    for (const sp of specs) {
      const { c } = await simple(sp.id, sp.comment, sp.sizes, sp.receives);
      cases.push(invalid(c, sp.error, sp.failsAt));
    }
  }

  // Tampered copies of message 1 (an extra entry in `messages`, never sent), received before
  // the original; every other receive must still succeed.
  for (const [kind, t] of Object.entries(TAMPER)) {
    const { c } = await simple(kind, `the sender sends 3 messages; the receiver gets 0, then a copy of 1 with ${t.text}, then the real 1 and 2`, [17, 16, 18], [0, 3, 1, 2]);
    c.messages.push({ ...c.messages[1], ciphertext: hex(t.f(unhex(c.messages[1].ciphertext))) });
    cases.push(invalid(c, t.error, 1));
  }
  {
    // A duplicate whose signature is broken: the signature is checked before the iteration.
    const { c } = await simple('bad-signature-duplicate', 'the receiver gets 0 and 1, then a copy of 1 with its first signature byte flipped (refused for the signature, not as a duplicate: the signature is checked first), then 2', [17, 16, 18], [0, 1, 3, 2]);
    c.messages.push({ ...c.messages[1], ciphertext: hex(TAMPER['bad-signature'].f(unhex(c.messages[1].ciphertext))) });
    cases.push(invalid(c, 'BadSignature', 2));
  }

  {
    // Crafted with the sender's own signing key (PrivateKey.sign, SenderKeyMessage._new).
    const { c, s, dist } = await simple('version-low-nibble-signed', 'the sender sends 3 messages; message 1 is re-signed by the sender with version byte 0x34 instead of 0x33 (libsignal checks only the high nibble, 3): accepted. Re-deriving it gives the same protobuf with 0x33', [17, 16, 18], [0, 1, 2]);
    const priv = L.C.PrivateKey.deserialize(s.signingPrivate());
    const b = unhex(c.messages[1].ciphertext);
    const body = Buffer.from(b.slice(0, b.length - 64));
    body[0] = 0x34;
    c.messages[1] = { ...c.messages[1], ciphertext: hex(Buffer.concat([body, Buffer.from(priv.sign(body))])) };
    cases.push(c);

    const pad = await simple('bad-padding-signed', 'the sender sends 3 messages (message 1 has 16 bytes, so its ciphertext is 2 blocks and the second is all padding); the receiver gets 0, then a copy of 1 whose last byte of the first ciphertext block is flipped (the padding byte becomes 0x11) and that the sender signed again, then the real 1 and 2', [17, 16, 18], [0, 3, 1, 2]);
    const p = parseSkm(unhex(pad.c.messages[1].ciphertext));
    if (p.ciphertext.length !== 32) fail('bad-padding-signed: ciphertext is not 2 blocks');
    const ct = Buffer.from(p.ciphertext);
    ct[15] ^= 0x01;
    const privP = L.C.PrivateKey.deserialize(pad.s.signingPrivate());
    const crafted = L.C.SenderKeyMessage._new(3, pad.dist, p.chainId, p.iteration, ct, privP);
    pad.c.messages.push({ ...pad.c.messages[1], ciphertext: hex(crafted.serialize()) });
    cases.push(invalid(pad.c, 'BadCiphertext', 1));

    const len = await simple('bad-length-signed', 'as bad-padding-signed, but the copy of 1 has its ciphertext cut to 15 bytes (not a multiple of the AES block) and is signed again by the sender', [17, 16, 18], [0, 3, 1, 2]);
    const q = parseSkm(unhex(len.c.messages[1].ciphertext));
    const privL = L.C.PrivateKey.deserialize(len.s.signingPrivate());
    const crafted2 = L.C.SenderKeyMessage._new(3, len.dist, q.chainId, q.iteration, Buffer.from(q.ciphertext.slice(0, 15)), privL);
    len.c.messages.push({ ...len.c.messages[1], ciphertext: hex(crafted2.serialize()) });
    cases.push(invalid(len.c, 'BadCiphertext', 1));
    void dist;
  }

  {
    // Messages from a chain the receiver was never given.
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    const d = await s.distribute();
    const m0 = await s.send(plaintext(21));
    const m1 = await s.send(plaintext(22));
    const dist2 = crypto.randomUUID();
    const s2 = new Sender(L, dist2);
    await s2.distribute();
    const x = await s2.send(plaintext(23));
    const c = newCase('other-distribution', 'the receiver gets 0, then a message of the same sender for another distribution id whose distribution message it never got, then 1', dist, d);
    c.messages = [m0, m1, x];
    c.receives = [0, 2, 1];
    cases.push(invalid(c, 'NoSenderKey', 1));

    const s3 = new Sender(L, dist); // the same distribution id, a new chain (the sender dropped its record)
    await s3.distribute();
    const y = await s3.send(plaintext(24));
    const c2 = newCase('other-chain', 'the receiver gets 0, then a message for the same distribution id from a new chain of the sender (it dropped its record and made a new distribution message the receiver never got), then 1', dist, d);
    c2.messages = [m0, m1, y];
    c2.receives = [0, 2, 1];
    cases.push(invalid(c2, 'NoSenderKey', 1));
  }

  // Far ahead and old keys, all from one long chain (the same distribution message).
  {
    const { d, dist, msgs, limit, keep } = chain;
    const at = (i) => msgs[i];
    const lc = (id, comment, iterations, receives) => {
      const c = newCase(id, comment, dist, d);
      c.messages = iterations.map(at);
      c.receives = receives;
      return c;
    };
    cases.push(lc('far-ahead-within', `the sender sends ${limit + 2} messages; the receiver gets only iteration ${limit} (${limit} ahead of its chain at 0: the largest jump libsignal accepts), then ${limit + 1}. Messages 0-${limit - 1} are not listed (lost)`, [limit, limit + 1], [0, 1]));
    cases.push(invalid(lc('far-ahead-beyond', `from the same chain: the receiver first gets iteration ${limit + 1} (${limit + 1} ahead of its chain at 0), then 0, then ${limit} (now ${limit - 1} ahead)`, [limit + 1, 0, limit], [0, 1, 2]), 'TooFarAhead', 0));
    cases.push(lc('far-ahead-relative-within', `from the same chain: the receiver gets iteration 5 (its chain moves to 6), then ${limit + 6} (${limit} ahead of 6)`, [5, limit + 6], [0, 1]));
    cases.push(invalid(lc('far-ahead-relative-beyond', `from the same chain: the receiver gets iteration 5 (its chain moves to 6), then ${limit + 7} (${limit + 1} ahead of 6), then ${limit + 6}`, [5, limit + 7, limit + 6], [0, 1, 2]), 'TooFarAhead', 1));
    {
      const c = lc('far-ahead-bad-signature', `from the same chain: the receiver first gets a copy of iteration ${limit + 1} with its first signature byte flipped (refused for the signature, not the jump: the signature is checked first), then 0`, [limit + 1, 0], [0, 1]);
      c.messages[0] = { ...c.messages[0], ciphertext: hex(TAMPER['bad-signature'].f(unhex(c.messages[0].ciphertext))) };
      cases.push(invalid(c, 'BadSignature', 0));
    }
    cases.push(lc('old-key-kept', `from the same chain: the receiver gets iteration ${keep} (keeping the keys of 0-${keep - 1}: ${keep} keys), then 0 and ${keep - 1}`, [keep, 0, keep - 1], [0, 1, 2]));
    cases.push(invalid(lc('old-key-evicted', `from the same chain: the receiver gets iteration ${keep + 1} (${keep + 1} skipped keys, the oldest, 0, is dropped), then 0 (refused), then 1`, [keep + 1, 0, 1], [0, 1, 2]), 'Duplicate', 1));
  }
  return cases;
}

async function rotationCases() {
  const cases = [];
  const withLater = (c, later) => {
    const { messages, receives, ...rest } = c;
    return { ...rest, later_distributions: later, messages, receives };
  };
  {
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    const a = await s.distribute();
    const am = [];
    for (let i = 0; i < 3; i++) am.push(await s.send(plaintext(30 + i)));
    s.rotate();
    const b = await s.distribute();
    const bm = [];
    for (let i = 0; i < 2; i++) bm.push(await s.send(plaintext(40 + i)));
    const c = newCase('rotation-both-chains', 'the sender sends a0-a2 on chain A, drops its record and makes chain B (new chain id and signing key, same distribution id), sends b0, b1. The receiver gets a0, processes B, then b0, a1 (the old chain still works), b1, a2', dist, a);
    c.messages = [...am, ...bm];
    c.receives = [0, 3, 1, 4, 2];
    cases.push(withLater(c, [{ before: 1, ...b }]));
  }
  async function chains(n, dist) {
    const out = [];
    for (let k = 0; k < n; k++) {
      const s = new Sender(L, dist);
      const d = await s.distribute();
      out.push({ d, m: await s.send(plaintext(50 + k)) });
    }
    return out;
  }
  {
    const dist = crypto.randomUUID();
    const ch = await chains(5, dist);
    const c = newCase('five-states-kept', 'the sender starts 5 chains (dropping its record each time) for one distribution id and sends one message on each; the receiver processes all 5 distribution messages, then gets the message of each chain, oldest first: all 5 chains are kept', dist, ch[0].d);
    c.messages = ch.map((x) => x.m);
    c.receives = [0, 1, 2, 3, 4];
    cases.push(withLater(c, ch.slice(1).map((x) => ({ before: 0, ...x.d }))));
  }
  {
    const dist = crypto.randomUUID();
    const ch = await chains(6, dist);
    const c = newCase('sixth-state-drops-oldest', 'as five-states-kept with 6 chains: the receiver processes all 6 distribution messages, then gets the message of the first chain (dropped: at most 5 states are kept) and then those of chains 2-6', dist, ch[0].d);
    c.messages = ch.map((x) => x.m);
    c.receives = [0, 1, 2, 3, 4, 5];
    cases.push(invalid(withLater(c, ch.slice(1).map((x) => ({ before: 0, ...x.d }))), 'NoSenderKey', 0));
  }
  {
    const dist = crypto.randomUUID();
    const ch = await chains(6, dist);
    const c = newCase('redistribution-moves-to-front', 'chains A-F of one sender, one message each; the receiver processes the distribution messages of A-E, then A again (it becomes the newest state), then F, which drops B (now the oldest), not A; then it gets the message of B (refused), then A, C, D, E, F', dist, ch[0].d);
    c.messages = ch.map((x) => x.m);
    c.receives = [1, 0, 2, 3, 4, 5];
    const later = [...ch.slice(1, 5).map((x) => ({ before: 0, ...x.d })), { before: 0, ...ch[0].d }, { before: 0, ...ch[5].d }];
    cases.push(invalid(withLater(c, later), 'NoSenderKey', 0));
  }
  {
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    const a = await s.distribute();
    const c = newCase('redistribution-no-rewind', 'the receiver gets a0, a1, then processes the same distribution message again (the chain is kept where it is, not reset to iteration 0), then gets a1 again (refused as a duplicate), then a2', dist, a);
    for (let i = 0; i < 3; i++) c.messages.push(await s.send(plaintext(60 + i)));
    c.receives = [0, 1, 1, 2];
    cases.push(invalid(withLater(c, [{ before: 2, ...a }]), 'Duplicate', 2));
  }
  {
    // A distribution message with the chain id of chain A but another signing key and chain key
    // (made with SenderKeyDistributionMessage._new; its message with SenderKeyMessage._new over
    // a ciphertext from this script's own derivation).
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    const a = await s.distribute();
    const am = [];
    for (let i = 0; i < 2; i++) am.push(await s.send(plaintext(70 + i)));
    const pa = parseSkdm(unhex(a.distribution_message));
    const priv = L.C.PrivateKey.generate();
    const chainKey = crypto.randomBytes(32);
    const x = L.C.SenderKeyDistributionMessage._new(3, dist, pa.chainId, 0, chainKey, priv.getPublicKey());
    const xd = { distribution_message: hex(x.serialize()), sender_signing_private: hex(priv.serialize()) };
    const pt = plaintext(72);
    const xm = L.C.SenderKeyMessage._new(3, dist, pa.chainId, 0, aesCbc(messageKeyAt(chainKey, 0, 0), pt), priv);
    const c = newCase('same-chain-id-other-key', 'the receiver gets a0 of chain A, then processes a distribution message with the chain id of A but another signing key and chain key (it replaces A), then gets a1 of A (refused: signed by the old key), then x0, a message of the replacing chain', dist, a);
    c.messages = [...am, { plaintext: hex(pt), ciphertext: hex(xm.serialize()), iteration: 0 }];
    c.receives = [0, 1, 2];
    cases.push(invalid(withLater(c, [{ before: 1, ...xd }]), 'BadSignature', 1));
  }
  {
    const dist = crypto.randomUUID();
    const s = new Sender(L, dist);
    const a = await s.distribute();
    const a0 = await s.send(plaintext(80));
    s.rotate();
    const b = await s.distribute();
    const b0 = await s.send(plaintext(81));
    const c = newCase('message-before-distribution', 'the receiver gets a0 of chain A, then b0 of the sender\'s new chain B before B\'s distribution message (refused), then processes B, then b0 again (now it decrypts)', dist, a);
    c.messages = [a0, b0];
    c.receives = [0, 1, 1];
    cases.push(invalid(withLater(c, [{ before: 2, ...b }]), 'NoSenderKey', 1));
  }
  return cases;
}

// --- limits: binary search with the recording library ------------------------------------------

async function longChain() {
  const dist = crypto.randomUUID();
  const s = new Sender(L, dist);
  const d = await s.distribute();
  const N = 26000;
  const msgs = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i++) msgs.push(await s.send(crypto.randomBytes(i % 48)));
  note(`long chain: ${N} messages encrypted in ${Date.now() - t0} ms`);
  const C = L.C;
  const addr = senderAddress(L);
  const fresh = async () => {
    const st = new L.Store();
    await C.processSenderKeyDistributionMessage(addr, C.SenderKeyDistributionMessage.deserialize(unhex(d.distribution_message)), st);
    return st;
  };
  const errs = new Map();
  // Forward: does a fresh receiver (chain at 0) accept iteration n?
  const ahead = async (n) => {
    const st = await fresh();
    try { await C.groupDecrypt(addr, st, unhex(msgs[n].ciphertext)); return true; } catch (e) { errs.set('ahead', describe(e)); return false; }
  };
  // Backward: after receiving n, is iteration 0 still readable?
  const back = async (n) => {
    const st = await fresh();
    await C.groupDecrypt(addr, st, unhex(msgs[n].ciphertext));
    try { await C.groupDecrypt(addr, st, unhex(msgs[0].ciphertext)); return true; } catch (e) { errs.set('back', describe(e)); return false; }
  };
  async function largestTrue(probe, lo, hi) { // probe(lo) true, probe(hi) false
    if (!(await probe(lo)) || (await probe(hi))) fail(`binary search: no boundary in [${lo}, ${hi}]`);
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (await probe(mid)) lo = mid; else hi = mid;
    }
    return lo;
  }
  const probes = [];
  for (const n of [1999, 2000, 2001, 2002, 24999, 25000, 25001, 25002]) probes.push(`${n}: ${(await ahead(n)) ? 'accepted' : 'refused'}`);
  const limit = await largestTrue(ahead, 0, N - 1);
  const aheadErr = errs.get('ahead');
  const keep = await largestTrue(back, 1, 25000);
  const backErr = errs.get('back');
  note(`forward jump from a fresh chain (probes) ${probes.join(', ')}`);
  note(`largest forward jump accepted: ${limit} (iteration - chain position > ${limit} is refused: ${aheadErr})`);
  note(`skipped keys kept: ${keep} (after iteration ${keep + 1}, iteration 0 is refused: ${backErr})`);
  if (limit + 7 >= N) fail('long chain too short for the relative far-ahead cases');
  return { d, dist, msgs, limit, keep };
}

// --- main --------------------------------------------------------------------------------------

async function main() {
  const chain = fileKind === 'transcripts' ? await longChain() : null;
  const raw = fileKind === 'transcripts' ? await transcriptCases(chain) : await rotationCases();

  const cases = [];
  const refusals = [];
  let disagreements = 0;
  let rederived = 0;
  for (const c0 of raw) {
    const c = JSON.parse(JSON.stringify(c0));
    const res = await replay(L, c);
    const problem = judge(c, res);
    if (problem) fail(`${c.id}: under ${L.name}: ${problem}`);
    if (c.expect === 'invalid') {
      const text = res[c.fails_at].text;
      c.comment += `. Refused by ${L.name} with ${text}`;
      refusals.push(`  ${c.id}: ${c.error} <- ${text}`);
    }
    const other = await replay(OTHER, c);
    const p2 = judge(c, other);
    if (p2) {
      note(`DISAGREEMENT ${c.id}: under ${OTHER.name}: ${p2}`);
      disagreements++;
    } else if (c.expect === 'invalid' && other[c.fails_at].text !== res[c.fails_at].text) {
      note(`note: ${c.id}: ${OTHER.name} words the refusal as ${other[c.fails_at].text}`);
    }
    rederived += rederive(c);
    cases.push(c);
  }
  if (new Set(cases.map((c) => c.id)).size !== cases.length) fail('duplicate case ids');

  // Wire layouts over the messages in the files (not the tampered copies); first bytes over
  // everything the library made.
  const firstSkdm = MADE.skdm;
  const firstSkm = MADE.skm;
  const skdmLayouts = new Set();
  const skmLayouts = new Set();
  for (const c of cases) {
    for (const d of [c, ...(c.later_distributions || [])]) {
      const b = unhex(d.distribution_message);
      skdmLayouts.add(layout(parseSkdm(b).fields));
    }
    const failOnly = c.fails_at === undefined ? null : c.receives[c.fails_at];
    for (const [i, m] of c.messages.entries()) {
      if (i === failOnly) continue;
      const b = unhex(m.ciphertext);
      skmLayouts.add(layout(parseSkm(b).fields).replace(/4:bytes\[\d+\]/, '4:bytes[n]') + ' + signature[64]');
    }
  }
  if (!firstSkdm.has(0x33) || firstSkdm.size !== 1) fail('distribution messages do not all start with 0x33');
  if (!firstSkm.has(0x33) || firstSkm.size !== 1) fail('group messages do not all start with 0x33');
  await recordLayouts();

  const source = `recorded from @signalapp/libsignal-client ${L.version}${lib === 'classic' ? ' (npm alias libsignal-client-classic)' : ''} by test-vectors/interop/record-sender-keys.js${fileKind === 'rotation' ? ' rotation' : ''}`;
  const description = fileKind === 'transcripts'
    ? 'Sender Key group messages: one sender chain per case as a group member receives it (distribution message, then receives in order). ' +
      'sender_signing_private was read from the sender\'s serialized SenderKeyRecord. Every message except one received only at fails_at (a tampered copy, or a message refused for its own reason) was made by the sender chain of the distribution message at its iteration: re-encrypting it gives the same bytes up to the randomized 64-byte signature (and, in version-low-nibble-signed, the version byte 0x34). ' +
      'Far-ahead and old-key cases share one long chain; messages not listed were lost. Every invalid case was refused by the library (comment), and each was also replayed under the other official release with the same outcome.'
    : 'Sender Key chains of one sender and one distribution id that change: rotation (the sender drops its record and distributes a new chain), the bound of 5 states per record, a distribution message processed again, one with a known chain id but another key. ' +
      'later_distributions: distribution messages the receiver processes just before receives[before] (in the listed order; before = receives.length means after the last receive). Each message comes from the newest distribution message with its chain id processed before its first successful receive.';
  const file = { kind: 'sender-key-transcript', source, description, cases };
  process.stdout.write(JSON.stringify(file, null, 2) + '\n');

  const valid = cases.filter((c) => c.expect === 'valid').length;
  note(`${L.name} ${fileKind}: ${cases.length} cases (${valid} valid, ${cases.length - valid} invalid); ${rederived} messages re-derived independently (chain, AES, canonical protobuf, signature)`);
  note(`first byte: SenderKeyDistributionMessage ${[...firstSkdm].map((b) => '0x' + b.toString(16)).join(' ')}; SenderKeyMessage ${[...firstSkm].map((b) => '0x' + b.toString(16)).join(' ')}`);
  note(`SenderKeyDistributionMessage fields (tag:type in encoded order): ${[...skdmLayouts].join(' | ')}`);
  note(`SenderKeyMessage fields: ${[...new Set(skmLayouts)].join(' | ')}`);
  note('refusals:\n' + refusals.join('\n'));
  note(`replayed under ${OTHER.name}: ${disagreements ? disagreements + ' disagreements' : 'same outcome for every case'}`);
  if (disagreements) process.exit(1);
}

// Observed SenderKeyRecord layouts (sender and receiver, the latter with skipped message keys),
// and a check that signatures are randomized.
async function recordLayouts() {
  const C = L.C;
  const dist = crypto.randomUUID();
  const s = new Sender(L, dist);
  const d = await s.distribute();
  const msgs = [];
  for (let i = 0; i < 3; i++) msgs.push(await s.send(plaintext(i)));
  const r = new L.Store();
  const addr = senderAddress(L);
  await C.processSenderKeyDistributionMessage(addr, C.SenderKeyDistributionMessage.deserialize(unhex(d.distribution_message)), r);
  await C.groupDecrypt(addr, r, unhex(msgs[2].ciphertext));
  const show = (bytes) => {
    const top = parseProto(bytes);
    return `record {${top.map((f) => f.tag).join(',')}} state: ` + recordStates(bytes).map((st) => st.fields.map((f) => {
      if (f.wire === 0) return `${f.tag}=${f.value}`;
      return `${f.tag}{${parseProto(f.value).map((g) => `${g.tag}:${g.wire === 0 ? g.value : g.value.length + 'B'}`).join(' ')}}`;
    }).join(' ')).join(' ; ');
  };
  note(`sender record after 3 sends: ${show(s.store.only())}`);
  note(`receiver record after iteration 2 (0, 1 skipped): ${show(r.only())}`);
  // Skipped keys hold message-key seeds, HMAC(chain key at that iteration, 0x01).
  const st = recordStates(r.only())[0];
  const p = parseSkdm(unhex(d.distribution_message));
  for (const mk of st.messageKeys) {
    const it = field(mk, 1) ? field(mk, 1).value : 0;
    let ck = p.chainKey;
    for (let i = 0; i < it; i++) ck = hmac(ck, Buffer.from([2]));
    if (!field(mk, 2).value.equals(hmac(ck, Buffer.from([1])))) fail('skipped message key is not HMAC(chain key, 0x01)');
  }
  const sm = parseSkm(unhex(msgs[0].ciphertext));
  const priv = C.PrivateKey.deserialize(s.signingPrivate());
  const a = Buffer.from(C.SenderKeyMessage._new(3, dist, sm.chainId, 0, sm.ciphertext, priv).serialize());
  const b = Buffer.from(C.SenderKeyMessage._new(3, dist, sm.chainId, 0, sm.ciphertext, priv).serialize());
  if (!a.slice(0, -64).equals(sm.body) || a.equals(b)) fail('signature randomization check');
  note('signatures: the same message signed twice gives two different signatures (randomized XEdDSA); the bytes before them are identical');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
