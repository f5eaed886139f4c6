//! Whether the side a waiter waits for is still there: a channel's other side, a broadcast's
//! publisher. Each such side has a role word (`crate::liveness`) whose state says attached,
//! closed (dropped) or never attached, and the kernel's record of its holder says whether an
//! attached holder still lives.

use crate::atomic_shim::{AtomicU64, Ordering};
use crate::liveness::{self, Clock};
use crate::object::Object;

/// A side's state in its role word: never attached (or not since the object was made).
pub(crate) const DETACHED: u32 = 0;
/// Attached: a handle holds the side (the kernel says whether its process still lives).
pub(crate) const ATTACHED: u32 = 1;
/// Closed: the handle that held the side let it go.
pub(crate) const CLOSED: u32 = 2;

/// One side of an object that a waiter watches: its role word and liveness slot.
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    pub(crate) obj: &'a Object,
    pub(crate) word: &'a AtomicU64,
    pub(crate) slot: u32,
}

impl Side<'_> {
    /// Whether the side is gone: closed, or attached by a holder that is no longer there.
    /// With `test` false only the role word is read (no system call).
    #[inline]
    pub(crate) fn gone(&self, test: bool) -> bool {
        let word = self.word.load(Ordering::Acquire);
        match liveness::unpack(word).0 {
            CLOSED => true,
            ATTACHED => test && !liveness::holder_alive(&self.obj.segment, self.slot, word),
            DETACHED => false,
            _ => true, // not a state shmkit writes: treat the peer as gone rather than wait
        }
    }
}

/// The side a waiting handle watches, and this handle's clock for rate-limiting the tests
/// of its holder (a system call, at most once per `liveness::CHECK_EVERY`).
#[derive(Clone, Copy)]
pub(crate) struct Peer<'a> {
    pub(crate) side: Side<'a>,
    pub(crate) clock: &'a Clock,
}
