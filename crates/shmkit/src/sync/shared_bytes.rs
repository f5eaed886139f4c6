//! `SharedBytes`: the object of a [`Shared<T>`](super::Shared) with its layout given at run
//! time — the one implementation of both (`Shared<T>` is this plus a type).
//!
//! A binding whose types are only known at run time (Python's numpy dtypes and ctypes
//! structures, a C program) names the value's size, alignment and tag instead of a Rust
//! type, and meets a Rust `Shared<T>` of the same layout: same segment, same header
//! parameters (`[size, align, fingerprint(tag)]`), same lock, same value offset. Because
//! there is no `T`, the guard hands out raw pointers and copies, never a reference.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use super::lock::{to_result, LockGuard, LockResult, RawLock};
use crate::atomic_copy;
use crate::object::{creation_setters, open_or_create, Creation, Kind, Object, DATA};
use crate::sys::Deadline;
use crate::{Error, Result};

/// The largest alignment a shared value may ask for: the value starts at a multiple of it
/// after the header, in a page-aligned mapping.
pub const MAX_ALIGN: usize = 4096;

/// FNV-1a, 64 bits: a stable fingerprint of a tag (not for security).
pub(crate) fn fingerprint(tag: &str) -> u64 {
    tag.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where a value of alignment `align` starts in the segment.
fn data_offset(align: usize) -> usize {
    DATA.next_multiple_of(align)
}

/// The segment length of a value of `size` bytes aligned to `align`.
fn segment_len(size: usize, align: usize) -> usize {
    data_offset(align) + size.max(1)
}

/// The bytes of a [`Shared<T>`](super::Shared) without the `T`: a value of a size, alignment
/// and type tag given at run time, behind the same robust lock.
///
/// Created or opened through [`SharedBytes::options`]. A `SharedBytes` and a `Shared<T>`
/// open each other's objects when the size, alignment and tag agree (the default tag of a
/// `Shared<T>` is the type's name without module paths, `u64` or `Stats`; the default tag
/// of a `SharedBytes` is `[u8; N]`, as a `Shared<[u8; N]>`'s).
///
/// ```
/// use shmkit::sync::{Shared, SharedBytes};
/// # let name = format!("doc-shared-bytes-{}", std::process::id());
/// let counter = Shared::<u64>::create(&name, 41)?;
/// // A program that knows the layout only at run time:
/// let bytes = SharedBytes::options().layout(8, 8).tag("u64").open(&name)?;
/// let mut g = bytes.lock()?;
/// let n = u64::from_ne_bytes(g.read().try_into().unwrap());
/// g.write(&(n + 1).to_ne_bytes());
/// drop(g);
/// assert_eq!(*counter.lock()?, 42);
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// Owner death, the four forms of `lock` and the leaked-guard rule are those of
/// [`Shared<T>`](super::Shared).
pub struct SharedBytes {
    lock: RawLock,
    /// Dropped by `RawLock::drop_object` (see `Drop`).
    obj: ManuallyDrop<Object>,
    size: usize,
    align: usize,
}

// SAFETY: the value is only reached through a guard, which requires the process-shared lock,
// and the guard hands out raw pointers and copies only. The handle is an owned mapping and
// OS handles, tied to no thread.
unsafe impl Send for SharedBytes {}
// SAFETY: as above; `&SharedBytes` reaches the value only under the lock.
unsafe impl Sync for SharedBytes {}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("name", &self.name())
            .field("size", &self.size)
            .field("align", &self.align)
            .finish_non_exhaustive()
    }
}

impl SharedBytes {
    /// Options to create or open a shared value by layout: size, alignment, tag, mode, keep.
    pub fn options() -> SharedBytesOptions {
        SharedBytesOptions::default()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// Whether this handle created the value's segment (and so removes its name when
    /// dropped, unless told to keep it).
    pub fn is_creator(&self) -> bool {
        self.obj.is_creator()
    }

    /// The value's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The value's alignment in bytes.
    pub fn align(&self) -> usize {
        self.align
    }

    pub(crate) fn value_ptr(&self) -> *mut u8 {
        self.obj.ptr(data_offset(self.align))
    }

    fn guard(&self) -> SharedBytesGuard<'_> {
        SharedBytesGuard {
            shared: self,
            _not_send: PhantomData,
        }
    }

