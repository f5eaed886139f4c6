//! Process-shared synchronisation: `shmkit_mutex_*`, `shmkit_event_*`, `shmkit_semaphore_*`
//! (`shmkit::sync`).
//!
//! Each is a named segment with a versioned header, so opening the wrong thing (another kind,
//! a raw segment, a damaged or future object) is a typed error: `SHMKIT_KIND_MISMATCH`,
//! `SHMKIT_CORRUPT`, `SHMKIT_VERSION_MISMATCH`.
//!
//! # The mutex and its owner-died repair
//!
//! Rust's `lock()` returns a guard; here the guard lives inside the mutex handle:
//! [`shmkit_mutex_lock`] takes the lock into the handle and [`shmkit_mutex_unlock`] gives it
//! back. When the previous holder died holding it, `shmkit_mutex_lock` returns
//! `SHMKIT_OWNER_DIED` **with the lock held**: repair what the mutex protects, call
//! [`shmkit_mutex_make_consistent`], then [`shmkit_mutex_unlock`]. Unlocking without marking
//! it consistent makes the mutex `SHMKIT_UNRECOVERABLE` for everyone (broken state is never
//! handed on silently); a holder that cannot repair calls [`shmkit_mutex_unlock_unrepaired`]
//! instead, and the next locker gets `SHMKIT_OWNER_DIED` in turn. Exactly Rust's
//! `MutexGuard::make_consistent`, drop, and `unlock_unrepaired`.
//!
//! The thread that locked must unlock (every OS requires it): `unlock`, `make_consistent`
//! and `unlock_unrepaired` from another thread are `SHMKIT_INVALID_ARGUMENT`. A handle holds
//! the lock for one thread at a time; threads that lock concurrently each open their own
//! handle (as they would each hold their own guard in Rust). Closing a handle that holds the
//! lock unlocks it, as dropping a guard does (so after an unrepaired owner death it makes the
//! mutex unrecoverable); closed from another thread than the locker, the lock cannot be
//! released and is leaked with the handle's mapping, as Rust does for a leaked guard (the
//! OS reports an owner death to the next locker once the locking thread ends).
//!
//! # Shared values
//!
//! Rust's `Shared<T>` (a value beside its lock in one segment) is not offered yet: it is
//! generic over a Rust `Pod` type fixed at compile time; its byte form `SharedBytes` (size,
//! alignment and tag given at run time, which the Python binding uses) is what a C binding
//! would wrap. Meanwhile a C program puts a
//! [`shmkit_mutex`] beside a segment ([`crate::shmkit_segment_create`]) and reads and writes
//! the segment while holding the mutex: the same guarantee (owner death reported, repair,
//! unrecoverable) with the layout agreed by the programs.
//!
//! # What a hostile peer can do
//!
//! Anyone who can open one of these objects can hold a mutex forever, set, reset or drain
//! events and semaphores: denial of service. On Linux a mutex's `pthread_mutex_t` lives in
//! the segment and holds glibc's robust-list pointers: share a mutex only with processes you
//! would trust with your own memory (the Rust docs of `shmkit::sync`, "Trust"). Events and
//! semaphores keep only counters in the segment.

use std::ffi::{c_char, CString};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::thread::{self, ThreadId};

use shmkit::sync::{Event, LockError, Mutex, MutexGuard, Reset, Semaphore};
use shmkit::Error;

use crate::status::*;

#[derive(Clone, Copy)]
enum Verb {
    Create,
    Open,
    OpenOrCreate,
}

/// The creation setters every sync options builder has, from the C fields.
macro_rules! creation {
    ($r:expr, $o:expr) => {{
        $r.mode($o.mode)
            .keep($o.keep)
            .open_timeout(open_timeout($o.open_timeout_ns));
    }};
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

/// Options of [`shmkit_mutex_create`], [`shmkit_mutex_open`] and
/// [`shmkit_mutex_open_or_create`]; start from [`shmkit_mutex_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_mutex_options {
    /// Unix permission bits of a new mutex's segment (default 0600), applied exactly. Ignored
    /// on Windows.
    pub mode: u32,
    /// The creator leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// How long `open` waits for the mutex to appear: 0 not at all (default), negative forever.
    pub open_timeout_ns: i64,
}

