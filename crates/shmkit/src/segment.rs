//! Named shared-memory segments: create, open, remove, and who owns the name.
//!
//! A segment is N raw bytes with a name; there is no hidden header, so any program that opens
//! the same name (C, Python, another shmkit) sees exactly the same bytes.
//!
//! ```
//! use shmkit::{Access, Segment};
//! # let name = format!("doc-segment-{}", std::process::id());
//! // Process A: create 1 MiB (mode 0600, pages reserved; the name goes when `seg` drops).
//! let seg = Segment::create(&name, 1 << 20)?;
//! seg.map(Access::ReadWrite)?.write_at(0, b"hello")?;
//!
//! // Process B (or Python, or C): open the name read-only and copy bytes out.
//! let seg_b = Segment::options().read_only(true).open(&name)?;
//! let view = seg_b.map_range(Access::ReadOnly, 0, 5)?; // any offset; alignment is internal
//! assert_eq!(view.read_vec(0, 5)?, b"hello");
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Lifetime — the same rule on every OS
//!
//! * The process that **created** a segment owns its name: dropping that [`Segment`] removes
//!   the name, unless it was told to keep it ([`SegmentOptions::keep`], [`Segment::set_keep`]).
//!   It removes the name only if the name still refers to its segment: if someone removed
//!   it (say with [`Segment::remove`]) and created a new segment under the same name, that
//!   new segment is left alone. POSIX has no "unlink if it is this object", so the check
//!   (device and inode of the name against the creator's descriptor) and the unlink are two
//!   calls; a name removed and re-created between those two calls is still removed.
//!   A child forked from the creator without `exec` that drops its copy of the handle does
//!   not remove it either: the name stays the creating process's.
//! * Processes that **opened** it never remove the name.
//! * Views stay valid after the name is gone; the memory is freed when the last view and handle
//!   in any process are closed.
//!
//! # Platform notes
//!
//! * **Linux / macOS**: the name is removed with `shm_unlink`; after that, new opens fail with
//!   `NotFound` while existing mappings keep working. A kept name lives until someone calls
//!   [`Segment::remove`] (or `shmkit rm`) or the machine reboots.
//! * **Windows** has no unlink: a named mapping exists exactly as long as some process holds a
//!   handle or a view of it. "Removing" the name therefore does nothing, and "keep" cannot make
//!   a segment outlive the last process that has it open.
//! * Anyone who can open a segment read-write can also resize it (`ftruncate` on
//!   `/dev/shm/<name>`). Shrinking it makes every process that then touches a mapped page past
//!   the new end die of SIGBUS (Linux, macOS); see [`View`]'s docs. Windows cannot shrink a
//!   section. Choose the [`SegmentOptions::mode`] so that only trusted processes get
//!   write access.
//! * On Linux, systemd's `RemoveIPC=yes` (the default for non-system users) deletes a user's
//!   segments when their last session ends; services that share memory should run as a system
//!   user or set `RemoveIPC=no`.

use std::fmt;
use std::sync::Arc;

use crate::sys::{self, OpenHow, Section};
use crate::view::Source;
use crate::{name, Access, Error, Result, View};

/// The default permission bits of a new segment: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// A named shared-memory segment: N raw bytes that several processes can map.
///
/// ```
/// use shmkit::{Access, Segment};
/// # let name = format!("doc-seg-{}", std::process::id());
/// let seg = Segment::create(&name, 4096)?;          // owner: removes the name on drop
/// let mut view = seg.map(Access::ReadWrite)?;
/// view.write_at(0, b"hello")?;
///
/// let other = Segment::open(&name)?;                // e.g. in another process
/// let view2 = other.map(Access::ReadOnly)?;
/// assert_eq!(view2.read_vec(0, 5)?, b"hello");
/// # Ok::<(), shmkit::Error>(())
/// ```
#[doc(alias = "shm_open")]
#[doc(alias = "CreateFileMapping")]
#[doc(alias = "OpenFileMapping")]
pub struct Segment {
    name: Arc<str>,
    section: Section,
    len: usize,
    access: Access,
    created: bool,
    /// The process that made this handle: only it removes the name (a child forked from it
    /// without `exec` that drops its copy does not).
    pid: u32,
    keep: bool,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("access", &self.access)
            .field("created", &self.created)
            .field("keep", &self.keep)
            .finish()
    }
}

impl Segment {
    /// Options to create or open a segment: size, mode, access, lifetime.
    pub fn options() -> SegmentOptions {
        SegmentOptions::default()
    }

    /// Creates a new segment of `size` bytes, zero-filled, mode 0600; fails if `name` exists.
    ///
    /// # Errors
    ///
    /// [`Error::NameInvalid`], [`Error::SizeInvalid`] (zero or too large),
    /// [`Error::AlreadyExists`], [`Error::NoSpace`], [`Error::AccessDenied`], [`Error::Io`].
    pub fn create(name: &str, size: usize) -> Result<Segment> {
        Segment::options().size(size).create(name)
    }

