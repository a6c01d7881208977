'use strict';
// Records a `media` vector file (format: ../README.md, kind `media`) and writes it to stdout.
//
//   node record-media.js                      > ../media/media-node-crypto.json
//   node record-media.js baileys BAILEYS_DIR  > ../media/media-baileys-6.17.16.json
//
// Default mode: an implementation of WhatsApp's media encryption written here on Node's own
// crypto (OpenSSL: hkdfSync, aes-256-cbc, HMAC-SHA256, SHA-256), independent of tandem, plus
// tandem's seekable sidecar exactly as spec/07-media.md states it. Covers every kind's info
// string, the edge lengths (0, 1, 15, 16, 17 bytes, chunk borders), 100 KiB, sidecar windows and
// the refusals (each invalid case names the error tandem must return).
//
// `baileys` mode: the blobs come from the Baileys library itself (`encryptedStream`, which draws
// the media key, and `getMediaKeys`), loaded from BAILEYS_DIR = an unpacked
// `@whiskeysockets/baileys` package (`npm pack @whiskeysockets/baileys@6.17.16`, untar, then
// `npm install` the registry dependencies it needs to load: @hapi/boom axios protobufjs
// libsignal@6.0.0 pino ws lodash async-lock uuid libphonenumber-js @cacheable/node-cache
// cache-manager@5 @adiwajshing/keyed-db — in the folder above `package/`). Every Baileys blob is
// also checked against this file's own implementation before it is written.
//
// Large plaintexts are not written out: a case with `plaintext_length` N has plaintext byte i =
// i mod 251, and (for valid cases) may leave out `blob`, which `file_enc_sha256` pins.

const crypto = require('crypto');

const CHUNK = 65536;
const MAC_LEN = 10;

// tandem's kind names → WhatsApp's HKDF info strings (whatsmeow MediaType, Baileys
// MEDIA_HKDF_KEY_MAPPING; stickers use the image keys).
const KINDS = {
  'image': 'WhatsApp Image Keys',
  'video': 'WhatsApp Video Keys',
  'audio': 'WhatsApp Audio Keys',
  'document': 'WhatsApp Document Keys',
  'sticker': 'WhatsApp Image Keys',
  'sticker-pack': 'WhatsApp Sticker Pack Keys',
  'history': 'WhatsApp History Keys',
  'app-state': 'WhatsApp App State Keys',
  'link-thumbnail': 'WhatsApp Link Thumbnail Keys',
  'image-thumbnail': 'WhatsApp Image Thumbnail Keys',
  'video-thumbnail': 'WhatsApp Video Thumbnail Keys',
  'document-thumbnail': 'WhatsApp Document Thumbnail Keys',
  'payment-background': 'WhatsApp Payment Background Keys',
};

// tandem kind → Baileys media type with the same info string.
const BAILEYS_TYPES = {
  'image': 'image',
  'video': 'video',
  'audio': 'audio',
  'document': 'document',
  'sticker': 'sticker',
  'history': 'md-msg-hist',
  'app-state': 'md-app-state',
  'link-thumbnail': 'thumbnail-link',
  'image-thumbnail': 'thumbnail-image',
  'video-thumbnail': 'thumbnail-video',
  'document-thumbnail': 'thumbnail-document',
  'payment-background': 'payment-bg-image',
};

function fail(msg) {
  console.error('record-media: ' + msg);
  process.exit(1);
}

