'use strict';
// Records `session-transcript` vector files (format: ../README.md and the interop README) from
// the real libsignal and writes one to stdout:
//
//   node record-sessions.js js      > ../libsignal/sessions/session-transcripts-libsignal-js-6.0.0.json
//   node record-sessions.js classic > ../libsignal/sessions/session-transcripts-libsignal-client-0.72.1.json
//
// A transcript is one pairwise session between Alice (the initiator: she processes Bob's prekey
// bundle) and Bob, driven through the library: every message that was sent (the exact wire
// bytes), every receive in the order it happened, both identities, Bob's prekeys, and every key
// pair the library generated for each party during the session ("generated_private_keys"), so
// that tandem can play one party, decrypt what the other sent and re-encrypt its own messages
// byte for byte.
//
// - `js`: the JavaScript port (npm `libsignal` 6.0.0). Key generation goes through
//   `require('libsignal/src/curve').generateKeyPair`, which this script wraps to log every
//   generated private key per party (a "current party" variable is set around each call into
//   the library). Keys generated inside a receive that then fails are dropped from the log (the
//   library discards them with the unsaved session state).
// - `classic`: Signal's official library at 0.72.1 (npm alias `libsignal-client-classic`), the
//   newest release that accepts a prekey bundle without a Kyber prekey. Its key generation is
//   native and invisible. The ratchet keys are recovered from the serialized session records
//   (SessionStructure.senderChain.senderRatchetKeyPrivate) after every operation; Alice's base
//   key is never stored, so her list is null (tandem can only play Bob in those files).
//
// Before anything is written, every case is checked:
// - under the recording library, as it happens: every receive gives the sent plaintext; every
//   tampered copy / duplicate is refused (cases it accepts are left out, with a note on stderr)
//   and the later receive of the original still succeeds;
// - each party's generated public keys match what appears on the wire (base key, ratchet keys);
// - a replay with the JS port, playing each party whose keys are all known, with key generation
//   fed from generated_private_keys: it must decrypt what the other party sent, refuse exactly the
//   `fails_at` receive, and re-encrypt its own messages to the recorded bytes. For classic
//   recordings the JS port needs a shim for the version byte (0.72.1 writes 0x34, the JS port
//   writes and accepts only 0x33; see the README).
// The script exits 1 if any of this does not hold. A summary goes to stderr.

const crypto = require('crypto');

const mode = process.argv[2];
if (mode !== 'js' && mode !== 'classic') {
  process.stderr.write('usage: node record-sessions.js js|classic > FILE\n');
  process.exit(2);
}

// The JS port logs with console.info/warn/error ("Closing session: ...", decrypt failures); keep
// stdout for the JSON and keep what the library says during a receive, to report it.
let consoleLog = [];
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => {
    // Only the first argument: the rest are stack traces and objects.
    consoleLog.push(args.length ? (args[0] instanceof Error ? `${args[0].name}: ${args[0].message}` : String(args[0])) : '');
  };
}
const note = (s) => process.stderr.write(s + '\n');
function fail(msg) {
  process.stderr.write('record-sessions: ' + msg + '\n');
  process.exit(1);
}

const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

// X25519 public key (32 bytes) of a 32-byte private key, through node's crypto (clamps as X25519
// does). Used for self-checks and to feed recorded keys back into the JS port.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
function x25519Public(priv) {
  const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' });
  return crypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).slice(-32);
}
const serializedPublic = (priv) => Buffer.concat([Buffer.from([5]), x25519Public(priv)]);

// --- a minimal protobuf reader (wire format only), for the messages and session records -------

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

// Returns [{ tag, wire, value (number or Buffer), start, end }] in encoded order; start/end
// delimit the value bytes of a length-delimited field.
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
    } else if (wire === 1) {
      fields.push({ tag, wire, value: buf.slice(pos, pos + 8) });
      pos += 8;
    } else if (wire === 5) {
      fields.push({ tag, wire, value: buf.slice(pos, pos + 4) });
      pos += 4;
    } else {
      throw new Error('unsupported wire type ' + wire);
    }
  }
  return fields;
}
const field = (fields, tag) => fields.find((f) => f.tag === tag);

// Wire layout (both libraries): SignalMessage = version byte || protobuf || 8-byte MAC, with
// ratchet key = 1, counter = 2, previous counter = 3, ciphertext = 4. PreKeySignalMessage =
// version byte || protobuf with pre key id = 1, base key = 2, identity key = 3, message = 4
// (a whole SignalMessage), registration id = 5, signed pre key id = 6.
function parseSignalMessage(body) {
  const f = parseProto(body.slice(1, body.length - 8));
  return { version: body[0], tags: f.map((x) => x.tag), ratchetKey: field(f, 1).value, counter: field(f, 2).value, fields: f };
}
function parsePreKeyMessage(body) {
  const f = parseProto(body.slice(1));
  const inner = field(f, 4);
  return {
    version: body[0],
    tags: f.map((x) => x.tag),
    baseKey: field(f, 2).value,
    registrationId: field(f, 5) && field(f, 5).value,
    preKeyId: field(f, 1) ? field(f, 1).value : null,
    innerStart: 1 + inner.start,
    innerEnd: 1 + inner.end,
    inner: parseSignalMessage(inner.value),
  };
}

