//! Views: a mapped range of a segment or file, and the access it was mapped with.
//!
//! A [`View`] is memory that other processes may write at any moment, so it never hands out
//! `&[u8]` in safe code (memmap2's `MmapRaw` stance). Safe access copies: [`View::read_at`] and
//! [`View::write_at`]; control words go through atomics ([`View::atomic_u32`]); experts get raw
//! pointers, and `unsafe` slices whose contract is written down.
//!
//! The sections "Racing copies" and "What a writer with access to the object can do" are in
//! [`View`]'s docs, where rustdoc shows them.

use std::fmt;
use std::fs::File;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use crate::atomic_copy;
use crate::sys::{self, MapRegion, Section};
use crate::{Error, Result};

/// How a view (or a segment or file) may be accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only: writing through the view is an access violation (SIGSEGV).
    #[doc(alias = "PROT_READ")]
    #[doc(alias = "FILE_MAP_READ")]
    ReadOnly,
    /// Read and write, shared: every process mapping the object sees the writes.
    #[doc(alias = "MAP_SHARED")]
    #[doc(alias = "FILE_MAP_WRITE")]
    ReadWrite,
    /// Private copy-on-write: this view sees its own writes, nobody else does, and the segment
    /// or file is never changed. Needs only read access to the object.
    #[doc(alias = "MAP_PRIVATE")]
    #[doc(alias = "FILE_MAP_COPY")]
    CopyOnWrite,
}

impl Access {
    /// Whether a view with this access may be mapped from an object opened with `granted`.
    ///
    /// Read-only and copy-on-write views need read access only; read-write views need the
    /// object to be open read-write.
    pub fn allowed_by(self, granted: Access) -> bool {
        self != Access::ReadWrite || granted == Access::ReadWrite
    }

    /// Whether writes through a view of this access are allowed (shared or private).
    pub fn is_writable(self) -> bool {
        self != Access::ReadOnly
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
            Access::CopyOnWrite => "copy-on-write",
        })
    }
}

/// A mapped range of a [`Segment`](crate::Segment) or [`FileMapping`](crate::FileMapping).
///
/// The view stays valid after the segment or file mapping it came from is dropped, and after
/// the segment's name is removed: the OS keeps the memory alive while it is mapped.
///
/// # Racing copies
///
/// Two views of one segment may be written and read at the same time — by other processes,
/// and also by two threads of this one, from safe code. So the safe copies ([`View::read_at`],
/// [`View::write_at`], [`View::fill`]) are made of Relaxed atomic accesses (8-byte words,
/// single bytes at unaligned ends) rather than `memcpy`: a plain copy racing with a write is
/// a data race, undefined behaviour in Rust's model even for bytes, and atomics are not. A
/// racing reader gets a mix of old and new bytes, never anything worse. This costs 1–4 ns on
/// a 64-byte copy and 1.13–1.35× a `memcpy` on a 1 MiB copy (measured; see `atomic_copy.rs`); raw
/// pointers ([`View::as_ptr`]) remain for callers who bring their own protocol. Atomic accesses of
/// different sizes may overlap when two copies start at different alignments; CPUs make each
/// access atomic at its own size, but Rust's model leaves mixed-size races undefined.
///
/// # What a writer with access to the object can do
///
/// Anyone who can open the segment or file read-write can change its bytes under a view (which
/// copies, so that is only wrong data), and can also **shrink** it: `ftruncate` on the segment
/// or file. Touching a mapped page beyond the new end then raises SIGBUS, which kills the
/// process (Linux and macOS; a Windows mapping cannot be shrunk while mapped). That is a
/// denial of service, not memory corruption: the access faults, it never reads other memory.
/// Give only trusted processes write access to an object (mode bits, file permissions), and
/// read-only access to anyone else. See the [crate docs](crate#trust-model).
///
/// # Send and Sync
///
/// A view is `Send` and `Sync`: `&View` only reads (copies out) or hands out raw pointers and
/// atomics; writing copies need `&mut View`.
pub struct View {
    region: MapRegion,
    /// Offset of the first byte of the view inside `region` (the rounding to granularity).
    delta: usize,
    len: usize,
    offset: usize,
    access: Access,
    name: Arc<str>,
    /// The file behind a file mapping, for a synchronous flush on Windows.
    file: Option<Arc<File>>,
}

// SAFETY: the region is owned by the view and unmapped only on drop; shared access through
// `&View` only copies out, or hands out raw pointers (whose use is the caller's `unsafe`) and
// atomics (which are `Sync`). Nothing ties the mapping to the creating thread.
unsafe impl Send for View {}
// SAFETY: see `Send`; `&View` methods never write non-atomically.
unsafe impl Sync for View {}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("name", &self.name)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("access", &self.access)
            .field("ptr", &self.as_ptr())
            .finish()
    }
}

