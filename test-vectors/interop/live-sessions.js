'use strict';
// Live pairwise sessions between tandem and the real libsignal: tandem encrypts, libsignal
// decrypts, and the reverse, over whole conversations.
//
//   node live-sessions.js [--seed S] [--peer PATH]
//
// tandem runs as `tandem-peer` (test-vectors/src/bin/tandem-peer.rs), a child process speaking
// one JSON line per request on stdin/stdout; by default it is started with
// `cargo run -q --locked -p tandem-vectors --bin tandem-peer -- --seed S` from the repository
// root, or PATH is the built binary. The seed fixes tandem's keys and, here, every plaintext,
// registration id, prekey id and delivery order; the oracles draw their own keys, so a rerun with
// the same seed repeats the same conversation shape with other oracle keys.
//
// Oracles: the JavaScript port (npm `libsignal` 6.0.0, messages start 0x33) and Signal's official
// library at 0.72.1 (npm alias `libsignal-client-classic`, messages start 0x34, bundles without a
// Kyber prekey), with in-memory stores as in record-sessions.js. For each oracle, four
// conversations: tandem initiates from the oracle's bundle, or the oracle initiates from
// tandem's, each with and without a one-time prekey. Every conversation has the same shape
// (CONVERSATION below): PreKey messages delivered out of order, replies out of order, ping-pong
// with a DH ratchet step on every message, out-of-order runs and lost messages both ways, a
// message from an old chain arriving after the new chain both ways, a ~1 MiB message each way,
// and tampered (MAC or ciphertext byte flipped) and duplicated copies of oracle messages, which
// tandem must refuse (BadMac, Duplicate) without losing the originals. tandem's one-time prekey
// count is checked: used up by the first message that decrypts, untouched by a tampered one.
//
// Prints one line per conversation and `live sessions: N scenarios, M messages checked, F failed`;
// exits 1 if any conversation failed (the line says which step, the message bytes and the error),
// 2 on bad usage.

const { spawn } = require('child_process');
const crypto = require('crypto');
const path = require('path');
const readline = require('readline');

// The JS port logs with console.* ("Closing session", decrypt failures): keep stdout for the
// report, and keep what the library said, to show it when a receive fails.
let consoleLog = [];
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => {
    consoleLog.push(args.length ? (args[0] instanceof Error ? `${args[0].name}: ${args[0].message}` : String(args[0])) : '');
  };
}
const out = (s) => process.stdout.write(s + '\n');
const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');
// Bytes in failure reports: whole up to 2 KiB, else the first 256 bytes.
const short = (h) => (h.length > 4096 ? `${h.slice(0, 512)}… (${h.length / 2} bytes)` : h);

// --- arguments -----------------------------------------------------------------------------

function usage() {
  process.stderr.write('usage: node live-sessions.js [--seed S] [--peer PATH_TO_tandem-peer]\n');
  process.exit(2);
}
let seed = String(Math.floor(Date.now() / 1000));
let peerPath = null;
{
  const args = process.argv.slice(2);
  while (args.length) {
    const a = args.shift();
    if (a === '--seed' && args.length) seed = args.shift();
    else if (a === '--peer' && args.length) peerPath = path.resolve(args.shift());
    else usage();
  }
  if (!/^\d+$/.test(seed)) usage(); // tandem-peer takes a u64
}

// --- seeded randomness (plaintexts, ids, orders): AES-256-CTR keystream keyed by the seed ----