    /// Locks the value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Shared::lock`](super::Shared::lock).
    pub fn lock(&self) -> LockResult<SharedBytesGuard<'_>> {
        self.lock_until(Deadline::Forever)
    }

    /// Locks the value if that is possible without waiting.
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::lock`], and `WouldBlock`.
    pub fn try_lock(&self) -> LockResult<SharedBytesGuard<'_>> {
        self.lock_until(Deadline::Try)
    }

    /// Locks the value, waiting at most `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// As [`SharedBytes::lock`], and `Timeout`.
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<SharedBytesGuard<'_>> {
        self.lock_until(Deadline::after(timeout))
    }

    /// Like [`Self::lock`], waiting until `deadline` at most (monotonic clock): the form the
    /// other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::lock_timeout`].
    pub fn lock_deadline(&self, deadline: Instant) -> LockResult<SharedBytesGuard<'_>> {
        self.lock_until(Deadline::At(deadline))
    }

    fn lock_until(&self, deadline: Deadline) -> LockResult<SharedBytesGuard<'_>> {
        to_result(self.lock.lock(&self.obj, deadline), || self.guard())
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        // SAFETY: `obj` is not touched after this: the SharedBytes is being dropped.
        unsafe { self.lock.drop_object(&mut self.obj) };
    }
}

/// How to create or open a [`SharedBytes`] (or, through `Shared<T>`'s options, a typed
/// value): the builder behind [`SharedBytes::options`].
#[derive(Clone, Debug, Default)]
pub struct SharedBytesOptions {
    pub(crate) how: Creation,
    layout: Option<(usize, usize)>,
    tag: Option<String>,
    value: Vec<u8>,
}

impl SharedBytesOptions {
    creation_setters!();

    /// The value's size and alignment in bytes (the alignment a power of two, at most
    /// [`MAX_ALIGN`]). Needed to create; when opening, the object must have exactly this
    /// layout (unset: any layout, read from the object).
    pub fn layout(&mut self, size: usize, align: usize) -> &mut Self {
        self.layout = Some((size, align));
        self
    }

    /// The tag recorded as the value's identity. When creating, the default is `[u8; N]`
    /// (`N` the size), the default tag of a `Shared<[u8; N]>`; when opening, a tag is checked
    /// only if one is given.
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// The value a creating call writes before anyone else can see the object (default:
    /// zeros; bytes beyond `value` are zero).
    pub fn value(&mut self, value: &[u8]) -> &mut Self {
        self.value = value.to_owned();
        self
    }

    fn checked_layout(&self, name: &str) -> Result<Option<(usize, usize)>> {
        match self.layout {
            Some((_, align)) if !align.is_power_of_two() || align > MAX_ALIGN => Err(Error::size(
                name,
                format!(
                    "a shared value's alignment must be a power of two up to {MAX_ALIGN}, \
                         not {align}"
                ),
            )),
            Some((size, align)) if size > isize::MAX as usize - data_offset(align) => {
                Err(Error::size(name, format!("{size} bytes is too large")))
            }
            l => Ok(l),
        }
    }

    /// Creates the segment `name` holding a value of the [`layout`](Self::layout), set to
    /// [`value`](Self::value) (default zeros).
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] without a layout, with a bad one, or with a value longer than
    /// the size; else as
    /// [`Segment::create`](crate::Segment::create).
    pub fn create(&self, name: &str) -> Result<SharedBytes> {
        let Some((size, align)) = self.checked_layout(name)? else {
            return Err(Error::size(
                name,
                "a layout is needed to create a shared value",
            ));
        };
        if self.value.len() > size {
            return Err(Error::size(
                name,
                format!(
                    "an initial value of {} bytes does not fit in {size}",
                    self.value.len()
                ),
            ));
        }
        let tag = self.tag.clone().unwrap_or_else(|| format!("[u8; {size}]"));
        create_raw(name, self.how, (size, align), fingerprint(&tag), |p| {
            // SAFETY: `p` is the value's place in the new, zeroed segment, `size` bytes
            // (checked above: `value` fits); nobody else can see the object yet.
            unsafe { std::ptr::copy_nonoverlapping(self.value.as_ptr(), p, self.value.len()) };
        })
    }

    /// Opens the segment `name`, which must hold a shared value of the
    /// [`layout`](Self::layout) and [`tag`](Self::tag), if they are set.
    ///
    /// Waits up to the [`open_timeout`](Self::open_timeout) for it to appear.
    ///
    /// # Errors
    ///
    /// `NotFound`, `AccessDenied`, [`Error::LayoutMismatch`] if it holds another layout or
    /// tag, `KindMismatch`, `Corrupt`, `VersionMismatch`, or an OS error.
    pub fn open(&self, name: &str) -> Result<SharedBytes> {
        crate::segment::open_waiting(self.how.open_timeout, || self.open_now(name))
    }

    fn open_now(&self, name: &str) -> Result<SharedBytes> {
        let layout = self.checked_layout(name)?;
        let tag = self.tag.as_deref().map(|t| (t, fingerprint(t)));
        open_raw(name, layout, tag, "this side")
    }

    /// Opens the segment `name` if it exists (it must then hold this layout and tag, if
    /// set), else creates it with [`value`](Self::value). [`SharedBytes::is_creator`] tells
    /// which happened. Without a [`layout`](Self::layout) there is nothing to create: it
    /// opens (any layout), and a missing object is [`Error::NotFound`].
    ///
    /// # Errors
    ///
    /// As [`SharedBytesOptions::create`] and [`SharedBytesOptions::open`].
    pub fn open_or_create(&self, name: &str) -> Result<SharedBytes> {
        if self.layout.is_none() {
            return self.open_now(name);
        }
        open_or_create(|| self.create(name), || self.open_now(name))
    }
}

