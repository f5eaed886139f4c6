//! `Shared<T>`: a plain-old-data value in a named segment, behind a robust mutex.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use bytemuck::Pod;

use super::lock::{LockError, LockGuard, LockResult};
use super::shared_bytes::{
    create_raw, fingerprint, open_raw, SharedBytes, SharedBytesGuard, MAX_ALIGN,
};
use crate::atomic_copy;
use crate::object::{creation_setters, open_or_create, Creation};
use crate::Result;

/// A value of type `T` that several processes share, as easily as a `Mutex<T>` in one.
///
/// `T` must be [`bytemuck::Pod`]: `#[repr(C)]` (or a primitive), `Copy`, no padding, every bit
/// pattern valid, and no pointers or references — they would mean nothing in another process.
/// Derive it with `#[derive(Clone, Copy, Pod, Zeroable)]` and
/// `#[bytemuck(crate = "shmkit::bytemuck")]` (see [`Pod`](crate::sync::Pod)).
///
/// ```
/// use shmkit::sync::Shared;
/// # let name = format!("doc-shared-{}", std::process::id());
/// let counter = Shared::<u64>::create(&name, 0)?;
/// let other = Shared::<u64>::open(&name)?;          // e.g. in another process
/// *other.lock()? += 1;    // `?` on an owner death: Err(OwnerDied), the next holder repairs
/// assert_eq!(*counter.lock()?, 1);
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// # Type checks on open
///
/// The segment records the size and alignment of `T` and a fingerprint of a *tag* naming the
/// type; opening with a different size, alignment or tag is [`Error::LayoutMismatch`](crate::Error::LayoutMismatch). The
/// default tag is the type's name without module paths (`Point`, `u64`, `[u32; 4]`), because
/// full paths differ between two programs that each define "the same" struct. Give an
/// explicit tag ([`Shared::create_tagged`]) to version a layout or to tell apart two types of
/// the same name and size.
///
/// # Leaked guards
///
/// As for [`Mutex`](super::Mutex): dropping a `Shared` while one of its guards was leaked
/// with [`std::mem::forget`] leaks its mapping for the rest of the process.
pub struct Shared<T: Pod> {
    /// The object, whose layout is `T`'s (checked at create/open).
    raw: SharedBytes,
    _t: PhantomData<T>,
}

// SAFETY: the value is only reached through a guard, which requires the (process-shared)
// lock; `T: Pod` has no thread affinity. The handle itself is an owned mapping and OS handles.
unsafe impl<T: Pod> Send for Shared<T> {}
// SAFETY: as above; `&Shared<T>` gives access to `T` only under the lock, like `Mutex<T>`.
unsafe impl<T: Pod + Send> Sync for Shared<T> {}

impl<T: Pod> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name())
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// `std::any::type_name` without module paths: `a::b::Point<c::X>` → `Point<X>`.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear(); // a path segment: drop it
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

/// Turns a lock result of the byte form into one of the typed form.
fn typed<T: Pod>(r: LockResult<SharedBytesGuard<'_>>) -> LockResult<SharedGuard<'_, T>> {
    let wrap = |inner| SharedGuard {
        inner,
        _t: PhantomData,
    };
    match r {
        Ok(g) => Ok(wrap(g)),
        Err(LockError::OwnerDied(g)) => Err(LockError::OwnerDied(wrap(g))),
        Err(LockError::Other(e)) => Err(LockError::Other(e)),
    }
}

impl<T: Pod> Shared<T> {
    const ALIGN_OK: () = assert!(
        std::mem::align_of::<T>() <= MAX_ALIGN,
        "Shared<T> supports alignments up to a page"
    );

    fn layout() -> (usize, usize) {
        (std::mem::size_of::<T>(), std::mem::align_of::<T>())
    }

    /// Options to create or open a shared value: type tag, mode, keep, open-or-create.
    pub fn options() -> SharedOptions<T> {
        SharedOptions {
            how: Creation::default(),
            tag: None,
            _t: PhantomData,
        }
    }

    /// Creates the segment `name` holding `value`, with the default tag (mode 0600; removed
    /// when the creator drops it).
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(name: &str, value: T) -> Result<Shared<T>> {
        Self::options().create(name, value)
    }

    /// Opens the segment `name`, which must hold a `T` with the default tag.
    ///
    /// # Errors
    ///
    /// As [`SharedOptions::open`].
    pub fn open(name: &str) -> Result<Shared<T>> {
        Self::options().open(name)
    }

    /// Creates the segment `name` holding `value`, recording `tag` as the type's identity.
    ///
    /// # Errors
    ///
    /// As [`Shared::create`].
    pub fn create_tagged(name: &str, tag: &str, value: T) -> Result<Shared<T>> {
        Self::options().tag(tag).create(name, value)
    }

    /// Opens the segment `name`, which must hold a `T` created with `tag`.
    ///
    /// # Errors
    ///
    /// As [`Shared::open`].
    pub fn open_tagged(name: &str, tag: &str) -> Result<Shared<T>> {
        Self::options().tag(tag).open(name)
    }

    /// Whether this handle created the value's segment (and so removes its name when
    /// dropped, unless told to keep it).
    pub fn is_creator(&self) -> bool {
        self.raw.is_creator()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.raw.name()
    }

    /// Locks the value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`](super::Mutex::lock): `OwnerDied` comes with the guard, so the value
    /// can be inspected and repaired.
    pub fn lock(&self) -> LockResult<SharedGuard<'_, T>> {
        typed(self.raw.lock())
    }

    /// Locks the value if that is possible without waiting.
    ///
    /// # Errors
    ///
    /// As [`Shared::lock`], and `WouldBlock`.
    pub fn try_lock(&self) -> LockResult<SharedGuard<'_, T>> {
        typed(self.raw.try_lock())
    }

    /// Locks the value, waiting at most `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// As [`Shared::lock`], and `Timeout`.
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<SharedGuard<'_, T>> {
        typed(self.raw.lock_timeout(timeout))
    }

    /// Like [`Self::lock`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::lock_timeout`].
    pub fn lock_deadline(&self, deadline: std::time::Instant) -> LockResult<SharedGuard<'_, T>> {
        typed(self.raw.lock_deadline(deadline))
    }
}