const stream = crypto.createCipheriv('aes-256-ctr', crypto.createHash('sha256').update(`tandem live-sessions ${seed}`).digest(), Buffer.alloc(16));
const randomBytes = (n) => stream.update(Buffer.alloc(n));
const randomInt = (n) => randomBytes(4).readUInt32BE(0) % n; // bias irrelevant here
const randomRegistrationId = () => 1 + randomInt(16380); // 14-bit, never 0
const randomKeyId = () => 1 + randomInt(0xfffffe); // never 0: the JS port treats id 0 as "no prekey"
// A permutation of 0..n-1 that is not the identity (n >= 2).
function shuffled(n) {
  const p = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  if (p.every((v, i) => v === i)) p.push(p.shift());
  return p;
}
// Sizes around the AES block, empty, one byte, ~1500 bytes; a third are text (easier to read).
const SIZES = [0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 1000, 1500];
function plaintext(n = SIZES[randomInt(SIZES.length)]) {
  if (n > 0 && randomInt(3) === 0) return Buffer.from('tandem says hello '.repeat(Math.ceil(n / 18)).slice(0, n));
  return randomBytes(n);
}

// --- wire helpers (as in record-sessions.js): enough protobuf to find the MAC and ciphertext ---

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
// [{ tag, value, start, end }] for varint and length-delimited fields (all these messages use).
function parseProto(buf) {
  const fields = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    if ((key & 7) === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      fields.push({ tag: Math.floor(key / 8), value: v });
    } else if ((key & 7) === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error('truncated field');
      fields.push({ tag: Math.floor(key / 8), value: buf.slice(pos, pos + len), start: pos, end: pos + len });
      pos += len;
    } else {
      throw new Error('unexpected wire type ' + (key & 7));
    }
  }
  return fields;
}
const field = (fields, tag) => fields.find((f) => f.tag === tag);
// Where the SignalMessage sits in `body` (all of it, or field 4 of a PreKeySignalMessage).
function signalMessageSpan(type, body) {
  if (type !== 3) return [0, body.length];
  const inner = field(parseProto(body.slice(1)), 4);
  return [1 + inner.start, 1 + inner.end];
}
// SignalMessage = version byte || protobuf (ratchet key 1, counter 2, previous counter 3,
// ciphertext 4) || 8-byte MAC.
function tamper(kind, type, body) {
  const b = Buffer.from(body);
  const [lo, hi] = signalMessageSpan(type, b);
  if (kind === 'mac') {
    b[hi - 1] ^= 0x01;
  } else {
    const ct = field(parseProto(b.slice(lo + 1, hi - 8)), 4);
    b[lo + 1 + ct.start + Math.floor((ct.end - ct.start) / 2)] ^= 0x01;
  }
  return b;
}
const innerVersion = (type, body) => body[signalMessageSpan(type, body)[0]];

// --- tandem-peer ---------------------------------------------------------------------------

class DriverError extends Error {}

class TandemPeer {
  constructor() {
    const root = path.resolve(__dirname, '..', '..');
    const [cmd, args] = peerPath
      ? [peerPath, ['--seed', seed]]
      : ['cargo', ['run', '-q', '--locked', '-p', 'tandem-vectors', '--bin', 'tandem-peer', '--', '--seed', seed]];
    this.command = [cmd, ...args].join(' ');
    this.child = spawn(cmd, args, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    this.pending = [];
    this.dead = null;
    readline.createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      const p = this.pending.shift();
      if (!p) return;
      try {
        p.resolve(JSON.parse(line));
      } catch (e) {
        p.reject(new DriverError(`tandem-peer wrote a line that is not JSON: ${short(line)}`));
      }
    });
    const die = (why) => {
      this.dead = why;
      for (const p of this.pending.splice(0)) p.reject(new DriverError(why));
    };
    this.child.on('error', (e) => die(`cannot start tandem-peer (${this.command}): ${e.message}`));
    this.child.on('exit', (code, signal) => die(`tandem-peer exited (code ${code}, signal ${signal})`));
    this.child.stdin.on('error', () => {}); // reported through 'exit'
  }
  call(req) {
    if (this.dead) return Promise.reject(new DriverError(this.dead));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(JSON.stringify(req) + '\n');
    }).then((r) => {
      if (r.bad_request) throw new DriverError(`tandem-peer: bad request ${req.op}: ${r.bad_request}`);
      return r;
    });
  }
  close() {
    this.child.stdin.end();
  }
}

