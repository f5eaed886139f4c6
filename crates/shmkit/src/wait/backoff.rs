//! The spin-then-sleep policy of every wait loop (`until.rs`): how long a waiter spins, when
//! it yields instead of pausing, and when it looks at the clock and its peer. One object,
//! as crossbeam's `Backoff`, so that channel sides and a service's server wait alike.

/// The adaptive wait's budget before it sleeps, in pauses: first `PAUSES` pauses
/// (`spin_loop`, about a µs: enough for a peer on another CPU to answer a small message), then
/// yields (`yield_now`), each counted as `YIELD_WEIGHT` pauses.
///
/// Yielding rather than pausing for the rest of the budget matters when waiters share a CPU
/// with the processes they wait for (four subscribers on one core, a consumer on the
/// producer's core): a pausing spinner burns the time slice the others need to finish the
/// work it waits for, while a yielding one hands it over. With the CPU otherwise idle, a yield
/// returns at once (~0.3 µs), so the wait still sees the change within about a microsecond.
/// Measured in `broadcast_1MiB` (four subscribers on one CPU: see the README's table) and
/// with a 64-byte round trip between two processes forced onto one CPU (the README's Python
/// section: 256 pauses before the yields were about twice as slow there as 64).
pub(crate) const SPINS: u32 = 2_000;
pub(crate) const PAUSES: u32 = 64;
pub(crate) const YIELD_WEIGHT: u32 = 32;

/// Spins (pauses; yields weigh `YIELD_WEIGHT`) between two looks at the clock and the peer.
const CHECK_EVERY: u32 = 1024;

/// One waiter's spin budget and where it stands in it.
#[derive(Debug)]
pub(crate) struct Backoff {
    spins: u32,
    /// Spins allowed before sleeping: `SPINS` (adaptive), 0 (blocking), none (busy poll:
    /// never sleeps).
    limit: Option<u32>,
    /// When the next look at the clock and the peer is due, in spins.
    next_check: u32,
}

impl Backoff {
    /// A fresh budget of `limit` spins before sleeping (`None`: spin for ever).
    #[inline(always)]
    pub(crate) fn new(limit: Option<u32>) -> Backoff {
        Backoff {
            spins: 0,
            limit,
            next_check: CHECK_EVERY,
        }
    }

    /// Whether the budget allows spinning rather than sleeping (always, for a busy poll).
    #[inline(always)]
    pub(crate) fn may_spin(&self) -> bool {
        self.limit.is_none_or(|l| self.spins < l)
    }

    /// Spins once: a pause, or with a budget past `PAUSES`, a yield. True when the waiter
    /// should look at the clock and its peer now: every `CHECK_EVERY` spins, and when the
    /// budget runs out. A busy poll has no budget: its count restarts rather than saturates.
    #[inline(always)]
    pub(crate) fn spin(&mut self) -> bool {
        if self.limit.is_some() && self.spins >= PAUSES {
            std::thread::yield_now();
            self.spins = self.spins.saturating_add(YIELD_WEIGHT);
        } else {
            std::hint::spin_loop();
            self.spins = self.spins.saturating_add(1);
        }
        if self.spins >= self.next_check || self.limit.is_some_and(|l| self.spins >= l) {
            if self.limit.is_none() {
                self.spins = 0;
            }
            self.next_check = self.spins.saturating_add(CHECK_EVERY);
            return true;
        }
        false
    }

    /// Whether the budget is spent: time to sleep.
    #[inline(always)]
    pub(crate) fn exhausted(&self) -> bool {
        self.limit.is_some_and(|l| self.spins >= l)
    }
}
