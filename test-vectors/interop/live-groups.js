'use strict';
// Live Sender Key groups between tandem and Signal's official libsignal: tandem encrypts group
// messages that libsignal decrypts, and the reverse, with rotation and several senders.
//
//   node live-groups.js [--seed S] [--peer PATH]
//
// tandem runs as `tandem-peer` (test-vectors/src/bin/tandem-peer.rs), a child process speaking
// one JSON line per request on stdin/stdout (`group_distribution`, `group_process`,
// `group_encrypt`, `group_decrypt`, `group_reset`); by default it is started with
// `cargo run -q --locked -p tandem-vectors --bin tandem-peer -- --seed S` from the repository
// root, or PATH is the built binary. The seed fixes tandem's keys and, here, every plaintext,
// distribution id, tampered byte and delivery order; the oracles draw their own keys, so a rerun
// with the same seed repeats the same group traffic with other oracle keys.
//
// Oracles: @signalapp/libsignal-client 0.103.0 and 0.72.1 (npm alias libsignal-client-classic),
// driven as in record-sender-keys.js (SenderKeyDistributionMessage.create,
// processSenderKeyDistributionMessage, groupEncrypt, groupDecrypt, an in-memory SenderKeyStore
// keeping records serialized). For each oracle, five scenarios (the README lists every step):
//   - tandem sends, the oracle receives / the oracle sends, tandem receives: ~20 messages of
//     0 to 4 KiB and one of ~1 MiB, received in order, out of order, with losses and a late one;
//     tampered copies (a signature bit, a ciphertext bit flipped) are refused (`BadSignature`)
//     and duplicates (`Duplicate`), and the originals still decrypt;
//   - tandem rotates / the oracle rotates (twice): late messages of the old chains still decrypt,
//     the new chain decrypts once its distribution message is processed; before that, and for
//     a member who never gets it, new messages are refused (`NoSenderKey`); the sender cannot
//     encrypt between the reset and its next distribution message;
//   - three senders (tandem and two oracle devices) in one group, plus a second group with the
//     same members but one, every member decrypting the others' interleaved messages, shuffled
//     with losses; a message attributed to the wrong sender or read by a non-member is refused.
// Then one more: three senders, tandem with 0.103.0 and 0.72.1 in the same group.
// Refusals are compared by name: tandem's error variant, and libsignal's exception mapped to the
// same names as in record-sender-keys.js. Every message either side makes is checked on the wire:
// version byte 0x33, distribution uuid, the chain id of the sender's last distribution message,
// consecutive iterations, AES-CBC length.
//
// Prints one line per scenario and `live groups: N scenarios, M messages checked, F failed`;
// exits 1 if any scenario failed (the line says which step, the message bytes and the error),
// 2 on bad usage.

const { spawn } = require('child_process');
const crypto = require('crypto');
const path = require('path');
const readline = require('readline');

const out = (s) => process.stdout.write(s + '\n');
const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');
// Bytes in failure reports: whole up to 2 KiB, else the first 256 bytes.
const short = (h) => (h.length > 4096 ? `${h.slice(0, 512)}… (${h.length / 2} bytes)` : h);

// --- arguments -----------------------------------------------------------------------------

function usage() {
  process.stderr.write('usage: node live-groups.js [--seed S] [--peer PATH_TO_tandem-peer]\n');
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
  if (!/^\d+$/.test(seed) || BigInt(seed) >= 2n ** 64n) usage(); // tandem-peer takes a u64
}

// --- seeded randomness (plaintexts, ids, orders): AES-256-CTR keystream keyed by the seed ----

const stream = crypto.createCipheriv('aes-256-ctr', crypto.createHash('sha256').update(`tandem live-groups ${seed}`).digest(), Buffer.alloc(16));
const randomBytes = (n) => stream.update(Buffer.alloc(n));
const randomInt = (n) => randomBytes(4).readUInt32BE(0) % n; // bias irrelevant here
// A permutation of 0..n-1 that is not the identity (n >= 2).
function shuffled(n) {
  const p = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  if (n >= 2 && p.every((v, i) => v === i)) p.push(p.shift());
  return p;
}
const shuffle = (xs) => shuffled(xs.length).map((i) => xs[i]);
// Sizes around the AES block, empty, one byte, up to 4 KiB; a third are text (easier to read).
const SIZES = [0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 1000, 1500, 2048, 4095, 4096];
function plaintext(n = SIZES[randomInt(SIZES.length)]) {
  if (n > 0 && randomInt(3) === 0) return Buffer.from('tandem group hello '.repeat(Math.ceil(n / 19)).slice(0, n));
  return randomBytes(n);
}
const bigSize = () => (1 << 20) + randomInt(17); // ~1 MiB
const uuid = (idHex) => `${idHex.slice(0, 8)}-${idHex.slice(8, 12)}-${idHex.slice(12, 16)}-${idHex.slice(16, 20)}-${idHex.slice(20)}`;

