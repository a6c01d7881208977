//! # tandem
//!
//! Keeps every device of a messaging account in step, end to end encrypted: Signal pairwise
//! sessions and sender keys (byte-compatible with libsignal, version 3), device linking with
//! account-signed device lists, per-device fanout and sync.
//!
//! tandem is sans-IO: it never opens a socket, reads the clock or draws randomness on its own.
//! Every call that needs randomness takes a [`rand_core::CryptoRng`]; every call that needs the
//! time takes a timestamp.
//!
//! Layers, bottom up (see `spec/` for the byte-level protocol):
//! - [`crypto`]: keys, libsignal-style curve signatures, KDF, MAC, ciphers, secret bytes.
//! - [`wire`]: the byte layouts of pairwise messages.
//! - [`session`]: X3DH, the Double Ratchet, session records and prekeys.
//! - [`group`]: sender keys (group messages).
//! - [`account`]: account keys, signed device identities and device lists; which devices a peer
//!   may encrypt to.
//! - [`linking`]: the companion-linking flow (request → approval → linked device).
//! - [`client`]: one device's client: fanout to every device, groups, retries; the in-memory
//!   relay.
//! - [`store`]: narrow store traits and the in-memory store.
//! - [`media`]: media encryption (photos, video, documents), whole or streamed, with seekable chunks.
//! - [`blob`]: where encrypted blobs are kept (the server's media store, in memory or a folder).
//! - [`history`]: history sync to a newly linked device.
//! - [`app_state`]: app-state sync (settings, contacts, call log) with LTHash-checked patches.
//! - [`backup`]: encrypted backups under a recovery code or a password.
//! - [`consts`]: every bound, with its reason.

pub mod account;
pub mod address;
pub mod app_state;
pub mod backup;
pub mod blob;
pub mod client;
pub mod consts;
pub mod crypto;
pub mod group;
pub mod history;
pub mod linking;
pub mod media;
pub mod session;
pub mod store;
pub mod wire;

pub use address::Address;

pub use rand_core;
