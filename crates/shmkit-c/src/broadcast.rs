//! 1 → N broadcast (`shmkit::channel::broadcast`): `shmkit_broadcast_create_publisher` makes
//! a [`shmkit_publisher`], `shmkit_broadcast_open_subscriber` a [`shmkit_subscriber`].
//!
//! The publisher loans a slot, writes in place and commits (or sends a copy); each
//! subscriber receives every message from its join on, in place until
//! `shmkit_subscriber_release`, or copied out. Under `SHMKIT_POLICY_OVERWRITE` a subscriber
//! that fell a whole ring behind gets `SHMKIT_LAGGED` once, with
//! [`shmkit_last_error_value`](crate::shmkit_last_error_value) = the messages it lost, and
//! goes on with the oldest one still there; under `SHMKIT_POLICY_BLOCK` the publisher waits
//! for the slowest live subscriber instead.
//!
//! Typed broadcasts (`opts->layout`) work as typed channels do (see the channel module):
//! the publisher records the layout, a subscriber checks it (`SHMKIT_LAYOUT_MISMATCH`
//! naming both), messages are a whole number of values. Slot payloads are 16-byte aligned,
//! so a typed broadcast's alignment is at most 16 (a larger one is
//! `SHMKIT_INVALID_ARGUMENT`).
//!
//! A subscriber receives from where it joined, which [`shmkit_subscriber_next_seq`] tells
//! right after the open: [`shmkit_publisher_wait_for_subscribers`] counts a subscriber a
//! moment before it fixes that, so messages published just after the wait returns may be
//! before a slow subscriber's start.

use std::ffi::{c_char, c_void};

use shmkit::channel::broadcast::{self, Policy, Publisher, Subscriber};
use shmkit::channel::MessageLayout;

use crate::channel::check_align;
use crate::common::{layout_arg, wait_strategy_arg};
use crate::rx::Rx;
use crate::status::*;
use crate::tx::Tx;

/// What happens when a subscriber falls a whole ring behind (`broadcast::Policy`); options
/// take it as an `int32_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_policy {
    /// The publisher waits for the slowest live subscriber (back-pressure). The default.
    SHMKIT_POLICY_BLOCK = 0,
    /// The publisher overwrites; a lapped subscriber gets `SHMKIT_LAGGED` with the count lost.
    SHMKIT_POLICY_OVERWRITE = 1,
}

fn policy_arg(p: i32) -> Outcome<Policy> {
    Ok(match p {
        0 => Policy::Block,
        1 => Policy::Overwrite,
        _ => return Err(misuse(format!("policy {p} is not a shmkit_policy value"))),
    })
}

/// Options of [`shmkit_broadcast_create_publisher`] and
/// [`shmkit_broadcast_open_subscriber`]; start from [`shmkit_broadcast_options_default`].
/// The geometry and policy are the publisher's; a subscriber takes the broadcast's.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_broadcast_options {
    /// Message slots (default 64): how far a subscriber can lag.
    pub slots: usize,
    /// Largest message in bytes; 0 (the default): 4096, or one value of a typed broadcast.
    pub slot_size: usize,
    /// Subscribers attached at once, at most (default 16).
    pub max_subscribers: usize,
    /// A [`shmkit_policy`] value (default `SHMKIT_POLICY_BLOCK`).
    pub policy: i32,
    /// A [`shmkit_wait_strategy`](crate::shmkit_wait_strategy) value (default adaptive).
    pub wait_strategy: i32,
    /// Unix permission bits of the new broadcast (default 0600). Ignored on Windows.
    pub mode: u32,
    /// The publisher leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// How long `open_subscriber` waits for the broadcast to appear: 0 not at all (default),
    /// negative forever.
    pub open_timeout_ns: i64,
    /// The message type of a typed broadcast (NULL, the default: bytes). Read during the
    /// call only.
    pub layout: *const crate::shmkit_layout,
}

/// The default broadcast options: 64 slots of 4 KiB (one value, typed), 16 subscribers,
/// back-pressure, adaptive waits, mode 0600, removed by the publisher, no wait on open,
/// bytes.
#[no_mangle]
pub extern "C" fn shmkit_broadcast_options_default() -> shmkit_broadcast_options {
    shmkit_broadcast_options {
        slots: 64,
        slot_size: 0,
        max_subscribers: 16,
        policy: 0,
        wait_strategy: 0,
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
        layout: std::ptr::null(),
    }
}

/// A broadcast's publisher (`broadcast::Publisher`), with its loan, if any.
pub struct shmkit_publisher {
    pub(crate) tx: Tx<Publisher>,
    max_message_len: usize,
}