// --- wire helpers: enough protobuf to check the messages and find what to tamper with ---------

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
// SenderKeyDistributionMessage = 0x33 || protobuf { 1 distribution uuid, 2 chain id,
// 3 iteration, 4 chain key (32), 5 signing key (33) }.
function parseSkdm(b) {
  const f = parseProto(b.slice(1));
  return {
    version: b[0], distributionId: hex(field(f, 1).value), chainId: field(f, 2).value,
    iteration: field(f, 3).value, chainKey: field(f, 4).value, signingKey: field(f, 5).value,
  };
}
// SenderKeyMessage = 0x33 || protobuf { 1 distribution uuid, 2 chain id, 3 iteration,
// 4 AES-256-CBC ciphertext } || 64-byte signature over everything before it.
function parseSkm(b) {
  const f = parseProto(b.slice(1, b.length - 64));
  const ct = field(f, 4);
  return {
    version: b[0], distributionId: hex(field(f, 1).value), chainId: field(f, 2).value,
    iteration: field(f, 3).value, ciphertext: ct.value, ciphertextAt: 1 + ct.start,
  };
}
// A copy with one bit flipped: in the signature, or in the AES ciphertext.
function tamper(kind, body) {
  const b = Buffer.from(body);
  const bit = 1 << randomInt(8);
  if (kind === 'signature') {
    b[b.length - 64 + randomInt(64)] ^= bit;
  } else {
    const m = parseSkm(b);
    b[m.ciphertextAt + randomInt(m.ciphertext.length)] ^= bit;
  }
  return b;
}

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

// --- group members: tandem and libsignal behind one interface ---------------------------------

// A member refused: `errorName` is tandem's error variant, or libsignal's exception mapped to it.
class Refusal extends Error {
  constructor(errorName, text) {
    super(text);
    this.errorName = errorName;
  }
}

// Each member: { name, label, distribute(distHex) → bytes, process(senderName, bytes),
// encrypt(distHex, pt) → bytes, decrypt(senderName, bytes) → pt, resetKey(distHex) };
// every call throws a Refusal when the library refuses.
async function tandemMember(peer, name) {
  const r = await peer.call({ op: 'init', name });
  if (r.error) throw new DriverError(`tandem-peer init: ${r.error}`);
  const call = async (req, key) => {
    const a = await peer.call(req);
    if (a.error) throw new Refusal(a.error, `tandem error ${a.error}`);
    return key ? unhex(a[key]) : null;
  };
  return {
    name, label: 'tandem', tandem: true,
    distribute: (d) => call({ op: 'group_distribution', distribution_id: d }, 'distribution_message'),
    process: (s, b) => call({ op: 'group_process', sender: s, distribution_message: hex(b) }),
    encrypt: (d, pt) => call({ op: 'group_encrypt', distribution_id: d, plaintext: hex(pt) }, 'ciphertext'),
    decrypt: (s, b) => call({ op: 'group_decrypt', sender: s, ciphertext: hex(b) }, 'plaintext'),
    resetKey: (d) => call({ op: 'group_reset', distribution_id: d }),
  };
}

function library(pkg) {
  const C = require(pkg);
  const version = require(pkg + '/package.json').version;
  // Records are kept serialized (as in record-sender-keys.js), so a failed decrypt can change
  // nothing stored.
  class Store extends C.SenderKeyStore {
    constructor() { super(); this.m = new Map(); }
    async saveSenderKey(sender, distributionId, record) { this.m.set(`${sender.toString()}|${distributionId}`, Buffer.from(record.serialize())); }
    async getSenderKey(sender, distributionId) {
      const b = this.m.get(`${sender.toString()}|${distributionId}`);
      return b ? C.SenderKeyRecord.deserialize(b) : null;
    }
  }
  return { C, version, name: `libsignal-client ${version}`, short: version, Store };
}
const CLIENT = library('@signalapp/libsignal-client');
const CLASSIC = library('libsignal-client-classic');

