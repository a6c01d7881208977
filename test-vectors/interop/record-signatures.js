'use strict';
// Records a `curve-signature` vector file (format: ../README.md) from the real libsignal and
// writes it to stdout. Every case is checked under the recording library before anything is
// written: valid cases must verify, invalid ones must fail.
//
//   node record-signatures.js          > ../libsignal/curve-signatures-libsignal-client-0.103.0.json
//   node record-signatures.js js       > ../libsignal/curve-signatures-libsignal-js-6.0.0.json
//   node record-signatures.js edge     > ../libsignal/curve-signatures-edge-libsignal-client-0.103.0.json
//
// Signatures from libsignal-client are randomized (XEdDSA with 64 fresh random bytes), so each
// run gives a different, equally good file. The top bit of signature byte 63 carries the sign of
// the signer's Edwards public key, so it is fixed per key; keys are chosen to cover both values.

const crypto = require('crypto');
const o = require('./oracles');

const mode = process.argv[2] || 'client';

function fail(msg) {
  console.error('record-signatures: ' + msg);
  process.exit(1);
}

// --- the two signers -------------------------------------------------------------------------

// libsignal-client: PrivateKey.generate(), getPublicKey().serialize() (33 bytes, 0x05 prefix),
// privateKey.sign(msg) (64 bytes).
function clientKey() {
  const priv = o.client.PrivateKey.generate();
  const pub = o.hex(priv.getPublicKey().serialize());
  return { pub, sign: (msg) => o.hex(priv.sign(msg)) };
}

// JS port: curve.generateKeyPair() -> { pubKey (33 bytes, 0x05 prefix), privKey (32 bytes) },
// curve.calculateSignature(privKey, msg) (64 bytes, deterministic: no random input).
function jsKey() {
  const kp = o.jsCurve.generateKeyPair();
  return { pub: o.hex(kp.pubKey), sign: (msg) => o.hex(o.jsCurve.calculateSignature(kp.privKey, msg)) };
}

// The sign bit is a property of the key; draw keys until we have one with the bit set and one
// with it clear, then add `extra` more keys of either kind.
function pickKeys(makeKey, extra) {
  const probe = Buffer.from('sign-bit probe');
  let set = null;
  let clear = null;
  for (let i = 0; i < 200 && (!set || !clear); i++) {
    const k = makeKey();
    if (o.signBit(k.sign(probe))) set = set || k;
    else clear = clear || k;
  }
  if (!set || !clear) fail('could not find keys with both sign-bit values');
  const keys = [set, clear];
  for (let i = 0; i < extra; i++) keys.push(makeKey());
  return keys;
}

// --- case builders ---------------------------------------------------------------------------

function validCases(keys, lengths) {
  const cases = [];
  keys.forEach((k, ki) => {
    for (const len of lengths) {
      const msg = crypto.randomBytes(len);
      const signature = k.sign(msg);
      cases.push({
        id: `valid-k${ki}-len${len}`,
        comment: `key ${ki}, ${len}-byte random message, sign bit ${o.signBit(signature)}`,
        expect: 'valid',
        public: k.pub,
        message: o.hex(msg),
        signature,
      });
    }
  });
  return cases;
}

// Mutations that must turn a valid case into one libsignal rejects.
// Each takes the base case and the public key of some other signer.
const MUTATIONS = {
  'r-bit': ['signature bit 0 of byte 0 (in R) flipped', (c) => ({ signature: o.flipBit(c.signature, 0, 0x01) })],
  's-bit': ['signature bit 0 of byte 40 (in S) flipped', (c) => ({ signature: o.flipBit(c.signature, 40, 0x01) })],
  'sign-bit': ['top bit of signature byte 63 (Edwards sign bit) flipped', (c) => ({ signature: o.flipBit(c.signature, 63, 0x80) })],
  'msg-bit': ['one bit of the message flipped', (c) => ({ message: o.flipBit(c.message, Math.floor(c.message.length / 4), 0x10) })],
  'msg-append': ['one zero byte appended to the message', (c) => ({ message: c.message + '00' })],
  'other-key': ['public key of a different signer', (c, otherPub) => ({ public: otherPub })],
  's-high': ['bits 0x60 set in signature byte 63 (S not reduced: top bits must be zero)', (c) => ({ signature: o.setBits(c.signature, 63, 0x60) })],
};

function invalidCases(bases, keys, names = Object.keys(MUTATIONS)) {
  const cases = [];
  for (const name of names) {
    const [what, mutate] = MUTATIONS[name];
    for (const base of bases) {
      const other = keys.find((k) => k.pub !== base.public).pub;
      cases.push(Object.assign({
        id: `invalid-${name}-from-${base.id}`,
        comment: `${what}; derived from ${base.id}`,
        expect: 'invalid',
        error: 'BadSignature',
        public: base.public,
        message: base.message,
        signature: base.signature,
      }, mutate(base, other)));
    }
  }
  return cases;
}

// --- self-check and output -------------------------------------------------------------------