/// A broadcast's subscriber (`broadcast::Subscriber`), with the message it holds, if any.
pub struct shmkit_subscriber {
    pub(crate) rx: Rx<Subscriber>,
    max_message_len: usize,
}

/// The largest alignment a typed broadcast carries: slot payloads are 16-aligned.
const BROADCAST_ALIGN: u64 = 16;

/// The Rust options and layout for C options.
///
/// # Safety
///
/// `opts` is NULL or valid, its `layout` NULL or valid.
unsafe fn broadcast_options(
    opts: *const shmkit_broadcast_options,
) -> Outcome<(broadcast::Options, Option<MessageLayout>)> {
    // SAFETY: the caller promises NULL or a valid struct.
    let o = unsafe { options_arg(opts, shmkit_broadcast_options_default) };
    // SAFETY: the caller promises NULL or a valid layout.
    let layout = unsafe { layout_arg(o.layout)? };
    check_align(layout.as_ref(), BROADCAST_ALIGN, "broadcast")?;
    let slot_size = match (o.slot_size, &layout) {
        (0, None) => 4096,
        (0, Some(l)) => l.size() as usize,
        (n, _) => n,
    };
    let mut r = broadcast::options();
    r.slots(o.slots)
        .slot_size(slot_size)
        .max_subscribers(o.max_subscribers)
        .policy(policy_arg(o.policy)?)
        .wait_strategy(wait_strategy_arg(o.wait_strategy)?)
        .mode(o.mode)
        .keep(o.keep)
        .open_timeout(open_timeout(o.open_timeout_ns));
    Ok((r, layout))
}

/// Creates broadcast `name` and returns its publisher; `SHMKIT_ALREADY_EXISTS` if the name is
/// taken, `SHMKIT_SIZE_INVALID` for zero slots or subscribers. With `opts->layout`, the
/// broadcast records it (typed).
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid (its `layout` NULL or valid);
/// `out` is writable. On success `*out` is a handle to close with [`shmkit_publisher_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_broadcast_create_publisher(
    name: *const c_char,
    opts: *const shmkit_broadcast_options,
    out: *mut *mut shmkit_publisher,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (o, layout)) = unsafe { (str_arg(name, "name")?, broadcast_options(opts)?) };
        let inner = match &layout {
            None => o.create_publisher(name),
            Some(l) => o.create_publisher_with_layout(name, l),
        }?;
        let p = shmkit_publisher {
            max_message_len: inner.max_message_len(),
            tx: Tx::new(inner, layout),
        };
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe { put_handle(out, p) };
        Ok(())
    })
}

/// Joins broadcast `name` as a subscriber (waiting `opts->open_timeout_ns` for it to
/// appear): it receives every message published from now on. `SHMKIT_NOT_FOUND`,
/// `SHMKIT_FULL` if every subscriber place is taken by a live process; with `opts->layout`,
/// `SHMKIT_LAYOUT_MISMATCH` (naming both layouts) unless the broadcast records that layout.
///
/// # Safety
///
/// As [`shmkit_broadcast_create_publisher`]; close the handle with
/// [`shmkit_subscriber_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_broadcast_open_subscriber(
    name: *const c_char,
    opts: *const shmkit_broadcast_options,
    out: *mut *mut shmkit_subscriber,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (o, layout)) = unsafe { (str_arg(name, "name")?, broadcast_options(opts)?) };
        let inner = match &layout {
            None => o.open_subscriber(name),
            Some(l) => o.open_subscriber_with_layout(name, l),
        }?;
        let s = shmkit_subscriber {
            max_message_len: inner.max_message_len(),
            rx: Rx::new(inner, layout),
        };
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe { put_handle(out, s) };
        Ok(())
    })
}

/// Closes a publisher (NULL is ignored): an outstanding loan is aborted, subscribers see
/// `SHMKIT_DISCONNECTED` once they have received everything, and the name is removed unless
/// `keep`.
///
/// # Safety
///
/// `p` is NULL or a publisher handle not used again (its loan's pointer neither).
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_close(p: *mut shmkit_publisher) {
    // SAFETY: forwarded.
    unsafe { close(p) }
}

/// The broadcast's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `p` is NULL or a live publisher handle. Callable from any thread, but not while another thread
/// is inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_name(p: *const shmkit_publisher) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(c"".as_ptr(), |p| p.tx.name.as_ptr())
}

/// The largest message in bytes, the slot size (0 for NULL).
///
/// # Safety
///
/// `p` is NULL or a live publisher handle. Callable from any thread, but not while another thread
/// is inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_max_message_len(p: *const shmkit_publisher) -> usize {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(0, |p| p.max_message_len)
}

