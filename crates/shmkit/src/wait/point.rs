//! Sleep points: what a wait set (`crate::waitset`) or the async reactor (`crate::aio`) needs
//! to sleep for one handle — the word to sleep on, the sleeper count its wakers read, the
//! notifier, and what else the handle needs — and the crate-internal traits that hand them out.

use crate::atomic_shim::AtomicU32;
use crate::object::Object;

use super::{Notifier, Side, StateBell};

/// Where a wait set or the reactor sleeps for one handle.
#[derive(Clone, Copy)]
pub struct Point<'a> {
    pub(crate) sleepers: &'a AtomicU32,
    pub(crate) word: &'a AtomicU32,
    pub(crate) notifier: &'a Notifier,
    pub(crate) source: Source<'a>,
}

/// What a [`Point`] sleeps on.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A bell ([`super::Bell`]): a sequence word that ringing bumps. `peer` is the side whose
    /// liveness a wait set tests (a channel's other side); none for a service's bell, which
    /// its server sleeps on and clients that come and go ring (its wakers wake every sleeper,
    /// so a helper thread left queued on it cannot take a wake meant for another).
    Bell { peer: Option<Side<'a>> },
    /// An event's or a semaphore's state word ([`StateBell`]): sleepers take the object's
    /// sleeper gate, and a wake of one (`wakes_one`) is passed on when not used.
    State {
        bell: &'a StateBell,
        obj: &'a Object,
        word: &'a std::sync::atomic::AtomicU32,
        wakes_one: bool,
    },
}

/// The crate-internal half of [`crate::Waitable`] (a public trait in a private module:
/// nameable only inside shmkit).
pub trait Sealed {
    /// Where a wait set sleeps for this member.
    fn point(&self) -> Point<'_>;
    /// Whether the member is ready now. Cheap, consumes nothing, may be asked again.
    fn ready(&self) -> bool;
}

impl<T: Sealed + ?Sized> Sealed for &T {
    fn point(&self) -> Point<'_> {
        (**self).point()
    }
    fn ready(&self) -> bool {
        (**self).ready()
    }
}

impl<T: Sealed + ?Sized> Sealed for &mut T {
    fn point(&self) -> Point<'_> {
        (**self).point()
    }
    fn ready(&self) -> bool {
        (**self).ready()
    }
}

#[cfg(feature = "tokio")]
/// Where an async operation on a handle waits (`crate::aio`): a wait set member's point (any
/// [`crate::Waitable`]), or a handle that is not a wait set member but has a bell, such as a
/// broadcast publisher (its space bell). A public trait in a private module: nameable only
/// inside shmkit.
pub trait Awaitable {
    /// The word to sleep on and its sleeper count, as [`Sealed::point`]. The reactor also
    /// wakes every future every `LIVENESS_EVERY` (the `try_` call then tests the peers, or
    /// finds what a peer killed between its change and its wake-up left); a bell's `peer`
    /// is not used there.
    fn wait_point(&self) -> Point<'_>;
}

#[cfg(feature = "tokio")]
impl<T: Sealed + ?Sized> Awaitable for T {
    fn wait_point(&self) -> Point<'_> {
        self.point()
    }
}