// --- oracle 1: the JavaScript port (stores as in record-sessions.js) ------------------------

const JS_PKG = require('libsignal/package.json');
const CLASSIC_PKG = require('libsignal-client-classic/package.json');

// Sessions are kept serialized, so a failed decrypt (which mutates the in-memory session before
// it checks the MAC) changes nothing stored.
class JsStore {
  constructor(lib, identity, registrationId, peerIdentity) {
    this.lib = lib;
    this.identity = identity;
    this.registrationId = registrationId;
    this.peerIdentity = peerIdentity; // the only identity this store trusts
    this.sessions = new Map();
    this.preKeys = new Map();
    this.signedPreKeys = new Map();
  }
  async getOurIdentity() { return this.identity; }
  async getOurRegistrationId() { return this.registrationId; }
  async isTrustedIdentity(id, key) { return Buffer.from(key).equals(this.peerIdentity); }
  async loadPreKey(id) { return this.preKeys.get(id); }
  async removePreKey(id) { this.preKeys.delete(id); }
  async loadSignedPreKey(id) { return this.signedPreKeys.get(id); }
  async loadSession(addr) {
    const s = this.sessions.get(addr);
    return s ? this.lib.SessionRecord.deserialize(JSON.parse(s)) : undefined;
  }
  async storeSession(addr, record) { this.sessions.set(addr, JSON.stringify(record.serialize())); }
}

// Each oracle party: { bundle(otk), processBundle(tandemBundle, otk), encrypt(pt), decrypt(type, body) }.
function jsParty(tandemIdentity) {
  const lib = require('libsignal');
  const curve = require('libsignal/src/curve');
  const id = curve.generateKeyPair();
  const spk = curve.generateKeyPair();
  const opk = curve.generateKeyPair();
  const ids = { reg: randomRegistrationId(), spk: randomKeyId(), opk: randomKeyId() };
  const spkSig = curve.calculateSignature(id.privKey, spk.pubKey);
  const store = new JsStore(lib, id, ids.reg, tandemIdentity);
  store.signedPreKeys.set(ids.spk, spk);
  store.preKeys.set(ids.opk, opk);
  const addr = new lib.ProtocolAddress('tandem', 1);
  const cipher = new lib.SessionCipher(store, addr);
  return {
    bundle: (otk) => ({
      registration_id: ids.reg, identity_key: hex(id.pubKey),
      signed_pre_key_id: ids.spk, signed_pre_key: hex(spk.pubKey), signature: hex(spkSig),
      pre_key_id: otk ? ids.opk : null, pre_key: otk ? hex(opk.pubKey) : null,
    }),
    async processBundle(b, otk) {
      await new lib.SessionBuilder(store, addr).initOutgoing({
        identityKey: unhex(b.identity_key), registrationId: b.registration_id,
        signedPreKey: { keyId: b.signed_pre_key_id, publicKey: unhex(b.signed_pre_key), signature: unhex(b.signature) },
        preKey: otk ? { keyId: b.pre_key_id, publicKey: unhex(b.pre_key) } : undefined,
      });
    },
    async encrypt(pt) {
      const r = await cipher.encrypt(pt);
      return { type: r.type === 1 ? 2 : r.type, body: Buffer.from(r.body) }; // the port says 1 for SignalMessage
    },
    async decrypt(type, body) {
      return Buffer.from(type === 3 ? await cipher.decryptPreKeyWhisperMessage(body) : await cipher.decryptWhisperMessage(body));
    },
  };
}

// --- oracle 2: libsignal-client 0.72.1 (stores as in record-sessions.js) --------------------