/// The default mutex options: mode 0600, the creator removes the name, no wait on open.
#[no_mangle]
pub extern "C" fn shmkit_mutex_options_default() -> shmkit_mutex_options {
    shmkit_mutex_options {
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
    }
}

/// The lock a handle holds: the guard, and the thread that took it (which alone may end it).
struct Held {
    guard: ManuallyDrop<MutexGuard<'static>>,
    thread: ThreadId,
}

impl Held {
    fn mine(&self) -> bool {
        self.thread == thread::current().id()
    }
}

/// A named, robust mutex (`shmkit::sync::Mutex`), and the lock when this handle holds it.
pub struct shmkit_mutex {
    /// The lock, if held. Its guard borrows `*mutex`; it is ended (or leaked) before `mutex`
    /// is freed (`Drop`).
    held: Option<Held>,
    /// Made by `Box::into_raw`, freed by `Drop`: a raw pointer, not a `Box`, so that taking
    /// `&mut shmkit_mutex` never asserts unique access to the `Mutex` a guard borrows. Only
    /// shared references to it are ever made.
    mutex: NonNull<Mutex>,
    name: CString,
}

impl shmkit_mutex {
    fn new(m: Mutex) -> shmkit_mutex {
        shmkit_mutex {
            held: None,
            name: c_name(m.name()),
            mutex: NonNull::from(Box::leak(Box::new(m))),
        }
    }

    fn mutex(&self) -> &Mutex {
        // SAFETY: `mutex` came from `Box::leak` in `new` and is freed only in `Drop`; only
        // shared references to it exist.
        unsafe { self.mutex.as_ref() }
    }

    fn name(&self) -> &str {
        self.mutex().name()
    }

    /// The lock, held by the calling thread, for `what`.
    fn held_mine(&mut self, what: &str) -> Outcome<&mut Held> {
        let name = self.name().to_owned();
        match &mut self.held {
            Some(h) if h.mine() => Ok(h),
            Some(_) => Err(misuse(format!(
                "{what} of mutex {name:?} from a thread that did not lock it (the locking thread must)"
            ))),
            None => Err(misuse(format!(
                "{what} of mutex {name:?}, which this handle does not hold"
            ))),
        }
    }
}

impl Drop for shmkit_mutex {
    fn drop(&mut self) {
        if let Some(mut h) = self.held.take() {
            if h.mine() {
                // SAFETY: taken once, never used again.
                drop(unsafe { ManuallyDrop::take(&mut h.guard) });
            }
            // Else leaked: only the locking thread may unlock. The Mutex then leaks its
            // mapping (shmkit's answer to a leaked guard), so nothing dangles.
        }
        // SAFETY: from `Box::leak` in `new`; the guard that borrowed it is gone (dropped or
        // leaked above, and a leaked guard is never used), so no reference to it remains.
        drop(unsafe { Box::from_raw(self.mutex.as_ptr()) });
    }
}

/// # Safety
///
/// As the entry points.
unsafe fn mutex_verb(
    name: *const c_char,
    opts: *const shmkit_mutex_options,
    out: *mut *mut shmkit_mutex,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises.
        let (name, o) = unsafe {
            (
                str_arg(name, "name")?,
                options_arg(opts, shmkit_mutex_options_default),
            )
        };
        let mut r = Mutex::options();
        creation!(r, o);
        let m = match verb {
            Verb::Create => r.create(name),
            Verb::Open => r.open(name),
            Verb::OpenOrCreate => r.open_or_create(name),
        }?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, shmkit_mutex::new(m)) };
        Ok(())
    })
}

/// Creates the mutex `name`, unlocked; `SHMKIT_ALREADY_EXISTS` if the name is taken.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid; `out` is writable. On success
/// `*out` is a handle to close with [`shmkit_mutex_close`]. Thread safety: see
/// [`shmkit_mutex_lock`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_create(
    name: *const c_char,
    opts: *const shmkit_mutex_options,
    out: *mut *mut shmkit_mutex,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { mutex_verb(name, opts, out, Verb::Create) }
}