/// How many messages have been published since the broadcast was created: the sequence
/// number the next one gets (0 for NULL).
///
/// # Safety
///
/// `p` is NULL or a live publisher handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_published(p: *const shmkit_publisher) -> u64 {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(0, |p| p.tx.side.published())
}

/// How many subscribers are attached now (live holders of a place; places of dead ones are
/// freed on the way: a system call per subscriber). 0 for NULL.
///
/// # Safety
///
/// `p` is NULL or a live publisher handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_subscribers(p: *const shmkit_publisher) -> usize {
    run_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { p.as_ref() }.map_or(0, |p| p.tx.side.subscribers())
    })
}

/// Waits (as `timeout_ns` says) until at least `n` subscribers are attached; `*count` is
/// how many are. Subscribers joining ring no bell, so this polls (100 µs backing off to
/// 10 ms). `SHMKIT_INVALID_ARGUMENT` while a loan is outstanding.
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call; `count` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_wait_for_subscribers(
    p: *mut shmkit_publisher,
    n: usize,
    timeout_ns: i64,
    count: *mut usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let p = unsafe { handle(p, "publisher")? };
        let side = p.tx.idle()?;
        let got = match wait(timeout_ns) {
            Wait::Forever => side.wait_for_subscribers(n),
            Wait::Try => side.try_wait_for_subscribers(n),
            Wait::Within(d) => side.wait_for_subscribers_timeout(n, d),
        }?;
        if let Ok(count) = Out::new(count, "count") {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe { count.put(got) };
        }
        Ok(())
    })
}

/// Changes how the publisher waits; `SHMKIT_INVALID_ARGUMENT` while a loan is outstanding.
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_set_wait_strategy(
    p: *mut shmkit_publisher,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(p, "publisher")? }
            .tx
            .set_wait_strategy(wait_strategy)
    })
}

/// Loans a slot for a message of `len` bytes (waiting as `timeout_ns` says, under
/// back-pressure, for the slowest subscriber) and sets `*data` to it: write the message,
/// then [`shmkit_publisher_commit`] (or [`shmkit_publisher_abort`]). `*data` is 16-byte
/// aligned and valid for `len` bytes until the commit, abort or close.
/// `SHMKIT_SIZE_INVALID` if `len` is over the slot size (or, typed, not a whole number of
/// values); `SHMKIT_INVALID_ARGUMENT` if a loan is outstanding already.
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call; `data` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_loan(
    p: *mut shmkit_publisher,
    len: usize,
    timeout_ns: i64,
    data: *mut *mut c_void,
) -> shmkit_status {
    run(|| {
        let data = Out::new(data, "data")?;
        // SAFETY: the caller's promise.
        unsafe { handle(p, "publisher")? }
            .tx
            .loan(len, timeout_ns, data)
    })
}

/// Publishes the loaned message with its first `len` bytes (at most the loaned length; typed,
/// a whole number of values). `SHMKIT_INVALID_ARGUMENT` without a loan;
/// `SHMKIT_SIZE_INVALID` for a longer `len` or a typed length that is not a whole number of
/// values, and the loan stays outstanding.
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_commit(
    p: *mut shmkit_publisher,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let p = unsafe { handle(p, "publisher")? };
        p.tx.commit(len)
    })
}

/// Gives back the loan without publishing. `SHMKIT_INVALID_ARGUMENT` without a loan.
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_abort(p: *mut shmkit_publisher) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(p, "publisher")? }.tx.abort()
    })
}

/// Copies the `len` bytes at `data` into a slot and publishes them, waiting as `timeout_ns`
/// says. Errors as [`shmkit_publisher_loan`].
///
/// # Safety
///
/// `p` is a live publisher handle not used by another thread during the call; `data` points
/// to `len` readable bytes (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn shmkit_publisher_send(
    p: *mut shmkit_publisher,
    data: *const c_void,
    len: usize,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (p, msg) = unsafe {
            (
                handle(p, "publisher")?,
                bytes_arg(data.cast(), len, "data")?,
            )
        };
        p.tx.send(msg, timeout_ns)
    })
}

/// Leaves the broadcast (NULL is ignored): a held message is released and the place freed.
///
/// # Safety
///
/// `s` is NULL or a subscriber handle not used again (its message's pointer neither).
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_close(s: *mut shmkit_subscriber) {
    // SAFETY: forwarded.
    unsafe { close(s) }
}