/// Creates a shared-value object of `layout` with the tag fingerprint `fp`; `init` writes
/// the initial value at the pointer it gets (`size` bytes, zeroed, aligned), before anyone
/// else can see the object.
pub(crate) fn create_raw(
    name: &str,
    how: Creation,
    (size, align): (usize, usize),
    fp: u64,
    init: impl FnOnce(*mut u8),
) -> Result<SharedBytes> {
    let params = [size as u64, align as u64, fp];
    let offset = data_offset(align);
    let (obj, lock) = Object::create(
        name,
        how,
        Kind::Shared,
        segment_len(size, align),
        params,
        |o| {
            init(o.ptr(offset));
            RawLock::init(o)
        },
    )?;
    Ok(SharedBytes {
        lock,
        obj: ManuallyDrop::new(obj),
        size,
        align,
    })
}

/// Opens a shared-value object, checking its layout and tag against `want` and `tag` (each
/// only if given); `side` names this side's type in a mismatch.
pub(crate) fn open_raw(
    name: &str,
    want: Option<(usize, usize)>,
    tag: Option<(&str, u64)>,
    side: &str,
) -> Result<SharedBytes> {
    // The layout is checked against the header first, so another layout is a
    // `LayoutMismatch` rather than a segment "too small" for this side's value.
    let (obj, header) = Object::open(name, Kind::Shared, DATA)?;
    let [size, align, fp] = header.params;
    let mismatch = |what: &str, found: u64, want: usize| Error::LayoutMismatch {
        name: name.to_owned(),
        reason: format!("{what} is {found} in the segment, {want} for {side}"),
    };
    if let Some((want_size, want_align)) = want {
        if size != want_size as u64 {
            return Err(mismatch("the size", size, want_size));
        }
        if align != want_align as u64 {
            return Err(mismatch("the alignment", align, want_align));
        }
    }
    if let Some((tag, want_fp)) = tag {
        if fp != want_fp {
            return Err(Error::LayoutMismatch {
                name: name.to_owned(),
                reason: format!("the type tag differs (this side expects {tag:?})"),
            });
        }
    }
    // Checked against the segment's real length, whatever `want` was: a value read from the
    // header is never trusted with a pointer before this.
    let corrupt = |reason: String| Error::Corrupt {
        name: name.to_owned(),
        reason,
    };
    let (size, align) = match (usize::try_from(size), usize::try_from(align)) {
        (Ok(s), Ok(a)) if a.is_power_of_two() && a <= MAX_ALIGN => (s, a),
        _ => return Err(corrupt(format!("size {size} / alignment {align}"))),
    };
    let fits = data_offset(align)
        .checked_add(size.max(1))
        .is_some_and(|end| end <= obj.view.len());
    if !fits {
        return Err(corrupt(format!(
            "a {size}-byte value does not fit in {} bytes",
            obj.view.len()
        )));
    }
    let lock = RawLock::attach(&obj)?;
    Ok(SharedBytes {
        lock,
        obj: ManuallyDrop::new(obj),
        size,
        align,
    })
}

/// The locked value of a [`SharedBytes`]; unlocks when dropped.
///
/// It gives raw pointers ([`as_ptr`](Self::as_ptr)) and copies ([`read`](Self::read),
/// [`write`](Self::write)), never a reference: the caller brings the type.
#[must_use = "the value unlocks when the guard is dropped"]
pub struct SharedBytesGuard<'a> {
    shared: &'a SharedBytes,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for SharedBytesGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytesGuard")
            .field("name", &self.shared.name())
            .finish_non_exhaustive()
    }
}

