//! A hash computed beside the cipher: on a scoped worker thread fed through a bounded channel,
//! or on the calling thread. Also the shared, recycled buffers the streaming pipeline hands to
//! the workers.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{Builder, Scope, ScopedJoinHandle};

use sha2::digest::Update;
use zeroize::Zeroizing;

use super::MediaError;

/// Pieces queued per worker before the feeding thread waits.
pub(super) const QUEUE: usize = 4;

/// What a lost worker is reported as. Workers only hash the bytes they are given and cannot
/// fail, so this is never seen; it exists so that no path panics.
fn worker_lost() -> MediaError {
    MediaError::Io(ErrorKind::Other)
}

/// One running hash (SHA-256 or HMAC-SHA256).
pub(super) struct Lane<'scope, H, P> {
    state: State<'scope, H, P>,
}

enum State<'scope, H, P> {
    /// Hashing on the calling thread.
    Here(H),
    /// Hashing on a worker; `tx` is `None` for a worker given all its input at the start.
    Worker {
        tx: Option<SyncSender<P>>,
        handle: ScopedJoinHandle<'scope, H>,
    },
    /// Finished (or being dropped).
    Gone,
}

impl<'scope, H, P> Lane<'scope, H, P>
where
    H: Update + Clone + Send + 'scope,
    P: AsRef<[u8]> + Send + 'scope,
{
    /// A lane fed piece by piece through [`Lane::feed`]: a worker in `scope` if `threaded`
    /// (and a thread could be started), else the calling thread.
    pub(super) fn fed<'env>(scope: &'scope Scope<'scope, 'env>, hasher: H, threaded: bool) -> Self {
        if threaded {
            let (tx, rx) = sync_channel::<P>(QUEUE);
            let mut worker = hasher.clone();
            let spawned = Builder::new()
                .name("tandem-media-hash".into())
                .spawn_scoped(scope, move || {
                    for piece in rx {
                        worker.update(piece.as_ref());
                    }
                    worker
                });
            if let Ok(handle) = spawned {
                return Self {
                    state: State::Worker { tx: Some(tx), handle },
                };
            }
        }
        Self {
            state: State::Here(hasher),
        }
    }

    /// Hands `piece` to the hash: queues it for the worker (waiting while the queue is full) or
    /// hashes it here.
    pub(super) fn feed(&mut self, piece: P) -> Result<(), MediaError> {
        match &mut self.state {
            State::Here(h) => {
                h.update(piece.as_ref());
                Ok(())
            }
            State::Worker { tx: Some(tx), .. } => tx.send(piece).map_err(|_| worker_lost()),
            State::Worker { tx: None, .. } | State::Gone => Err(worker_lost()),
        }
    }

    /// Waits for the worker (if any) to hash everything fed and returns the hash state.
    pub(super) fn finish(mut self) -> Result<H, MediaError> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Here(h) => Ok(h),
            State::Worker { tx, handle } => {
                drop(tx);
                handle.join().map_err(|_| worker_lost())
            }
            State::Gone => Err(worker_lost()),
        }
    }
}

impl<'scope, 'a, H> Lane<'scope, H, &'a [u8]>
where
    H: Update + Clone + Send + 'scope,
    'a: 'scope,
{
    /// A lane that hashes all of `data` (which outlives the scope) at once: on a worker in
    /// `scope` if `threaded`, else right here before returning.
    pub(super) fn whole<'env>(
        scope: &'scope Scope<'scope, 'env>,
        mut hasher: H,
        data: &'a [u8],
        threaded: bool,
    ) -> Self {
        if threaded {
            let mut worker = hasher.clone();
            let spawned = Builder::new()
                .name("tandem-media-hash".into())
                .spawn_scoped(scope, move || {
                    worker.update(data);
                    worker
                });
            if let Ok(handle) = spawned {
                return Self {
                    state: State::Worker { tx: None, handle },
                };
            }
        }
        hasher.update(data);
        Self {
            state: State::Here(hasher),
        }
    }
}

impl<H, P> Drop for Lane<'_, H, P> {
    /// An unfinished lane (an early error return) closes its channel and waits for its worker,
    /// so that the scope never sees an unjoined thread.
    fn drop(&mut self) {
        if let State::Worker { tx, handle } = std::mem::replace(&mut self.state, State::Gone) {
            drop(tx);
            let _ = handle.join();
        }
    }
}

/// A buffer shared with the workers, and how many of its first bytes they hash.
#[derive(Clone)]
pub(super) struct Piece {
    buf: Arc<Zeroizing<Vec<u8>>>,
    len: usize,
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Buffers of one size that go out to the workers and come back: the pipeline's whole memory.
///
/// A piece sent to every lane of a channel `QUEUE` deep is no longer read once `QUEUE + 1`
/// later pieces have been sent, so keeping the last `QUEUE + 2` lets each new piece reuse the
/// oldest. Should a worker still hold it, a fresh buffer is made instead (never a wait, never a
/// shared write). Contents are zeroized when a buffer is finally dropped.
pub(super) struct Ring {
    held: VecDeque<Arc<Zeroizing<Vec<u8>>>>,
    size: usize,
}

impl Ring {
    pub(super) fn new(size: usize) -> Self {
        Self {
            held: VecDeque::with_capacity(QUEUE + 2),
            size,
        }
    }

    /// A buffer of the ring's size that nobody else reads.
    pub(super) fn take(&mut self) -> Zeroizing<Vec<u8>> {
        if self.held.len() >= QUEUE + 2 {
            if let Some(Ok(buf)) = self.held.pop_front().map(Arc::try_unwrap) {
                return buf;
            }
        }
        Zeroizing::new(vec![0; self.size])
    }

    /// Shares `buf`, of which the workers will read the first `len` bytes.
    pub(super) fn share(&mut self, buf: Zeroizing<Vec<u8>>, len: usize) -> Piece {
        let buf = Arc::new(buf);
        self.held.push_back(Arc::clone(&buf));
        Piece { buf, len }
    }
}