/// Opens the existing mutex `name` (waiting up to `opts->open_timeout_ns` for it to appear):
/// `SHMKIT_NOT_FOUND`, `SHMKIT_KIND_MISMATCH` for another kind of object, `SHMKIT_CORRUPT` /
/// `SHMKIT_VERSION_MISMATCH` for a segment that is not a valid mutex of this version.
///
/// # Safety
///
/// As [`shmkit_mutex_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_open(
    name: *const c_char,
    opts: *const shmkit_mutex_options,
    out: *mut *mut shmkit_mutex,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { mutex_verb(name, opts, out, Verb::Open) }
}

/// Opens the mutex `name` if it exists, else creates it; two processes racing here get one
/// mutex. [`shmkit_mutex_is_creator`] tells which happened.
///
/// # Safety
///
/// As [`shmkit_mutex_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_open_or_create(
    name: *const c_char,
    opts: *const shmkit_mutex_options,
    out: *mut *mut shmkit_mutex,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { mutex_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Closes a mutex handle (NULL is ignored); the creator removes the name unless `keep`. If
/// the handle holds the lock it is unlocked first, as [`shmkit_mutex_unlock`] does (so an
/// unrepaired owner death makes the mutex unrecoverable); closed from a thread other than
/// the one that locked, the lock stays held and the handle's mapping is leaked (see the
/// module docs).
///
/// # Safety
///
/// `m` is NULL or a mutex handle not used again.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_close(m: *mut shmkit_mutex) {
    // SAFETY: forwarded.
    unsafe { close(m) }
}

/// Locks the mutex into this handle, waiting as `timeout_ns` says.
///
/// * `SHMKIT_OK`: held; end it with [`shmkit_mutex_unlock`].
/// * `SHMKIT_OWNER_DIED`: **held**, and the previous holder died holding it: repair what it
///   protects, [`shmkit_mutex_make_consistent`], then [`shmkit_mutex_unlock`] (or
///   [`shmkit_mutex_unlock_unrepaired`] to leave the repair to the next holder).
/// * Not held: `SHMKIT_WOULD_BLOCK` (`SHMKIT_TRY`), `SHMKIT_TIMEOUT`, `SHMKIT_UNRECOVERABLE`
///   (an earlier holder unlocked an owner death unrepaired), `SHMKIT_DEADLOCK` (this thread
///   holds it already, through this handle or another; through another, a `SHMKIT_TRY` on
///   Linux says `SHMKIT_WOULD_BLOCK` instead, as `pthread_mutex_trylock` does),
///   `SHMKIT_INVALID_ARGUMENT` if another thread holds it through this handle.
///
/// # Safety
///
/// `m` is a live mutex handle. Thread safety: a handle is used by one thread at a time, and
/// holds the lock for one thread: give each thread that locks its own handle.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_lock(m: *mut shmkit_mutex, timeout_ns: i64) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let h = unsafe { handle(m, "mutex")? };
        if let Some(held) = &h.held {
            if held.mine() {
                return Err(Error::Deadlock {
                    name: h.name().to_owned(),
                }
                .into());
            }
            return Err(misuse(format!(
                "lock of mutex {:?}, which this handle holds for another thread (give each thread its own handle)",
                h.name()
            )));
        }
        // SAFETY: the guard borrows the Mutex behind `h.mutex`, which stays where it is (it is
        // boxed apart from the handle) and is freed only by the handle's `Drop`, after the
        // guard is dropped or leaked; the 'static lifetime never leaves `Held`, and nothing
        // makes a `&mut Mutex` while it exists (only shared references are made).
        let mutex: &'static Mutex = unsafe { &*h.mutex.as_ptr() };
        let r = match wait(timeout_ns) {
            Wait::Forever => mutex.lock(),
            Wait::Try => mutex.try_lock(),
            Wait::Within(d) => mutex.lock_timeout(d),
        };
        let (guard, died) = match r {
            Ok(g) => (g, false),
            Err(LockError::OwnerDied(g)) => (g, true),
            Err(LockError::Other(e)) => return Err(e.into()),
        };
        h.held = Some(Held {
            guard: ManuallyDrop::new(guard),
            thread: thread::current().id(),
        });
        if died {
            return Err(Error::OwnerDied {
                name: h.name().to_owned(),
            }
            .into());
        }
        Ok(())
    })
}

