//! Named events, like Win32 events: auto-reset or manual-reset, shared between processes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::object::{creation_setters, open_or_create, Creation, Kind, Object, DATA, WORD};
use crate::sys::Deadline;
use crate::wait::{StateBell, ALL};
use crate::{Error, Result};

/// What `wait` does to a set event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reset {
    /// The event stays set until [`Event::reset`]; every waiter passes.
    Manual,
    /// One waiter passes and the event resets itself.
    Auto,
}

/// A named event: one process sets it, others wait for it.
///
/// ```
/// use shmkit::sync::{Event, Reset};
/// use std::time::Duration;
/// # let name = format!("doc-event-{}", std::process::id());
/// let ev = Event::create(&name, Reset::Auto)?;
/// let other = Event::open(&name)?;                  // e.g. in another process
/// assert!(other.wait_timeout(Duration::from_millis(10)).is_err()); // not set yet
/// ev.set()?;
/// other.wait()?;                                    // passes, and resets the event
/// assert!(!ev.is_set());
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// # Platform notes
///
/// Linux: a futex on a word in the segment (shared, not `FUTEX_PRIVATE_FLAG`); `set` makes no
/// syscall when nobody waits. Windows: the same word, with sleepers parked on a named
/// semaphore `<name>.wake`. macOS: waiters poll the word (1–10 ms).
#[derive(Debug)]
pub struct Event {
    obj: Object,
    bell: StateBell,
    reset: Reset,
}

/// How to create or open an [`Event`]: the builder behind [`Event::options`].
///
/// ```
/// use shmkit::sync::{Event, Reset};
/// # let name = format!("doc-event-opts-{}", std::process::id());
/// let ev = Event::options().reset(Reset::Manual).mode(0o660).open_or_create(&name)?;
/// assert_eq!(ev.reset_kind(), Reset::Manual);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EventOptions {
    how: Creation,
    reset: Reset,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            how: Creation::default(),
            reset: Reset::Auto,
        }
    }
}

impl EventOptions {
    creation_setters!();

    /// The reset kind of an event this creates (default [`Reset::Auto`]). An event that is
    /// opened keeps its creator's; [`Event::reset_kind`] tells.
    pub fn reset(&mut self, reset: Reset) -> &mut Self {
        self.reset = reset;
        self
    }

    /// Creates the event `name`, not set.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str) -> Result<Event> {
        let reset = self.reset;
        let params = [u64::from(reset == Reset::Manual), 0, 0];
        let (obj, bell) = Object::create(name, self.how, Kind::Event, DATA, params, |o| {
            StateBell::create(o.name())
        })?;
        Ok(Event { obj, bell, reset })
    }

    /// Opens the existing event `name`; its reset kind is the creator's.
    ///
    /// Waits up to the [`open_timeout`](Self::open_timeout) for it to appear.
    ///
    /// # Errors
    ///
    /// `NotFound`, `AccessDenied`, `KindMismatch`, `Corrupt`, `VersionMismatch`, or an OS
    /// error.
    pub fn open(&self, name: &str) -> Result<Event> {
        crate::segment::open_waiting(self.how.open_timeout, || self.open_now(name))
    }

    /// [`open`](Self::open) without waiting for the object to appear.
    fn open_now(&self, name: &str) -> Result<Event> {
        let (obj, header) = Object::open(name, Kind::Event, DATA)?;
        let reset = match header.params[0] {
            0 => Reset::Auto,
            1 => Reset::Manual,
            n => {
                return Err(Error::Corrupt {
                    name: name.to_owned(),
                    reason: format!("reset kind {n} is neither auto (0) nor manual (1)"),
                })
            }
        };
        let bell = StateBell::open(name)?;
        Ok(Event { obj, bell, reset })
    }

    /// Opens the event `name` if it exists, else creates it (not set). Two processes racing
    /// here get one event; [`Event::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`EventOptions::create`] and [`EventOptions::open`].
    pub fn open_or_create(&self, name: &str) -> Result<Event> {
        open_or_create(|| self.create(name), || self.open_now(name))
    }
}