// `verify` is the recording library's verifier; `cross` the other one (disagreement is reported
// on stderr but does not stop the recording, since the file speaks for the recording library).
function check(cases, verify, cross, crossName) {
  const ids = new Set();
  for (const c of cases) {
    if (ids.has(c.id)) fail('duplicate id ' + c.id);
    ids.add(c.id);
    const ok = verify(c.public, c.message, c.signature);
    if (ok !== (c.expect === 'valid')) fail(`${c.id}: expected ${c.expect} but verify returned ${ok}`);
    const crossOk = cross(c.public, c.message, c.signature);
    if (crossOk !== ok) console.error(`note: ${crossName} disagrees on ${c.id}: verify returned ${crossOk}`);
  }
}

function emit(source, description, cases) {
  const n = (f) => cases.filter(f).length;
  const valid = cases.filter((c) => c.expect === 'valid');
  console.error(`${cases.length} cases: ${valid.length} valid (sign bit set in ${n((c) => c.expect === 'valid' && o.signBit(c.signature))}), ${n((c) => c.expect === 'invalid')} invalid`);
  process.stdout.write(JSON.stringify({ kind: 'curve-signature', source, description, cases }, null, 2) + '\n');
}

// S + L: the same scalar mod L, so the verification equation still holds. libsignal only rejects
// S whose top three bits are set, so S + L (< 2^253) passes. Returns null if S + L >= 2^253.
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
function sPlusL(sigHex) {
  const sig = o.unhex(sigHex);
  const signBit = sig[63] & 0x80;
  const sBytes = Buffer.from(sig.subarray(32));
  sBytes[31] &= 0x7f;
  const s = BigInt('0x' + Buffer.from(sBytes).reverse().toString('hex')) + L;
  if (s >= (1n << 253n)) return null;
  const out = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
  out[31] |= signBit;
  return o.hex(Buffer.concat([sig.subarray(0, 32), out]));
}

if (mode === 'client') {
  const keys = pickKeys(clientKey, 1);
  const valid = validCases(keys, [0, 1, 32, 64, 100, 200, 1000, 4096]);
  // Bases for the invalid cases: a 32-byte message from the sign-bit-set key and a 100-byte one
  // from the sign-bit-clear key.
  const bases = [valid.find((c) => c.id === 'valid-k0-len32'), valid.find((c) => c.id === 'valid-k1-len100')];
  const cases = valid.concat(invalidCases(bases, keys));
  check(cases, o.verifyClient, o.verifyJs, o.JS_NAME);
  emit('recorded from @signalapp/libsignal-client 0.103.0 (npm) by test-vectors/interop/record-signatures.js',
    'XEdDSA signatures made by PrivateKey.sign and checked with PublicKey.verify; invalid cases are valid ones with one change each, all rejected by libsignal-client 0.103.0. Signing is randomized, so no private key or random input is recorded. The sign bit (top bit of signature byte 63) is the sign of the signer\'s Edwards key: key 0 has it set, key 1 clear.',
    cases);
} else if (mode === 'js') {
  const keys = pickKeys(jsKey, 1);
  const valid = validCases(keys, [0, 1, 100, 1000]);
  const bases = [valid.find((c) => c.id === 'valid-k0-len100')];
  const cases = valid.concat(invalidCases(bases, keys, ['r-bit', 's-bit', 'sign-bit', 'msg-bit', 'other-key', 's-high']));
  check(cases, o.verifyJs, o.verifyClient, o.CLIENT_NAME);
  emit('recorded from libsignal 6.0.0 (npm, the JavaScript port; curve25519-js 0.0.4 underneath) by test-vectors/interop/record-signatures.js',
    'Signatures made by require("libsignal/src/curve").calculateSignature and checked with verifySignature. This port signs deterministically (no random input, nonce from the clamped private scalar and the message), so its signatures differ from libsignal-client\'s for the same key, but they verify the same way. Key 0 has the sign bit (top bit of signature byte 63) set, key 1 clear.',
    cases);
} else if (mode === 'edge') {
  // Inputs that libsignal-client 0.103.0 accepts although a strict verifier might not.
  const keys = pickKeys(clientKey, 0);
  const cases = [];
  keys.forEach((k, ki) => {
    const msg = crypto.randomBytes(32);
    let sig = k.sign(msg);
    let big = sPlusL(sig);
    while (big === null) { sig = k.sign(msg); big = sPlusL(sig); }
    const base = { public: k.pub, message: o.hex(msg) };
    cases.push(Object.assign({ id: `edge-k${ki}-original`, comment: `key ${ki}: the signature as made, for reference`, expect: 'valid' }, base, { signature: sig }));
    cases.push(Object.assign({ id: `edge-k${ki}-s-plus-l`, comment: 'S replaced by S + L (not reduced, still below 2^253): libsignal accepts it', expect: 'valid' }, base, { signature: big }));
    const pubHigh = o.setBits(k.pub, 32, 0x80);
    cases.push(Object.assign({ id: `edge-k${ki}-public-high-bit`, comment: 'public key with bit 255 of the Montgomery u set: PublicKey.deserialize accepts it and verify ignores the bit', expect: 'valid' }, base, { public: pubHigh, signature: sig }));
  });
  check(cases, o.verifyClient, o.verifyJs, o.JS_NAME);
  emit('recorded from @signalapp/libsignal-client 0.103.0 (npm) by test-vectors/interop/record-signatures.js edge',
    'Edge cases that libsignal-client 0.103.0 accepts: a non-reduced S (S + L) and a public key whose unused top bit is set. A verifier that must agree with libsignal has to accept them too.',
    cases);
} else {
  fail(`unknown mode ${mode} (use: client, js or edge)`);
}
