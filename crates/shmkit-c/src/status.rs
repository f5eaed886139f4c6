//! Status codes, the thread's last error, and the helpers every entry point is built from:
//! [`run`] (errors and panics to a status), argument checks, out-parameters, timeouts.
//!
//! The only module besides the kinds' with `unsafe` code: every dereference of a pointer that
//! comes from C goes through the helpers here, each of which states what it trusts the caller
//! for.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use shmkit::Error;

/// What a call returns: `SHMKIT_OK`, or why it failed ([`shmkit_last_error`] says more).
///
/// The numbers are stable: a code is never renumbered or reused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_status {
    /// Success.
    SHMKIT_OK = 0,
    /// A `timeout_ns` of `SHMKIT_TRY` found nothing to do (no message, no room, no permit).
    SHMKIT_WOULD_BLOCK = 1,
    /// A positive `timeout_ns` ran out.
    SHMKIT_TIMEOUT = 2,
    /// No object of that name (it may not have been created yet).
    SHMKIT_NOT_FOUND = 3,
    /// `create` found an object of that name.
    SHMKIT_ALREADY_EXISTS = 4,
    /// The name is empty, too long, or has `/`, `\` or NUL; or is not UTF-8.
    SHMKIT_NAME_INVALID = 5,
    /// A size, length, count or offset is out of range.
    SHMKIT_SIZE_INVALID = 6,
    /// The OS refused access (mode bits).
    SHMKIT_ACCESS_DENIED = 7,
    /// A read-write view of an object opened read-only.
    SHMKIT_ACCESS_MISMATCH = 8,
    /// Not enough shared memory (a full `/dev/shm`).
    SHMKIT_NO_SPACE = 9,
    /// The object is not a valid shmkit object, or was damaged.
    SHMKIT_CORRUPT = 10,
    /// The object was made by a shmkit with another layout version.
    SHMKIT_VERSION_MISMATCH = 11,
    /// The object is another kind (a channel opened as a mutex, …).
    SHMKIT_KIND_MISMATCH = 12,
    /// The object carries another message type (size, alignment or tag).
    SHMKIT_LAYOUT_MISMATCH = 13,
    /// A mutex's owner died holding it: the lock is held now; repair, then mark consistent.
    SHMKIT_OWNER_DIED = 14,
    /// A mutex whose owner died was unlocked without being marked consistent.
    SHMKIT_UNRECOVERABLE = 15,
    /// This thread already holds the mutex.
    SHMKIT_DEADLOCK = 16,
    /// A limit is reached (subscribers, clients, outstanding requests, a full ring on `respond`).
    SHMKIT_FULL = 17,
    /// The request is not outstanding (answered, cancelled, or never made).
    SHMKIT_NOT_OUTSTANDING = 18,
    /// The other side is gone (its process ended or it closed).
    SHMKIT_DISCONNECTED = 19,
    /// A broadcast subscriber fell behind and lost messages ([`shmkit_last_error_value`]: how many).
    SHMKIT_LAGGED = 20,
    /// The role is held by a live process ([`shmkit_last_error_value`]: its recorded pid, for display).
    SHMKIT_IN_USE = 21,
    /// Not supported on this OS.
    SHMKIT_UNSUPPORTED = 22,
    /// Another OS error ([`shmkit_last_error_os`]: its code).
    SHMKIT_IO = 23,
    /// A misused call: a NULL handle or pointer, a string that is not UTF-8, a call out of
    /// order (`commit` without a loan, `release` without a message).
    SHMKIT_INVALID_ARGUMENT = 24,
    /// A bug in shmkit: a panic, caught before it reached C. Please report it.
    SHMKIT_PANIC = 25,
    /// An error this version of the C API has no code for (the message says what).
    SHMKIT_OTHER = 26,
}

/// Wait without a limit (any negative `timeout_ns` does).
pub const SHMKIT_FOREVER: i64 = -1;
/// Do not wait: fail with `SHMKIT_WOULD_BLOCK` at once.
pub const SHMKIT_TRY: i64 = 0;

/// The thread's last failure: the message (NUL-terminated), its number, its OS code.
struct Last {
    message: CString,
    value: u64,
    os: i32,
}