/// Unlocks. After an owner death not marked repaired with [`shmkit_mutex_make_consistent`],
/// this makes the mutex `SHMKIT_UNRECOVERABLE` for everyone (see
/// [`shmkit_mutex_unlock_unrepaired`]). `SHMKIT_INVALID_ARGUMENT` if this handle does not
/// hold the lock, or the calling thread is not the one that locked.
///
/// # Safety
///
/// `m` is a live mutex handle, used by this thread alone.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_unlock(m: *mut shmkit_mutex) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let h = unsafe { handle(m, "mutex")? };
        h.held_mine("unlock")?;
        if let Some(mut held) = h.held.take() {
            // SAFETY: taken once; `held` is dropped right after.
            drop(unsafe { ManuallyDrop::take(&mut held.guard) });
        }
        Ok(())
    })
}

/// Declares what the mutex protects repaired after an owner death (the lock stays held); a
/// no-op when there was none. `SHMKIT_INVALID_ARGUMENT` as for [`shmkit_mutex_unlock`].
///
/// # Safety
///
/// As [`shmkit_mutex_unlock`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_make_consistent(m: *mut shmkit_mutex) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let h = unsafe { handle(m, "mutex")? };
        h.held_mine("make_consistent")?.guard.make_consistent();
        Ok(())
    })
}

/// Unlocks without repairing after an owner death: the next holder gets `SHMKIT_OWNER_DIED`
/// in turn (instead of the mutex becoming unrecoverable). A plain unlock otherwise.
/// `SHMKIT_INVALID_ARGUMENT` as for [`shmkit_mutex_unlock`].
///
/// # Safety
///
/// As [`shmkit_mutex_unlock`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_unlock_unrepaired(m: *mut shmkit_mutex) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let h = unsafe { handle(m, "mutex")? };
        h.held_mine("unlock_unrepaired")?;
        if let Some(mut held) = h.held.take() {
            // SAFETY: taken once; `held` is dropped right after.
            unsafe { ManuallyDrop::take(&mut held.guard) }.unlock_unrepaired();
        }
        Ok(())
    })
}

/// Whether this handle holds the lock (for any thread); false for NULL. Says nothing of other
/// handles or processes: whether they hold it cannot be told without taking it.
///
/// # Safety
///
/// `m` is NULL or a live mutex handle, used by this thread alone.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_is_held(m: *const shmkit_mutex) -> bool {
    // SAFETY: the caller's promise.
    unsafe { m.as_ref() }.is_some_and(|h| h.held.is_some())
}

/// Whether the calling thread holds the lock through this handle after an owner death that
/// is not repaired yet; false otherwise (and for NULL).
///
/// # Safety
///
/// `m` is NULL or a live mutex handle, used by this thread alone.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_needs_repair(m: *const shmkit_mutex) -> bool {
    run_value(false, || {
        // SAFETY: the caller's promise.
        unsafe { m.as_ref() }.is_some_and(|h| {
            h.held
                .as_ref()
                .is_some_and(|held| held.mine() && held.guard.needs_repair())
        })
    })
}

/// The mutex's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `m` is NULL or a live mutex handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_name(m: *const shmkit_mutex) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { m.as_ref() }.map_or(c"".as_ptr(), |h| h.name.as_ptr())
}

/// Whether this handle created the mutex (and so removes the name when closed, unless kept).
///
/// # Safety
///
/// `m` is NULL or a live mutex handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_mutex_is_creator(m: *const shmkit_mutex) -> bool {
    // SAFETY: the caller's promise.
    unsafe { m.as_ref() }.is_some_and(|h| h.mutex().is_creator())
}

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/// What waiting does to a set event (`shmkit::sync::Reset`); `shmkit_event_options.reset`
/// takes it as an `int32_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_reset {
    /// One waiter passes and the event resets itself. The default.
    SHMKIT_RESET_AUTO = 0,
    /// The event stays set until [`shmkit_event_reset`]; every waiter passes.
    SHMKIT_RESET_MANUAL = 1,
}