// --- plaintexts ---------------------------------------------------------------------------

// Sizes around the AES block (15, 16, 17, 32), the empty message, one byte, and ~1500 bytes.
// Some are text (easier to read in a hex dump), most random.
function plaintext(n) {
  if (n === 0) return Buffer.alloc(0);
  if (n % 3 === 0) return Buffer.from('tandem says hello '.repeat(Math.ceil(n / 18)).slice(0, n));
  return crypto.randomBytes(n);
}

const randomRegistrationId = () => 1 + crypto.randomInt(16380); // 14-bit, never 0
const randomKeyId = () => 1 + crypto.randomInt(0xfffffe); // never 0: the JS port treats id 0 as "no prekey"

// --- oracle 1: the JavaScript port ---------------------------------------------------------

const JS_PKG = require('libsignal/package.json');
const CLASSIC_PKG = require('libsignal-client-classic/package.json');

function jsLibrary() {
  const lib = require('libsignal');
  const curve = require('libsignal/src/curve');
  const original = curve.generateKeyPair;
  // state.party: which party is inside the library right now (null during setup);
  // state.source: when replaying, a function that returns the next recorded key pair.
  const state = { party: null, logs: { alice: [], bob: [] }, source: null };
  curve.generateKeyPair = function generateKeyPair() {
    if (state.source) return state.source();
    const kp = original();
    if (state.party) state.logs[state.party].push(Buffer.from(kp.privKey));
    return kp;
  };
  return { lib, curve, original, state };
}