/// How to create or open a [`Shared<T>`]: the builder behind [`Shared::options`].
///
/// ```
/// use shmkit::sync::Shared;
/// # let name = format!("doc-shared-opts-{}", std::process::id());
/// let hits = Shared::<u64>::options().tag("hits v1").mode(0o660).open_or_create(&name, 0)?;
/// assert!(hits.is_creator());
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct SharedOptions<T: Pod> {
    how: Creation,
    tag: Option<String>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod> Clone for SharedOptions<T> {
    fn clone(&self) -> Self {
        SharedOptions {
            how: self.how,
            tag: self.tag.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Pod> fmt::Debug for SharedOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedOptions")
            .field("how", &self.how)
            .field("tag", &self.tag)
            .finish()
    }
}

impl<T: Pod> SharedOptions<T> {
    creation_setters!();

    /// The tag recorded as the type's identity (default: the type's name without module
    /// paths; see [`Shared`]'s "Type checks on open").
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.tag = Some(tag.to_owned());
        self
    }

    fn tag_fingerprint(&self) -> (String, u64) {
        let tag = self.tag.clone().unwrap_or_else(short_type_name::<T>);
        let fp = fingerprint(&tag);
        (tag, fp)
    }

    /// Creates the segment `name` holding `value`.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str, value: T) -> Result<Shared<T>> {
        let () = Shared::<T>::ALIGN_OK;
        let fp = self.tag_fingerprint().1;
        let raw = create_raw(name, self.how, Shared::<T>::layout(), fp, |p| {
            // SAFETY: `p` is the value's place in the new segment: aligned for T (a
            // page-aligned mapping, the offset a multiple of align_of::<T>()), size_of::<T>()
            // bytes inside it; nobody else can see the object before it is published.
            unsafe { p.cast::<T>().write(value) };
        })?;
        Ok(Shared {
            raw,
            _t: PhantomData,
        })
    }

    /// Opens the segment `name`, which must hold a `T` with this tag.
    ///
    /// Waits up to the [`open_timeout`](Self::open_timeout) for it to appear.
    ///
    /// # Errors
    ///
    /// `NotFound`, `AccessDenied`, [`Error::LayoutMismatch`](crate::Error::LayoutMismatch) if it holds another type,
    /// `KindMismatch`, `Corrupt`, `VersionMismatch`, or an OS error.
    pub fn open(&self, name: &str) -> Result<Shared<T>> {
        crate::segment::open_waiting(self.how.open_timeout, || self.open_now(name))
    }

    /// [`open`](Self::open) without waiting for the object to appear.
    fn open_now(&self, name: &str) -> Result<Shared<T>> {
        let () = Shared::<T>::ALIGN_OK;
        let (tag, fp) = self.tag_fingerprint();
        let raw = open_raw(
            name,
            Some(Shared::<T>::layout()),
            Some((&tag, fp)),
            std::any::type_name::<T>(),
        )?;
        Ok(Shared {
            raw,
            _t: PhantomData,
        })
    }

    /// Opens the segment `name` if it exists (it must then hold a `T` with this tag), else
    /// creates it holding `value`. Two processes racing here get one value;
    /// [`Shared::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`SharedOptions::create`] and [`SharedOptions::open`].
    pub fn open_or_create(&self, name: &str, value: T) -> Result<Shared<T>> {
        open_or_create(|| self.create(name, value), || self.open_now(name))
    }
}

