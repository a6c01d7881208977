//! Simulated time: a millisecond counter, passed as `now` to every client call.

/// The time a run starts at (ms since the Unix epoch, October 2025).
pub const T0: u64 = 1_760_000_000_000;

/// The simulated clock. Only ever moves forward.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    now: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Self { now: T0 }
    }
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Moves forward by `ms`.
    pub fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
    }

    /// Moves forward to `t` if that is later.
    pub fn advance_to(&mut self, t: u64) {
        self.now = self.now.max(t);
    }
}