thread_local! {
    static LAST: RefCell<Last> = RefCell::new(Last { message: CString::default(), value: 0, os: 0 });
}

/// Why a call failed: the library's error, or a misuse of the C API.
///
/// Boxed, so that an [`Outcome`] is one or two machine words, returned in registers: every
/// entry point's result passes through a few of them, on every message's path, and the
/// unboxed error (the library's `Error`, several words) made each of those moves a copy
/// through memory. A failure allocates; success never does.
pub(crate) struct Failure(Box<Fault>);

/// What [`Failure`] holds.
pub(crate) enum Fault {
    Shmkit(Error),
    Misuse(String),
}

impl From<Error> for Failure {
    #[cold]
    fn from(e: Error) -> Self {
        Failure(Box::new(Fault::Shmkit(e)))
    }
}

/// Shorthand for a misuse.
#[cold]
pub(crate) fn misuse(message: impl Into<String>) -> Failure {
    Failure(Box::new(Fault::Misuse(message.into())))
}

/// A failure built only on the failing path, out of line: `f` makes it. For the checks on
/// every message's path (`recv`, `release`, `loan`, `commit`), so that the path itself is a
/// test and a branch, with no message's arguments prepared and no stack frame set up for
/// them.
#[cold]
#[inline(never)]
pub(crate) fn fail_with<E: Into<Failure>>(f: impl FnOnce() -> E) -> Failure {
    f().into()
}

/// The result of an entry point's body.
pub(crate) type Outcome<T = ()> = std::result::Result<T, Failure>;

/// The status code of an error, and the number it carries.
fn code(e: &Error) -> (shmkit_status, u64, i32) {
    use shmkit_status::*;
    match e {
        Error::NameInvalid { .. } => (SHMKIT_NAME_INVALID, 0, 0),
        Error::NotFound { .. } => (SHMKIT_NOT_FOUND, 0, 0),
        Error::AlreadyExists { .. } => (SHMKIT_ALREADY_EXISTS, 0, 0),
        Error::AccessDenied { .. } => (SHMKIT_ACCESS_DENIED, 0, 0),
        Error::AccessMismatch { .. } => (SHMKIT_ACCESS_MISMATCH, 0, 0),
        Error::SizeInvalid { .. } => (SHMKIT_SIZE_INVALID, 0, 0),
        Error::NoSpace { .. } => (SHMKIT_NO_SPACE, 0, 0),
        Error::Corrupt { .. } => (SHMKIT_CORRUPT, 0, 0),
        Error::VersionMismatch { found, .. } => (SHMKIT_VERSION_MISMATCH, u64::from(*found), 0),
        Error::KindMismatch { .. } => (SHMKIT_KIND_MISMATCH, 0, 0),
        Error::LayoutMismatch { .. } => (SHMKIT_LAYOUT_MISMATCH, 0, 0),
        Error::Timeout { .. } => (SHMKIT_TIMEOUT, 0, 0),
        Error::WouldBlock { .. } => (SHMKIT_WOULD_BLOCK, 0, 0),
        Error::OwnerDied { .. } => (SHMKIT_OWNER_DIED, 0, 0),
        Error::Unrecoverable { .. } => (SHMKIT_UNRECOVERABLE, 0, 0),
        Error::Deadlock { .. } => (SHMKIT_DEADLOCK, 0, 0),
        Error::Full { max, .. } => (SHMKIT_FULL, *max as u64, 0),
        Error::NotOutstanding { id, .. } => (SHMKIT_NOT_OUTSTANDING, *id, 0),
        Error::Disconnected { .. } => (SHMKIT_DISCONNECTED, 0, 0),
        Error::Lagged { missed, .. } => (SHMKIT_LAGGED, *missed, 0),
        Error::InUse { pid, .. } => (SHMKIT_IN_USE, u64::from(*pid), 0),
        Error::Unsupported { .. } => (SHMKIT_UNSUPPORTED, 0, 0),
        Error::Io { source, .. } => (SHMKIT_IO, 0, source.raw_os_error().unwrap_or(0)),
        _ => (SHMKIT_OTHER, 0, 0),
    }
}