/// The locked value of a [`Shared<T>`]; dereferences to `T` and unlocks when dropped.
///
/// `Deref` gives a `&T` into the segment: sound while every process that can write it follows
/// the lock. [`SharedGuard::get`] and [`SharedGuard::set`] copy instead, for when that is not
/// certain (see the [trust model](crate#trust-model)).
#[must_use = "the value unlocks when the guard is dropped"]
pub struct SharedGuard<'a, T: Pod> {
    /// The byte guard; unlocks when dropped.
    inner: SharedBytesGuard<'a>,
    _t: PhantomData<T>,
}

impl<T: Pod> SharedGuard<'_, T> {
    /// Declares the value repaired after an owner death; a no-op otherwise.
    pub fn make_consistent(&self) {
        self.inner.make_consistent();
    }

    /// Whether this guard came with an owner death that has not been repaired yet.
    pub fn needs_repair(&self) -> bool {
        self.inner.needs_repair()
    }

    /// A copy of the value, read without making a reference to the shared memory.
    ///
    /// Under the lock, cooperating processes do not write the value, so `*guard` is fine
    /// between them. When the other processes that can write the segment are not trusted,
    /// use this instead: a `&T` into memory that another process writes is undefined
    /// behaviour, a copy in this process's memory is just a value to validate (every bit
    /// pattern is a valid `T`). See the [trust model](crate#trust-model).
    ///
    /// ```
    /// use shmkit::sync::Shared;
    /// # let name = format!("doc-shared-get-{}", std::process::id());
    /// let counter = Shared::<u64>::create(&name, 41)?;
    /// let mut guard = counter.lock()?;
    /// let next = guard.get() + 1;
    /// guard.set(next);
    /// assert_eq!(guard.get(), 42);
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    pub fn get(&self) -> T {
        let mut value = <T as bytemuck::Zeroable>::zeroed();
        // SAFETY: the value's bytes lie inside the mapping (checked at create/open), which
        // lives while the guard does; the lock is held; the copy is atomic (`atomic_copy::load`), so
        // even a racing writer in another thread makes no data race; `value` is private.
        unsafe { atomic_copy::load(self.ptr().cast(), bytemuck::bytes_of_mut(&mut value)) };
        value
    }

    /// Replaces the value with `value`, copied in without making a reference to shared memory
    /// (the counterpart of [`SharedGuard::get`]). Takes `&mut self`, so no `&T` from this
    /// guard is alive while the value changes.
    pub fn set(&mut self, value: T) {
        // SAFETY: as in `get`; the mapping is read-write; `&mut self` excludes references
        // handed out by `Deref`.
        unsafe { atomic_copy::store(bytemuck::bytes_of(&value), self.ptr().cast()) };
    }

    /// Unlocks without repairing after an owner death: the next holder gets
    /// [`LockError::OwnerDied`](super::LockError::OwnerDied) in turn (dropping the guard
    /// instead makes the lock unrecoverable). A plain unlock otherwise.
    pub fn unlock_unrepaired(self) {
        self.inner.unlock_unrepaired();
    }

    fn ptr(&self) -> *mut T {
        self.inner.as_ptr().cast()
    }
}

impl<T: Pod> Deref for SharedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: aligned and in bounds (checked at create/open); every bit pattern is a valid
        // `T` (Pod), so even a value torn by a killed writer is a valid `T`; the lock is held,
        // and every process that follows the protocol writes only under it. A process that
        // does not is outside the trust model (crate docs), which says so.
        unsafe { &*self.ptr() }
    }
}

impl<T: Pod> DerefMut for SharedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference in this process.
        unsafe { &mut *self.ptr() }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for SharedGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Pod> super::lock::sealed::Sealed for SharedGuard<'_, T> {}

impl<T: Pod> LockGuard for SharedGuard<'_, T> {
    fn lock_name(&self) -> &str {
        self.inner.lock_name()
    }

    fn unlock_unrepaired(self) {
        SharedGuard::unlock_unrepaired(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_module_paths() {
        struct Point;
        assert_eq!(short_type_name::<Point>(), "Point");
        assert_eq!(short_type_name::<u64>(), "u64");
        assert_eq!(short_type_name::<[u32; 4]>(), "[u32; 4]");
        assert_eq!(short_type_name::<Option<Point>>(), "Option<Point>");
    }
}