impl crate::wait::Sealed for Event {
    fn point(&self) -> crate::wait::Point<'_> {
        let auto = self.reset == Reset::Auto;
        self.bell.point(&self.obj, self.obj.word(WORD), auto)
    }

    /// Set.
    fn ready(&self) -> bool {
        self.is_set()
    }
}

impl Event {
    /// Options to create or open an event: reset kind, mode, keep, open timeout, open-or-create.
    pub fn options() -> EventOptions {
        EventOptions::default()
    }

    /// Creates the event `name`, not set (mode 0600; removed when the creator drops it).
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(name: &str, reset: Reset) -> Result<Event> {
        Event::options().reset(reset).create(name)
    }

    /// Opens the existing event `name`; its reset kind is the creator's.
    ///
    /// # Errors
    ///
    /// As [`EventOptions::open`].
    pub fn open(name: &str) -> Result<Event> {
        Event::options().open(name)
    }

    /// Whether this handle created the event (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.obj.is_creator()
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// Whether this is an auto- or manual-reset event.
    pub fn reset_kind(&self) -> Reset {
        self.reset
    }

    /// Sets the event: wakes one waiter (auto-reset) or all of them (manual-reset).
    ///
    /// # Errors
    ///
    /// None today; `Result` leaves room for OS errors on future backends.
    #[doc(alias = "SetEvent")]
    pub fn set(&self) -> Result<()> {
        let word = self.obj.word(WORD);
        // SYNC POINT: SeqCst store, then the waker's SeqCst load of the sleeper count; the
        // release half also publishes whatever the setter wrote before, to the waiter's Acquire.
        word.store(1, Ordering::SeqCst);
        let n = if self.reset == Reset::Auto { 1 } else { ALL };
        self.bell.wake(&self.obj, word, n);
        Ok(())
    }

    /// Clears the event.
    #[doc(alias = "ResetEvent")]
    pub fn reset(&self) {
        self.obj.word(WORD).store(0, Ordering::SeqCst);
    }

    /// Whether the event is set right now.
    pub fn is_set(&self) -> bool {
        self.obj.word(WORD).load(Ordering::Acquire) != 0
    }

    /// Waits until the event is set (and resets it, if auto-reset).
    ///
    /// # Errors
    ///
    /// OS errors only.
    #[doc(alias = "WaitForSingleObject")]
    pub fn wait(&self) -> Result<()> {
        self.wait_until(Deadline::Forever)
    }

    /// Like [`Event::wait`], giving up after `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the event was not set in time.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        self.wait_until(Deadline::after(timeout))
    }

    /// Like [`Self::wait`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::wait_timeout`].
    pub fn wait_deadline(&self, deadline: std::time::Instant) -> Result<()> {
        self.wait_until(Deadline::At(deadline))
    }

    /// Passes if the event is set now (resetting it, if auto-reset).
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if it is not set.
    pub fn try_wait(&self) -> Result<()> {
        self.wait_until(Deadline::Try)
    }

    fn wait_until(&self, deadline: Deadline) -> Result<()> {
        let word = self.obj.word(WORD);
        self.bell.take(&self.obj, word, deadline, || {
            // Any non-zero word counts as set: shmkit writes only 0 and 1, but a word some
            // other writer left at 2 must not leave waiters spinning (the OS wait sleeps only
            // while the word is 0).
            // SYNC POINT: Acquire pairs with the Release half of `set`'s SeqCst store.
            match self.reset {
                Reset::Auto => word
                    .fetch_update(Ordering::Acquire, Ordering::Relaxed, |v| {
                        (v != 0).then_some(0)
                    })
                    .is_ok(),
                Reset::Manual => word.load(Ordering::Acquire) != 0,
            }
        })
    }
}