const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const hmac = (key, ...parts) => {
  const h = crypto.createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

// --- the construction, on Node's crypto -----------------------------------------------------

function expand(mediaKey, kind) {
  // HKDF-SHA256, no salt (Node passes a zero-length salt: the RFC's default), 112 bytes.
  const okm = Buffer.from(crypto.hkdfSync('sha256', mediaKey, Buffer.alloc(0), Buffer.from(KINDS[kind]), 112));
  return { okm, iv: okm.subarray(0, 16), cipherKey: okm.subarray(16, 48), macKey: okm.subarray(48, 80) };
}

function encrypt(kind, mediaKey, plaintext) {
  const k = expand(mediaKey, kind);
  const c = crypto.createCipheriv('aes-256-cbc', k.cipherKey, k.iv);
  const enc = Buffer.concat([c.update(plaintext), c.final()]);
  const mac = hmac(k.macKey, k.iv, enc).subarray(0, MAC_LEN);
  const blob = Buffer.concat([enc, mac]);
  return { k, enc, blob, fileSha256: sha256(plaintext), fileEncSha256: sha256(blob), fileLength: plaintext.length };
}

// Independent decrypt (for checking Baileys output): hash, MAC, decrypt, hash.
function decrypt(kind, mediaKey, blob) {
  const k = expand(mediaKey, kind);
  const enc = blob.subarray(0, blob.length - MAC_LEN);
  const mac = blob.subarray(blob.length - MAC_LEN);
  if (!crypto.timingSafeEqual(hmac(k.macKey, k.iv, enc).subarray(0, MAC_LEN), mac)) fail('bad MAC');
  const d = crypto.createDecipheriv('aes-256-cbc', k.cipherKey, k.iv);
  return Buffer.concat([d.update(enc), d.final()]);
}

// The sidecar (spec/07-media.md): S = iv ‖ enc; for n in 0..ceil(len(enc)/65536), window n =
// S[n·65536 .. min((n+1)·65536 + 16, len(S))]; entry n = HMAC-SHA256(macKey, window n)[..10].
function sidecar(k, enc) {
  const s = Buffer.concat([k.iv, enc]);
  const chunks = Math.ceil(enc.length / CHUNK);
  const out = [];
  for (let n = 0; n < chunks; n++) {
    const w = s.subarray(n * CHUNK, Math.min((n + 1) * CHUNK + 16, s.length));
    out.push(hmac(k.macKey, w).subarray(0, MAC_LEN));
  }
  return Buffer.concat(out);
}

// --- cases -----------------------------------------------------------------------------------

function validCase(id, kind, mediaKey, plaintext, opts = {}) {
  const e = encrypt(kind, mediaKey, plaintext);
  const c = {
    id,
    expect: 'valid',
    media_kind: kind,
    info: KINDS[kind],
    media_key: hex(mediaKey),
    expanded: hex(e.k.okm),
  };
  if (opts.pattern) c.plaintext_length = plaintext.length;
  else c.plaintext = hex(plaintext);
  if (!opts.omitBlob) c.blob = hex(e.blob);
  c.file_sha256 = hex(e.fileSha256);
  c.file_enc_sha256 = hex(e.fileEncSha256);
  c.file_length = e.fileLength;
  if (opts.sidecar) {
    c.sidecar = hex(sidecar(e.k, e.enc));
    if (opts.ranges) c.ranges = opts.ranges;
  }
  if (opts.comment) c.comment = opts.comment;
  return c;
}

function invalidCase(id, error, comment, kind, mediaKey, blob, digest, extra = {}) {
  return {
    id,
    expect: 'invalid',
    error,
    comment,
    media_kind: kind,
    media_key: hex(mediaKey),
    blob: hex(blob),
    file_sha256: hex(digest.fileSha256),
    file_enc_sha256: hex(digest.fileEncSha256),
    file_length: digest.fileLength,
    ...extra,
  };
}

function flip(buf, index, mask = 0x01) {
  const b = Buffer.from(buf);
  b[index] ^= mask;
  return b;
}

function nodeFile() {
  const cases = [];
  const key = () => crypto.randomBytes(32);

  // Every kind's info string, on a 33-byte plaintext.
  for (const kind of Object.keys(KINDS)) {
    cases.push(validCase(`kind-${kind}`, kind, key(), crypto.randomBytes(33)));
  }
  // Edge lengths.
  for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 1000]) {
    cases.push(validCase(`image-${n}-bytes`, 'image', key(), crypto.randomBytes(n), { sidecar: true, ranges: n ? [[0, n], [n - 1, n], [0, 0]] : [[0, 0]] }));
  }
  // 100 KiB (two sidecar chunks).
  cases.push(validCase('document-100KiB', 'document', key(), pattern(100 * 1024), {
    pattern: true, omitBlob: true, sidecar: true,
    ranges: [[0, 102400], [65530, 65542], [65536, 65537], [102399, 102400], [1000, 2000]],
  }));
  // Sidecar windows at the chunk borders: ciphertext of exactly one chunk (plaintext 65520 and
  // 65535), one byte more (a second chunk holding only the padding block), three chunks and a bit.
  const borders = [
    [65519, 'ciphertext 65520: one chunk, short'],
    [65520, 'ciphertext 65536: exactly one chunk; no window of 16 bytes after it'],
    [65535, 'ciphertext 65536: exactly one chunk'],
    [65536, 'ciphertext 65552: the second chunk is one block (all padding) after its 16-byte IV'],
    [3 * CHUNK + 100, 'four chunks'],
  ];
  for (const [n, comment] of borders) {
    const ranges = [[0, n], [0, 1], [n - 1, n], [n, n], [Math.max(0, n - 20), n]];
    if (n > CHUNK) ranges.push([CHUNK - 3, CHUNK + 3], [2 * CHUNK - 1, 2 * CHUNK + 1], [CHUNK, 2 * CHUNK]);
    cases.push(validCase(`video-sidecar-${n}`, 'video', key(), pattern(n), { pattern: true, omitBlob: true, sidecar: true, ranges, comment }));
  }

  // Refusals, on one 50-byte image.
  const k0 = key();
  const p0 = crypto.randomBytes(50);
  const e0 = encrypt('image', k0, p0);
  const withHash = (blob, over = {}) => ({ ...e0, fileEncSha256: sha256(blob), ...over });
  {
    const b = flip(e0.blob, e0.blob.length - 1);
    cases.push(invalidCase('mac-bit-flip', 'BadMac', 'last MAC byte flipped; digest states the new blob hash', 'image', k0, b, withHash(b)));
    cases.push(invalidCase('mac-bit-flip-old-hash', 'EncHashMismatch', 'last MAC byte flipped; digest states the original blob hash', 'image', k0, b, e0));
  }
  {
    const b = flip(e0.blob, 20, 0x80);
    cases.push(invalidCase('ciphertext-bit-flip', 'BadMac', 'ciphertext byte 20 flipped; digest states the new blob hash', 'image', k0, b, withHash(b)));
  }
  cases.push(invalidCase('wrong-enc-hash', 'EncHashMismatch', 'file_enc_sha256 byte 0 flipped', 'image', k0, e0.blob, { ...e0, fileEncSha256: flip(e0.fileEncSha256, 0) }));
  cases.push(invalidCase('wrong-plain-hash', 'PlainHashMismatch', 'file_sha256 byte 31 flipped', 'image', k0, e0.blob, { ...e0, fileSha256: flip(e0.fileSha256, 31) }));
  cases.push(invalidCase('wrong-length', 'LengthMismatch', 'file_length one more than the plaintext', 'image', k0, e0.blob, { ...e0, fileLength: e0.fileLength + 1 }));
  cases.push(invalidCase('wrong-kind', 'BadMac', 'an image blob decrypted as a video', 'image', k0, e0.blob, e0, { decrypt_as: 'video' }));
  cases.push(invalidCase('wrong-key', 'BadMac', 'another media key', 'image', key(), e0.blob, e0));
  {
    const b = Buffer.concat([e0.blob.subarray(0, e0.blob.length - MAC_LEN - 5), e0.blob.subarray(e0.blob.length - MAC_LEN)]);
    cases.push(invalidCase('truncated-mid-block', 'BadBlobLength', '5 ciphertext bytes cut; not whole blocks', 'image', k0, b, withHash(b)));
  }
  {
    const b = Buffer.concat([e0.blob.subarray(0, e0.blob.length - MAC_LEN - 16), e0.blob.subarray(e0.blob.length - MAC_LEN)]);
    cases.push(invalidCase('truncated-block', 'BadMac', 'the last ciphertext block cut', 'image', k0, b, withHash(b)));
  }
  {
    const b = e0.blob.subarray(0, 25);
    cases.push(invalidCase('too-short', 'BadBlobLength', '25 bytes: less than one block and a MAC', 'image', k0, b, withHash(b)));
    const m = e0.blob.subarray(e0.blob.length - MAC_LEN);
    cases.push(invalidCase('mac-only', 'BadBlobLength', 'only the 10 MAC bytes', 'image', k0, m, withHash(m)));
    const z = Buffer.alloc(0);
    cases.push(invalidCase('empty-blob', 'BadBlobLength', 'an empty blob', 'image', k0, z, withHash(z)));
  }
  {
    // A correctly MACed blob whose final block does not unpad: 32 bytes whose last byte is 0x11.
    const k = expand(k0, 'image');
    const body = crypto.randomBytes(32);
    body[31] = 0x11;
    const c = crypto.createCipheriv('aes-256-cbc', k.cipherKey, k.iv).setAutoPadding(false);
    const enc = Buffer.concat([c.update(body), c.final()]);
    const b = Buffer.concat([enc, hmac(k.macKey, k.iv, enc).subarray(0, MAC_LEN)]);
    cases.push(invalidCase('bad-padding', 'BadPadding', 'MAC verifies; final block ends in 0x11', 'image', k0, b, withHash(b, { fileSha256: sha256(body), fileLength: 32 })));
  }

  // Range refusals on a three-chunk video (blob derived from the plaintext pattern, then changed).
  const kv = key();
  const pv = pattern(2 * CHUNK + 500);
  const ev = encrypt('video', kv, pv);
  const sc = sidecar(ev.k, ev.enc);
  const rangeCase = (id, error, comment, fields) => ({
    id, expect: 'invalid', error, comment,
    media_kind: 'video', media_key: hex(kv), plaintext_length: pv.length,
    file_sha256: hex(ev.fileSha256), file_enc_sha256: hex(ev.fileEncSha256), file_length: ev.fileLength,
    sidecar: hex(sc), ...fields,
  });
  cases.push(rangeCase('range-chunk-bit-flip', 'BadMac', 'blob byte 70000 (chunk 1) flipped; range inside chunk 1', { blob_xor: [[70000, 1]], range: [CHUNK + 100, CHUNK + 200] }));
  cases.push(rangeCase('range-iv-bit-flip', 'BadMac', 'blob byte 65530 (last block of chunk 0 = IV of chunk 1) flipped; range inside chunk 1', { blob_xor: [[CHUNK - 6, 4]], range: [CHUNK + 1, CHUNK + 2] }));
  cases.push(rangeCase('range-sidecar-flip', 'BadMac', 'sidecar entry 2 changed; range in the last chunk', { sidecar: hex(flip(sc, 25)), range: [2 * CHUNK, 2 * CHUNK + 10] }));
  cases.push(rangeCase('range-sidecar-short', 'BadSidecar', 'sidecar missing its last entry', { sidecar: hex(sc.subarray(0, sc.length - MAC_LEN)), range: [0, 10] }));
  cases.push(rangeCase('range-sidecar-long', 'BadSidecar', 'sidecar with one entry too many', { sidecar: hex(Buffer.concat([sc, sc.subarray(0, MAC_LEN)])), range: [0, 10] }));
  cases.push(rangeCase('range-past-end', 'RangeOutOfBounds', 'range ends one byte after the plaintext', { range: [pv.length - 5, pv.length + 1] }));
  cases.push(rangeCase('range-reversed', 'RangeOutOfBounds', 'start after end', { range: [10, 5] }));
  cases.push(rangeCase('range-truncated-blob', 'BadSidecar', 'blob cut to its first 2·65536 + 10 bytes: a valid blob length with one chunk fewer than the sidecar', { blob_truncate: 2 * CHUNK + MAC_LEN, range: [0, 10] }));

  return {
    kind: 'media',
    source: `record-media.js: an independent implementation on Node ${process.version} crypto (OpenSSL ${process.versions.openssl}); random keys and plaintexts`,
    description: 'WhatsApp media encryption (HKDF info per kind, AES-256-CBC, HMAC-SHA256 truncated to 10 bytes, SHA-256 digests) and tandem\'s seekable sidecar (spec/07-media.md)',
    cases,
  };
}

