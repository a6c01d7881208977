//! Media encryption: 1 MiB and 100 MiB, whole and streamed, beside two floors measured in the
//! same run on the same bytes:
//!
//! - `raw cbc+hmac`: AES-256-CBC (PKCS#7) and HMAC-SHA256 over `iv ‖ ciphertext`, straight from
//!   the `aes`/`cbc`/`hmac` crates (the baseline);
//! - `raw cbc+hmac+2sha`: the same plus the two SHA-256 passes WhatsApp's construction itself
//!   requires (of the plaintext and of the blob), i.e. the least a single-threaded
//!   implementation can do (the "format floor").
//!
//! Each tandem operation runs twice: inline (the default; everything on the calling thread) and
//! `threads` (`MediaOptions::THREADED`: the three hashes on scoped worker threads beside the
//! cipher). The table also shows the four primitives alone (`primitive: …`), straight from the
//! crates, for the arithmetic of what the format can reach on this machine (spec §7.3.1).
//!
//! First it streams a 1 GiB file through `encrypt_stream`, `decrypt_stream` and
//! `decrypt_verify_first` (via a temporary file), inline and threaded, and prints the process's
//! peak resident set during each (Linux `VmHWM`, reset through `/proc/self/clear_refs`; the
//! workspace forbids `unsafe`, so there is no counting allocator): an upper bound on what the
//! call needs, the program's own code and libraries included. Set `TANDEM_MEDIA_GIB=0` to skip
//! it. After the criterion groups it prints a ratio table (best of several runs, timed here),
//! headed by the load average: the threaded rows mean something only on otherwise idle cores.
//!
//! `cargo bench -p tandem-benches --bench media` (all), or
//! `cargo bench -p tandem-benches --bench media -- table-only` (a filter no criterion benchmark
//! matches: the memory test and the ratio tables only).