fn reset_arg(r: i32) -> Outcome<Reset> {
    Ok(match r {
        0 => Reset::Auto,
        1 => Reset::Manual,
        _ => return Err(misuse(format!("reset {r} is not a shmkit_reset value"))),
    })
}

/// Options of [`shmkit_event_create`], [`shmkit_event_open`] and
/// [`shmkit_event_open_or_create`]; start from [`shmkit_event_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_event_options {
    /// The reset kind of an event this creates, a [`shmkit_reset`] (default
    /// `SHMKIT_RESET_AUTO`). An opened event keeps its creator's
    /// ([`shmkit_event_reset_kind`]).
    pub reset: i32,
    /// Unix permission bits of a new event's segment (default 0600). Ignored on Windows.
    pub mode: u32,
    /// The creator leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// How long `open` waits for the event to appear: 0 not at all (default), negative forever.
    pub open_timeout_ns: i64,
}

/// The default event options: auto-reset, mode 0600, the creator removes the name, no wait
/// on open.
#[no_mangle]
pub extern "C" fn shmkit_event_options_default() -> shmkit_event_options {
    shmkit_event_options {
        reset: shmkit_reset::SHMKIT_RESET_AUTO as i32,
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
    }
}

/// A named event (`shmkit::sync::Event`), like a Win32 event.
pub struct shmkit_event {
    pub(crate) inner: Event,
    name: CString,
}

/// # Safety
///
/// As the entry points.
unsafe fn event_verb(
    name: *const c_char,
    opts: *const shmkit_event_options,
    out: *mut *mut shmkit_event,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises.
        let (name, o) = unsafe {
            (
                str_arg(name, "name")?,
                options_arg(opts, shmkit_event_options_default),
            )
        };
        let mut r = Event::options();
        r.reset(reset_arg(o.reset)?);
        creation!(r, o);
        let inner = match verb {
            Verb::Create => r.create(name),
            Verb::Open => r.open(name),
            Verb::OpenOrCreate => r.open_or_create(name),
        }?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_event {
                    name: c_name(inner.name()),
                    inner,
                },
            )
        };
        Ok(())
    })
}

/// Creates the event `name`, not set; `SHMKIT_ALREADY_EXISTS` if the name is taken.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid; `out` is writable. On success
/// `*out` is a handle to close with [`shmkit_event_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_create(
    name: *const c_char,
    opts: *const shmkit_event_options,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { event_verb(name, opts, out, Verb::Create) }
}

/// Opens the existing event `name`, with its creator's reset kind: errors as
/// [`shmkit_mutex_open`].
///
/// # Safety
///
/// As [`shmkit_event_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_open(
    name: *const c_char,
    opts: *const shmkit_event_options,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { event_verb(name, opts, out, Verb::Open) }
}

/// Opens the event `name` if it exists, else creates it (not set); two processes racing
/// here get one event. [`shmkit_event_is_creator`] tells which happened.
///
/// # Safety
///
/// As [`shmkit_event_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_open_or_create(
    name: *const c_char,
    opts: *const shmkit_event_options,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { event_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Closes an event handle (NULL is ignored); the creator removes the name unless `keep`.
///
/// # Safety
///
/// `ev` is NULL or an event handle not used again (by any thread).
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_close(ev: *mut shmkit_event) {
    // SAFETY: forwarded.
    unsafe { close(ev) }
}

/// Sets the event: wakes one waiter (auto-reset) or all (manual-reset), in any process.
///
/// # Safety
///
/// `ev` is a live event handle. Callable from any thread, concurrently with the other event
/// calls on the same handle (as Rust's `&Event`).
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_set(ev: *const shmkit_event) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        Ok(unsafe { handle_ref(ev, "event")? }.inner.set()?)
    })
}

