//! Named counting semaphores shared between processes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::object::{creation_setters, open_or_create, Creation, Kind, Object, DATA, WORD};
use crate::sys::Deadline;
use crate::wait::StateBell;
use crate::{Error, Result};

/// A counting semaphore with a maximum, found by name.
///
/// ```
/// use shmkit::sync::Semaphore;
/// # let name = format!("doc-sem-{}", std::process::id());
/// let sem = Semaphore::create(&name, 1, 2)?;   // one permit now, at most two
/// sem.wait()?;                                 // takes it
/// assert!(sem.try_wait().is_err());            // none left
/// sem.post()?;
/// sem.post()?;
/// assert!(sem.post().is_err());                // the maximum is 2
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// A process killed while holding permits does not give them back (as with POSIX and Win32
/// semaphores): use a [`Mutex`](super::Mutex) where that matters.
///
/// # Platform notes
///
/// As for [`Event`](super::Event): futex on Linux, named semaphore `<name>.wake` on Windows,
/// polling on macOS. `post` makes no syscall when nobody waits.
#[derive(Debug)]
pub struct Semaphore {
    obj: Object,
    bell: StateBell,
    max: u32,
}

/// How to create or open a [`Semaphore`]: the builder behind [`Semaphore::options`].
///
/// ```
/// use shmkit::sync::Semaphore;
/// # let name = format!("doc-sem-opts-{}", std::process::id());
/// let sem = Semaphore::options().initial(4).max(4).mode(0o660).open_or_create(&name)?;
/// assert_eq!(sem.value(), 4);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SemaphoreOptions {
    how: Creation,
    initial: u32,
    max: u32,
}

impl Default for SemaphoreOptions {
    fn default() -> Self {
        SemaphoreOptions {
            how: Creation::default(),
            initial: 0,
            max: u32::MAX,
        }
    }
}

impl SemaphoreOptions {
    creation_setters!();

    /// Permits of a semaphore this creates (default 0). An opened one keeps its count.
    pub fn initial(&mut self, initial: u32) -> &mut Self {
        self.initial = initial;
        self
    }

    /// The maximum count of a semaphore this creates (default `u32::MAX`). An opened one
    /// keeps its creator's; [`Semaphore::max`] tells.
    pub fn max(&mut self, max: u32) -> &mut Self {
        self.max = max;
        self
    }

    /// Creates the semaphore `name`.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] if `max` is 0 or `initial > max`; else as
    /// [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str) -> Result<Semaphore> {
        let (initial, max) = (self.initial, self.max);
        if max == 0 || initial > max {
            return Err(Error::size(
                name,
                format!("a semaphore needs 0 < max and initial <= max (got initial {initial}, max {max})"),
            ));
        }
        let params = [u64::from(max), 0, 0];
        let (obj, bell) = Object::create(name, self.how, Kind::Semaphore, DATA, params, |o| {
            o.word(WORD).store(initial, Ordering::Relaxed);
            StateBell::create(o.name())
        })?;
        Ok(Semaphore { obj, bell, max })
    }

    /// Opens the existing semaphore `name`.
    ///
    /// Waits up to the [`open_timeout`](Self::open_timeout) for it to appear.
    ///
    /// # Errors
    ///
    /// `NotFound`, `AccessDenied`, `KindMismatch`, `Corrupt`, `VersionMismatch`, or an OS
    /// error.
    pub fn open(&self, name: &str) -> Result<Semaphore> {
        crate::segment::open_waiting(self.how.open_timeout, || self.open_now(name))
    }

    /// [`open`](Self::open) without waiting for the object to appear.
    fn open_now(&self, name: &str) -> Result<Semaphore> {
        let (obj, header) = Object::open(name, Kind::Semaphore, DATA)?;
        let max = u32::try_from(header.params[0])
            .ok()
            .filter(|&m| m > 0)
            .ok_or_else(|| Error::Corrupt {
                name: name.to_owned(),
                reason: format!("maximum count {} is out of range", header.params[0]),
            })?;
        let bell = StateBell::open(name)?;
        Ok(Semaphore { obj, bell, max })
    }

    /// Opens the semaphore `name` if it exists, else creates it. Two processes racing here
    /// get one semaphore; [`Semaphore::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`SemaphoreOptions::create`] and [`SemaphoreOptions::open`].
    pub fn open_or_create(&self, name: &str) -> Result<Semaphore> {
        open_or_create(|| self.create(name), || self.open_now(name))
    }
}

impl crate::wait::Sealed for Semaphore {
    fn point(&self) -> crate::wait::Point<'_> {
        self.bell.point(&self.obj, self.obj.word(WORD), true)
    }

    /// A permit is there.
    fn ready(&self) -> bool {
        self.obj.word(WORD).load(Ordering::Acquire) > 0
    }
}

impl Semaphore {
    /// Options to create or open a semaphore: initial and maximum count, mode, keep,
    /// open-or-create.
    pub fn options() -> SemaphoreOptions {
        SemaphoreOptions::default()
    }

    /// Creates the semaphore `name` with `initial` permits and at most `max` (mode 0600;
    /// removed when the creator drops it).
    ///
    /// # Errors
    ///
    /// As [`SemaphoreOptions::create`].
    pub fn create(name: &str, initial: u32, max: u32) -> Result<Semaphore> {
        Semaphore::options().initial(initial).max(max).create(name)
    }

    /// Opens the existing semaphore `name`.
    ///
    /// # Errors
    ///
    /// As [`SemaphoreOptions::open`].
    pub fn open(name: &str) -> Result<Semaphore> {
        Semaphore::options().open(name)
    }

    /// Whether this handle created the semaphore (and so removes its name when dropped,
    /// unless told to keep it).
    pub fn is_creator(&self) -> bool {
        self.obj.is_creator()
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// The maximum count.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The number of permits available right now.
    pub fn value(&self) -> u32 {
        self.obj.word(WORD).load(Ordering::Relaxed)
    }

    /// Adds a permit, waking one waiter.
    ///
    /// # Errors
    ///
    /// [`Error::Full`] if the count is already at the maximum (nothing changes).
    #[doc(alias = "sem_post")]
    #[doc(alias = "ReleaseSemaphore")]
    pub fn post(&self) -> Result<()> {
        let count = self.obj.word(WORD);
        let mut c = count.load(Ordering::Relaxed);
        loop {
            if c >= self.max {
                return Err(Error::Full {
                    name: self.name().to_owned(),
                    max: self.max,
                });
            }
            // SYNC POINT: SeqCst (Release half pairs with the Acquire in `wait_until`; the
            // SeqCst half orders this before the waker's load of the sleeper count).
            match count.compare_exchange_weak(c, c + 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => c = now,
            }
        }
        self.bell.wake(&self.obj, count, 1);
        Ok(())
    }

    /// Takes a permit, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// OS errors only.
    #[doc(alias = "sem_wait")]
    pub fn wait(&self) -> Result<()> {
        self.wait_until(Deadline::Forever)
    }

    /// Takes a permit, waiting at most `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`].
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

    /// Takes a permit if one is available now.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if none is.
    pub fn try_wait(&self) -> Result<()> {
        self.wait_until(Deadline::Try)
    }

    fn wait_until(&self, deadline: Deadline) -> Result<()> {
        let count = self.obj.word(WORD);
        self.bell.take(&self.obj, count, deadline, || {
            let mut c = count.load(Ordering::Relaxed);
            while c > 0 {
                // SYNC POINT: Acquire pairs with the Release half of `post`.
                match count.compare_exchange_weak(c, c - 1, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(now) => c = now,
                }
            }
            false
        })
    }
}