fn remember(message: String, value: u64, os: i32) {
    // A message with an interior NUL (a name cannot have one; an OS message might) is cut there.
    let message = CString::new(message).unwrap_or_else(|e| {
        let n = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(n);
        CString::new(bytes).unwrap_or_default()
    });
    LAST.with(|l| *l.borrow_mut() = Last { message, value, os });
}

/// Records a failure as the thread's last error and returns its status.
#[cold]
pub(crate) fn fail(f: Failure) -> shmkit_status {
    match *f.0 {
        Fault::Shmkit(e) => {
            let (status, value, os) = code(&e);
            remember(e.to_string(), value, os);
            status
        }
        Fault::Misuse(m) => {
            remember(m, 0, 0);
            shmkit_status::SHMKIT_INVALID_ARGUMENT
        }
    }
}

/// Runs an entry point's body: its error becomes a status and the thread's last error; a
/// panic is caught (it must not unwind into C) and becomes `SHMKIT_PANIC`.
#[inline]
pub(crate) fn run(body: impl FnOnce() -> Outcome) -> shmkit_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => shmkit_status::SHMKIT_OK,
        Ok(Err(f)) => fail(f),
        Err(panic) => panicked(panic),
    }
}

/// What a caught panic becomes: `SHMKIT_PANIC`, its message remembered. Out of line, off
/// every call's path.
#[cold]
#[inline(never)]
fn panicked(panic: Box<dyn std::any::Any + Send>) -> shmkit_status {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    remember(
        format!("internal error in shmkit (please report): {what}"),
        0,
        0,
    );
    shmkit_status::SHMKIT_PANIC
}

/// Runs a body that returns a plain value (an accessor), with `fallback` on a panic.
pub(crate) fn run_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The message of the calling thread's last failed call: what failed, with the object's name.
///
/// Never NULL (an empty string before any failure). Valid until the next shmkit call on this
/// thread; copy it to keep it. Thread safety: each thread has its own.
#[no_mangle]
pub extern "C" fn shmkit_last_error() -> *const c_char {
    run_value(c"".as_ptr(), || LAST.with(|l| l.borrow().message.as_ptr()))
}

/// The number the calling thread's last error carries: messages missed (`SHMKIT_LAGGED`), the
/// holder's recorded pid (`SHMKIT_IN_USE`, display only), the limit (`SHMKIT_FULL`), the
/// request id (`SHMKIT_NOT_OUTSTANDING`), the version found (`SHMKIT_VERSION_MISMATCH`); 0
/// otherwise.
#[no_mangle]
pub extern "C" fn shmkit_last_error_value() -> u64 {
    run_value(0, || LAST.with(|l| l.borrow().value))
}

/// The OS error code (`errno`, or Windows' `GetLastError`) of the calling thread's last
/// `SHMKIT_IO` error; 0 otherwise.
#[no_mangle]
pub extern "C" fn shmkit_last_error_os() -> i32 {
    run_value(0, || LAST.with(|l| l.borrow().os))
}

