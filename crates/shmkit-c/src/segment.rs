//! Segments and views: `shmkit_segment_*` and `shmkit_view_*`.
//!
//! A view is its own handle: it stays valid after the segment (or file mapping) it came from
//! is closed and after the name is removed, as in Rust.

use std::ffi::{c_char, c_void, CString};

use shmkit::{Access, Segment, View};

use crate::status::*;

/// How a view (or an opened object) may be accessed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_access {
    /// Read only: writing through the view's pointer is an access violation.
    SHMKIT_READ_ONLY = 0,
    /// Read and write, shared with every process that maps the object.
    SHMKIT_READ_WRITE = 1,
    /// A private copy-on-write view: this view sees its own writes, nobody else does.
    SHMKIT_COPY_ON_WRITE = 2,
}

impl From<shmkit_access> for Access {
    fn from(a: shmkit_access) -> Access {
        match a {
            shmkit_access::SHMKIT_READ_ONLY => Access::ReadOnly,
            shmkit_access::SHMKIT_READ_WRITE => Access::ReadWrite,
            shmkit_access::SHMKIT_COPY_ON_WRITE => Access::CopyOnWrite,
        }
    }
}

impl From<Access> for shmkit_access {
    fn from(a: Access) -> shmkit_access {
        match a {
            Access::ReadOnly => shmkit_access::SHMKIT_READ_ONLY,
            Access::ReadWrite => shmkit_access::SHMKIT_READ_WRITE,
            Access::CopyOnWrite => shmkit_access::SHMKIT_COPY_ON_WRITE,
        }
    }
}

/// An `access` argument from C: an int that must be one of [`shmkit_access`]'s values.
pub(crate) fn access_arg(a: i32) -> Outcome<Access> {
    Ok(match a {
        0 => Access::ReadOnly,
        1 => Access::ReadWrite,
        2 => Access::CopyOnWrite,
        _ => return Err(misuse(format!("access {a} is not a shmkit_access value"))),
    })
}

/// Options of [`shmkit_segment_create`], [`shmkit_segment_open`] and
/// [`shmkit_segment_open_or_create`]; start from [`shmkit_segment_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_segment_options {
    /// Size in bytes: needed to create (0 is `SHMKIT_SIZE_INVALID`); when opening, the segment
    /// must have at least this many (0: any size).
    pub size: usize,
    /// Unix permission bits of a new segment (default 0600), applied exactly. Ignored on Windows.
    pub mode: u32,
    /// Open an existing segment read-only (views may then be read-only or copy-on-write).
    pub read_only: bool,
    /// The creator leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// Reserve the memory at creation, so a full `/dev/shm` is `SHMKIT_NO_SPACE` instead of a
    /// SIGBUS later (default: true).
    pub reserve: bool,
    /// How long `open` waits for the segment to appear: 0 not at all (default), negative forever.
    pub open_timeout_ns: i64,
}

/// The default segment options: no size, mode 0600, read-write, the creator removes the name,
/// memory reserved, no wait on open.
#[no_mangle]
pub extern "C" fn shmkit_segment_options_default() -> shmkit_segment_options {
    shmkit_segment_options {
        size: 0,
        mode: 0o600,
        read_only: false,
        keep: false,
        reserve: true,
        open_timeout_ns: 0,
    }
}

/// A named shared memory segment (`shmkit::Segment`).
pub struct shmkit_segment {
    inner: Segment,
    name: CString,
}

/// A mapped range of a segment or file (`shmkit::View`).
pub struct shmkit_view {
    inner: View,
}

/// The Rust options for C options (NULL: the defaults).
///
/// # Safety
///
/// `opts` is NULL or points to a valid `shmkit_segment_options`.
unsafe fn segment_options(opts: *const shmkit_segment_options) -> shmkit::SegmentOptions {
    // SAFETY: the caller promises NULL or a valid struct.
    let o = unsafe { options_arg(opts, shmkit_segment_options_default) };
    let mut r = Segment::options();
    if o.size != 0 {
        r.size(o.size);
    }
    r.mode(o.mode)
        .read_only(o.read_only)
        .keep(o.keep)
        .reserve(o.reserve)
        .open_timeout(open_timeout(o.open_timeout_ns));
    r
}

#[derive(Clone, Copy)]
enum Verb {
    Create,
    Open,
    OpenOrCreate,
}