// In-memory store for one party of the JS port. Sessions are kept serialized (JSON) so that a
// failed decrypt, which mutates the in-memory session before it checks the MAC, changes nothing
// stored (the library only stores the record after a success).
class JsStore {
  constructor(lib, identity, registrationId, peerIdentity) {
    this.lib = lib;
    this.identity = identity; // { pubKey: 33 bytes, privKey: 32 bytes }
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
  // The library calls loadSignedPreKey(signedPreKeyId) (with the id from the message).
  async loadSignedPreKey(id) { return this.signedPreKeys.get(id); }
  async loadSession(addr) {
    const s = this.sessions.get(addr);
    return s ? this.lib.SessionRecord.deserialize(JSON.parse(s)) : undefined;
  }
  async storeSession(addr, record) { this.sessions.set(addr, JSON.stringify(record.serialize())); }
}

// Builds a JS-port world: party objects with encrypt/decrypt, and the case's party fields.
// `keys` (optional) gives identities/prekeys to reuse (replay); otherwise fresh ones are drawn.
async function jsWorld(js, { otk }) {
  const gen = () => js.original(); // setup keys are not "generated during the session"
  const aliceId = gen();
  const bobId = gen();
  const spk = gen();
  const spkSig = js.curve.calculateSignature(bobId.privKey, spk.pubKey);
  const opk = otk ? gen() : null;
  const ids = { aliceReg: randomRegistrationId(), bobReg: randomRegistrationId(), spkId: randomKeyId(), opkId: otk ? randomKeyId() : null };

  const aliceStore = new JsStore(js.lib, aliceId, ids.aliceReg, bobId.pubKey);
  const bobStore = new JsStore(js.lib, bobId, ids.bobReg, aliceId.pubKey);
  bobStore.signedPreKeys.set(ids.spkId, spk);
  if (opk) bobStore.preKeys.set(ids.opkId, opk);
  const bobAddr = new js.lib.ProtocolAddress('bob', 1);
  const aliceAddr = new js.lib.ProtocolAddress('alice', 1);

  js.state.logs = { alice: [], bob: [] };
  const bundle = {
    identityKey: bobId.pubKey,
    registrationId: ids.bobReg,
    signedPreKey: { keyId: ids.spkId, publicKey: spk.pubKey, signature: spkSig },
    preKey: opk ? { keyId: ids.opkId, publicKey: opk.pubKey } : undefined,
  };
  js.state.party = 'alice';
  await new js.lib.SessionBuilder(aliceStore, bobAddr).initOutgoing(bundle);
  js.state.party = null;

  const ciphers = {
    alice: new js.lib.SessionCipher(aliceStore, bobAddr),
    bob: new js.lib.SessionCipher(bobStore, aliceAddr),
  };
  return {
    async encrypt(party, pt) {
      js.state.party = party;
      try {
        const r = await ciphers[party].encrypt(pt);
        return { type: r.type === 1 ? 2 : r.type, body: Buffer.from(r.body) }; // the port says 1 for whisper
      } finally {
        js.state.party = null;
      }
    },
    async decrypt(party, type, body) {
      const log = js.state.logs[party];
      const before = log.length;
      js.state.party = party;
      try {
        return type === 3 ? await ciphers[party].decryptPreKeyWhisperMessage(body) : await ciphers[party].decryptWhisperMessage(body);
      } catch (e) {
        log.length = before; // keys generated in a failed receive are thrown away with its state
        throw e;
      } finally {
        js.state.party = null;
      }
    },
    generated(party) { return js.state.logs[party].map(hex); },
    parties: {
      alice: { identity_private: hex(aliceId.privKey), identity_public: hex(aliceId.pubKey), registration_id: ids.aliceReg },
      bob: {
        identity_private: hex(bobId.privKey), identity_public: hex(bobId.pubKey), registration_id: ids.bobReg,
        signed_prekey_id: ids.spkId, signed_prekey_private: hex(spk.privKey), signed_prekey_public: hex(spk.pubKey),
        signed_prekey_signature: hex(spkSig),
        one_time_prekey_id: ids.opkId, one_time_prekey_private: opk ? hex(opk.privKey) : null, one_time_prekey_public: opk ? hex(opk.pubKey) : null,
      },
    },
  };
}

// --- oracle 2: libsignal-client 0.72.1 -------------------------------------------------------

function classicLibrary() {
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
  return { C, SessionStore, IdentityStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore };
}

// The sender ratchet key pair of the current session in a serialized SessionRecord:
// RecordStructure { currentSession = 1: SessionStructure { senderChain = 6: Chain {
// senderRatchetKey = 1, senderRatchetKeyPrivate = 2 } } }.
function senderRatchetFromRecord(recordBytes) {
  const session = field(parseProto(recordBytes), 1);
  if (!session) return null;
  const chain = field(parseProto(session.value), 6);
  if (!chain) return null;
  const c = parseProto(chain.value);
  return { pub: field(c, 1).value, priv: field(c, 2).value };
}

async function classicWorld(k, { otk }) {
  const { C } = k;
  const aliceId = C.PrivateKey.generate();
  const bobId = C.PrivateKey.generate();
  const spk = C.PrivateKey.generate();
  const spkSig = bobId.sign(spk.getPublicKey().serialize());
  const opk = otk ? C.PrivateKey.generate() : null;
  const ids = { aliceReg: randomRegistrationId(), bobReg: randomRegistrationId(), spkId: randomKeyId(), opkId: otk ? randomKeyId() : null };
  const pub = (p) => Buffer.from(p.getPublicKey().serialize());

  const stores = {
    alice: { session: new k.SessionStore(), identity: new k.IdentityStore(aliceId, ids.aliceReg, pub(bobId)) },
    bob: {
      session: new k.SessionStore(), identity: new k.IdentityStore(bobId, ids.bobReg, pub(aliceId)),
      preKeys: new k.PreKeyStore(), signedPreKeys: new k.SignedPreKeyStore(), kyber: new k.KyberPreKeyStore(),
    },
  };
  await stores.bob.signedPreKeys.saveSignedPreKey(ids.spkId, C.SignedPreKeyRecord.new(ids.spkId, Date.now(), spk.getPublicKey(), spk, spkSig));
  if (opk) await stores.bob.preKeys.savePreKey(ids.opkId, C.PreKeyRecord.new(ids.opkId, opk.getPublicKey(), opk));
  const peer = { alice: C.ProtocolAddress.new('bob', 1), bob: C.ProtocolAddress.new('alice', 1) };

  // The bundle carries no Kyber prekey: the last three arguments are left out.
  const bundle = C.PreKeyBundle.new(ids.bobReg, 1, ids.opkId, opk ? opk.getPublicKey() : null, ids.spkId,
    spk.getPublicKey(), spkSig, bobId.getPublicKey());
  await C.processPreKeyBundle(bundle, peer.alice, stores.alice.session, stores.alice.identity);

  // Key recovery: after each successful operation, read the party's current sender ratchet key
  // from its stored record; a new one is a freshly generated key. Bob's first sender chain uses
  // his signed prekey (not generated), which is skipped. Alice's base key is never stored.
  const logs = { alice: [], bob: [] };
  const lastSeen = { alice: null, bob: Buffer.from(spk.serialize()) };
  function snapshot(party) {
    const bytes = stores[party].session.records.get(peer[party].toString());
    const r = bytes && senderRatchetFromRecord(bytes);
    if (!r) return;
    if (!pub(C.PrivateKey.deserialize(r.priv)).equals(r.pub)) fail('recovered ratchet private key does not match its public key');
    if (lastSeen[party] && lastSeen[party].equals(r.priv)) return;
    lastSeen[party] = r.priv;
    logs[party].push(r.priv);
  }
  snapshot('alice');

  return {
    async encrypt(party, pt) {
      const m = await C.signalEncrypt(pt, peer[party], stores[party].session, stores[party].identity);
      snapshot(party);
      return { type: m.type(), body: Buffer.from(m.serialize()) };
    },
    async decrypt(party, type, body) {
      const s = stores[party];
      let pt;
      if (type === 3) {
        pt = await C.signalDecryptPreKey(C.PreKeySignalMessage.deserialize(body), peer[party], s.session, s.identity,
          s.preKeys, s.signedPreKeys, s.kyber);
      } else {
        pt = await C.signalDecrypt(C.SignalMessage.deserialize(body), peer[party], s.session, s.identity);
      }
      snapshot(party);
      return Buffer.from(pt);
    },
    // Alice: her base key private is not in any record, so her list cannot be complete.
    generated(party) { return party === 'alice' ? null : logs[party].map(hex); },
    parties: {
      alice: { identity_private: hex(aliceId.serialize()), identity_public: hex(pub(aliceId)), registration_id: ids.aliceReg },
      bob: {
        identity_private: hex(bobId.serialize()), identity_public: hex(pub(bobId)), registration_id: ids.bobReg,
        signed_prekey_id: ids.spkId, signed_prekey_private: hex(spk.serialize()), signed_prekey_public: hex(pub(spk)),
        signed_prekey_signature: hex(spkSig),
        one_time_prekey_id: ids.opkId, one_time_prekey_private: opk ? hex(opk.serialize()) : null, one_time_prekey_public: opk ? hex(pub(opk)) : null,
      },
    },
  };
}

// --- tampering --------------------------------------------------------------------------------

// Each returns a new Buffer. For a PreKeySignalMessage, `mac` and `ciphertext` change the
// embedded SignalMessage in place (lengths stay the same); `version` and `truncate` act on the
// outer message.
function tamper(kind, type, body) {
  const b = Buffer.from(body);
  let lo = 0;
  let hi = b.length; // the SignalMessage inside b
  if (type === 3 && (kind === 'mac' || kind === 'ciphertext')) {
    const p = parsePreKeyMessage(b);
    lo = p.innerStart;
    hi = p.innerEnd;
  }
  switch (kind) {
    case 'mac': // last byte of the 8-byte MAC
      b[hi - 1] ^= 0x01;
      return b;
    case 'ciphertext': { // a byte in the middle of the AES-CBC ciphertext field
      const inner = parseSignalMessage(b.slice(lo, hi));
      const ct = field(inner.fields, 4);
      b[lo + 1 + ct.start + Math.floor((ct.end - ct.start) / 2)] ^= 0x01;
      return b;
    }
    case 'version': // high nibble (message version) 3 -> 2: 0x33 -> 0x23, 0x34 -> 0x24
      b[0] = (b[0] & 0x0f) | 0x20;
      return b;
    case 'truncate':
      return b.slice(0, Math.floor(b.length / 2));
    default:
      throw new Error('unknown tamper ' + kind);
  }
}
const TAMPER_ERROR = { mac: 'BadMac', ciphertext: 'BadMac', version: 'UnknownVersion', truncate: 'Malformed' };
const TAMPER_TEXT = {
  mac: 'last MAC byte flipped',
  ciphertext: 'a byte in the middle of the ciphertext flipped',
  version: 'version byte high nibble 3 -> 2, e.g. 0x33 -> 0x23',
  truncate: 'cut to half its length',
};

// --- the recorder: runs one scenario against a world --------------------------------------------

class Refused extends Error {}

function describeError(e) {
  let s = `${e.name || 'Error'}${e.code !== undefined ? ` (code ${e.code})` : ''}: ${e.message}`;
  // The JS port's SessionCipher.decryptWithSessions logs each session's error as
  // console.error("Session error:" + e, e.stack) and then throws a generic SessionError.
  const inner = consoleLog.filter((l) => l.startsWith('Session error:'));
  if (inner.length) s += ` [logged by the library: ${inner.map((l) => l.slice('Session error:'.length)).join('; ')}]`;
  return s;
}

class Recorder {
  constructor(world, id) {
    this.world = world;
    this.id = id;
    this.messages = [];
    this.events = [];
    this.failsAt = null;
    this.error = null;
    this.refusal = null; // what the library said when it refused
  }
  async send(sender, pt) {
    const r = await this.world.encrypt(sender, pt);
    if (r.type !== 2 && r.type !== 3) fail(`unexpected message type ${r.type}`);
    this.messages.push({ sender, type: r.type, plaintext: hex(pt), ciphertext: hex(r.body) });
    this.events.push(['send', this.messages.length - 1]);
    return this.messages.length - 1;
  }
  async recv(i) {
    const m = this.messages[i];
    const receiver = m.sender === 'alice' ? 'bob' : 'alice';
    consoleLog = [];
    let pt;
    try {
      pt = await this.world.decrypt(receiver, m.type, unhex(m.ciphertext));
    } catch (e) {
      fail(`${this.id}: receive of message ${i} failed under the library: ${describeError(e)}`);
    }
    if (hex(pt) !== m.plaintext) fail(`${this.id}: message ${i} decrypted to the wrong plaintext`);
    this.events.push(['receive', i]);
  }
  // A receive that must be refused: index of the message (an injected copy or a duplicate).
  async mustFail(i, error) {
    const m = this.messages[i];
    const receiver = m.sender === 'alice' ? 'bob' : 'alice';
    consoleLog = [];
    try {
      await this.world.decrypt(receiver, m.type, unhex(m.ciphertext));
    } catch (e) {
      if (this.failsAt !== null) fail('two failing receives in one case');
      this.failsAt = this.events.length;
      this.error = error;
      this.refusal = describeError(e);
      this.events.push(['receive', i]);
      return;
    }
    throw new Refused(`the library accepted message ${i}`);
  }
  // Adds a tampered copy of message i (no "send" event: it was never sent) and receives it.
  async injectTampered(i, kind) {
    const m = this.messages[i];
    const body = tamper(kind, m.type, unhex(m.ciphertext));
    this.messages.push({ sender: m.sender, type: m.type, plaintext: m.plaintext, ciphertext: hex(body) });
    await this.mustFail(this.messages.length - 1, TAMPER_ERROR[kind]);
  }
}

// --- scenarios -----------------------------------------------------------------------------------

// Each flow is a list of steps: ['a', size] / ['b', size] = Alice / Bob sends a message of that
// size; ['r', i] = the other party receives message i. Invalid cases splice extra steps in:
// ['tamper', i, kind] (a tampered copy of i, received and refused) and ['dup', i] (i again).
const A = (n) => ['a', n];
const B = (n) => ['b', n];
const R = (i) => ['r', i];

const BASIC = [A(0), A(1500), A(16), R(0), R(1), R(2), B(17), B(1), R(3), R(4), A(15), A(100), R(5), R(6)];

const SCENARIOS = [
  { id: 'basic-otk', otk: true, flow: BASIC,
    comment: 'one-time prekey; Alice sends 3 (PreKey messages), Bob receives, Bob sends 2, Alice receives, Alice sends 2 on a new chain, Bob receives' },
  { id: 'basic-no-otk', otk: false, flow: BASIC, comment: 'as basic-otk, bundle without a one-time prekey' },
  { id: 'ping-pong', otk: true,
    flow: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [i % 2 ? B([5, 33, 64, 300, 2][i >> 1]) : A([9, 0, 48, 1024, 31][i >> 1]), R(i)]),
    comment: '10 messages alternating, each received before the next is sent: a DH ratchet step on every message' },
  { id: 'out-of-order', otk: true, flow: [A(1), A(20), A(32), A(47), A(200), R(4), R(0), R(2), R(1), R(3), B(3), R(5)],
    comment: 'Alice sends 5, Bob receives them in the order 4,0,2,1,3 (the session is created from message 4), then replies' },
  { id: 'lost', otk: true, flow: [A(10), A(11), A(12), A(13), R(0), R(3), B(64), R(4), A(7), R(5)],
    comment: 'Alice sends 4, Bob receives 0 and 3 only (1 and 2 are lost); Bob replies, Alice receives and answers' },
  { id: 'skipped-chain', otk: true, flow: [A(5), A(6), R(0), B(7), R(2), A(8), R(3), R(1)],
    comment: 'Alice sends m0 m1, Bob receives m0, replies b0, Alice receives b0 and sends m2 on a new chain; Bob receives m2, then m1 from the old chain' },
];