/// Clears the event.
///
/// # Safety
///
/// As [`shmkit_event_set`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_reset(ev: *const shmkit_event) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle_ref(ev, "event")? }.inner.reset();
        Ok(())
    })
}

/// Waits until the event is set, as `timeout_ns` says (and resets it, if auto-reset):
/// `SHMKIT_WOULD_BLOCK` (`SHMKIT_TRY`) or `SHMKIT_TIMEOUT` if it was not set.
///
/// # Safety
///
/// As [`shmkit_event_set`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_wait(
    ev: *const shmkit_event,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let ev = &unsafe { handle_ref(ev, "event")? }.inner;
        Ok(match wait(timeout_ns) {
            Wait::Forever => ev.wait(),
            Wait::Try => ev.try_wait(),
            Wait::Within(d) => ev.wait_timeout(d),
        }?)
    })
}

/// Whether the event is set right now (false for NULL).
///
/// # Safety
///
/// `ev` is NULL or a live event handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_is_set(ev: *const shmkit_event) -> bool {
    // SAFETY: the caller's promise.
    unsafe { ev.as_ref() }.is_some_and(|e| e.inner.is_set())
}

/// The event's reset kind, a [`shmkit_reset`] value (-1 for NULL).
///
/// # Safety
///
/// `ev` is NULL or a live event handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_reset_kind(ev: *const shmkit_event) -> i32 {
    // SAFETY: the caller's promise.
    unsafe { ev.as_ref() }.map_or(-1, |e| match e.inner.reset_kind() {
        Reset::Auto => shmkit_reset::SHMKIT_RESET_AUTO as i32,
        Reset::Manual => shmkit_reset::SHMKIT_RESET_MANUAL as i32,
    })
}

/// The event's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `ev` is NULL or a live event handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_name(ev: *const shmkit_event) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { ev.as_ref() }.map_or(c"".as_ptr(), |e| e.name.as_ptr())
}

/// Whether this handle created the event (and so removes the name when closed, unless kept).
///
/// # Safety
///
/// `ev` is NULL or a live event handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_event_is_creator(ev: *const shmkit_event) -> bool {
    // SAFETY: the caller's promise.
    unsafe { ev.as_ref() }.is_some_and(|e| e.inner.is_creator())
}

// ---------------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------------

/// Options of [`shmkit_semaphore_create`], [`shmkit_semaphore_open`] and
/// [`shmkit_semaphore_open_or_create`]; start from [`shmkit_semaphore_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_semaphore_options {
    /// Permits of a semaphore this creates (default 0). An opened one keeps its count.
    pub initial: u32,
    /// The maximum count of a semaphore this creates (default `UINT32_MAX`; 0, or less than
    /// `initial`, is `SHMKIT_SIZE_INVALID`). An opened one keeps its creator's.
    pub max: u32,
    /// Unix permission bits of a new semaphore's segment (default 0600). Ignored on Windows.
    pub mode: u32,
    /// The creator leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// How long `open` waits for the semaphore to appear: 0 not at all (default), negative
    /// forever.
    pub open_timeout_ns: i64,
}

/// The default semaphore options: no permits, at most `UINT32_MAX`, mode 0600, the creator
/// removes the name, no wait on open.
#[no_mangle]
pub extern "C" fn shmkit_semaphore_options_default() -> shmkit_semaphore_options {
    shmkit_semaphore_options {
        initial: 0,
        max: u32::MAX,
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
    }
}

/// A named counting semaphore with a maximum (`shmkit::sync::Semaphore`).
pub struct shmkit_semaphore {
    pub(crate) inner: Semaphore,
    name: CString,
}

/// # Safety
///
/// As the entry points.
unsafe fn semaphore_verb(
    name: *const c_char,
    opts: *const shmkit_semaphore_options,
    out: *mut *mut shmkit_semaphore,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises.
        let (name, o) = unsafe {
            (
                str_arg(name, "name")?,
                options_arg(opts, shmkit_semaphore_options_default),
            )
        };
        let mut r = Semaphore::options();
        r.initial(o.initial).max(o.max);
        creation!(r, o);
        let inner = match verb {
            Verb::Create => r.create(name),
            Verb::Open => r.open(name),
            Verb::OpenOrCreate => r.open_or_create(name),
        }?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_semaphore {
                    name: c_name(inner.name()),
                    inner,
                },
            )
        };
        Ok(())
    })
}