/// # Safety
///
/// As the entry points: `name` a C string, `opts` NULL or valid, `out` NULL or writable.
unsafe fn segment_verb(
    name: *const c_char,
    opts: *const shmkit_segment_options,
    out: *mut *mut shmkit_segment,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, o) = unsafe { (str_arg(name, "name")?, segment_options(opts)) };
        let inner = match verb {
            Verb::Create => o.create(name),
            Verb::Open => o.open(name),
            Verb::OpenOrCreate => o.open_or_create(name),
        }?;
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_segment {
                    name: c_name(inner.name()),
                    inner,
                },
            )
        };
        Ok(())
    })
}

/// Creates segment `name`; `SHMKIT_ALREADY_EXISTS` if the name is taken. `opts->size` is needed.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid; `out` is writable. On success
/// `*out` is a handle to close with [`shmkit_segment_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_create(
    name: *const c_char,
    opts: *const shmkit_segment_options,
    out: *mut *mut shmkit_segment,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { segment_verb(name, opts, out, Verb::Create) }
}

/// Opens segment `name` (any segment: one made by shmkit, by C's `shm_open`, or by Python's
/// `multiprocessing.shared_memory`); `SHMKIT_NOT_FOUND` if there is none.
///
/// # Safety
///
/// As [`shmkit_segment_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_open(
    name: *const c_char,
    opts: *const shmkit_segment_options,
    out: *mut *mut shmkit_segment,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { segment_verb(name, opts, out, Verb::Open) }
}

/// Opens segment `name` if it exists, or creates it (`opts->size` needed);
/// [`shmkit_segment_is_creator`] tells which happened.
///
/// # Safety
///
/// As [`shmkit_segment_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_open_or_create(
    name: *const c_char,
    opts: *const shmkit_segment_options,
    out: *mut *mut shmkit_segment,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { segment_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Closes a segment handle (NULL is ignored). The creator removes the name unless `keep`;
/// views mapped from it stay valid.
///
/// # Safety
///
/// `seg` is NULL or a segment handle not used again.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_close(seg: *mut shmkit_segment) {
    // SAFETY: forwarded.
    unsafe { close(seg) }
}

/// Removes the name `name` (processes that have it open or mapped keep their memory).
/// `SHMKIT_NOT_FOUND` if there is none. On Windows, where a name lives exactly as long as
/// some handle to it, there is nothing to remove: this checks that the name exists
/// (`SHMKIT_NOT_FOUND` otherwise) and does nothing else.
///
/// # Safety
///
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_remove(name: *const c_char) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let name = unsafe { str_arg(name, "name")? };
        Ok(Segment::remove(name)?)
    })
}

/// The segment's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `seg` is NULL or a live segment handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_name(seg: *const shmkit_segment) -> *const c_char {
    // SAFETY: the caller's promise.
    match unsafe { seg.as_ref() } {
        Some(s) => s.name.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The segment's size in bytes (0 for NULL).
///
/// # Safety
///
/// `seg` is NULL or a live segment handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_len(seg: *const shmkit_segment) -> usize {
    // SAFETY: the caller's promise.
    unsafe { seg.as_ref() }.map_or(0, |s| s.inner.len())
}

/// Whether this handle created the segment (and so removes the name when closed, unless kept).
///
/// # Safety
///
/// `seg` is NULL or a live segment handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_is_creator(seg: *const shmkit_segment) -> bool {
    // SAFETY: the caller's promise.
    unsafe { seg.as_ref() }.is_some_and(|s| s.inner.is_creator())
}

/// Whether the creator leaves the name in place when closed.
///
/// # Safety
///
/// `seg` is a live segment handle.
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_set_keep(
    seg: *mut shmkit_segment,
    keep: bool,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(seg, "segment")? }.inner.set_keep(keep);
        Ok(())
    })
}

/// Maps the whole segment with `access` (a [`shmkit_access`]). `SHMKIT_ACCESS_MISMATCH` for a
/// read-write view of a segment opened read-only.
///
/// # Safety
///
/// `seg` is a live segment handle; `out` is writable. Close the view with [`shmkit_view_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_map(
    seg: *const shmkit_segment,
    access: i32,
    out: *mut *mut shmkit_view,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promise.
        let seg = unsafe { handle_ref(seg, "segment")? };
        let inner = seg.inner.map(access_arg(access)?)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, shmkit_view { inner }) };
        Ok(())
    })
}