// Invalid cases: basic-otk with one refused receive spliced in. `to` says who receives the bad
// message (tandem must be able to play that party: for classic only Bob).
// Message indices in BASIC: 0-2 Alice's PreKey messages, 3-4 Bob's first messages (SignalMessage,
// first of Alice's receiving chain), 5-6 Alice's SignalMessages (first of Bob's new chain).
function spliceBefore(flow, target, steps) {
  const at = flow.findIndex((s) => s[0] === 'r' && s[1] === target);
  return [...flow.slice(0, at), ...steps, ...flow.slice(at)];
}
function spliceAfter(flow, target, steps) {
  const at = flow.findIndex((s) => s[0] === 'r' && s[1] === target);
  return [...flow.slice(0, at + 1), ...steps, ...flow.slice(at + 1)];
}
const INVALID = [];
for (const kind of ['mac', 'ciphertext', 'version', 'truncate']) {
  INVALID.push({ id: `invalid-${kind}-signal-to-bob`, to: 'bob', flow: spliceBefore(BASIC, 5, [['tamper', 5, kind]]),
    comment: `basic-otk; a tampered copy of Alice's SignalMessage 5 (${TAMPER_TEXT[kind]}) reaches Bob before the original (it opens a new chain for Bob)` });
  INVALID.push({ id: `invalid-${kind}-signal-to-alice`, to: 'alice', flow: spliceBefore(BASIC, 3, [['tamper', 3, kind]]),
    comment: `basic-otk; a tampered copy of Bob's SignalMessage 3 (${TAMPER_TEXT[kind]}) reaches Alice before the original (her first message from Bob)` });
  INVALID.push({ id: `invalid-${kind}-prekey-to-bob`, to: 'bob', flow: spliceBefore(BASIC, 0, [['tamper', 0, kind]]),
    comment: `basic-otk; a tampered copy of Alice's PreKeySignalMessage 0 (${TAMPER_TEXT[kind]}${kind === 'mac' || kind === 'ciphertext' ? ', in the embedded SignalMessage' : ''}) reaches Bob before the original (Bob has no session yet)` });
}
INVALID.push({ id: 'invalid-duplicate-signal-to-bob', to: 'bob', flow: spliceAfter(BASIC, 5, [['dup', 5]]),
  comment: "basic-otk; Bob receives Alice's SignalMessage 5 a second time right after the first" });
