//! A named, robust mutex shared between processes.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::time::Duration;

use super::lock::{to_result, LockGuard, LockResult, RawLock};
use crate::object::{creation_setters, open_or_create, Creation, Kind, Object, DATA};
use crate::sys::Deadline;
use crate::Result;

/// A mutex that processes find by name and that survives its holder being killed.
///
/// It protects whatever the processes agree it protects (often another segment); to protect a
/// value in the same segment, use [`Shared<T>`](super::Shared).
///
/// ```
/// use shmkit::sync::{LockError, Mutex};
/// # let name = format!("doc-mutex-{}", std::process::id());
/// let m = Mutex::create(&name)?;
/// let other = Mutex::open(&name)?;             // e.g. in another process
/// match other.lock() {
///     Ok(guard) => drop(guard),
///     Err(LockError::OwnerDied(guard)) => {     // the last holder was killed
///         // ... repair what the mutex protects ...
///         guard.make_consistent();
///     }
///     Err(LockError::Other(e)) => return Err(e),
/// }
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// # Platform notes
///
/// * Linux: a robust, error-checking, process-shared `pthread_mutex_t` in the segment.
/// * Windows: a named kernel mutex `<name>.lock` beside the segment `<name>`.
/// * macOS: a lock word holding the owner's pid, polled by waiters, who take it over with
///   "owner died" when that pid no longer runs. A reused pid looks alive: the known hole.
///
/// Guards are not `Send`: the thread that locked must unlock (all three OSes require it).
///
/// # Leaked guards
///
/// A guard leaked with [`std::mem::forget`] holds the mutex for ever. If the `Mutex` is
/// then dropped, its mapping is *not* unmapped but leaked for the rest of the process: on
/// Linux the `pthread_mutex_t` in it stays on the thread's robust list, which glibc and the
/// kernel write through. The name is still removed (by a creator) as usual. (On Windows the
/// mutex is a kernel object and on macOS a word only shmkit reads, so nothing outside points
/// into the mapping there; the rule is the same everywhere all the same.)
#[derive(Debug)]
pub struct Mutex {
    lock: RawLock,
    /// Dropped by `RawLock::drop_object` (see `Drop`).
    obj: ManuallyDrop<Object>,
}

/// A held [`Mutex`]; dropping it unlocks.
#[must_use = "the mutex unlocks when the guard is dropped"]
#[derive(Debug)]
pub struct MutexGuard<'a> {
    mutex: &'a Mutex,
    _not_send: PhantomData<*const ()>,
}

/// How to create or open a [`Mutex`]: the builder behind [`Mutex::options`].
///
/// ```
/// use shmkit::sync::Mutex;
/// # let name = format!("doc-mutex-opts-{}", std::process::id());
/// // A service and its clients run as different users of one group.
/// let m = Mutex::options().mode(0o660).open_or_create(&name)?;
/// assert!(m.is_creator());
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MutexOptions {
    how: Creation,
}

impl MutexOptions {
    creation_setters!();

    /// Creates the mutex `name` (a segment of that name).
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str) -> Result<Mutex> {
        let (obj, lock) = Object::create(name, self.how, Kind::Mutex, DATA, [0; 3], RawLock::init)?;
        Ok(Mutex {
            lock,
            obj: ManuallyDrop::new(obj),
        })
    }

    /// Opens the existing mutex `name`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), [`Error::AccessDenied`](crate::Error::AccessDenied),
    /// [`Error::KindMismatch`](crate::Error::KindMismatch) if `name` is another kind of
    /// object, [`Error::Corrupt`](crate::Error::Corrupt) /
    /// [`Error::VersionMismatch`](crate::Error::VersionMismatch) if it is not a valid one.
    pub fn open(&self, name: &str) -> Result<Mutex> {
        crate::segment::open_waiting(self.how.open_timeout, || self.open_now(name))
    }

    /// [`open`](Self::open) without waiting for the object to appear.
    fn open_now(&self, name: &str) -> Result<Mutex> {
        let (obj, _) = Object::open(name, Kind::Mutex, DATA)?;
        let lock = RawLock::attach(&obj)?;
        Ok(Mutex {
            lock,
            obj: ManuallyDrop::new(obj),
        })
    }

    /// Opens the mutex `name` if it exists, else creates it. Two processes racing here get one
    /// mutex: one creates it, the other opens it once it is initialised.
    /// [`Mutex::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`MutexOptions::create`] and [`MutexOptions::open`].
    pub fn open_or_create(&self, name: &str) -> Result<Mutex> {
        open_or_create(|| self.create(name), || self.open_now(name))
    }
}

