//! How objects are made: the `mode` and `keep` every kind's options carry, and the race-free
//! open-or-create.

use std::time::Duration;

use crate::{Error, Result};

/// How a new object's segment is made: who may open it, and whether its creator removes the
/// name when dropped; and how long an open waits for the object to appear. Every kind's
/// options carry one (`mode`, `keep`, `open_timeout`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Creation {
    /// Unix permission bits of the segment (ignored on Windows).
    pub(crate) mode: u32,
    /// Whether the creator leaves the name in place when dropped.
    pub(crate) keep: bool,
    /// How long `open*` waits for the object to appear (`crate::segment::open_waiting`).
    pub(crate) open_timeout: Duration,
}

impl Default for Creation {
    fn default() -> Self {
        Creation {
            mode: crate::segment::DEFAULT_MODE,
            keep: false,
            open_timeout: Duration::ZERO,
        }
    }
}

/// The `mode` and `keep` setters of every object kind's options builder (each has a
/// `how: Creation` field), written once so their docs say the same everywhere.
macro_rules! creation_setters {
    () => {
        /// Unix permission bits of the object's segment, if this call creates it (default
        /// `0o600`: the creating user only). Applied exactly: the umask does not narrow them.
        /// `0o660` also lets the segment's group open it — on Linux the creating process's
        /// effective group, or whatever `chgrp` on `/dev/shm/<name>` makes it. Every process
        /// that can open it is a peer you trust (see the [trust model](crate#trust-model)).
        ///
        /// # Platform notes
        ///
        /// Ignored on Windows: the section and the named kernel objects beside it get the
        /// default security of the creating process's token.
        pub fn mode(&mut self, mode: u32) -> &mut Self {
            self.how.mode = mode;
            self
        }

        /// Whether the creator leaves the name in place when dropped (default: it removes it,
        /// like [`Segment`](crate::Segment)). A kept name lives until someone removes it
        /// (`Segment::remove`, `shmkit rm`) or the machine reboots.
        ///
        /// # Platform notes
        ///
        /// Windows: an object exists only while some process holds a handle to it, so
        /// keeping cannot make it outlive the last process that has it open.
        pub fn keep(&mut self, keep: bool) -> &mut Self {
            self.how.keep = keep;
            self
        }

        /// How long the `open*` verbs wait for the object to appear (and finish
        /// initialising) before they give up with the [`Error::NotFound`](crate::Error::NotFound)
        /// they would have returned at once. Default zero: no wait. `Duration::MAX` waits
        /// forever. The name is looked up again every 100 µs at first, backing off to 10 ms.
        /// `open_or_create*` does not wait (it creates instead).
        pub fn open_timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
            self.how.open_timeout = timeout;
            self
        }
    };
}
pub(crate) use creation_setters;

/// Opens the object `name` if it exists, else creates it: `create` must fail with
/// [`Error::AlreadyExists`] when the name is taken (it does: segments are created
/// exclusively), and `open` must do every check an open does, including waiting for the
/// creator's `ready`. So when two processes race, exactly one creates and the other opens
/// what the winner finishes initialising. If the name vanishes between the two attempts
/// (its creator dropped it), try again, a few times; then report `NotFound`.
pub(crate) fn open_or_create<T>(
    mut create: impl FnMut() -> Result<T>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    const ATTEMPTS: usize = 8;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create() {
            Err(Error::AlreadyExists { .. }) => {}
            r => return r,
        }
        match open() {
            Err(Error::NotFound { .. }) if attempt < ATTEMPTS => {}
            r => return r,
        }
    }
}