use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use criterion::{Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tandem::media::{
    self, MediaKey, MediaKind, MediaOptions, decrypt_stream_with, decrypt_verify_first_with,
    encrypt_stream_with,
};

type HmacSha256 = Hmac<Sha256>;

const MIB: usize = 1 << 20;

struct Fixture {
    key: MediaKey,
    cipher_key: [u8; 32],
    iv: [u8; 16],
    mac_key: [u8; 32],
    plaintext: Vec<u8>,
    blob: Vec<u8>,
    digest: media::MediaDigest,
    raw_ct: Vec<u8>,
    raw_tag: [u8; 32],
}

fn fixture(size: usize) -> Fixture {
    let key = MediaKey::from([0x42; 32]);
    let keys = key.expand(MediaKind::Video);
    let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let (blob, digest) = media::encrypt(MediaKind::Video, &key, &plaintext);
    let cipher_key = *keys.cipher_key.expose();
    let iv = *keys.iv.expose();
    let mac_key = *keys.mac_key.expose();
    let (raw_ct, raw_tag) = raw_encrypt(&cipher_key, &iv, &mac_key, &plaintext);
    Fixture {
        key,
        cipher_key,
        iv,
        mac_key,
        plaintext,
        blob,
        digest,
        raw_ct,
        raw_tag,
    }
}

fn raw_encrypt(key: &[u8; 32], iv: &[u8; 16], mac_key: &[u8; 32], pt: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let ct = cbc::Encryptor::<Aes256>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(pt);
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(mac_key).unwrap_or_else(|_| unreachable_key());
    mac.update(iv);
    mac.update(&ct);
    (ct, mac.finalize().into_bytes().into())
}

fn raw_decrypt(key: &[u8; 32], iv: &[u8; 16], mac_key: &[u8; 32], ct: &[u8], tag: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(mac_key).unwrap_or_else(|_| unreachable_key());
    mac.update(iv);
    mac.update(ct);
    let ok = mac
        .verify_truncated_left(tag.get(..10).unwrap_or_default())
        .is_ok();
    let pt = cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(ct)
        .unwrap_or_default();
    black_box(ok);
    pt
}

fn unreachable_key() -> HmacSha256 {
    // HMAC takes keys of every length.
    std::process::abort()
}

/// One timed operation.
type Op<'a> = Box<dyn Fn() + 'a>;

/// The four primitives alone, on the fixture's bytes, straight from the crates.
fn primitive_ops(f: &Fixture) -> Vec<(&'static str, Op<'_>)> {
    let scratch = std::rc::Rc::new(std::cell::RefCell::new(f.raw_ct.clone()));
    let (s1, s2) = (scratch.clone(), scratch);
    vec![
        (
            "primitive: aes-256-cbc encrypt",
            Box::new(move || {
                let mut buf = s1.borrow_mut();
                let (blocks, _) = aes::Block::slice_as_chunks_mut(&mut buf);
                cbc::Encryptor::<Aes256>::new((&f.cipher_key).into(), (&f.iv).into()).encrypt_blocks(blocks);
                black_box(&buf);
            }),
        ),
        (
            "primitive: aes-256-cbc decrypt",
            Box::new(move || {
                let mut buf = s2.borrow_mut();
                let (blocks, _) = aes::Block::slice_as_chunks_mut(&mut buf);
                cbc::Decryptor::<Aes256>::new((&f.cipher_key).into(), (&f.iv).into()).decrypt_blocks(blocks);
                black_box(&buf);
            }),
        ),
        (
            "primitive: hmac-sha256",
            Box::new(move || {
                let mut mac =
                    <HmacSha256 as KeyInit>::new_from_slice(&f.mac_key).unwrap_or_else(|_| unreachable_key());
                mac.update(black_box(&f.plaintext));
                black_box(mac.finalize());
            }),
        ),
        (
            "primitive: sha-256",
            Box::new(move || {
                black_box(Sha256::digest(black_box(&f.plaintext)));
            }),
        ),
    ]
}

/// The operations compared, by name: the primitives, then per direction the two floors, tandem
/// inline and tandem threaded.
fn ops(f: &Fixture) -> Vec<(String, Op<'_>)> {
    let mut all: Vec<(String, Op<'_>)> = primitive_ops(f)
        .into_iter()
        .map(|(n, op)| (n.to_owned(), op))
        .collect();
    let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::with_capacity(f.blob.len())));
    for dir in ["encrypt", "decrypt"] {
        for (name, op) in baseline_ops(f) {
            if name.starts_with(dir) {
                all.push((name.to_owned(), op));
            }
        }
        for (mode, options) in [("", MediaOptions::INLINE), (" threads", MediaOptions::THREADED)] {
            for (name, op) in tandem_ops(f, options, &out) {
                if name.starts_with(dir) {
                    all.push((format!("{name}{mode}"), op));
                }
            }
        }
    }
    all
}

/// tandem's operations with `options`.
fn tandem_ops<'a>(
    f: &'a Fixture,
    options: MediaOptions,
    out: &std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
) -> Vec<(&'static str, Op<'a>)> {
    let (o1, o2, o3) = (out.clone(), out.clone(), out.clone());
    vec![
        (
            "encrypt: tandem one-shot",
            Box::new(move || {
                black_box(media::encrypt_with(
                    MediaKind::Video,
                    &f.key,
                    black_box(&f.plaintext),
                    options,
                ));
            }),
        ),
        (
            "encrypt: tandem stream",
            Box::new(move || {
                let mut out = o1.borrow_mut();
                out.clear();
                let _ = black_box(encrypt_stream_with(
                    MediaKind::Video,
                    &f.key,
                    &mut f.plaintext.as_slice(),
                    &mut *out,
                    options,
                ));
            }),
        ),
        (
            "decrypt: tandem one-shot",
            Box::new(move || {
                let _ = black_box(media::decrypt_with(
                    MediaKind::Video,
                    &f.key,
                    black_box(&f.blob),
                    &f.digest,
                    options,
                ));
            }),
        ),
        (
            "decrypt: tandem stream",
            Box::new(move || {
                let mut out = o2.borrow_mut();
                out.clear();
                let _ = black_box(decrypt_stream_with(
                    MediaKind::Video,
                    &f.key,
                    &mut f.blob.as_slice(),
                    &mut *out,
                    &f.digest,
                    options,
                ));
            }),
        ),
        (
            "decrypt: tandem verify-first",
            Box::new(move || {
                let mut out = o3.borrow_mut();
                out.clear();
                let _ = black_box(decrypt_verify_first_with(
                    MediaKind::Video,
                    &f.key,
                    &mut io::Cursor::new(&f.blob),
                    &mut *out,
                    &f.digest,
                    options,
                ));
            }),
        ),
    ]
}