/// A status code's name (`"SHMKIT_TIMEOUT"`), a static string; `"SHMKIT_UNKNOWN"` for a
/// number that is not a code.
#[no_mangle]
pub extern "C" fn shmkit_status_name(status: i32) -> *const c_char {
    use shmkit_status::*;
    const ALL: [(shmkit_status, &CStr); 27] = [
        (SHMKIT_OK, c"SHMKIT_OK"),
        (SHMKIT_WOULD_BLOCK, c"SHMKIT_WOULD_BLOCK"),
        (SHMKIT_TIMEOUT, c"SHMKIT_TIMEOUT"),
        (SHMKIT_NOT_FOUND, c"SHMKIT_NOT_FOUND"),
        (SHMKIT_ALREADY_EXISTS, c"SHMKIT_ALREADY_EXISTS"),
        (SHMKIT_NAME_INVALID, c"SHMKIT_NAME_INVALID"),
        (SHMKIT_SIZE_INVALID, c"SHMKIT_SIZE_INVALID"),
        (SHMKIT_ACCESS_DENIED, c"SHMKIT_ACCESS_DENIED"),
        (SHMKIT_ACCESS_MISMATCH, c"SHMKIT_ACCESS_MISMATCH"),
        (SHMKIT_NO_SPACE, c"SHMKIT_NO_SPACE"),
        (SHMKIT_CORRUPT, c"SHMKIT_CORRUPT"),
        (SHMKIT_VERSION_MISMATCH, c"SHMKIT_VERSION_MISMATCH"),
        (SHMKIT_KIND_MISMATCH, c"SHMKIT_KIND_MISMATCH"),
        (SHMKIT_LAYOUT_MISMATCH, c"SHMKIT_LAYOUT_MISMATCH"),
        (SHMKIT_OWNER_DIED, c"SHMKIT_OWNER_DIED"),
        (SHMKIT_UNRECOVERABLE, c"SHMKIT_UNRECOVERABLE"),
        (SHMKIT_DEADLOCK, c"SHMKIT_DEADLOCK"),
        (SHMKIT_FULL, c"SHMKIT_FULL"),
        (SHMKIT_NOT_OUTSTANDING, c"SHMKIT_NOT_OUTSTANDING"),
        (SHMKIT_DISCONNECTED, c"SHMKIT_DISCONNECTED"),
        (SHMKIT_LAGGED, c"SHMKIT_LAGGED"),
        (SHMKIT_IN_USE, c"SHMKIT_IN_USE"),
        (SHMKIT_UNSUPPORTED, c"SHMKIT_UNSUPPORTED"),
        (SHMKIT_IO, c"SHMKIT_IO"),
        (SHMKIT_INVALID_ARGUMENT, c"SHMKIT_INVALID_ARGUMENT"),
        (SHMKIT_PANIC, c"SHMKIT_PANIC"),
        (SHMKIT_OTHER, c"SHMKIT_OTHER"),
    ];
    ALL.iter()
        .find(|(s, _)| *s as i32 == status)
        .map_or(c"SHMKIT_UNKNOWN".as_ptr(), |(_, n)| n.as_ptr())
}

/// How long a call may wait, from its `timeout_ns`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    Forever,
    Try,
    Within(Duration),
}

/// The wait a `timeout_ns` asks for: negative forever, 0 try, positive a timeout.
#[inline]
pub(crate) fn wait(timeout_ns: i64) -> Wait {
    match timeout_ns {
        t if t < 0 => Wait::Forever,
        0 => Wait::Try,
        t => Wait::Within(Duration::from_nanos(t as u64)),
    }
}

/// The deadline a `timeout_ns` asks for, as [`wait`] reads it.
#[inline]
pub(crate) fn deadline(timeout_ns: i64) -> shmkit::Deadline {
    match wait(timeout_ns) {
        Wait::Forever => shmkit::Deadline::Forever,
        Wait::Try => shmkit::Deadline::Try,
        Wait::Within(d) => shmkit::Deadline::after(d),
    }
}

/// An `open_timeout_ns` option: negative waits forever (a very long timeout), 0 not at all.
pub(crate) fn open_timeout(ns: i64) -> Duration {
    match wait(ns) {
        Wait::Forever => Duration::from_secs(u64::MAX / 4),
        Wait::Try => Duration::ZERO,
        Wait::Within(d) => d,
    }
}

/// A string argument.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Outcome<&'a str> {
    if p.is_null() {
        return Err(misuse(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string living for 'a.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| misuse(format!("{what} {s:?} is not UTF-8")))
}

/// A handle argument, borrowed for the call.
///
/// # Safety
///
/// `p` is NULL or a handle of type `T` returned by this library and not yet closed, which no
/// other thread uses during the call.
#[inline]
pub(crate) unsafe fn handle<'a, T>(p: *mut T, what: &'static str) -> Outcome<&'a mut T> {
    // SAFETY: the caller promises a live handle used by this thread alone.
    match unsafe { p.as_mut() } {
        Some(h) => Ok(h),
        None => Err(null_handle(what)),
    }
}

/// The error of a NULL handle. Out of line, so that the checks on every call's path (this
/// one, [`handle_ref`], [`Out::new`]) are a test and a branch, with no message's arguments
/// prepared before it.
#[cold]
#[inline(never)]
fn null_handle(what: &'static str) -> Failure {
    misuse(format!("the {what} handle is NULL"))
}