// --- Baileys ---------------------------------------------------------------------------------

async function baileysFile(dir) {
  const path = require('path');
  const m = require(path.resolve(dir, 'package/lib/Utils/messages-media.js'));
  const version = require(path.resolve(dir, 'package/package.json')).version;
  const cases = [];
  const collect = async (readable) => {
    const parts = [];
    for await (const p of readable) parts.push(p);
    return Buffer.concat(parts);
  };
  const lengths = [0, 1, 15, 16, 17, 100 * 1024];
  for (const kind of Object.keys(BAILEYS_TYPES)) {
    const type = BAILEYS_TYPES[kind];
    const ns = kind === 'image' ? lengths : [33];
    for (const n of ns) {
      const big = n > 4096;
      const plaintext = big ? pattern(n) : crypto.randomBytes(n);
      const r = await m.encryptedStream(plaintext, type, {});
      const blob = await collect(r.encWriteStream);
      // Baileys' keys and output, checked against the construction above before recording.
      const keys = await m.getMediaKeys(r.mediaKey, type);
      const mine = expand(r.mediaKey, kind);
      if (!keys.iv.equals(mine.iv) || !keys.cipherKey.equals(mine.cipherKey) || !keys.macKey.equals(mine.macKey)) {
        fail(`getMediaKeys disagrees for ${kind}`);
      }
      const e = encrypt(kind, r.mediaKey, plaintext);
      if (!e.blob.equals(blob) || !e.fileSha256.equals(r.fileSha256) || !e.fileEncSha256.equals(r.fileEncSha256) || e.fileLength !== r.fileLength) {
        fail(`encryptedStream disagrees for ${kind}, ${n} bytes`);
      }
      if (!decrypt(kind, r.mediaKey, blob).equals(plaintext)) fail('round trip');
      const c = {
        id: `baileys-${type}-${n}`,
        expect: 'valid',
        comment: `Baileys encryptedStream(…, '${type}')`,
        media_kind: kind,
        info: m.hkdfInfoKey(type),
        media_key: hex(r.mediaKey),
        expanded: hex(mine.okm),
      };
      if (big) c.plaintext_length = n;
      else {
        c.plaintext = hex(plaintext);
        c.blob = hex(blob);
      }
      c.file_sha256 = hex(r.fileSha256);
      c.file_enc_sha256 = hex(r.fileEncSha256);
      c.file_length = r.fileLength;
      cases.push(c);
    }
  }
  return {
    kind: 'media',
    source: `@whiskeysockets/baileys ${version} (encryptedStream, getMediaKeys, hkdfInfoKey) on Node ${process.version}; random keys and plaintexts`,
    description: 'blobs encrypted by Baileys itself; `expanded` is Node crypto\'s HKDF, checked equal to Baileys\' getMediaKeys (which omits the reference key)',
    cases,
  };
}

async function main() {
  const mode = process.argv[2] || 'node';
  let file;
  if (mode === 'node') file = nodeFile();
  else if (mode === 'baileys') {
    if (!process.argv[3]) fail('usage: node record-media.js baileys BAILEYS_DIR');
    file = await baileysFile(process.argv[3]);
  } else fail(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(file, null, 2) + '\n');
  console.error(`record-media: ${file.cases.length} cases (${file.cases.filter((c) => c.expect === 'invalid').length} invalid)`);
}

main().catch((e) => fail(e.stack || String(e)));