/// What a segment or file mapping passes to [`View::map`].
pub(crate) struct Source<'a> {
    pub(crate) section: &'a Section,
    pub(crate) granted: Access,
    pub(crate) len: usize,
    pub(crate) name: &'a Arc<str>,
    pub(crate) file: Option<&'a Arc<File>>,
}

impl View {
    /// Maps `len` bytes at `offset` of `src` with `access`, after checking both.
    pub(crate) fn map(
        src: Source<'_>,
        access: Access,
        offset: usize,
        len: usize,
        populate: bool,
    ) -> Result<View> {
        let name = &**src.name;
        if !access.allowed_by(src.granted) {
            return Err(Error::AccessMismatch {
                name: name.to_owned(),
                requested: access,
                granted: src.granted,
            });
        }
        check_range(name, "view", offset, len, src.len)?;
        let delta = offset % sys::granularity();
        let region = MapRegion::new(
            src.section,
            access,
            offset - delta,
            delta + len,
            populate,
            name,
        )?;
        Ok(View {
            region,
            delta,
            len,
            offset,
            access,
            name: Arc::clone(src.name),
            file: src.file.cloned(),
        })
    }

    /// The number of bytes in the view (never zero).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a view has at least one byte. Here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the view starts inside its segment or file.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The access the view was mapped with.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The name of the segment (or the path of the file) this view maps.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pointer to the first byte of the view, valid for `len()` bytes while the view lives.
    ///
    /// Reading through it races with writers in other processes; use atomics or a protocol.
    pub fn as_ptr(&self) -> *const u8 {
        self.as_mut_ptr()
    }