INVALID.push({ id: 'invalid-duplicate-signal-to-alice', to: 'alice', flow: spliceAfter(BASIC, 3, [['dup', 3]]),
  comment: "basic-otk; Alice receives Bob's SignalMessage 3 a second time right after the first" });
INVALID.push({ id: 'invalid-duplicate-prekey-to-bob', to: 'bob', flow: spliceAfter(BASIC, 0, [['dup', 0]]),
  comment: "basic-otk; Bob receives Alice's PreKeySignalMessage 0 a second time right after the first (the one-time prekey is already used)" });
INVALID.push({ id: 'invalid-duplicate-old-chain-to-bob', to: 'bob', flow: [...BASIC, ['dup', 1]],
  comment: "basic-otk; at the end Bob receives Alice's PreKeySignalMessage 1 again (a message of an old chain that was already received)" });

// --- running and checking ------------------------------------------------------------------------

async function record(makeWorld, sc, expectInvalid) {
  const world = await makeWorld({ otk: sc.otk !== false });
  const rec = new Recorder(world, sc.id);
  // Flow indices count sent messages only; an injected copy is appended to `messages` when it
  // is made, so sent[i] maps flow index i to its index in `messages`.
  const sent = [];
  for (const step of sc.flow) {
    if (step[0] === 'a' || step[0] === 'b') {
      sent.push(await rec.send(step[0] === 'a' ? 'alice' : 'bob', plaintext(step[1])));
    } else if (step[0] === 'r') {
      await rec.recv(sent[step[1]]);
    } else if (step[0] === 'tamper') {
      await rec.injectTampered(sent[step[1]], step[2]);
    } else if (step[0] === 'dup') {
      await rec.mustFail(sent[step[1]], 'Duplicate');
    }
  }
  const c = { id: sc.id, comment: sc.comment, expect: expectInvalid ? 'invalid' : 'valid' };
  if (expectInvalid) {
    c.error = rec.error;
    c.fails_at = rec.failsAt;
    c.comment += `. Refused by the library with ${rec.refusal}`;
  }
  c.alice = { ...world.parties.alice, generated_private_keys: world.generated('alice') };
  c.bob = { ...world.parties.bob, generated_private_keys: world.generated('bob') };
  // Keep Bob's field order as documented.
  c.bob = {
    identity_private: c.bob.identity_private, identity_public: c.bob.identity_public, registration_id: c.bob.registration_id,
    generated_private_keys: c.bob.generated_private_keys,
    signed_prekey_id: c.bob.signed_prekey_id, signed_prekey_private: c.bob.signed_prekey_private,
    signed_prekey_public: c.bob.signed_prekey_public, signed_prekey_signature: c.bob.signed_prekey_signature,
    one_time_prekey_id: c.bob.one_time_prekey_id, one_time_prekey_private: c.bob.one_time_prekey_private,
    one_time_prekey_public: c.bob.one_time_prekey_public,
  };
  c.messages = rec.messages;
  c.events = rec.events;
  return { c, world, refusal: rec.refusal };
}