/// The two floors of each direction, by name.
fn baseline_ops(f: &Fixture) -> Vec<(&'static str, Op<'_>)> {
    vec![
        (
            "encrypt: raw cbc+hmac",
            Box::new(move || {
                black_box(raw_encrypt(
                    &f.cipher_key,
                    &f.iv,
                    &f.mac_key,
                    black_box(&f.plaintext),
                ));
            }),
        ),
        (
            "encrypt: raw cbc+hmac+2sha",
            Box::new(move || {
                let (ct, tag) = raw_encrypt(&f.cipher_key, &f.iv, &f.mac_key, black_box(&f.plaintext));
                let mut h = Sha256::new();
                h.update(&ct);
                h.update(tag.get(..10).unwrap_or_default());
                black_box((Sha256::digest(&f.plaintext), h.finalize(), ct));
            }),
        ),
        (
            "decrypt: raw cbc+hmac",
            Box::new(move || {
                black_box(raw_decrypt(
                    &f.cipher_key,
                    &f.iv,
                    &f.mac_key,
                    black_box(&f.raw_ct),
                    &f.raw_tag,
                ));
            }),
        ),
        (
            "decrypt: raw cbc+hmac+2sha",
            Box::new(move || {
                let enc_hash = Sha256::digest(&f.blob);
                let pt = raw_decrypt(&f.cipher_key, &f.iv, &f.mac_key, black_box(&f.raw_ct), &f.raw_tag);
                black_box((enc_hash, Sha256::digest(&pt), pt));
            }),
        ),
    ]
}

fn criterion_groups(c: &mut Criterion, f: &Fixture, label: &str, big: bool) {
    let mut g = c.benchmark_group(format!("media {label}"));
    g.throughput(Throughput::Bytes(f.plaintext.len() as u64));
    if big {
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
    }
    for (name, op) in ops(f) {
        g.bench_function(&name, |b| b.iter(&op));
    }
    g.finish();
}