let classic = null;
function classicLibrary() {
  if (classic) return classic;
  const C = require('libsignal-client-classic');
  class SessionStore extends C.SessionStore {
    constructor() { super(); this.records = new Map(); }
    async saveSession(addr, record) { this.records.set(addr.toString(), Buffer.from(record.serialize())); }
    async getSession(addr) {
      const b = this.records.get(addr.toString());
      return b ? C.SessionRecord.deserialize(b) : null;
    }
    async getExistingSessions(addrs) { return Promise.all(addrs.map((a) => this.getSession(a))); }
  }
  class IdentityStore extends C.IdentityKeyStore {
    constructor(priv, registrationId, peerIdentity) {
      super();
      this.priv = priv;
      this.registrationId = registrationId;
      this.peerIdentity = peerIdentity; // serialized 33 bytes; the only identity trusted
      this.saved = new Map();
    }
    async getIdentityKey() { return this.priv; }
    async getLocalRegistrationId() { return this.registrationId; }
    async saveIdentity(addr, key) {
      const prev = this.saved.get(addr.toString());
      this.saved.set(addr.toString(), key);
      return prev && !Buffer.from(prev.serialize()).equals(Buffer.from(key.serialize())) ? C.IdentityChange.ReplacedExisting : C.IdentityChange.NewOrUnchanged;
    }
    async isTrustedIdentity(addr, key) { return Buffer.from(key.serialize()).equals(this.peerIdentity); }
    async getIdentity(addr) { return this.saved.get(addr.toString()) || null; }
  }
  class PreKeyStore extends C.PreKeyStore {
    constructor() { super(); this.m = new Map(); }
    async savePreKey(id, r) { this.m.set(id, Buffer.from(r.serialize())); }
    async getPreKey(id) {
      if (!this.m.has(id)) throw new Error('no prekey ' + id);
      return C.PreKeyRecord.deserialize(this.m.get(id));
    }
    async removePreKey(id) { this.m.delete(id); }
  }
  class SignedPreKeyStore extends C.SignedPreKeyStore {
    constructor() { super(); this.m = new Map(); }
    async saveSignedPreKey(id, r) { this.m.set(id, Buffer.from(r.serialize())); }
    async getSignedPreKey(id) {
      if (!this.m.has(id)) throw new Error('no signed prekey ' + id);
      return C.SignedPreKeyRecord.deserialize(this.m.get(id));
    }
  }
  class KyberPreKeyStore extends C.KyberPreKeyStore {
    async saveKyberPreKey() { throw new Error('no Kyber prekeys in classic sessions'); }
    async getKyberPreKey() { throw new Error('no Kyber prekeys in classic sessions'); }
    async markKyberPreKeyUsed() { throw new Error('no Kyber prekeys in classic sessions'); }
  }
  classic = { C, SessionStore, IdentityStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore };
  return classic;
}

function classicParty(tandemIdentity) {
  const k = classicLibrary();
  const { C } = k;
  const id = C.PrivateKey.generate();
  const spk = C.PrivateKey.generate();
  const opk = C.PrivateKey.generate();
  const ids = { reg: randomRegistrationId(), spk: randomKeyId(), opk: randomKeyId() };
  const pub = (p) => Buffer.from(p.getPublicKey().serialize());
  const spkSig = Buffer.from(id.sign(pub(spk)));
  const s = {
    session: new k.SessionStore(), identity: new k.IdentityStore(id, ids.reg, tandemIdentity),
    preKeys: new k.PreKeyStore(), signedPreKeys: new k.SignedPreKeyStore(), kyber: new k.KyberPreKeyStore(),
  };
  const addr = C.ProtocolAddress.new('tandem', 1);
  const ready = Promise.all([
    s.signedPreKeys.saveSignedPreKey(ids.spk, C.SignedPreKeyRecord.new(ids.spk, Date.now(), spk.getPublicKey(), spk, spkSig)),
    s.preKeys.savePreKey(ids.opk, C.PreKeyRecord.new(ids.opk, opk.getPublicKey(), opk)),
  ]);
  return {
    bundle: (otk) => ({
      registration_id: ids.reg, identity_key: hex(pub(id)),
      signed_pre_key_id: ids.spk, signed_pre_key: hex(pub(spk)), signature: hex(spkSig),
      pre_key_id: otk ? ids.opk : null, pre_key: otk ? hex(pub(opk)) : null,
    }),
    async processBundle(b, otk) {
      const key = (h) => C.PublicKey.deserialize(unhex(h));
      // No Kyber prekey: the last three arguments are left out (0.72.1 accepts that).
      const bundle = C.PreKeyBundle.new(b.registration_id, 1, otk ? b.pre_key_id : null, otk ? key(b.pre_key) : null,
        b.signed_pre_key_id, key(b.signed_pre_key), unhex(b.signature), key(b.identity_key));
      await C.processPreKeyBundle(bundle, addr, s.session, s.identity);
    },
    async encrypt(pt) {
      const m = await C.signalEncrypt(pt, addr, s.session, s.identity);
      return { type: m.type(), body: Buffer.from(m.serialize()) };
    },
    async decrypt(type, body) {
      await ready;
      const pt = type === 3
        ? await C.signalDecryptPreKey(C.PreKeySignalMessage.deserialize(body), addr, s.session, s.identity, s.preKeys, s.signedPreKeys, s.kyber)
        : await C.signalDecrypt(C.SignalMessage.deserialize(body), addr, s.session, s.identity);
      return Buffer.from(pt);
    },
  };
}