// Self-check: each party's generated keys against the wire. Alice's first key is her base key
// (in every PreKey message); every ratchet key a party sends with must be one of its generated
// keys (Alice: after the base key; Bob: his signed prekey is never sent with), used in order.
function checkKeysAgainstWire(c) {
  const sentIdx = new Set(c.events.filter((e) => e[0] === 'send').map((e) => e[1]));
  for (const party of ['alice', 'bob']) {
    const keys = c[party].generated_private_keys;
    if (keys === null) continue;
    const pubs = keys.map((k) => hex(serializedPublic(unhex(k))));
    let ratchetFrom = 0;
    if (party === 'alice') {
      ratchetFrom = 1;
      for (const [i, m] of c.messages.entries()) {
        if (m.sender !== 'alice' || m.type !== 3 || !sentIdx.has(i)) continue;
        if (hex(parsePreKeyMessage(unhex(m.ciphertext)).baseKey) !== pubs[0]) fail(`${c.id}: Alice's first generated key is not the base key`);
      }
    }
    let last = ratchetFrom;
    for (const [i, m] of c.messages.entries()) {
      if (m.sender !== party || !sentIdx.has(i)) continue;
      const body = unhex(m.ciphertext);
      const sm = m.type === 3 ? parsePreKeyMessage(body).inner : parseSignalMessage(body);
      const at = pubs.indexOf(hex(sm.ratchetKey), ratchetFrom);
      if (at < last) fail(`${c.id}: message ${i}'s ratchet key is not a generated key of ${party} in order`);
      last = at;
    }
  }
}