/// Maps `len` bytes from `offset` (any offset: shmkit aligns the mapping itself).
/// `SHMKIT_SIZE_INVALID` if the range is not inside the segment.
///
/// # Safety
///
/// As [`shmkit_segment_map`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_segment_map_range(
    seg: *const shmkit_segment,
    access: i32,
    offset: usize,
    len: usize,
    out: *mut *mut shmkit_view,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promise.
        let seg = unsafe { handle_ref(seg, "segment")? };
        let inner = seg.inner.map_range(access_arg(access)?, offset, len)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, shmkit_view { inner }) };
        Ok(())
    })
}

/// Wraps a view made by a segment or a file mapping.
pub(crate) fn view_handle(inner: View) -> shmkit_view {
    shmkit_view { inner }
}

/// Unmaps a view (NULL is ignored). Its pointer is invalid afterwards.
///
/// # Safety
///
/// `view` is NULL or a view handle not used again.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_close(view: *mut shmkit_view) {
    // SAFETY: forwarded.
    unsafe { close(view) }
}

/// The first byte of the view, valid for [`shmkit_view_len`] bytes until the view is closed
/// (NULL for a NULL view). Other processes may write these bytes at any time: read them under
/// a lock or protocol, or copy with [`shmkit_view_read`]. Writing through it is an access
/// violation on a read-only view.
///
/// # Safety
///
/// `view` is NULL or a live view handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_data(view: *const shmkit_view) -> *mut c_void {
    // SAFETY: the caller's promise.
    unsafe { view.as_ref() }.map_or(std::ptr::null_mut(), |v| v.inner.as_mut_ptr().cast())
}

/// The view's length in bytes (0 for NULL).
///
/// # Safety
///
/// `view` is NULL or a live view handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_len(view: *const shmkit_view) -> usize {
    // SAFETY: the caller's promise.
    unsafe { view.as_ref() }.map_or(0, |v| v.inner.len())
}

/// The view's access, a [`shmkit_access`] value (-1 for NULL).
///
/// # Safety
///
/// `view` is NULL or a live view handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_access(view: *const shmkit_view) -> i32 {
    // SAFETY: the caller's promise.
    unsafe { view.as_ref() }.map_or(-1, |v| shmkit_access::from(v.inner.access()) as i32)
}

/// Copies `len` bytes at `offset` of the view into `buf`. The copy is made of atomic loads, so
/// a concurrent writer in another process gives a mix of old and new bytes, never UB.
/// `SHMKIT_SIZE_INVALID` if the range is not inside the view (`buf` untouched).
///
/// # Safety
///
/// `view` is a live view handle; `buf` has `len` writable bytes. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_read(
    view: *const shmkit_view,
    offset: usize,
    buf: *mut c_void,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (v, buf) = unsafe {
            (
                handle_ref(view, "view")?,
                bytes_mut_arg(buf.cast(), len, "buf")?,
            )
        };
        Ok(v.inner.read_at(offset, buf)?)
    })
}

/// Copies `len` bytes from `data` into the view at `offset` (atomic stores).
/// `SHMKIT_ACCESS_MISMATCH` on a read-only view, `SHMKIT_SIZE_INVALID` if the range is not
/// inside it; nothing is written then.
///
/// # Safety
///
/// `view` is a live view handle used by this thread alone; `data` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_write(
    view: *mut shmkit_view,
    offset: usize,
    data: *const c_void,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (v, data) = unsafe { (handle(view, "view")?, bytes_arg(data.cast(), len, "data")?) };
        Ok(v.inner.write_at(offset, data)?)
    })
}

/// Writes the view's changes back to its file and waits until they are on disk
/// (`msync(MS_SYNC)`, `FlushViewOfFile` + `FlushFileBuffers`). For a segment it is a no-op.
///
/// # Safety
///
/// `view` is a live view handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_flush(view: *const shmkit_view) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        Ok(unsafe { handle_ref(view, "view")? }.inner.flush()?)
    })
}

/// As [`shmkit_view_flush`], for `len` bytes from `offset` of the view.
///
/// # Safety
///
/// As [`shmkit_view_flush`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_view_flush_range(
    view: *const shmkit_view,
    offset: usize,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        Ok(unsafe { handle_ref(view, "view")? }
            .inner
            .flush_range(offset, len)?)
    })
}