/// The broadcast's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `s` is NULL or a live subscriber handle. Callable from any thread, but not while another thread
/// is inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_name(s: *const shmkit_subscriber) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(c"".as_ptr(), |s| s.rx.name.as_ptr())
}

/// The largest message in bytes, the slot size (0 for NULL).
///
/// # Safety
///
/// `s` is NULL or a live subscriber handle. Callable from any thread, but not while another thread
/// is inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_max_message_len(s: *const shmkit_subscriber) -> usize {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(0, |s| s.max_message_len)
}

/// The sequence number of the next message this subscriber will be given (the count of
/// messages published before it); a message kept by a too-small `recv_into` is the next.
/// 0 for NULL.
///
/// # Safety
///
/// `s` is NULL or a live subscriber handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_next_seq(s: *const shmkit_subscriber) -> u64 {
    run_value(0, || {
        // SAFETY: the caller's promise.
        let Some(s) = (unsafe { s.as_ref() }) else {
            return 0;
        };
        match s.rx.side.held_seq() {
            Some(held) if s.rx.is_kept() => held,
            _ => s.rx.side.next_seq(),
        }
    })
}

/// The length of the message the subscriber holds (received in place and not released, or
/// kept by a too-small [`shmkit_subscriber_recv_into`]); 0 if none (or NULL).
///
/// # Safety
///
/// `s` is NULL or a live subscriber handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_len(s: *const shmkit_subscriber) -> usize {
    run_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { s.as_ref() }.map_or(0, |s| s.rx.held_len())
    })
}

/// Changes how the subscriber waits; `SHMKIT_INVALID_ARGUMENT` while it holds a message.
///
/// # Safety
///
/// `s` is a live subscriber handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_set_wait_strategy(
    s: *mut shmkit_subscriber,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(s, "subscriber")? }
            .rx
            .set_wait_strategy(wait_strategy)
    })
}

/// Receives the next message in place (waiting as `timeout_ns` says): `*data` points to its
/// `*len` bytes in the slot (16-byte aligned), valid until [`shmkit_subscriber_release`],
/// the next recv or the close; the publisher never writes a held slot. A message still held
/// is released first. `SHMKIT_LAGGED` (overwrite policy) when messages were lost:
/// [`shmkit_last_error_value`](crate::shmkit_last_error_value) says how many, and the next
/// call goes on with the oldest one still there; `SHMKIT_DISCONNECTED` once the publisher is
/// gone and everything it published was received; `SHMKIT_CORRUPT` for what no publisher
/// writes (or, typed, a message that is not a whole number of values: it is dropped).
///
/// # Safety
///
/// `s` is a live subscriber handle not used by another thread during the call; `data` and
/// `len` are writable. A hostile process that can write the broadcast can change the bytes
/// at `*data`: copy out ([`shmkit_subscriber_recv_into`]) and validate when it may exist.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_recv(
    s: *mut shmkit_subscriber,
    timeout_ns: i64,
    data: *mut *const c_void,
    len: *mut usize,
) -> shmkit_status {
    run(|| {
        let (data, len) = (Out::new(data, "data")?, Out::new(len, "len")?);
        // SAFETY: the caller's promise.
        unsafe { handle(s, "subscriber")? }
            .rx
            .recv(timeout_ns, data, len)
    })
}

/// Releases the message received in place; its pointer is invalid from now on.
/// `SHMKIT_INVALID_ARGUMENT` if none is held.
///
/// # Safety
///
/// `s` is a live subscriber handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_release(s: *mut shmkit_subscriber) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(s, "subscriber")? }
            .rx
            .release("shmkit_subscriber_recv")
    })
}

/// Receives the next message by copying it into `buf` (`cap` bytes), waiting as
/// `timeout_ns` says; `*len` is set to its length. A message held in place is released
/// first. A message longer than `cap` is `SHMKIT_SIZE_INVALID` and is **not lost**: `*len`
/// says how long it is, and the subscriber keeps it (holding its slot) for the next
/// `recv_into` or `recv`. Other errors as [`shmkit_subscriber_recv`].
///
/// # Safety
///
/// `s` is a live subscriber handle not used by another thread during the call; `buf` points
/// to `cap` writable bytes (or `cap` is 0); `len` is writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_subscriber_recv_into(
    s: *mut shmkit_subscriber,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        let len = Out::new(len, "len")?;
        // SAFETY: the caller's promises.
        let (s, buf) = unsafe {
            (
                handle(s, "subscriber")?,
                bytes_mut_arg(buf.cast(), cap, "buf")?,
            )
        };
        s.rx.recv_into(buf, len, timeout_ns)
    })
}