// Replay with the JS port: `player` plays its side of case c with key generation fed from its
// generated_private_keys; everything the other side sent is decrypted, everything the player sent
// must come out byte for byte. `versionByte` (classic recordings) makes the port write and MAC
// 0x34 instead of 0x33 and accept it (the shim is removed afterwards).
async function replayWithJs(js, c, player, versionByte) {
  const SessionCipher = js.lib.SessionCipher;
  const savedEnc = SessionCipher.prototype._encodeTupleByte;
  const savedDec = SessionCipher.prototype._decodeTupleByte;
  if (versionByte !== 0x33) {
    SessionCipher.prototype._encodeTupleByte = () => versionByte;
    SessionCipher.prototype._decodeTupleByte = (b) => (b === versionByte ? [3, 3] : savedDec(b));
  }
  const keys = c[player].generated_private_keys.map(unhex);
  let next = 0;
  js.state.source = () => {
    if (next >= keys.length) throw new Error('replay: more key pairs asked for than were recorded');
    const priv = keys[next++];
    return { privKey: priv, pubKey: serializedPublic(priv) };
  };
  try {
    const me = c[player];
    const other = player === 'alice' ? c.bob : c.alice;
    const identity = { privKey: unhex(me.identity_private), pubKey: unhex(me.identity_public) };
    const store = new JsStore(js.lib, identity, me.registration_id, unhex(other.identity_public));
    const addr = new js.lib.ProtocolAddress(player === 'alice' ? 'bob' : 'alice', 1);
    if (player === 'bob') {
      store.signedPreKeys.set(me.signed_prekey_id, { privKey: unhex(me.signed_prekey_private), pubKey: unhex(me.signed_prekey_public) });
      if (me.one_time_prekey_id !== null) {
        store.preKeys.set(me.one_time_prekey_id, { privKey: unhex(me.one_time_prekey_private), pubKey: unhex(me.one_time_prekey_public) });
      }
    } else {
      const b = c.bob;
      await new js.lib.SessionBuilder(store, addr).initOutgoing({
        identityKey: unhex(b.identity_public), registrationId: b.registration_id,
        signedPreKey: { keyId: b.signed_prekey_id, publicKey: unhex(b.signed_prekey_public), signature: unhex(b.signed_prekey_signature) },
        preKey: b.one_time_prekey_id === null ? undefined : { keyId: b.one_time_prekey_id, publicKey: unhex(b.one_time_prekey_public) },
      });
    }
    const cipher = new SessionCipher(store, addr);
    for (const [ei, [what, i]] of c.events.entries()) {
      const m = c.messages[i];
      if (what === 'send' && m.sender === player) {
        const r = await cipher.encrypt(unhex(m.plaintext));
        const type = r.type === 1 ? 2 : r.type;
        if (type !== m.type || hex(r.body) !== m.ciphertext) return `event ${ei}: message ${i} re-encrypted differently`;
      } else if (what === 'receive' && m.sender !== player) {
        const mark = next;
        consoleLog = [];
        let pt = null;
        let err = null;
        try {
          pt = m.type === 3 ? await cipher.decryptPreKeyWhisperMessage(unhex(m.ciphertext)) : await cipher.decryptWhisperMessage(unhex(m.ciphertext));
        } catch (e) {
          err = e;
          next = mark; // a failed receive consumes no recorded key
        }
        if (ei === c.fails_at) {
          if (!err) return `event ${ei}: message ${i} was accepted but must fail`;
        } else if (err) {
          return `event ${ei}: message ${i} failed: ${describeError(err)}`;
        } else if (hex(pt) !== m.plaintext) {
          return `event ${ei}: message ${i} decrypted to the wrong plaintext`;
        }
      }
    }
    if (next !== keys.length) return `only ${next} of ${keys.length} recorded keys were used`;
    return null;
  } finally {
    js.state.source = null;
    SessionCipher.prototype._encodeTupleByte = savedEnc;
    SessionCipher.prototype._decodeTupleByte = savedDec;
  }
}