    /// Opens an existing segment read-write.
    ///
    /// # Errors
    ///
    /// [`Error::NameInvalid`], [`Error::NotFound`], [`Error::AccessDenied`], [`Error::Io`].
    pub fn open(name: &str) -> Result<Segment> {
        Segment::options().open(name)
    }

    /// Removes the name `name`: new opens fail, existing mappings keep working.
    ///
    /// # Errors
    ///
    /// [`Error::NameInvalid`], [`Error::NotFound`], [`Error::AccessDenied`], [`Error::Io`].
    ///
    /// # Platform notes
    ///
    /// On Windows there is nothing to remove: the mapping disappears when its last handle
    /// closes. This checks that the name exists and otherwise does nothing.
    #[doc(alias = "shm_unlink")]
    pub fn remove(name: &str) -> Result<()> {
        name::validate(name)?;
        sys::shm_unlink(name)
    }

    /// The segment's name, as given (without the OS's `/` prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes.
    ///
    /// # Platform notes
    ///
    /// On Windows, a segment that was opened (not created) reports its size rounded up to a
    /// page, because that is all the OS records (Python reports the same).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: segments have at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The access this segment was opened with: the most a view of it may have.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Whether this handle created the segment (and so owns its name).
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// Whether dropping this handle will leave the name in place.
    pub fn keeps_name(&self) -> bool {
        !self.created || self.keep
    }

    /// Chooses whether the creator keeps the name when dropped (no effect for openers).
    pub fn set_keep(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// The OS object behind this handle.
    pub(crate) fn section(&self) -> &Section {
        &self.section
    }

    /// The segment's owner (uid), permission bits and last change time, where the OS records
    /// them (Unix; `None` on Windows).
    pub fn owner_mode_mtime(&self) -> Option<(u32, u32, std::time::SystemTime)> {
        sys::owner_mode_mtime(&self.section)
    }

    /// Maps the whole segment.
    ///
    /// # Errors
    ///
    /// [`Error::AccessMismatch`] if `access` is read-write and the segment was opened
    /// read-only; [`Error::Io`] or [`Error::NoSpace`] if the OS cannot map it.
    #[doc(alias = "mmap")]
    #[doc(alias = "MapViewOfFile")]
    pub fn map(&self, access: Access) -> Result<View> {
        self.map_range(access, 0, self.len)
    }

    /// Maps `len` bytes from `offset`. Any offset works: shmkit rounds it down to the OS's
    /// granularity (a page, or 64 KiB on Windows) internally.
    ///
    /// # Errors
    ///
    /// As [`Segment::map`], and [`Error::SizeInvalid`] if `len` is zero or the range runs past
    /// the end.
    pub fn map_range(&self, access: Access, offset: usize, len: usize) -> Result<View> {
        self.map_inner(access, offset, len, false)
    }

    /// Maps the whole segment read-write with its page tables filled up front (Linux), so
    /// that first touches do not fault: for rings that are used over and over.
    pub(crate) fn map_populated(&self) -> Result<View> {
        self.map_inner(Access::ReadWrite, 0, self.len, true)
    }

    fn map_inner(&self, access: Access, offset: usize, len: usize, populate: bool) -> Result<View> {
        View::map(
            Source {
                section: &self.section,
                granted: self.access,
                len: self.len,
                name: &self.name,
                file: None,
            },
            access,
            offset,
            len,
            populate,
        )
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.created && !self.keep && self.pid == sys::current_pid() {
            // Only if the name is still this segment's: it may have been removed and created
            // again by someone else meanwhile.
            let _ = sys::shm_unlink_created(&self.name, &self.section);
        }
    }
}

/// How to create or open a [`Segment`]: the builder behind [`Segment::options`].
///
/// ```
/// # let name = format!("doc-opts-{}", std::process::id());
/// let seg = shmkit::Segment::options().size(1 << 20).mode(0o640).create(&name)?;
/// let ro = shmkit::Segment::options().read_only(true).open(&name)?;
/// assert_eq!(ro.access(), shmkit::Access::ReadOnly);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SegmentOptions {
    size: Option<usize>,
    mode: u32,
    read_only: bool,
    keep: bool,
    reserve: bool,
    open_timeout: std::time::Duration,
}

/// Defaults: no size, mode 0600, read-write, the creator removes the name, pages reserved, no
/// wait on open. [`Segment::options`] is the entry point.
impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            size: None,
            mode: DEFAULT_MODE,
            read_only: false,
            keep: false,
            reserve: true,
            open_timeout: std::time::Duration::ZERO,
        }
    }
}

impl SegmentOptions {
    /// The size in bytes. Needed to create; when opening, the existing segment must have at
    /// least this many bytes.
    pub fn size(&mut self, size: usize) -> &mut Self {
        self.size = Some(size);
        self
    }