    /// A mutable pointer to the first byte of the view, valid for `len()` bytes while it lives.
    ///
    /// Writing through it is an access violation (SIGSEGV) on a [`Access::ReadOnly`] view.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        // SAFETY: `delta` < granularity <= the mapped length, so the result is in the region.
        unsafe { self.region.ptr().add(self.delta) }
    }

    /// Copies `buf.len()` bytes from the view, starting at `offset`, into `buf`.
    ///
    /// If another process (or thread, through another view) writes the same bytes meanwhile,
    /// `buf` may hold a mix of old and new bytes; use a lock or a channel when that matters.
    /// The copy is made of atomic loads, so such a race is not undefined behaviour (see [`View`]).
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] if the range does not lie inside the view; `buf` is untouched.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        check_range(&self.name, "read", offset, buf.len(), self.len)?;
        // SAFETY: the range is inside the mapping (checked above), which lives while `self`
        // does; `buf` is a distinct Rust allocation, so the two cannot overlap; shmkit's own
        // concurrent accesses to view bytes are atomic (`copy`), and what `unsafe` callers or
        // other processes do is their contract (`as_slice`, `as_ptr`).
        unsafe { atomic_copy::load(self.as_ptr().add(offset), buf) };
        Ok(())
    }

    /// Copies `len` bytes from `offset` into a new `Vec`.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] if the range does not lie inside the view.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        check_range(&self.name, "read", offset, len, self.len)?;
        let mut v = vec![0; len];
        self.read_at(offset, &mut v)?;
        Ok(v)
    }

    /// Copies `data` into the view at `offset`, with atomic stores (see [`View::read_at`]).
    ///
    /// # Errors
    ///
    /// [`Error::AccessMismatch`] on a read-only view; [`Error::SizeInvalid`] if the range does
    /// not lie inside the view. Nothing is written in either case.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        check_range(&self.name, "write", offset, data.len(), self.len)?;
        // SAFETY: the range is inside a writable mapping (checked above) and `data` is a Rust
        // allocation outside it; other views' safe copies of these bytes are atomic, as this
        // one is (see `read_at`).
        unsafe { atomic_copy::store(data, self.as_mut_ptr().add(offset)) };
        Ok(())
    }

    /// Sets `len` bytes from `offset` to `byte`.
    ///
    /// # Errors
    ///
    /// As [`View::write_at`].
    pub fn fill(&mut self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.check_writable()?;
        check_range(&self.name, "write", offset, len, self.len)?;
        // SAFETY: as in `write_at`.
        unsafe { atomic_copy::fill(self.as_mut_ptr().add(offset), len, byte) };
        Ok(())
    }

    /// The view's bytes as a slice.
    ///
    /// # Safety
    ///
    /// While the slice lives, no one — no other process, thread or view of the same memory —
    /// may write these bytes (Rust assumes `&[u8]` does not change). Typical ways to make that
    /// true: the segment is only ever mapped read-only after it was filled, or a lock that
    /// every writer takes is held.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the pointer is valid for `len` bytes while `self` lives; the caller promises
        // no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len) }
    }

    /// The view's bytes as a mutable slice.
    ///
    /// # Errors
    ///
    /// [`Error::AccessMismatch`] on a read-only view.
    ///
    /// # Safety
    ///
    /// While the slice lives, no one else may read or write these bytes (no other process,
    /// thread or view of the same memory), as `&mut [u8]` promises exclusive access.
    pub unsafe fn as_mut_slice(&mut self) -> Result<&mut [u8]> {
        self.check_writable()?;
        // SAFETY: valid, writable for `len` bytes; `&mut self` excludes this view's other
        // users and the caller promises nobody else touches the bytes.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.as_mut_ptr(), self.len) })
    }

    /// The 4 bytes at `offset` as an atomic, for flags and counters shared between processes.
    ///
    /// Atomic operations on shared mappings work across processes on every supported OS.
    ///
    /// # Errors
    ///
    /// [`Error::AccessMismatch`] on a read-only view (an atomic can store); [`Error::SizeInvalid`]
    /// if the word is out of range or not 4-byte aligned.
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        let p = self.atomic_ptr::<AtomicU32>(offset)?;
        // SAFETY: `p` is aligned, in bounds, writable and valid while `self` is borrowed;
        // AtomicU32 has no invalid bit patterns and only allows atomic access.
        Ok(unsafe { &*p })
    }

    /// The 8 bytes at `offset` as an atomic; see [`View::atomic_u32`].
    ///
    /// # Errors
    ///
    /// As [`View::atomic_u32`], with 8-byte alignment.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        let p = self.atomic_ptr::<AtomicU64>(offset)?;
        // SAFETY: as in `atomic_u32`.
        Ok(unsafe { &*p })
    }

    fn atomic_ptr<T>(&self, offset: usize) -> Result<*const T> {
        self.check_writable()?;
        let size = std::mem::size_of::<T>();
        check_range(&self.name, "atomic", offset, size, self.len)?;
        // SAFETY: in bounds, checked above.
        let p = unsafe { self.as_ptr().add(offset) };
        if p as usize % std::mem::align_of::<T>() != 0 {
            return Err(Error::size(
                &self.name,
                format!("atomic at offset {offset} is not {size}-byte aligned"),
            ));
        }
        Ok(p.cast())
    }

    /// Writes the whole view back to its file and waits until the OS reports it written.
    ///
    /// A no-op for copy-on-write views (they never reach the file) and, in effect, for
    /// segments (they have no file).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from `msync` / `FlushViewOfFile` / `FlushFileBuffers`.
    #[doc(alias = "msync")]
    #[doc(alias = "FlushViewOfFile")]
    pub fn flush(&self) -> Result<()> {
        self.flush_inner(0, self.len, true)
    }

    /// Like [`View::flush`], for `len` bytes from `offset` only.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] if the range is outside the view; else as [`View::flush`].
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        check_range(&self.name, "flush", offset, len, self.len)?;
        self.flush_inner(offset, len, true)
    }

    /// Starts writing the whole view back to its file and returns without waiting.
    ///
    /// # Errors
    ///
    /// As [`View::flush`].
    pub fn flush_async(&self) -> Result<()> {
        self.flush_inner(0, self.len, false)
    }

    fn flush_inner(&self, offset: usize, len: usize, sync: bool) -> Result<()> {
        if self.access != Access::ReadWrite || len == 0 {
            return Ok(());
        }
        let file = self.file.as_deref();
        self.region
            .flush(self.delta + offset, len, sync, file, &self.name)
    }

    fn check_writable(&self) -> Result<()> {
        if self.access.is_writable() {
            Ok(())
        } else {
            Err(Error::AccessMismatch {
                name: self.name.to_string(),
                requested: Access::ReadWrite,
                granted: self.access,
            })
        }
    }
}

/// Checks that `[offset, offset + len)` lies inside `0..total` and is not empty for a view.
pub(crate) fn check_range(
    name: &str,
    what: &str,
    offset: usize,
    len: usize,
    total: usize,
) -> Result<()> {
    if what == "view" && len == 0 {
        return Err(Error::size(name, "a view must have at least one byte"));
    }
    match offset.checked_add(len) {
        Some(end) if end <= total => Ok(()),
        _ => Err(Error::size(
            name,
            format!("{what} of {len} bytes at offset {offset} is past the end ({total} bytes)"),
        )),
    }
}