const ORACLES = [
  { name: `libsignal-js ${JS_PKG.version}`, version: 0x33, make: jsParty },
  { name: `libsignal-client ${CLASSIC_PKG.version}`, version: 0x34, make: classicParty },
];

// --- one conversation ------------------------------------------------------------------------

class CheckFailed extends Error {}

function describeError(e) {
  let s = `${e.name || 'Error'}${e.code !== undefined ? ` (code ${e.code})` : ''}: ${e.message}`;
  const inner = consoleLog.filter((l) => l.startsWith('Session error:'));
  if (inner.length) s += ` [logged by the library: ${inner.map((l) => l.slice('Session error:'.length)).join('; ')}]`;
  return s;
}

// Runs one scenario: `initiator` is 'tandem' or 'oracle'. Counts checked receives in `stats`.
class Conversation {
  constructor(tandem, oracleSpec, initiator, otk, stats) {
    this.tandem = tandem;
    this.spec = oracleSpec;
    this.initiatorName = initiator;
    this.otk = otk;
    this.stats = stats;
    this.step = 'setup';
    this.peerName = `${oracleSpec.name.split(' ')[0]}-${initiator}-${otk ? 'otk' : 'no-otk'}`;
    this.sent = { tandem: 0, oracle: 0 };
    this.received = { tandem: false, oracle: false }; // has each side decrypted something
  }

  fail(what) { throw new CheckFailed(`[${this.step}] ${what}`); }

  async setup() {
    this.bundle = await this.tandem.call({ op: 'init' });
    this.oracle = this.spec.make(unhex(this.bundle.identity_key));
    if (this.initiatorName === 'tandem') {
      const b = this.oracle.bundle(this.otk);
      const r = await this.tandem.call({ op: 'process_bundle', peer: this.peerName, ...b });
      if (r.error) this.fail(`tandem refused the oracle's bundle: ${r.error} (bundle ${JSON.stringify(b)})`);
    } else {
      try {
        await this.oracle.processBundle(this.bundle, this.otk);
      } catch (e) {
        this.fail(`the oracle refused tandem's bundle ${JSON.stringify(this.bundle)}: ${describeError(e)}`);
      }
    }
    this.preKeysLeft = (await this.tandem.call({ op: 'status' })).pre_keys_left;
  }

  other(who) { return who === 'tandem' ? 'oracle' : 'tandem'; }
  get I() { return this.initiatorName; }
  get R() { return this.other(this.initiatorName); }

