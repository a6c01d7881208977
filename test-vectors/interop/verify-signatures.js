'use strict';
// Checks `curve-signature` vector files (format: ../README.md), e.g. ones written by tandem,
// against the real libsignal verifiers:
//   - @signalapp/libsignal-client 0.103.0: PublicKey.deserialize(public).verify(message, signature)
//   - libsignal 6.0.0 (JS port):          curve.verifySignature(public, message, signature)
// A case passes when `valid` verifies and `invalid` does not. When a valid case also carries
// `private`, the public key libsignal-client derives from it must equal `public`.
//
//   node verify-signatures.js FILE_OR_DIR...
//     one line per mismatch, then one summary line per library; exit code 1 on any failure.
//
//   node verify-signatures.js sign-check PRIVATE_HEX|- MESSAGE_HEX
//     the reverse direction: libsignal-client signs MESSAGE with the 32-byte PRIVATE key (or a
//     fresh key for "-"), both libraries verify it, and one JSON case line is printed
//     ({id, expect, public, message, signature}) for tandem to verify.

const fs = require('fs');
const path = require('path');
const o = require('./oracles');

function die(msg) {
  console.error('verify-signatures: ' + msg);
  process.exit(2);
}

// --- sign-check ------------------------------------------------------------------------------

function signCheck(privHex, msgHex) {
  if (privHex === undefined || msgHex === undefined || !/^([0-9a-fA-F]{2})*$/.test(msgHex)) {
    die('usage: sign-check PRIVATE_HEX|- MESSAGE_HEX');
  }
  // PrivateKey.deserialize takes the 32 raw bytes (libsignal clamps them as X25519 does).
  const priv = privHex === '-' ? o.client.PrivateKey.generate() : o.client.PrivateKey.deserialize(o.unhex(privHex));
  const pub = o.hex(priv.getPublicKey().serialize());
  const signature = o.hex(priv.sign(o.unhex(msgHex)));
  const ok = o.verifyClient(pub, msgHex, signature) && o.verifyJs(pub, msgHex, signature);
  console.log(JSON.stringify({ id: 'sign-check', expect: 'valid', public: pub, message: msgHex.toLowerCase(), signature }));
  if (!ok) die('libsignal did not verify its own signature');
}

// --- checking files --------------------------------------------------------------------------

// Expand folders (recursively) into their *.json files; inside a folder, files of another kind
// are skipped, but a file named directly must be a curve-signature file.
function collect(arg, named, out) {
  if (fs.statSync(arg).isDirectory()) {
    for (const e of fs.readdirSync(arg).sort()) {
      const p = path.join(arg, e);
      if (fs.statSync(p).isDirectory() || e.endsWith('.json')) collect(p, false, out);
    }
    return;
  }
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(arg, 'utf8'));
  } catch (e) {
    die(`${arg}: cannot read: ${e.message}`);
  }
  if (doc.kind !== 'curve-signature') {
    if (named) die(`${arg}: kind is ${JSON.stringify(doc.kind)}, not "curve-signature"`);
    return;
  }
  if (!Array.isArray(doc.cases) || doc.cases.length === 0) die(`${arg}: no cases`);
  out.push({ file: arg, cases: doc.cases });
}

function checkFiles(args) {
  const files = [];
  for (const a of args) collect(a, true, files);
  if (files.length === 0) die('no curve-signature files given');

  const verifiers = [[o.CLIENT_NAME, o.verifyClient], [o.JS_NAME, o.verifyJs]];
  const tally = verifiers.map(() => ({ checked: 0, failed: 0 }));

  for (const { file, cases } of files) {
    for (const c of cases) {
      const where = `${file}: ${c.id}`;
      if (c.expect !== 'valid' && c.expect !== 'invalid') die(`${where}: bad expect ${JSON.stringify(c.expect)}`);
      for (const f of ['public', 'message', 'signature']) {
        if (typeof c[f] !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(c[f])) die(`${where}: ${f} is not hex`);
      }
      verifiers.forEach(([name, verify], i) => {
        tally[i].checked++;
        const got = verify(c.public, c.message, c.signature) ? 'valid' : 'invalid';
        if (got !== c.expect) {
          tally[i].failed++;
          console.log(`FAIL ${where}: ${name} says ${got}, file says ${c.expect}`);
        }
      });
      // Key derivation agrees with libsignal-client (counted against libsignal-client).
      if (c.private !== undefined && c.expect === 'valid') {
        const derived = o.hex(o.client.PrivateKey.deserialize(o.unhex(c.private)).getPublicKey().serialize());
        if (derived !== c.public.toLowerCase()) {
          tally[0].failed++;
          console.log(`FAIL ${where}: ${o.CLIENT_NAME} derives public ${derived} from private`);
        }
      }
    }
  }
  verifiers.forEach(([name], i) => console.log(`${name}: ${tally[i].checked} checked, ${tally[i].failed} failed`));
  process.exit(tally.some((t) => t.failed > 0) ? 1 : 0);
}

const args = process.argv.slice(2);
if (args[0] === 'sign-check') signCheck(args[1], args[2]);
else if (args.length > 0) checkFiles(args);
else die('usage: verify-signatures.js FILE_OR_DIR... | sign-check PRIVATE_HEX|- MESSAGE_HEX');