// libsignal's refusal -> the name of tandem's error variant (as in record-sender-keys.js).
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
const describe = (e) => `${e.name || 'Error'}${e.code !== undefined ? ` (code ${e.code})` : ''}: ${e.message}`;

function oracleMember(K, name) {
  const { C } = K;
  const store = new K.Store();
  const addr = (n) => C.ProtocolAddress.new(n, 1);
  const own = addr(name);
  const guard = async (f) => {
    try {
      return await f();
    } catch (e) {
      throw new Refusal(errorName(K, e), `libsignal-client ${K.version} error ${describe(e)}`);
    }
  };
  return {
    name, label: `libsignal-client ${K.version}`, tandem: false,
    distribute: (d) => guard(async () => Buffer.from((await C.SenderKeyDistributionMessage.create(own, uuid(d), store)).serialize())),
    process: (s, b) => guard(() => C.processSenderKeyDistributionMessage(addr(s), C.SenderKeyDistributionMessage.deserialize(b), store)),
    encrypt: (d, pt) => guard(async () => Buffer.from((await C.groupEncrypt(own, uuid(d), store, pt)).serialize())),
    decrypt: (s, b) => guard(async () => Buffer.from(await C.groupDecrypt(addr(s), store, b))),
    // The Node API has no reset: drop our own record, so the next distribution starts a new chain.
    resetKey: async (d) => { store.m.delete(`${own.toString()}|${uuid(d)}`); },
  };
}

// --- one scenario ----------------------------------------------------------------------------

class CheckFailed extends Error {}

class Scenario {
  constructor(stats) {
    this.stats = stats;
    this.step = 'setup';
    this.chains = new Map(); // `${sender}|${dist}` -> { chainId, next } from the last distribution
    this.counts = new Map(); // sender name -> messages made
  }

  fail(what) { throw new CheckFailed(`[${this.step}] ${what}`); }

  // Runs f; an unexpected refusal fails the scenario with `what`.
  async must(what, f) {
    try {
      return await f();
    } catch (e) {
      if (e instanceof Refusal) this.fail(`${what}: ${e.message}`);
      throw e;
    }
  }

  // A random (version 4) UUID: 0.72.1 refuses other UUIDs in its API.
  newDistributionId() {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return hex(b);
  }

  // `who` makes its distribution message for `dist`; checks its wire form. `fresh`: it must start
  // a new chain at iteration 0 (after a reset or on first use).
  async distribute(who, dist, fresh = true) {
    const b = await this.must(`${who.label} (${who.name}) making its distribution message`, () => who.distribute(dist));
    let p;
    try {
      p = parseSkdm(b);
    } catch (e) {
      this.fail(`${who.label}'s distribution message does not parse (${e.message}): ${hex(b)}`);
    }
    const key = `${who.name}|${dist}`;
    const prev = this.chains.get(key);
    const problems = [];
    if (p.version !== 0x33) problems.push(`version byte 0x${p.version.toString(16)}`);
    if (p.distributionId !== dist) problems.push(`distribution id ${p.distributionId}, expected ${dist}`);
    if (p.chainKey.length !== 32 || p.signingKey.length !== 33 || p.signingKey[0] !== 0x05) problems.push('chain key or signing key of the wrong form');
    if (p.chainId >= 2 ** 31) problems.push(`chain id ${p.chainId} is not 31-bit`);
    if (fresh && p.iteration !== 0) problems.push(`a new chain at iteration ${p.iteration}`);
    if (fresh && prev && prev.chainId === p.chainId) problems.push(`the new chain has the old chain id ${p.chainId}`);
    if (!fresh && (!prev || prev.chainId !== p.chainId || prev.next !== p.iteration)) problems.push(`chain ${p.chainId} at ${p.iteration}, expected the current chain ${prev && prev.chainId} at ${prev && prev.next}`);
    if (problems.length) this.fail(`${who.label}'s distribution message: ${problems.join('; ')}: ${hex(b)}`);
    this.chains.set(key, { chainId: p.chainId, next: p.iteration });
    return { from: who, dist, body: b, chainId: p.chainId };
  }

  async process(to, d) {
    await this.must(`${to.label} (${to.name}) processing ${d.from.label}'s distribution message (chain ${d.chainId}) ${hex(d.body)}`, () => to.process(d.from.name, d.body));
  }