  // `who` encrypts a fresh plaintext; checks the type (PreKey until the initiator has received)
  // and the version byte.
  async send(who, pt = plaintext()) {
    let m;
    if (who === 'tandem') {
      const r = await this.tandem.call({ op: 'encrypt', peer: this.peerName, plaintext: hex(pt) });
      if (r.error) this.fail(`tandem encrypt refused: ${r.error}`);
      m = { from: who, type: r.type, body: unhex(r.ciphertext), pt };
    } else {
      try {
        m = { from: who, ...(await this.oracle.encrypt(pt)), pt };
      } catch (e) {
        this.fail(`oracle encrypt failed: ${describeError(e)}`);
      }
    }
    m.n = this.sent[who]++;
    const wantType = who === this.I && !this.received[who] ? 3 : 2;
    if (m.type !== wantType) this.fail(`${who}'s message ${m.n} has type ${m.type}, expected ${wantType}`);
    const wantVersion = who === 'tandem' ? 0x33 : this.spec.version;
    if (m.body[0] !== wantVersion || innerVersion(m.type, m.body) !== wantVersion) {
      this.fail(`${who}'s message ${m.n} has version byte 0x${m.body[0].toString(16)}, expected 0x${wantVersion.toString(16)}: ${short(hex(m.body))}`);
    }
    return m;
  }

  // The other side decrypts m; must give m.pt.
  async recv(m) {
    const to = this.other(m.from);
    const what = `${to} receiving ${m.from}'s message ${m.n} (type ${m.type}, ${m.pt.length}-byte plaintext)`;
    let pt;
    if (to === 'tandem') {
      const r = await this.tandem.call({ op: 'decrypt', peer: this.peerName, type: m.type, ciphertext: hex(m.body) });
      if (r.error) this.fail(`${what}: tandem error ${r.error}; bytes ${short(hex(m.body))}`);
      pt = unhex(r.plaintext);
    } else {
      consoleLog = [];
      try {
        pt = await this.oracle.decrypt(m.type, m.body);
      } catch (e) {
        this.fail(`${what}: oracle error ${describeError(e)}; bytes ${short(hex(m.body))}`);
      }
    }
    if (!pt.equals(m.pt)) this.fail(`${what}: wrong plaintext ${short(hex(pt))}, sent ${short(hex(m.pt))}`);
    this.received[to] = true;
    this.stats.messages++;
  }

  // tandem must refuse these bytes (a copy of oracle message m) with `error`, changing nothing.
  async refuse(m, body, error, how) {
    const r = await this.tandem.call({ op: 'decrypt', peer: this.peerName, type: m.type, ciphertext: hex(body) });
    const what = `tandem receiving ${how} of oracle message ${m.n} (type ${m.type})`;
    if (!r.error) this.fail(`${what}: accepted, expected ${error}; bytes ${short(hex(body))}`);
    if (r.error !== error) this.fail(`${what}: error ${r.error}, expected ${error}; bytes ${short(hex(body))}`);
    await this.checkPreKeys();
    this.stats.messages++;
    this.stats.refusals++;
  }
  refuseTampered(m, kind) { return this.refuse(m, tamper(kind, m.type, m.body), 'BadMac', `a copy with a ${kind} byte flipped`); }
  refuseDuplicate(m) { return this.refuse(m, m.body, 'Duplicate', 'a second copy'); }

  // tandem's one-time prekeys: one is used up when the oracle initiated with it and tandem has
  // decrypted a first message, none otherwise.
  async checkPreKeys() {
    const used = this.initiatorName === 'oracle' && this.otk && this.received.tandem ? 1 : 0;
    const left = (await this.tandem.call({ op: 'status' })).pre_keys_left;
    if (left !== this.preKeysLeft - used) this.fail(`tandem has ${left} one-time prekeys left, expected ${this.preKeysLeft - used}`);
  }

  async sendAll(who, n) {
    const ms = [];
    for (let i = 0; i < n; i++) ms.push(await this.send(who));
    return ms;
  }
  async recvInOrder(ms, order) {
    for (const i of order) await this.recv(ms[i]);
  }