    /// Unix permission bits of a new segment (default 0600). Applied exactly: the umask does
    /// not narrow them.
    ///
    /// # Platform notes
    ///
    /// Ignored on Windows, where the object gets the default security of the process token.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Opens an existing segment for reading only (default: read-write). Views may then be
    /// read-only or copy-on-write. A segment this call creates is always read-write.
    pub fn read_only(&mut self, read_only: bool) -> &mut Self {
        self.read_only = read_only;
        self
    }

    /// Whether the creator leaves the name in place when dropped (default: it removes it).
    pub fn keep(&mut self, keep: bool) -> &mut Self {
        self.keep = keep;
        self
    }

    /// Whether creation reserves the memory up front (default: yes).
    ///
    /// On Linux, a tmpfs file can be sized larger than the free space in `/dev/shm`; touching
    /// a page that cannot be backed then kills the process with SIGBUS. Reserving (with
    /// `fallocate`) turns that into [`Error::NoSpace`] at creation, at the cost of committing
    /// the memory at once. Windows always commits; macOS cannot reserve.
    pub fn reserve(&mut self, reserve: bool) -> &mut Self {
        self.reserve = reserve;
        self
    }

    /// How long [`open`](SegmentOptions::open) waits for the segment to appear before it gives
    /// up with the [`Error::NotFound`] it would have returned at once. Default zero: no wait.
    /// `Duration::MAX` waits forever. The name is looked up again every 100 µs at first,
    /// backing off to 10 ms. `open_or_create` does not wait (it creates instead).
    pub fn open_timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
        self.open_timeout = timeout;
        self
    }

    /// Creates a new segment; fails with [`Error::AlreadyExists`] if the name is taken.
    ///
    /// # Errors
    ///
    /// As [`Segment::create`]; [`Error::SizeInvalid`] if no size was given.
    pub fn create(&self, name: &str) -> Result<Segment> {
        self.open_how(name, OpenHow::Create)
    }

    /// Opens an existing segment; fails with [`Error::NotFound`] if there is none.
    ///
    /// # Errors
    ///
    /// As [`Segment::open`]; [`Error::SizeInvalid`] if a size was given and the segment is
    /// smaller.
    pub fn open(&self, name: &str) -> Result<Segment> {
        open_waiting(self.open_timeout, || self.open_how(name, OpenHow::Open))
    }

    /// Opens the segment if it exists, or creates it (then this handle owns the name).
    /// [`Segment::is_creator`] tells which happened.
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create`] and [`SegmentOptions::open`].
    pub fn open_or_create(&self, name: &str) -> Result<Segment> {
        self.open_how(name, OpenHow::OpenOrCreate)
    }

    fn open_how(&self, name: &str, how: OpenHow) -> Result<Segment> {
        name::validate(name)?;
        let size = match (how, self.size) {
            (OpenHow::Open, size) => size.unwrap_or(0),
            (_, None) => return Err(Error::size(name, "a size is needed to create a segment")),
            (_, Some(size)) => size,
        };
        check_new_size(name, size, how)?;
        let writable = !self.read_only || how == OpenHow::Create;
        let opened = sys::shm_open(name, how, writable, size, self.mode, self.reserve)?;
        let segment = Segment {
            name: Arc::from(name),
            section: opened.section,
            len: opened.len,
            access: if writable || opened.created {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            },
            created: opened.created,
            pid: sys::current_pid(),
            keep: self.keep,
        };
        if segment.len == 0 {
            return Err(Error::size(
                name,
                "the segment is empty (its creator may not have sized it yet)",
            ));
        }
        if segment.len < size {
            return Err(Error::size(
                name,
                format!(
                    "the segment has {} bytes, fewer than the {size} asked for",
                    segment.len
                ),
            ));
        }
        Ok(segment)
    }
}

/// Checks a size for a segment or file: non-zero when creating, and mappable.
pub(crate) fn check_new_size(name: &str, size: usize, how: OpenHow) -> Result<()> {
    if size == 0 && how != OpenHow::Open {
        return Err(Error::size(name, "the size must not be zero"));
    }
    if size > isize::MAX as usize {
        return Err(Error::size(
            name,
            format!("{size} bytes is more than this platform can map"),
        ));
    }
    Ok(())
}

/// Runs `open` until it returns anything but [`Error::NotFound`], or `timeout` has passed;
/// then returns that `NotFound` (so callers that match it behave the same with or without a
/// wait). Zero: one attempt; `Duration::MAX`: no limit. Between attempts it sleeps 100 µs,
/// doubling up to 10 ms: a name appearing is not signalled anywhere, so this polls.
pub(crate) fn open_waiting<T>(
    timeout: std::time::Duration,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    let mut not_found = None;
    crate::sys::Deadline::after(timeout)
        .poll(|| match open() {
            Err(e @ Error::NotFound { .. }) => {
                not_found = Some(e);
                None
            }
            r => Some(r),
        })
        .unwrap_or_else(|| Err(not_found.expect("poll asks at least once")))
}