/// A handle argument that is only read (functions documented as callable from any thread).
///
/// # Safety
///
/// `p` is NULL or a live handle of type `T` returned by this library.
#[inline]
pub(crate) unsafe fn handle_ref<'a, T>(p: *const T, what: &'static str) -> Outcome<&'a T> {
    // SAFETY: the caller promises a live handle.
    match unsafe { p.as_ref() } {
        Some(h) => Ok(h),
        None => Err(null_handle(what)),
    }
}

/// An out-parameter, checked before any work is done so that a NULL one creates nothing.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `p`.
    #[inline]
    pub(crate) fn new(p: *mut T, what: &'static str) -> Outcome<Out<T>> {
        if p.is_null() {
            Err(null_out(what))
        } else {
            Ok(Out(p))
        }
    }

    /// Writes the result.
    ///
    /// # Safety
    ///
    /// The pointer given to [`Out::new`] is valid for a write of `T` (the caller's promise).
    #[inline]
    pub(crate) unsafe fn put(self, value: T) {
        // SAFETY: non-NULL (checked by `new`) and writable (the caller's promise).
        unsafe { self.0.write(value) }
    }
}

/// The error of a NULL out-parameter (out of line, as [`null_handle`]).
#[cold]
#[inline(never)]
fn null_out(what: &'static str) -> Failure {
    misuse(format!("the out-parameter {what} is NULL"))
}

/// Writes a new handle to an out-parameter.
///
/// # Safety
///
/// As [`Out::put`].
pub(crate) unsafe fn put_handle<T>(out: Out<*mut T>, value: T) {
    // SAFETY: forwarded to the caller.
    unsafe { out.put(Box::into_raw(Box::new(value))) }
}

/// Closes a handle: drops what [`put_handle`] boxed. NULL is ignored.
///
/// # Safety
///
/// `p` is NULL or a handle of type `T` from this library that is not used again.
pub(crate) unsafe fn close<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: the caller gives back a pointer made by `Box::into_raw` in `put_handle`.
        let b = unsafe { Box::from_raw(p) };
        // A panic in a destructor must not unwind into C either.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(b)));
    }
}

/// A byte range argument (`data`, `len`); NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `data` points to `len` readable bytes that stay valid for `'a`, or `len` is 0.
pub(crate) unsafe fn bytes_arg<'a>(data: *const u8, len: usize, what: &str) -> Outcome<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(misuse(format!("{what} is NULL with a length of {len}")));
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A writable byte range argument (`buf`, `len`); NULL is allowed when `len` is 0.
///
/// # Safety
///
/// `buf` points to `len` writable bytes that nothing else uses during the call, or `len` is 0.
pub(crate) unsafe fn bytes_mut_arg<'a>(
    buf: *mut u8,
    len: usize,
    what: &str,
) -> Outcome<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(misuse(format!("{what} is NULL with a length of {len}")));
    }
    // SAFETY: non-NULL, and the caller promises `len` writable bytes used by nothing else.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, len) })
}

/// An options argument: a copy of `*p`, or `default()` for NULL.
///
/// # Safety
///
/// `p` is NULL or points to a valid `T`.
pub(crate) unsafe fn options_arg<T: Copy>(p: *const T, default: extern "C" fn() -> T) -> T {
    // SAFETY: the caller promises NULL or a valid `T`.
    unsafe { p.as_ref() }.copied().unwrap_or_else(|| default())
}

/// A name kept as a C string for `shmkit_*_name` accessors.
pub(crate) fn c_name(name: &str) -> CString {
    CString::new(name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_name() {
        for n in 0..=26 {
            // SAFETY: shmkit_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(shmkit_status_name(n)) };
            assert_ne!(name.to_str().unwrap(), "SHMKIT_UNKNOWN", "code {n}");
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(shmkit_status_name(27)) };
        assert_eq!(unknown.to_str().unwrap(), "SHMKIT_UNKNOWN");
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let s = run(|| panic!("boom"));
        assert_eq!(s, shmkit_status::SHMKIT_PANIC);
        // SAFETY: shmkit_last_error returns a NUL-terminated string valid until the next call.
        let m = unsafe { CStr::from_ptr(shmkit_last_error()) };
        assert!(m.to_str().unwrap().contains("boom"));
    }
}