impl SharedBytesGuard<'_> {
    /// Declares the value repaired after an owner death; a no-op otherwise.
    pub fn make_consistent(&self) {
        self.shared.lock.make_consistent(&self.shared.obj);
    }

    /// Whether this guard came with an owner death that has not been repaired yet.
    pub fn needs_repair(&self) -> bool {
        self.shared.lock.repairing(&self.shared.obj)
    }

    /// Unlocks without repairing after an owner death: the next holder gets
    /// [`LockError::OwnerDied`](super::LockError::OwnerDied) in turn. A plain unlock
    /// otherwise.
    pub fn unlock_unrepaired(self) {
        let this = ManuallyDrop::new(self);
        this.shared.lock.unlock_unrepaired();
    }

    /// The value's first byte: [`len`](Self::len) bytes, aligned to the object's alignment,
    /// writable, mapped while the `SharedBytes` lives. Reading or writing them is sound while
    /// the guard lives and every process that writes them follows the lock (the
    /// [trust model](crate#trust-model)).
    pub fn as_ptr(&self) -> *mut u8 {
        self.shared.value_ptr()
    }

    /// The value's size in bytes.
    pub fn len(&self) -> usize {
        self.shared.size
    }

    /// Whether the value has no bytes.
    pub fn is_empty(&self) -> bool {
        self.shared.size == 0
    }

    /// A copy of the value's bytes (atomic copies: no reference to shared memory is made).
    pub fn read(&self) -> Vec<u8> {
        let mut out = vec![0; self.len()];
        // SAFETY: `len` bytes at the value's offset lie in the mapping (checked at
        // create/open), which lives as long as the handle the guard borrows; `out` is private.
        unsafe { atomic_copy::load(self.as_ptr(), &mut out) };
        out
    }

    /// Overwrites the value's first `data.len()` bytes with `data` (atomic copies).
    ///
    /// # Panics
    ///
    /// If `data` is longer than the value.
    pub fn write(&mut self, data: &[u8]) {
        assert!(
            data.len() <= self.len(),
            "{} bytes do not fit in a {}-byte shared value",
            data.len(),
            self.len()
        );
        // SAFETY: as in `read`; the mapping is read-write and the lock is held.
        unsafe { atomic_copy::store(data, self.as_ptr()) };
    }
}

impl super::lock::sealed::Sealed for SharedBytesGuard<'_> {}

impl LockGuard for SharedBytesGuard<'_> {
    fn lock_name(&self) -> &str {
        self.shared.name()
    }

    fn unlock_unrepaired(self) {
        SharedBytesGuard::unlock_unrepaired(self);
    }
}

impl Drop for SharedBytesGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock.unlock(&self.shared.obj);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ() {
        assert_ne!(fingerprint("Point"), fingerprint("Point2"));
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn bad_layouts_are_refused() {
        let name = format!("ut-shared-bytes-{}", std::process::id());
        for (size, align) in [(8, 3), (8, 0), (8, 8192)] {
            let e = SharedBytes::options()
                .layout(size, align)
                .create(&name)
                .unwrap_err();
            assert!(matches!(e, Error::SizeInvalid { .. }), "{e}");
        }
        let e = SharedBytes::options().create(&name).unwrap_err();
        assert!(matches!(e, Error::SizeInvalid { .. }), "{e}");
    }

    #[test]
    fn bytes_round_trip_and_layout_checks() {
        let name = format!("ut-shared-bytes-rt-{}", std::process::id());
        let a = SharedBytes::options()
            .layout(12, 4)
            .tag("Triple")
            .create(&name)
            .unwrap();
        assert_eq!(a.lock().unwrap().read(), vec![0; 12]);
        a.lock().unwrap().write(&[7; 12]);
        let b = SharedBytes::options().open(&name).unwrap();
        assert_eq!((b.size(), b.align()), (12, 4));
        assert_eq!(b.lock().unwrap().read(), vec![7; 12]);
        // Without a layout, open_or_create opens whatever is there, and creates nothing.
        let c = SharedBytes::options().open_or_create(&name).unwrap();
        assert_eq!((c.size(), c.align(), c.is_creator()), (12, 4, false));
        let e = SharedBytes::options()
            .open_or_create(&format!("{name}-none"))
            .unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        let wrong = |size, align, tag: &str| {
            SharedBytes::options()
                .layout(size, align)
                .tag(tag)
                .open(&name)
                .unwrap_err()
        };
        assert!(matches!(
            wrong(16, 4, "Triple"),
            Error::LayoutMismatch { .. }
        ));
        assert!(matches!(
            wrong(12, 8, "Triple"),
            Error::LayoutMismatch { .. }
        ));
        assert!(matches!(
            wrong(12, 4, "Other"),
            Error::LayoutMismatch { .. }
        ));
    }

    #[test]
    fn an_initial_value_is_written_before_publishing() {
        let name = format!("ut-shared-bytes-init-{}", std::process::id());
        let mut o = SharedBytes::options();
        o.layout(4, 4).value(&[1, 2]);
        let a = o.create(&name).unwrap();
        assert_eq!(a.lock().unwrap().read(), vec![1, 2, 0, 0]);
        let e = o.layout(1, 1).create(&format!("{name}-2")).unwrap_err();
        assert!(matches!(e, Error::SizeInvalid { .. }), "{e}");
    }
}