/// Creates the semaphore `name` with `opts->initial` permits and at most `opts->max`;
/// `SHMKIT_ALREADY_EXISTS` if the name is taken, `SHMKIT_SIZE_INVALID` for a bad count.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid; `out` is writable. On success
/// `*out` is a handle to close with [`shmkit_semaphore_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_create(
    name: *const c_char,
    opts: *const shmkit_semaphore_options,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { semaphore_verb(name, opts, out, Verb::Create) }
}

/// Opens the existing semaphore `name`: errors as [`shmkit_mutex_open`].
///
/// # Safety
///
/// As [`shmkit_semaphore_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_open(
    name: *const c_char,
    opts: *const shmkit_semaphore_options,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { semaphore_verb(name, opts, out, Verb::Open) }
}

/// Opens the semaphore `name` if it exists, else creates it; two processes racing here get
/// one semaphore. [`shmkit_semaphore_is_creator`] tells which happened.
///
/// # Safety
///
/// As [`shmkit_semaphore_create`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_open_or_create(
    name: *const c_char,
    opts: *const shmkit_semaphore_options,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { semaphore_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Closes a semaphore handle (NULL is ignored); the creator removes the name unless `keep`.
/// Permits taken are not given back (as with POSIX and Win32 semaphores).
///
/// # Safety
///
/// `sem` is NULL or a semaphore handle not used again (by any thread).
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_close(sem: *mut shmkit_semaphore) {
    // SAFETY: forwarded.
    unsafe { close(sem) }
}

/// Adds a permit, waking one waiter in any process; `SHMKIT_FULL` if the count is at the
/// maximum already (nothing changes; [`shmkit_last_error_value`] is the maximum).
///
/// # Safety
///
/// `sem` is a live semaphore handle. Callable from any thread, concurrently with the other
/// semaphore calls on the same handle (as Rust's `&Semaphore`).
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_post(sem: *const shmkit_semaphore) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        Ok(unsafe { handle_ref(sem, "semaphore")? }.inner.post()?)
    })
}

/// Takes a permit, waiting as `timeout_ns` says: `SHMKIT_WOULD_BLOCK` (`SHMKIT_TRY`) or
/// `SHMKIT_TIMEOUT` if none came.
///
/// # Safety
///
/// As [`shmkit_semaphore_post`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_wait(
    sem: *const shmkit_semaphore,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let sem = &unsafe { handle_ref(sem, "semaphore")? }.inner;
        Ok(match wait(timeout_ns) {
            Wait::Forever => sem.wait(),
            Wait::Try => sem.try_wait(),
            Wait::Within(d) => sem.wait_timeout(d),
        }?)
    })
}

/// The number of permits available right now (0 for NULL).
///
/// # Safety
///
/// `sem` is NULL or a live semaphore handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_value(sem: *const shmkit_semaphore) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { sem.as_ref() }.map_or(0, |s| s.inner.value())
}

/// The maximum count (0 for NULL).
///
/// # Safety
///
/// `sem` is NULL or a live semaphore handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_max(sem: *const shmkit_semaphore) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { sem.as_ref() }.map_or(0, |s| s.inner.max())
}

/// The semaphore's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `sem` is NULL or a live semaphore handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_name(sem: *const shmkit_semaphore) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { sem.as_ref() }.map_or(c"".as_ptr(), |s| s.name.as_ptr())
}

/// Whether this handle created the semaphore (and so removes the name when closed, unless
/// kept).
///
/// # Safety
///
/// `sem` is NULL or a live semaphore handle. Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_semaphore_is_creator(sem: *const shmkit_semaphore) -> bool {
    // SAFETY: the caller's promise.
    unsafe { sem.as_ref() }.is_some_and(|s| s.inner.is_creator())
}