  // Everyone in `members` but the sender processes `who`'s distribution message.
  async distributeTo(who, dist, members) {
    const d = await this.distribute(who, dist);
    for (const m of members) if (m !== who) await this.process(m, d);
    return d;
  }

  // `who` encrypts `pt` for `dist`; checks the wire form (chain, iteration, length).
  async send(who, dist, pt = plaintext()) {
    const b = await this.must(`${who.label} (${who.name}) encrypting a ${pt.length}-byte message`, () => who.encrypt(dist, pt));
    const n = this.counts.get(who.name) || 0;
    this.counts.set(who.name, n + 1);
    const chain = this.chains.get(`${who.name}|${dist}`);
    let p;
    try {
      p = parseSkm(b);
    } catch (e) {
      this.fail(`${who.label}'s message ${n} does not parse (${e.message}): ${short(hex(b))}`);
    }
    const problems = [];
    if (p.version !== 0x33) problems.push(`version byte 0x${p.version.toString(16)}`);
    if (p.distributionId !== dist) problems.push(`distribution id ${p.distributionId}, expected ${dist}`);
    if (!chain || p.chainId !== chain.chainId) problems.push(`chain id ${p.chainId}, expected ${chain && chain.chainId}`);
    else if (p.iteration !== chain.next) problems.push(`iteration ${p.iteration}, expected ${chain.next}`);
    if (p.ciphertext.length !== 16 * (Math.floor(pt.length / 16) + 1)) problems.push(`${p.ciphertext.length}-byte ciphertext for ${pt.length} bytes`);
    if (problems.length) this.fail(`${who.label}'s message ${n}: ${problems.join('; ')}: ${short(hex(b))}`);
    chain.next++;
    return { from: who, dist, pt, body: b, n, chainId: p.chainId, iteration: p.iteration };
  }

  async sendAll(who, dist, k, size) {
    const ms = [];
    for (let i = 0; i < k; i++) ms.push(await this.send(who, dist, size === undefined ? plaintext() : plaintext(size)));
    return ms;
  }

  what(to, m, how = '') {
    return `${to.label} (${to.name}) receiving ${how}${m.from.label} (${m.from.name})'s message ${m.n} (chain ${m.chainId}, iteration ${m.iteration}, ${m.pt.length}-byte plaintext)`;
  }

  // `to` decrypts m; must give m.pt.
  async recv(to, m) {
    const what = this.what(to, m);
    let pt;
    try {
      pt = await to.decrypt(m.from.name, m.body);
    } catch (e) {
      if (e instanceof Refusal) this.fail(`${what}: ${e.message}; bytes ${short(hex(m.body))}`);
      throw e;
    }
    if (!pt.equals(m.pt)) this.fail(`${what}: wrong plaintext ${short(hex(pt))}, sent ${short(hex(m.pt))}`);
    this.stats.messages++;
  }
  async recvAll(to, ms, order = [...ms.keys()]) {
    for (const i of order) await this.recv(to, ms[i]);
  }

  // `to` must refuse `body` (m, a copy of it, or m said to come from `sender`) with `error`.
  async refuse(to, m, error, how, body = m.body, sender = m.from.name) {
    const what = this.what(to, m, how ? how + ' of ' : '');
    let pt;
    try {
      pt = await to.decrypt(sender, body);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      if (e.errorName !== error) this.fail(`${what}: ${e.message} (${e.errorName}), expected ${error}; bytes ${short(hex(body))}`);
      this.stats.messages++;
      this.stats.refusals++;
      return;
    }
    this.fail(`${what}: accepted (plaintext ${short(hex(pt))}), expected ${error}; bytes ${short(hex(body))}`);
  }
  refuseTampered(to, m, kind) { return this.refuse(to, m, 'BadSignature', `a copy with a ${kind} bit flipped`, tamper(kind, m.body)); }
  refuseDuplicate(to, m) { return this.refuse(to, m, 'Duplicate', 'a second copy'); }

  // The sender cannot encrypt for `dist` (no chain of its own).
  async cannotSend(who, dist) {
    try {
      await who.encrypt(dist, plaintext());
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      if (e.errorName !== 'NoSenderKey') this.fail(`${who.label} encrypting without a chain: ${e.message} (${e.errorName}), expected NoSenderKey`);
      this.stats.refusals++;
      return;
    }
    this.fail(`${who.label} encrypted without a chain of its own (after its reset), expected NoSenderKey`);
  }
}

