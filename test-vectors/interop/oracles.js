'use strict';
// Shared helpers for the interop scripts: the two libsignal verifiers under test,
// hex helpers and the mutations used to derive invalid signatures.

const client = require('@signalapp/libsignal-client'); // Signal's official Rust libsignal, Node binding
const jsCurve = require('libsignal/src/curve'); // the JavaScript port (curve25519-js underneath)

const CLIENT_NAME = 'libsignal-client 0.103.0';
const JS_NAME = 'libsignal-js 6.0.0'; // the npm package `libsignal`

const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

// Verify with @signalapp/libsignal-client: PublicKey.deserialize(33 bytes).verify(msg, sig).
// A key that does not deserialize counts as "does not verify".
function verifyClient(pubHex, msgHex, sigHex) {
  let key;
  try {
    key = client.PublicKey.deserialize(unhex(pubHex));
  } catch (e) {
    return false;
  }
  return key.verify(unhex(msgHex), unhex(sigHex));
}

// Verify with the JS port: curve.verifySignature(pub33, msg, sig) returns a boolean.
// It throws (instead of returning false) on a malformed key or a signature that is not 64 bytes.
function verifyJs(pubHex, msgHex, sigHex) {
  try {
    return jsCurve.verifySignature(unhex(pubHex), unhex(msgHex), unhex(sigHex)) === true;
  } catch (e) {
    return false;
  }
}

// Flip one bit (mask) of byte `index` in a hex string; returns new hex.
function flipBit(h, index, mask) {
  const b = unhex(h);
  b[index] ^= mask;
  return hex(b);
}

// Set bits (mask) in byte `index` of a hex string; returns new hex.
function setBits(h, index, mask) {
  const b = unhex(h);
  b[index] |= mask;
  return hex(b);
}

// Top bit of signature byte 63: libsignal keeps the sign of the Edwards public key there.
const signBit = (sigHex) => unhex(sigHex)[63] >> 7;

module.exports = {
  client, jsCurve, CLIENT_NAME, JS_NAME,
  hex, unhex, verifyClient, verifyJs, flipBit, setBits, signBit,
};
