//! Looking at objects from the outside (`shmkit::inspect`): `shmkit_inspect`, `shmkit_list`,
//! `shmkit_remove`, `shmkit_remove_unused`, and `shmkit_string_free` for the JSON strings
//! they return.
//!
//! The JSON is the library's one definition (`shmkit::inspect::Info`'s `Serialize`): what
//! `shmkit info --json` prints less its `schema` field, field for field what Python's
//! `shmkit.inspect()` returns. Inspection only reads: it joins no role and changes nothing.

use std::ffi::{c_char, CString};

use shmkit::inspect::{self, Info, Removal};

use crate::status::*;

/// What [`shmkit_remove_unused`] did.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_removal {
    /// The name is gone.
    SHMKIT_REMOVAL_REMOVED = 0,
    /// Some process has the object open (or it is of another layout version, whose users
    /// cannot be told, or the name was given to a new object meanwhile): left alone.
    SHMKIT_REMOVAL_IN_USE = 1,
    /// Not a shmkit object (raw bytes, or another program's): left alone.
    SHMKIT_REMOVAL_NOT_SHMKIT = 2,
}

/// `value` as JSON, in a string for C to free with [`shmkit_string_free`].
fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> Outcome<*mut c_char> {
    let json =
        serde_json::to_string(value).map_err(|e| misuse(format!("cannot write the JSON: {e}")))?;
    // JSON escapes control characters, so it has no NUL.
    let c = CString::new(json).map_err(|_| misuse("the JSON has a NUL byte"))?;
    Ok(c.into_raw())
}

/// What `name` is and who uses it, as a JSON object in `*json_out`: `name`, `size`, `kind`
/// (`"raw"`, `"mutex"`, `"event"`, `"semaphore"`, `"shared_value"`, `"channel"`,
/// `"broadcast_channel"`, `"service"`), `layout_version`, `creator_pid`, `creator_alive`,
/// `in_use`, `holders` (`[{"role", "pid"}]`), `owner_uid`, `mode` (octal string, `"600"`),
/// `modified` (RFC 3339, UTC), `age_seconds`, `details` (the object's shape and counters,
/// an object whose own `kind` says which fields follow: a mutex's `state`, an event's
/// `manual_reset`/`set`/`waiters`, a semaphore's `count`/`max`/`waiters`, a channel's fill,
/// ...; the shmkit CLI README lists every field), `details_error`. Unknown facts are `null`.
/// `SHMKIT_NOT_FOUND`, `SHMKIT_NAME_INVALID`, `SHMKIT_ACCESS_DENIED` as for opening.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `json_out` is writable. On success `*json_out` is a
/// NUL-terminated UTF-8 string owned by the caller: free it with [`shmkit_string_free`].
/// Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_inspect(
    name: *const c_char,
    json_out: *mut *mut c_char,
) -> shmkit_status {
    run(|| {
        let out = Out::new(json_out, "json_out")?;
        // SAFETY: the caller's promise.
        let name = unsafe { str_arg(name, "name")? };
        let json = json_string(&inspect::inspect(name)?)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(json) };
        Ok(())
    })
}

/// The segments on this machine that the OS can list (Linux: `/dev/shm`; Windows: those
/// shmkit created), sorted by name, as a JSON array of [`shmkit_inspect`] objects in
/// `*json_out` (the `segments` of `shmkit ls --json`). Segments this process may not open,
/// or that vanish meanwhile, are left out, and so are glibc's `sem.*` semaphores unless
/// `all`. `SHMKIT_UNSUPPORTED` on macOS, which cannot enumerate them.
///
/// # Safety
///
/// `json_out` is writable. On success `*json_out` is owned by the caller: free it with
/// [`shmkit_string_free`]. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_list(all: bool, json_out: *mut *mut c_char) -> shmkit_status {
    run(|| {
        let out = Out::new(json_out, "json_out")?;
        let infos: Vec<Info> = inspect::list()?
            .iter()
            .filter(|n| all || !n.starts_with("sem."))
            .filter_map(|n| inspect::inspect(n).ok())
            .collect();
        let json = json_string(&infos)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(json) };
        Ok(())
    })
}

/// Removes the name `name`, whatever it names (a raw segment or any shmkit object, which are
/// segments too); processes that have it open keep it. `SHMKIT_NOT_FOUND` if there is none.
/// Prefer [`shmkit_remove_unused`], which leaves an object in use alone. On Windows, where
/// names cannot be removed, this succeeds and does nothing.
///
/// # Safety
///
/// `name` is a NUL-terminated string. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_remove(name: *const c_char) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let name = unsafe { str_arg(name, "name")? };
        Ok(shmkit::Segment::remove(name)?)
    })
}

/// Removes the shmkit object `name` if no process has it open (what `shmkit gc` does), the
/// test and the removal in one step; `*removal_out` says what happened (a raw segment is
/// never removed). `SHMKIT_NOT_FOUND`, `SHMKIT_ACCESS_DENIED` as for opening;
/// `SHMKIT_UNSUPPORTED` on macOS, which cannot tell whether an object is in use. On Windows
/// an object that can be opened is in use: `SHMKIT_REMOVAL_IN_USE` always.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `removal_out` is writable. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_remove_unused(
    name: *const c_char,
    removal_out: *mut shmkit_removal,
) -> shmkit_status {
    run(|| {
        let out = Out::new(removal_out, "removal_out")?;
        // SAFETY: the caller's promise.
        let name = unsafe { str_arg(name, "name")? };
        let r = match inspect::remove_unused(name)? {
            Removal::Removed => shmkit_removal::SHMKIT_REMOVAL_REMOVED,
            Removal::NotShmkit => shmkit_removal::SHMKIT_REMOVAL_NOT_SHMKIT,
            // And any outcome a later library adds: the name was left alone.
            _ => shmkit_removal::SHMKIT_REMOVAL_IN_USE,
        };
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(r) };
        Ok(())
    })
}

/// Frees a string that shmkit returned to the caller ([`shmkit_inspect`], [`shmkit_list`]).
/// NULL is ignored.
///
/// # Safety
///
/// `s` is NULL or a string returned by one of those calls, not freed yet and not used again.
/// Never pass strings from `shmkit_*_name` or `shmkit_last_error`, which their owners keep.
#[no_mangle]
pub unsafe extern "C" fn shmkit_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller gives back a pointer made by `CString::into_raw` in `json_string`.
        drop(unsafe { CString::from_raw(s) });
    }
}