// (a), (b): one sender, one receiver.
async function oneWay(sc, sender, receiver) {
  const dist = sc.newDistributionId();
  sc.step = 'distribution';
  await sc.distributeTo(sender, dist, [receiver]);

  sc.step = 'sending';
  const ms = [];
  const big = 14 + randomInt(6); // where the ~1 MiB message goes
  for (let i = 0; i < 21; i++) ms.push(await sc.send(sender, dist, plaintext(i === big ? bigSize() : i < SIZES.length ? SIZES[i] : undefined)));

  sc.step = 'in order';
  await sc.recvAll(receiver, ms, [0, 1, 2, 3, 4]);

  sc.step = 'tampered and duplicate';
  await sc.refuseTampered(receiver, ms[5], 'signature');
  await sc.refuseTampered(receiver, ms[5], 'ciphertext');
  await sc.recv(receiver, ms[5]);
  await sc.refuseDuplicate(receiver, ms[5]);
  await sc.refuseDuplicate(receiver, ms[0]);

  sc.step = 'out of order';
  await sc.recvAll(receiver, ms, shuffled(6).map((i) => 6 + i));
  await sc.refuseDuplicate(receiver, ms[6 + randomInt(6)]);

  sc.step = 'lost, then out of order (with the ~1 MiB message)';
  // 12 and 13 are not delivered now; 13 never is.
  await sc.refuseTampered(receiver, ms[16], 'signature'); // ahead of the chain: refused first
  await sc.recvAll(receiver, ms, shuffled(7).map((i) => 14 + i));
  await sc.refuseDuplicate(receiver, ms[big]);

  sc.step = 'a late message (skipped key)';
  await sc.refuseTampered(receiver, ms[12], 'ciphertext');
  await sc.recv(receiver, ms[12]);
  await sc.refuseDuplicate(receiver, ms[12]);

  sc.step = 'after the losses';
  const last = await sc.sendAll(sender, dist, 3);
  await sc.recvAll(receiver, last, [0, 2, 1]);
}

// (c): `sender` rotates twice; `full` gets every distribution message (late); `partial` misses
// the second one and gets the third late.
async function rotation(sc, sender, full, partial) {
  const dist = sc.newDistributionId();
  sc.step = 'first chain';
  await sc.distributeTo(sender, dist, [full, partial]);
  const m = await sc.sendAll(sender, dist, 6);
  await sc.recvAll(full, m, [0, 2]);
  await sc.recvAll(partial, m, [0, 1]);

  sc.step = 'reset';
  await sc.must(`${sender.label} resetting its sender key`, () => sender.resetKey(dist));
  await sc.cannotSend(sender, dist);

  sc.step = 'second chain';
  const d2 = await sc.distribute(sender, dist);
  const n = await sc.sendAll(sender, dist, 5);
  await sc.refuse(full, n[0], 'NoSenderKey', 'before the new distribution message: ');
  await sc.process(full, d2);
  await sc.recvAll(full, [n[1], m[1], n[0], m[4]]);
  await sc.refuseDuplicate(full, m[2]);
  await sc.recvAll(full, [n[3], m[3]]);
  await sc.refuse(partial, n[0], 'NoSenderKey', 'without the new distribution message: ');
  await sc.refuse(partial, n[2], 'NoSenderKey', 'without the new distribution message: ');
  await sc.recvAll(partial, [m[3], m[2]]);

  sc.step = 'third chain';
  await sc.must(`${sender.label} resetting its sender key`, () => sender.resetKey(dist));
  await sc.cannotSend(sender, dist);
  const d3 = await sc.distribute(sender, dist);
  const p = await sc.sendAll(sender, dist, 3);
  await sc.process(full, d3);
  await sc.recvAll(full, [p[0], n[2], m[5], p[2], n[4], p[1]]);
  await sc.refuseDuplicate(full, n[1]);
  await sc.refuse(partial, p[0], 'NoSenderKey', 'before the new distribution message: ');
  await sc.process(partial, d3);
  await sc.recvAll(partial, [p[1], p[0], m[5]]);
  await sc.refuse(partial, n[1], 'NoSenderKey', 'without the second distribution message: ');
  await sc.recv(partial, p[2]);

  sc.step = 'after rotation';
  const q = await sc.sendAll(sender, dist, 3);
  await sc.recvAll(full, q, [2, 0, 1]);
  await sc.recvAll(partial, q, [0, 1]);
}