fn best_of(runs: usize, op: &dyn Fn()) -> Duration {
    op();
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            op();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ratio_table(f: &Fixture, label: &str, runs: usize) {
    let ops = ops(f);
    let times: Vec<(&str, Duration)> = ops
        .iter()
        .map(|(n, op)| (n.as_str(), best_of(runs, op.as_ref())))
        .collect();
    let time_of = |name: &str| {
        times
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Duration::ZERO, |(_, t)| *t)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "\nmedia {label}: best of {runs} runs ({cores} cores; load average before: {}; threaded rows need idle cores)",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{:<40} {:>10} {:>9} {:>12} {:>17}",
        "operation", "ms", "MB/s", "÷ cbc+hmac", "÷ cbc+hmac+2sha"
    );
    for (name, t) in &times {
        let mb_s = f.plaintext.len() as f64 / t.as_secs_f64() / 1e6;
        let Some(dir) = ["encrypt", "decrypt"].into_iter().find(|d| name.starts_with(d)) else {
            println!("{:<40} {:>10.2} {:>9.0}", name, t.as_secs_f64() * 1e3, mb_s);
            continue;
        };
        let raw = time_of(&format!("{dir}: raw cbc+hmac"));
        let floor = time_of(&format!("{dir}: raw cbc+hmac+2sha"));
        println!(
            "{:<40} {:>10.2} {:>9.0} {:>11.2}× {:>16.2}×",
            name,
            t.as_secs_f64() * 1e3,
            mb_s,
            t.as_secs_f64() / raw.as_secs_f64(),
            t.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

// --- peak memory for 1 GiB --------------------------------------------------------------------

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `op`; returns the process's resident size before it and its peak resident size during
/// it, in KiB.
fn peak_growth(op: impl FnOnce()) -> Option<(u64, u64)> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let before = status_kib("VmRSS:");
    op();
    Some((before, status_kib("VmHWM:")))
}

/// The plaintext `i mod 251`, `len` bytes of it, made on the fly.
struct Pattern {
    pos: u64,
    len: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min((self.len - self.pos) as usize);
        for (i, b) in buf.iter_mut().take(n).enumerate() {
            *b = ((self.pos + i as u64) % 251) as u8;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A writer that hashes what it is given and keeps nothing.
struct HashSink(Sha256);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn gib_memory() {
    let gib: u64 = std::env::var("TANDEM_MEDIA_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    if gib == 0 {
        return;
    }
    let len = gib << 30;
    let key = MediaKey::from([0x24; 32]);
    let path = std::env::temp_dir().join(format!("tandem-media-bench-{}.blob", std::process::id()));
    println!("\npeak memory streaming a {gib} GiB file (run first, before any fixture exists)");

    let modes = [("", MediaOptions::INLINE), (" threads", MediaOptions::THREADED)];
    let mut digest = None;
    for (mode, options) in modes {
        let mut got = None;
        let t = Instant::now();
        let grown = peak_growth(|| {
            let Ok(file) = File::create(&path) else { return };
            let mut out = BufWriter::with_capacity(64 * 1024, file);
            got = encrypt_stream_with(
                MediaKind::Video,
                &key,
                &mut Pattern { pos: 0, len },
                &mut out,
                options,
            )
            .ok();
        });
        report(&format!("encrypt_stream{mode} → file"), grown, t.elapsed(), len);
        if got.is_none() || digest.is_some_and(|d| Some(d) != got) {
            println!("  (encryption to {} failed or differed; skipped)", path.display());
            let _ = std::fs::remove_file(&path);
            return;
        }
        digest = got;
    }
    let Some(digest) = digest else { return };

    for (mode, options) in modes {
        for (name, verify_first) in [("decrypt_stream", false), ("decrypt_verify_first", true)] {
            let mut ok = false;
            let t = Instant::now();
            let grown = peak_growth(|| {
                let Ok(mut file) = File::open(&path) else { return };
                let mut sink = HashSink(Sha256::new());
                let result = if verify_first {
                    decrypt_verify_first_with(MediaKind::Video, &key, &mut file, &mut sink, &digest, options)
                } else {
                    decrypt_stream_with(MediaKind::Video, &key, &mut file, &mut sink, &digest, options)
                };
                ok = result.is_ok();
            });
            report(&format!("{name}{mode} ← file"), grown, t.elapsed(), len);
            if !ok {
                println!("  (decryption failed!)");
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn report(name: &str, grown: Option<(u64, u64)>, took: Duration, len: u64) {
    match grown {
        Some((before, peak)) => println!(
            "  {name:<38} process peak RSS {:>6.2} MiB (+{:.2} MiB over {:.2} MiB before)   ({:.1} s, {:.0} MB/s)",
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0,
            before as f64 / 1024.0,
            took.as_secs_f64(),
            len as f64 / took.as_secs_f64() / 1e6
        ),
        None => println!("  {name:<38} (peak RSS not measurable here)"),
    }
}

fn main() {
    gib_memory();
    let small = fixture(MIB);
    let big = fixture(100 * MIB);
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &small, "1 MiB", false);
    criterion_groups(&mut c, &big, "100 MiB", true);
    c.final_summary();
    ratio_table(&small, "1 MiB", 50);
    ratio_table(&big, "100 MiB", 5);
}
