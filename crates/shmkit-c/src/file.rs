//! File mappings: `shmkit_file_*`, whose views are [`shmkit_view`]s flushed with
//! [`shmkit_view_flush`](crate::shmkit_view_flush).

use std::ffi::{c_char, CString};

use shmkit::FileMapping;

use crate::segment::{access_arg, shmkit_view, view_handle};
use crate::status::*;

/// Options of [`shmkit_file_create`], [`shmkit_file_open`] and [`shmkit_file_open_or_create`];
/// start from [`shmkit_file_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_file_options {
    /// Size in bytes: needed to create; when opening, the file must have at least this many
    /// (0: any size).
    pub size: usize,
    /// Open the file read-only (views may then be read-only or copy-on-write).
    pub read_only: bool,
}

/// The default file options: no size, read-write.
#[no_mangle]
pub extern "C" fn shmkit_file_options_default() -> shmkit_file_options {
    shmkit_file_options {
        size: 0,
        read_only: false,
    }
}

/// A file that can be mapped (`shmkit::FileMapping`).
pub struct shmkit_file {
    inner: FileMapping,
    path: CString,
}

#[derive(Clone, Copy)]
enum Verb {
    Create,
    Open,
    OpenOrCreate,
}

/// # Safety
///
/// As the entry points.
unsafe fn file_verb(
    path: *const c_char,
    opts: *const shmkit_file_options,
    out: *mut *mut shmkit_file,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises.
        let (path, o) = unsafe {
            (
                str_arg(path, "path")?,
                options_arg(opts, shmkit_file_options_default),
            )
        };
        let mut r = FileMapping::options();
        if o.size != 0 {
            r.size(o.size);
        }
        r.read_only(o.read_only);
        let inner = match verb {
            Verb::Create => r.create(path),
            Verb::Open => r.open(path),
            Verb::OpenOrCreate => r.open_or_create(path),
        }?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_file {
                    path: c_name(inner.path()),
                    inner,
                },
            )
        };
        Ok(())
    })
}

/// Creates the file at `path` with `opts->size` bytes (zeroed); `SHMKIT_ALREADY_EXISTS` if it
/// exists.
///
/// # Safety
///
/// `path` is a NUL-terminated UTF-8 string; `opts` is NULL or valid; `out` is writable. Close
/// the handle with [`shmkit_file_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_create(
    path: *const c_char,
    opts: *const shmkit_file_options,
    out: *mut *mut shmkit_file,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { file_verb(path, opts, out, Verb::Create) }
}

/// Opens the existing file at `path`; `SHMKIT_NOT_FOUND` if there is none.
///
/// # Safety
///
/// As [`shmkit_file_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_open(
    path: *const c_char,
    opts: *const shmkit_file_options,
    out: *mut *mut shmkit_file,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { file_verb(path, opts, out, Verb::Open) }
}

/// Opens the file at `path`, or creates it with `opts->size` bytes.
///
/// # Safety
///
/// As [`shmkit_file_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_open_or_create(
    path: *const c_char,
    opts: *const shmkit_file_options,
    out: *mut *mut shmkit_file,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { file_verb(path, opts, out, Verb::OpenOrCreate) }
}

/// Closes a file handle (NULL is ignored); its views stay valid. The file is never removed.
///
/// # Safety
///
/// `file` is NULL or a file handle not used again.
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_close(file: *mut shmkit_file) {
    // SAFETY: forwarded.
    unsafe { close(file) }
}

/// The file's path as given (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `file` is NULL or a live file handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_path(file: *const shmkit_file) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { file.as_ref() }.map_or(c"".as_ptr(), |f| f.path.as_ptr())
}

/// The file's size in bytes (0 for NULL).
///
/// # Safety
///
/// `file` is NULL or a live file handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_len(file: *const shmkit_file) -> usize {
    // SAFETY: the caller's promise.
    unsafe { file.as_ref() }.map_or(0, |f| f.inner.len())
}

/// Maps the whole file with `access`; flush a read-write view with
/// [`shmkit_view_flush`](crate::shmkit_view_flush).
///
/// # Safety
///
/// `file` is a live file handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_map(
    file: *const shmkit_file,
    access: i32,
    out: *mut *mut shmkit_view,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promise.
        let f = unsafe { handle_ref(file, "file")? };
        let v = f.inner.map(access_arg(access)?)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, view_handle(v)) };
        Ok(())
    })
}

/// Maps `len` bytes from `offset` of the file.
///
/// # Safety
///
/// As [`shmkit_file_map`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_file_map_range(
    file: *const shmkit_file,
    access: i32,
    offset: usize,
    len: usize,
    out: *mut *mut shmkit_view,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promise.
        let f = unsafe { handle_ref(file, "file")? };
        let v = f.inner.map_range(access_arg(access)?, offset, len)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, view_handle(v)) };
        Ok(())
    })
}