impl Mutex {
    /// Options to create or open a mutex: mode, keep, open-or-create.
    pub fn options() -> MutexOptions {
        MutexOptions::default()
    }

    /// Creates the mutex `name` (a segment of that name, mode 0600); the creator removes it
    /// when dropped.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(name: &str) -> Result<Mutex> {
        Mutex::options().create(name)
    }

    /// Opens the existing mutex `name`.
    ///
    /// # Errors
    ///
    /// As [`MutexOptions::open`].
    pub fn open(name: &str) -> Result<Mutex> {
        Mutex::options().open(name)
    }

    /// The mutex's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// Whether this handle created the mutex (and so removes its name when dropped, unless
    /// told to keep it).
    pub fn is_creator(&self) -> bool {
        self.obj.is_creator()
    }

    fn guard(&self) -> MutexGuard<'_> {
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDied`](super::LockError::OwnerDied) with the guard if the last holder died holding it; otherwise
    /// `Unrecoverable`, `Deadlock` (this thread holds it already) or an OS error.
    #[doc(alias = "pthread_mutex_lock")]
    #[doc(alias = "WaitForSingleObject")]
    pub fn lock(&self) -> LockResult<MutexGuard<'_>> {
        to_result(self.lock.lock(&self.obj, Deadline::Forever), || {
            self.guard()
        })
    }

    /// Locks if that is possible without waiting.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`], and `WouldBlock` if another holder has it.
    pub fn try_lock(&self) -> LockResult<MutexGuard<'_>> {
        to_result(self.lock.lock(&self.obj, Deadline::Try), || self.guard())
    }

    /// Locks, waiting at most `timeout` (measured on the monotonic clock).
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`], and `Timeout`.
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<MutexGuard<'_>> {
        to_result(self.lock.lock(&self.obj, Deadline::after(timeout)), || {
            self.guard()
        })
    }

    /// Like [`Self::lock`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::lock_timeout`].
    pub fn lock_deadline(&self, deadline: std::time::Instant) -> LockResult<MutexGuard<'_>> {
        to_result(self.lock.lock(&self.obj, Deadline::At(deadline)), || {
            self.guard()
        })
    }
}

impl Drop for Mutex {
    fn drop(&mut self) {
        // SAFETY: `obj` is not touched after this: the Mutex is being dropped.
        unsafe { self.lock.drop_object(&mut self.obj) };
    }
}

impl MutexGuard<'_> {
    /// Declares the protected state repaired after an owner death; a no-op otherwise.
    pub fn make_consistent(&self) {
        self.mutex.lock.make_consistent(&self.mutex.obj);
    }

    /// Whether this guard came with an owner death that has not been repaired yet.
    pub fn needs_repair(&self) -> bool {
        self.mutex.lock.repairing(&self.mutex.obj)
    }

    /// Unlocks without repairing after an owner death: the next holder gets
    /// [`LockError::OwnerDied`](super::LockError::OwnerDied) in turn (dropping the guard
    /// instead makes the mutex unrecoverable). A plain unlock otherwise.
    pub fn unlock_unrepaired(self) {
        let this = std::mem::ManuallyDrop::new(self);
        this.mutex.lock.unlock_unrepaired();
    }
}

impl super::lock::sealed::Sealed for MutexGuard<'_> {}

impl LockGuard for MutexGuard<'_> {
    fn lock_name(&self) -> &str {
        self.mutex.name()
    }

    fn unlock_unrepaired(self) {
        MutexGuard::unlock_unrepaired(self);
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        self.mutex.lock.unlock(&self.mutex.obj);
    }
}