// (d): every member sends in one group (and all but the last in a second group); every member
// decrypts the others' messages, interleaved and shuffled, some lost. The last member is refused
// the second group's messages (NoSenderKey), and every member a message attributed to another
// sender than the one who made it (NoSenderKey: that sender's chain has another chain id).
async function severalSenders(sc, members) {
  const g = sc.newDistributionId();
  const h = sc.newDistributionId();
  const inH = members.slice(0, -1);
  const outsider = members[members.length - 1];
  sc.step = 'distribution';
  for (const who of members) await sc.distributeTo(who, g, members);
  for (const who of inH) await sc.distributeTo(who, h, inH);

  for (let round = 0; round < 3; round++) {
    sc.step = `round ${round + 1}`;
    const sent = [];
    for (const who of shuffle(members)) sent.push(...(await sc.sendAll(who, g, 1 + randomInt(3))));
    for (const who of inH) sent.push(...(await sc.sendAll(who, h, 1 + randomInt(2))));
    for (const to of members) {
      const mine = shuffle(sent.filter((m) => m.from !== to && (m.dist === g || inH.includes(to))));
      for (const [i, m] of mine.entries()) {
        if (i > 0 && randomInt(6) === 0) continue; // lost
        await sc.recv(to, m);
      }
    }
    const hm = sent.find((m) => m.dist === h);
    await sc.refuse(outsider, hm, 'NoSenderKey', 'outside the group: ');
    // Each member gets a message from one other member said to come from the third.
    for (const to of members) {
      const [x, y] = shuffle(members.filter((w) => w !== to));
      const gm = sent.find((m) => m.dist === g && m.from === x) || (await sc.send(x, g));
      await sc.refuse(to, gm, 'NoSenderKey', `said to come from ${y.name}: `, gm.body, y.name);
    }
  }

  sc.step = 'a reply from each';
  for (const who of members) {
    const m = await sc.send(who, g);
    for (const to of members) if (to !== who) await sc.recv(to, m);
  }
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const tandem = new TandemPeer();
  out(`seed ${seed} (rerun with --seed ${seed})`);
  out(`tandem-peer: ${tandem.command}`);
  out('  one-way: 21 messages (0 to 4 KiB, one ~1 MiB) in order, out of order, lost and late; tampered (signature /');
  out('  ciphertext bit) and duplicate copies refused (BadSignature / Duplicate); rotation twice: old chains still');
  out('  decrypt, the new one without its distribution message is refused (NoSenderKey); three senders in one group');
  const total = { scenarios: 0, messages: 0, failed: 0 };
  const run = async (label, f) => {
    const stats = { messages: 0, refusals: 0 };
    const sc = new Scenario(stats);
    const started = Date.now();
    total.scenarios++;
    try {
      await f(sc);
      out(`ok   ${label.padEnd(72)} ${stats.messages} messages (${stats.refusals} refused as expected), ${Date.now() - started} ms`);
    } catch (e) {
      total.failed++;
      out(`FAIL ${label.padEnd(72)} ${e instanceof CheckFailed || e instanceof DriverError ? e.message : e.stack}`);
    }
    total.messages += stats.messages;
  };
  const T = () => tandemMember(tandem, 'tandem');
  for (const K of [CLIENT, CLASSIC]) {
    const O = (n) => oracleMember(K, `${n}-${K.version}`);
    await run(`${K.name}: tandem sends, libsignal receives`, async (sc) => oneWay(sc, await T(), O('alice')));
    await run(`${K.name}: libsignal sends, tandem receives`, async (sc) => oneWay(sc, O('alice'), await T()));
    await run(`${K.name}: tandem rotates, two libsignal members`, async (sc) => rotation(sc, await T(), O('alice'), O('bob')));
    await run(`${K.name}: libsignal rotates, tandem and libsignal members`, async (sc) => rotation(sc, O('alice'), await T(), O('bob')));
    await run(`${K.name}: three senders (tandem, 2 libsignal)`, async (sc) => severalSenders(sc, [await T(), O('alice'), O('bob')]));
  }
  await run(`mixed: three senders (tandem, ${CLIENT.version}, ${CLASSIC.version})`, async (sc) => severalSenders(sc, [oracleMember(CLIENT, 'alice'), oracleMember(CLASSIC, 'bob'), await T()]));
  tandem.close();
  out(`live groups: ${total.scenarios} scenarios, ${total.messages} messages checked, ${total.failed} failed`);
  process.exitCode = total.failed ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`live-groups: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
