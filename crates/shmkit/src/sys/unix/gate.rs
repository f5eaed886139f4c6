//! The sleeper gate of an event or semaphore: which processes may have sleepers counted in
//! its sleeper word, told by a lock the kernel drops when the process dies.
//!
//! Linux: a sleeper holds a shared `flock` on the object's descriptor from before it counts
//! itself in until after it counts itself out (one lock per handle, however many of its
//! threads sleep). A waker that suspects the count is stale tries an *exclusive* `flock` on a
//! second open file description of the same object (`/proc/self/fd/N`, so that its own
//! handle's sleepers conflict too): it succeeds only if no live process is between counting
//! in and counting out, and while it holds the lock none can start. `flock` locks belong to
//! the open file description, so they work across pid namespaces and die with the process;
//! on Linux they are independent of `fcntl` record locks.
//!
//! Elsewhere the gate does nothing: macOS waiters poll (a wake costs nothing), so a stale
//! count costs nothing either.

use super::Section;

/// One handle's share of the gate: how many of its threads are sleepers right now.
#[derive(Debug, Default)]
pub(crate) struct SleeperGate {
    #[cfg(target_os = "linux")]
    inside: std::sync::Mutex<u32>,
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::fd::AsRawFd;

    use rustix::fs::{flock, FlockOperation, Mode, OFlags};

    use super::{Section, SleeperGate};

    impl SleeperGate {
        /// Lets a sleeper of this handle in. `false` if the shared lock could not be taken
        /// (a waker holds it exclusively for a moment, or the OS refused): the sleeper is
        /// then not protected from a reset of the count, and must not sleep for long.
        pub(crate) fn enter(&self, section: &Section) -> bool {
            let mut inside = self.inside.lock().unwrap_or_else(|e| e.into_inner());
            if *inside == 0 && flock(&section.fd, FlockOperation::NonBlockingLockShared).is_err() {
                return false;
            }
            *inside += 1;
            true
        }

        /// Lets out a sleeper that [`SleeperGate::enter`] let in.
        pub(crate) fn leave(&self, section: &Section) {
            let mut inside = self.inside.lock().unwrap_or_else(|e| e.into_inner());
            *inside -= 1;
            if *inside == 0 {
                // An unlock cannot fail on a valid descriptor; if it did, the lock would only
                // make wakers skip a reset, never lose a wake-up.
                let _ = flock(&section.fd, FlockOperation::Unlock);
            }
        }
    }

    /// Runs `reset` if no process has a sleeper between counting in and counting out, with
    /// the gate closed meanwhile; returns whether it ran.
    pub(crate) fn with_no_sleepers(section: &Section, reset: impl FnOnce()) -> bool {
        let path = format!("/proc/self/fd/{}", section.fd.as_raw_fd());
        let Ok(other) = rustix::fs::open(
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        ) else {
            return false;
        };
        if flock(&other, FlockOperation::NonBlockingLockExclusive).is_err() {
            return false;
        }
        reset();
        true // closing `other` drops the lock
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{Section, SleeperGate};

    impl SleeperGate {
        /// Nothing to do here (see the module docs); always protected.
        pub(crate) fn enter(&self, _section: &Section) -> bool {
            true
        }

        /// Nothing to do here.
        pub(crate) fn leave(&self, _section: &Section) {}
    }

    /// Never runs `reset`: this OS has no gate.
    pub(crate) fn with_no_sleepers(_section: &Section, _reset: impl FnOnce()) -> bool {
        false
    }
}

pub(crate) use imp::with_no_sleepers;