  async run() {
    const { I, R } = this;
    this.step = 'setup';
    await this.setup();

    this.step = 'first flight';
    const first = await this.sendAll(I, 3);
    if (R === 'tandem') await this.refuseTampered(first[0], 'mac');
    await this.recvInOrder(first, shuffled(3));
    if (R === 'tandem') await this.refuseDuplicate(first[randomInt(3)]);
    await this.checkPreKeys();

    this.step = 'first replies';
    const replies = await this.sendAll(R, 3);
    const order = shuffled(3);
    if (I === 'tandem') await this.refuseTampered(replies[order[0]], 'mac');
    await this.recvInOrder(replies, order);
    if (I === 'tandem') await this.refuseDuplicate(replies[order[0]]);

    this.step = 'ping-pong';
    for (let i = 0; i < 6; i++) {
      await this.recv(await this.send(I));
      await this.recv(await this.send(R));
    }

    this.step = 'out of order';
    for (const who of [I, R]) await this.recvInOrder(await this.sendAll(who, 5), shuffled(5));

    this.step = 'lost messages';
    await this.recvInOrder(await this.sendAll(I, 4), [0, 3]);
    await this.recvInOrder(await this.sendAll(R, 4), [1, 3]);
    await this.recv(await this.send(I));
    await this.recv(await this.send(R));

    this.step = 'old chain after new chain';
    for (const [a, b] of [[I, R], [R, I]]) {
      const [a1, a2] = await this.sendAll(a, 2);
      await this.recv(a1);
      await this.recv(await this.send(b));
      const a3 = await this.send(a); // a DH ratchet step: a new chain
      await this.recv(a3);
      await this.recv(a2); // from the old chain
    }

    this.step = 'large message';
    for (const who of [I, R]) await this.recv(await this.send(who, plaintext((1 << 20) + randomInt(17))));

    this.step = 'tampered and duplicate SignalMessage';
    await this.recv(await this.send('tandem'));
    const [m, m2] = await this.sendAll('oracle', 2); // m starts a new receiving chain for tandem
    await this.refuseTampered(m, 'mac');
    await this.refuseTampered(m, 'ciphertext');
    await this.recv(m);
    await this.refuseDuplicate(m);
    await this.recv(m2);

    this.step = 'last round';
    await this.recv(await this.send(I));
    await this.recv(await this.send(R));
    await this.checkPreKeys();
  }
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const tandem = new TandemPeer();
  out(`tandem-peer: ${tandem.command}`);
  out('  each: PreKey messages out of order, replies out of order, 6 ping-pong rounds, 5 out of order each way,');
  out('  2 of 4 lost each way, an old-chain message after a new chain each way, ~1 MiB each way,');
  out('  tampered (MAC / ciphertext byte) and duplicate oracle messages refused by tandem (BadMac / Duplicate)');
  const total = { scenarios: 0, messages: 0, failed: 0 };
  for (const spec of ORACLES) {
    for (const initiator of ['tandem', 'oracle']) {
      for (const otk of [true, false]) {
        const stats = { messages: 0, refusals: 0 };
        const conv = new Conversation(tandem, spec, initiator, otk, stats);
        const label = `${spec.name.padEnd(24)} ${initiator === 'tandem' ? 'tandem initiates' : 'oracle initiates'}, ${otk ? 'one-time prekey   ' : 'no one-time prekey'}`;
        const started = Date.now();
        total.scenarios++;
        try {
          await conv.run();
          out(`ok   ${label}  ${stats.messages} messages (${stats.refusals} refused as expected), ${Date.now() - started} ms`);
        } catch (e) {
          total.failed++;
          out(`FAIL ${label}  ${e instanceof CheckFailed || e instanceof DriverError ? e.message : e.stack}`);
        }
        total.messages += stats.messages;
      }
    }
  }
  tandem.close();
  out(`live sessions: ${total.scenarios} scenarios, ${total.messages} messages checked, ${total.failed} failed`);
  process.exitCode = total.failed ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`live-sessions: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