async function main() {
  const js = jsLibrary(); // the replay check uses the JS port in both modes
  let makeWorld;
  let source;
  let description;
  if (mode === 'js') {
    makeWorld = (opts) => jsWorld(js, opts);
    source = `recorded from libsignal ${JS_PKG.version} (npm \`libsignal\`, the JavaScript port used by WhatsApp Web libraries) by test-vectors/interop/record-sessions.js`;
    description = 'Pairwise sessions (X3DH + Double Ratchet, message version 3) between two parties both run by the JS port. ' +
      'generated_private_keys lists every key pair the library generated for the party, in order (Alice: base key, ratchet key, then one ratchet key per DH ratchet step on receive; Bob: one ratchet key per DH ratchet step on receive, his first sending chain uses his signed prekey); keys generated inside a receive that failed are not listed. ' +
      'Messages start with 0x33. Invalid cases: one receive (fails_at) of a tampered copy (an extra message with no send event, received before its original) or of a message already received; the library refused each, the comment says how.';
  } else {
    const k = classicLibrary();
    makeWorld = (opts) => classicWorld(k, opts);
    source = `recorded from @signalapp/libsignal-client ${CLASSIC_PKG.version} (npm alias libsignal-client-classic; classic bundles without a Kyber prekey) by test-vectors/interop/record-sessions.js`;
    description = 'Pairwise sessions (X3DH + Double Ratchet, session version 3) between two parties both run by libsignal-client 0.72.1. ' +
      "Alice's generated_private_keys is null: her base key private is never stored, so only Bob can be replayed. Bob's list holds his ratchet keys, recovered from his serialized session records (senderChain.senderRatchetKeyPrivate) after every operation. " +
      'Messages start with 0x34 (message version 3 in the high nibble, the library\'s current version 4 in the low nibble). Invalid cases: one receive (fails_at) of a tampered copy (an extra message with no send event, received before its original) or of a message already received; the library refused each, the comment says how.';
  }

  const cases = [];
  const summary = [];
  for (const sc of SCENARIOS) {
    const { c } = await record(makeWorld, sc, false);
    cases.push(c);
  }
  for (const sc of INVALID) {
    if (mode === 'classic' && sc.to === 'alice') continue; // tandem cannot play Alice in classic files
    try {
      const { c, refusal } = await record(makeWorld, sc, true);
      cases.push(c);
      summary.push(`  ${sc.id}: ${c.error} <- ${refusal}`);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      note(`note: ${sc.id} left out: ${e.message}`);
    }
  }

  // Checks over the finished cases.
  const C = require('libsignal-client-classic');
  const expectedFirstByte = mode === 'js' ? 0x33 : 0x34;
  if (new Set(cases.map((c) => c.id)).size !== cases.length) fail('duplicate case ids');
  const firstBytes = new Set();
  const preKeyTags = new Set();
  const signalTags = new Set();
  for (const c of cases) {
    checkKeysAgainstWire(c);
    // Bob's signed prekey signature verifies under libsignal-client, over the 33-byte public key;
    // the JS port never checks it (it calls verifySignature with isInit = true).
    if (!C.PublicKey.deserialize(unhex(c.bob.identity_public)).verify(unhex(c.bob.signed_prekey_public), unhex(c.bob.signed_prekey_signature))) {
      fail(`${c.id}: signed prekey signature does not verify`);
    }
    for (const [what, i] of c.events) {
      if (what !== 'send') continue;
      const m = c.messages[i];
      const body = unhex(m.ciphertext);
      firstBytes.add(body[0]);
      if (m.type === 3) {
        const p = parsePreKeyMessage(body);
        preKeyTags.add(p.tags.join(','));
        signalTags.add(p.inner.tags.join(','));
        firstBytes.add(p.inner.version);
        if (p.registrationId !== c.alice.registration_id) fail(`${c.id}: PreKey message registration id is not Alice's`);
      } else {
        signalTags.add(parseSignalMessage(body).tags.join(','));
      }
    }
    const versionByte = unhex(c.messages[0].ciphertext)[0];
    for (const player of ['alice', 'bob']) {
      if (c[player].generated_private_keys === null) continue;
      const problem = await replayWithJs(js, c, player, versionByte);
      if (problem) fail(`${c.id}: replay as ${player} with the JS port: ${problem}`);
    }
  }

  if (firstBytes.size !== 1 || !firstBytes.has(expectedFirstByte)) fail('unexpected version byte in a sent message');
  const file = { kind: 'session-transcript', source, description, cases };
  process.stdout.write(JSON.stringify(file, null, 2) + '\n');

  const valid = cases.filter((c) => c.expect === 'valid').length;
  note(`${mode}: ${cases.length} cases (${valid} valid, ${cases.length - valid} invalid)`);
  note(`first bytes of sent messages (outer and embedded): ${[...firstBytes].map((b) => '0x' + b.toString(16)).join(' ')}`);
  note(`PreKeySignalMessage field order: ${[...preKeyTags].join(' | ')}; SignalMessage field order: ${[...signalTags].join(' | ')}`);
  note('refusals:\n' + summary.join('\n'));
  const replayed = cases.map((c) => ['alice', 'bob'].filter((p) => c[p].generated_private_keys !== null).join('+'));
  note(`replayed with the JS port (key generation fed from the file): ${[...new Set(replayed)].join(', ')} in every case`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
