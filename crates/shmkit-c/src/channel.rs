//! SPSC channels (`shmkit::channel`): `shmkit_channel_*` make a [`shmkit_producer`] or a
//! [`shmkit_consumer`]; `shmkit_producer_*` and `shmkit_consumer_*` use them.
//!
//! Zero-copy on both sides: `shmkit_producer_loan` gives a pointer into the ring to write
//! the message in place, `shmkit_producer_commit` publishes it; `shmkit_consumer_recv` gives
//! a pointer to the next message in the ring, valid until `shmkit_consumer_release`. The
//! copying forms are `shmkit_producer_send` and `shmkit_consumer_recv_into`.
//!
//! # Typed sides
//!
//! With `opts->layout` set (a C struct's size, alignment and a tag, see [`shmkit_layout`]),
//! creating records the layout and opening checks it, as Rust's `channel::typed::<T>()` and
//! Python's typed channels do: another layout, or a byte channel, is
//! `SHMKIT_LAYOUT_MISMATCH` naming both. A typed side's messages are a whole number of
//! values (`layout.size` bytes each; one value, or a slice of them, as Rust's typed
//! channels carry): a loan, commit or send of another length is `SHMKIT_SIZE_INVALID`, and
//! a received message of another length (from a byte producer) is `SHMKIT_CORRUPT` and is
//! dropped, as in Rust. The ring's payloads are 8-byte aligned, so a typed channel's
//! alignment is at most 8 (as in Rust; a larger one is `SHMKIT_INVALID_ARGUMENT`), and a
//! received pointer can be read as the struct.

use std::ffi::{c_char, c_void, CStr};

use shmkit::channel::{self, Consumer, MessageLayout, Producer};
use shmkit::Error;

use crate::common::{layout_arg, wait_strategy_arg};
use crate::rx::Rx;
use crate::status::*;
use crate::tx::Tx;

/// Options of the `shmkit_channel_*` verbs; start from [`shmkit_channel_options_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_channel_options {
    /// Ring capacity in bytes when creating (default 64 KiB), rounded up to a power of two,
    /// at least 64. The largest message is half of it less 8 bytes. An opened channel keeps
    /// its capacity.
    pub capacity: usize,
    /// How the side waits: a [`shmkit_wait_strategy`](crate::shmkit_wait_strategy) value.
    pub wait_strategy: i32,
    /// Unix permission bits of a new channel (default 0600). Ignored on Windows.
    pub mode: u32,
    /// The creator leaves the name in place when closed (default: it removes it).
    pub keep: bool,
    /// How long the `open_*` verbs wait for the channel to appear: 0 not at all (default),
    /// negative forever.
    pub open_timeout_ns: i64,
    /// The message type of a typed side (NULL, the default: bytes). Read during the call
    /// only.
    pub layout: *const crate::shmkit_layout,
}

/// The default channel options: a 64 KiB ring, adaptive waits, mode 0600, the creator
/// removes the name, no wait on open, bytes.
#[no_mangle]
pub extern "C" fn shmkit_channel_options_default() -> shmkit_channel_options {
    shmkit_channel_options {
        capacity: channel::DEFAULT_CAPACITY,
        wait_strategy: 0,
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
        layout: std::ptr::null(),
    }
}

/// The producer side of a channel (`shmkit::channel::Producer`), with its loan, if any.
pub struct shmkit_producer {
    pub(crate) tx: Tx<Producer>,
    capacity: usize,
    max_message_len: usize,
    creator: bool,
}

/// The consumer side of a channel (`shmkit::channel::Consumer`), with the message it holds,
/// if any.
pub struct shmkit_consumer {
    pub(crate) rx: Rx<Consumer>,
    capacity: usize,
    creator: bool,
}

/// The largest alignment a typed channel carries: its ring's payloads are 8-aligned.
const CHANNEL_ALIGN: u64 = 8;

/// Checks a typed side's layout against the alignment its payloads have.
pub(crate) fn check_align(layout: Option<&MessageLayout>, max: u64, kind: &str) -> Outcome {
    match layout {
        Some(l) if l.align() > max => Err(misuse(format!(
            "layout alignment {}: a typed {kind} carries types aligned to at most {max} bytes \
             (its payloads are {max}-aligned)",
            l.align()
        ))),
        _ => Ok(()),
    }
}

/// `SHMKIT_SIZE_INVALID` unless `len` bytes are a whole number of a typed side's values.
///
/// Called on every loan, commit and send: nothing is allocated or converted unless it fails.
#[inline]
pub(crate) fn check_len(
    layout: Option<&MessageLayout>,
    name: &CStr,
    len: usize,
    what: &str,
) -> Result<(), Error> {
    match layout {
        Some(l) if len as u64 % l.size() != 0 => Err(not_whole(l, name, len, what)),
        _ => Ok(()),
    }
}

/// [`check_len`]'s error.
#[cold]
fn not_whole(l: &MessageLayout, name: &CStr, len: usize, what: &str) -> Error {
    Error::SizeInvalid {
        name: name.to_string_lossy().into_owned(),
        reason: format!(
            "{what} of {len} bytes is not a whole number of the typed side's values ({l})"
        ),
    }
}

/// `SHMKIT_CORRUPT` for a received message of `len` bytes that is not a whole number of a
/// typed side's values, as Rust's typed sides report it.
pub(crate) fn misfit(layout: &MessageLayout, name: &CStr, len: usize) -> Error {
    Error::Corrupt {
        name: name.to_string_lossy().into_owned(),
        reason: format!(
            "a message of {len} bytes is not a whole number of the typed side's values \
             ({layout}); it was dropped"
        ),
    }
}

#[derive(Clone, Copy)]
enum Verb {
    Create,
    Open,
    OpenOrCreate,
}

/// The Rust options and layout for C options.
///
/// # Safety
///
/// `opts` is NULL or valid, its `layout` NULL or valid.
unsafe fn channel_options(
    opts: *const shmkit_channel_options,
) -> Outcome<(channel::Options, Option<MessageLayout>)> {
    // SAFETY: the caller promises NULL or a valid struct.
    let o = unsafe { options_arg(opts, shmkit_channel_options_default) };
    // SAFETY: the caller promises NULL or a valid layout.
    let layout = unsafe { layout_arg(o.layout)? };
    check_align(layout.as_ref(), CHANNEL_ALIGN, "channel")?;
    let mut r = channel::options();
    r.capacity(o.capacity)
        .wait_strategy(wait_strategy_arg(o.wait_strategy)?)
        .mode(o.mode)
        .keep(o.keep)
        .open_timeout(open_timeout(o.open_timeout_ns));
    Ok((r, layout))
}

/// # Safety
///
/// As the entry points.
unsafe fn producer_verb(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_producer,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (o, layout)) = unsafe { (str_arg(name, "name")?, channel_options(opts)?) };
        let inner = match (verb, &layout) {
            (Verb::Create, None) => o.create_producer(name),
            (Verb::Create, Some(l)) => o.create_producer_with_layout(name, l),
            (Verb::Open, None) => o.open_producer(name),
            (Verb::Open, Some(l)) => o.open_producer_with_layout(name, l),
            (Verb::OpenOrCreate, None) => o.open_or_create_producer(name),
            (Verb::OpenOrCreate, Some(l)) => o.open_or_create_producer_with_layout(name, l),
        }?;
        let p = shmkit_producer {
            capacity: inner.capacity(),
            max_message_len: inner.max_message_len(),
            creator: inner.is_creator(),
            tx: Tx::new(inner, layout),
        };
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe { put_handle(out, p) };
        Ok(())
    })
}

/// # Safety
///
/// As the entry points.
unsafe fn consumer_verb(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_consumer,
    verb: Verb,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (o, layout)) = unsafe { (str_arg(name, "name")?, channel_options(opts)?) };
        let inner = match (verb, &layout) {
            (Verb::Create, None) => o.create_consumer(name),
            (Verb::Create, Some(l)) => o.create_consumer_with_layout(name, l),
            (Verb::Open, None) => o.open_consumer(name),
            (Verb::Open, Some(l)) => o.open_consumer_with_layout(name, l),
            (Verb::OpenOrCreate, None) => o.open_or_create_consumer(name),
            (Verb::OpenOrCreate, Some(l)) => o.open_or_create_consumer_with_layout(name, l),
        }?;
        let c = shmkit_consumer {
            capacity: inner.capacity(),
            creator: inner.is_creator(),
            rx: Rx::new(inner, layout),
        };
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe { put_handle(out, c) };
        Ok(())
    })
}

/// Creates channel `name` and returns its producer; `SHMKIT_ALREADY_EXISTS` if the name is
/// taken. With `opts->layout`, the channel records it (a typed channel).
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid (its `layout` NULL or valid);
/// `out` is writable. On success `*out` is a handle to close with [`shmkit_producer_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_create_producer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_producer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { producer_verb(name, opts, out, Verb::Create) }
}

/// Opens channel `name` as its producer (waiting `opts->open_timeout_ns` for it to appear):
/// `SHMKIT_NOT_FOUND`, `SHMKIT_IN_USE` if a live process is the producer; with
/// `opts->layout`, `SHMKIT_LAYOUT_MISMATCH` (naming both layouts) unless the channel records
/// that layout. A new producer goes on after the last message published.
///
/// # Safety
///
/// As [`shmkit_channel_create_producer`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_open_producer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_producer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { producer_verb(name, opts, out, Verb::Open) }
}

/// Opens channel `name` as its producer, or creates it; [`shmkit_producer_is_creator`]
/// tells which happened.
///
/// # Safety
///
/// As [`shmkit_channel_create_producer`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_open_or_create_producer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_producer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { producer_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Creates channel `name` and returns its consumer; as [`shmkit_channel_create_producer`].
///
/// # Safety
///
/// As [`shmkit_channel_create_producer`]; close the handle with [`shmkit_consumer_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_create_consumer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_consumer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { consumer_verb(name, opts, out, Verb::Create) }
}

/// Opens channel `name` as its consumer; as [`shmkit_channel_open_producer`]. A new
/// consumer goes on from the last message released, so one a killed consumer held is
/// delivered again.
///
/// # Safety
///
/// As [`shmkit_channel_create_consumer`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_open_consumer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_consumer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { consumer_verb(name, opts, out, Verb::Open) }
}

/// Opens channel `name` as its consumer, or creates it; [`shmkit_consumer_is_creator`]
/// tells which happened.
///
/// # Safety
///
/// As [`shmkit_channel_create_consumer`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_channel_open_or_create_consumer(
    name: *const c_char,
    opts: *const shmkit_channel_options,
    out: *mut *mut shmkit_consumer,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { consumer_verb(name, opts, out, Verb::OpenOrCreate) }
}

/// Closes a producer (NULL is ignored): an outstanding loan is aborted, the role given back
/// (the consumer then sees `SHMKIT_DISCONNECTED` after draining), and the creator removes
/// the name unless `keep`.
///
/// # Safety
///
/// `p` is NULL or a producer handle not used again (its loan's pointer neither).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_close(p: *mut shmkit_producer) {
    // SAFETY: forwarded.
    unsafe { close(p) }
}

/// The channel's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `p` is NULL or a live producer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_name(p: *const shmkit_producer) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(c"".as_ptr(), |p| p.tx.name.as_ptr())
}

/// The ring's capacity in bytes (0 for NULL).
///
/// # Safety
///
/// `p` is NULL or a live producer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_capacity(p: *const shmkit_producer) -> usize {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(0, |p| p.capacity)
}

/// The largest message in bytes (capacity / 2 - 8; 0 for NULL): a longer loan or send is
/// `SHMKIT_SIZE_INVALID`.
///
/// # Safety
///
/// `p` is NULL or a live producer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_max_message_len(p: *const shmkit_producer) -> usize {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.map_or(0, |p| p.max_message_len)
}

/// Whether this producer created the channel (false for NULL).
///
/// # Safety
///
/// `p` is NULL or a live producer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_is_creator(p: *const shmkit_producer) -> bool {
    // SAFETY: the caller's promise.
    unsafe { p.as_ref() }.is_some_and(|p| p.creator)
}

/// Changes how the producer waits (`wait_strategy`: a
/// [`shmkit_wait_strategy`](crate::shmkit_wait_strategy) value). `SHMKIT_INVALID_ARGUMENT`
/// while a loan is outstanding.
///
/// # Safety
///
/// `p` is a live producer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_set_wait_strategy(
    p: *mut shmkit_producer,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(p, "producer")? }
            .tx
            .set_wait_strategy(wait_strategy)
    })
}

/// Loans `len` bytes of the ring (waiting for room as `timeout_ns` says) and sets `*data`
/// to them: write the message there, then [`shmkit_producer_commit`] (or
/// [`shmkit_producer_abort`]). `*data` is 8-byte aligned and valid for `len` bytes until
/// the commit, abort or close. `SHMKIT_SIZE_INVALID` if `len` is over
/// [`shmkit_producer_max_message_len`] (or, typed, not a whole number of values);
/// `SHMKIT_DISCONNECTED` if the consumer is gone; `SHMKIT_INVALID_ARGUMENT` if a loan is
/// outstanding already.
///
/// # Safety
///
/// `p` is a live producer handle not used by another thread during the call; `data` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_loan(
    p: *mut shmkit_producer,
    len: usize,
    timeout_ns: i64,
    data: *mut *mut c_void,
) -> shmkit_status {
    run(|| {
        let data = Out::new(data, "data")?;
        // SAFETY: the caller's promise.
        unsafe { handle(p, "producer")? }
            .tx
            .loan(len, timeout_ns, data)
    })
}

/// Publishes the loaned message with its first `len` bytes (at most the loaned length: a
/// shorter message is cut; typed, a whole number of values). `SHMKIT_INVALID_ARGUMENT`
/// without a loan; `SHMKIT_SIZE_INVALID` for a longer `len` or a typed length that is not a
/// whole number of values, and the loan stays outstanding.
///
/// # Safety
///
/// `p` is a live producer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_commit(
    p: *mut shmkit_producer,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(p, "producer")? }.tx.commit(len)
    })
}

/// Gives back the loan without publishing anything. `SHMKIT_INVALID_ARGUMENT` without a
/// loan.
///
/// # Safety
///
/// `p` is a live producer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_abort(p: *mut shmkit_producer) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(p, "producer")? }.tx.abort()
    })
}

/// Copies the `len` bytes at `data` into the channel as one message, waiting for room as
/// `timeout_ns` says. Errors as [`shmkit_producer_loan`].
///
/// # Safety
///
/// `p` is a live producer handle not used by another thread during the call; `data` points
/// to `len` readable bytes (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn shmkit_producer_send(
    p: *mut shmkit_producer,
    data: *const c_void,
    len: usize,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (p, msg) = unsafe { (handle(p, "producer")?, bytes_arg(data.cast(), len, "data")?) };
        p.tx.send(msg, timeout_ns)
    })
}

/// Closes a consumer (NULL is ignored): a held message is released, the role given back
/// (the producer then sees `SHMKIT_DISCONNECTED`), and the creator removes the name unless
/// `keep`.
///
/// # Safety
///
/// `c` is NULL or a consumer handle not used again (its message's pointer neither).
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_close(c: *mut shmkit_consumer) {
    // SAFETY: forwarded.
    unsafe { close(c) }
}

/// The channel's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `c` is NULL or a live consumer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_name(c: *const shmkit_consumer) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(c"".as_ptr(), |c| c.rx.name.as_ptr())
}

/// The ring's capacity in bytes (0 for NULL).
///
/// # Safety
///
/// `c` is NULL or a live consumer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_capacity(c: *const shmkit_consumer) -> usize {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(0, |c| c.capacity)
}

/// Whether this consumer created the channel (false for NULL).
///
/// # Safety
///
/// `c` is NULL or a live consumer handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_is_creator(c: *const shmkit_consumer) -> bool {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.is_some_and(|c| c.creator)
}

/// The length of the message the consumer holds: received in place and not yet released, or
/// kept by a [`shmkit_consumer_recv_into`] whose buffer was too small; 0 if none (or NULL).
///
/// # Safety
///
/// `c` is NULL or a live consumer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_len(c: *const shmkit_consumer) -> usize {
    run_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { c.as_ref() }.map_or(0, |c| c.rx.held_len())
    })
}

/// Changes how the consumer waits; `SHMKIT_INVALID_ARGUMENT` while it holds a message.
///
/// # Safety
///
/// `c` is a live consumer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_set_wait_strategy(
    c: *mut shmkit_consumer,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(c, "consumer")? }
            .rx
            .set_wait_strategy(wait_strategy)
    })
}

/// Receives the next message in place (waiting as `timeout_ns` says): `*data` points to its
/// `*len` bytes in the ring, valid until [`shmkit_consumer_release`], the next recv or the
/// close. A message still held is released first. `SHMKIT_DISCONNECTED` once the producer is
/// gone and every committed message was received; `SHMKIT_CORRUPT` for an impossible frame
/// (or, typed, a message that is not a whole number of values: it is dropped).
///
/// # Safety
///
/// `c` is a live consumer handle not used by another thread during the call; `data` and
/// `len` are writable. The bytes at `*data` may be changed by a hostile process that can
/// write the channel (see "What a hostile peer can do"): copy them out
/// ([`shmkit_consumer_recv_into`]) and validate when the producer is not trusted.
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_recv(
    c: *mut shmkit_consumer,
    timeout_ns: i64,
    data: *mut *const c_void,
    len: *mut usize,
) -> shmkit_status {
    run(|| {
        let (data, len) = (Out::new(data, "data")?, Out::new(len, "len")?);
        // SAFETY: the caller's promise.
        unsafe { handle(c, "consumer")? }
            .rx
            .recv(timeout_ns, data, len)
    })
}

/// Releases the message received in place (its space goes back to the producer); its
/// pointer is invalid from now on. `SHMKIT_INVALID_ARGUMENT` if none is held.
///
/// # Safety
///
/// `c` is a live consumer handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_release(c: *mut shmkit_consumer) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        unsafe { handle(c, "consumer")? }
            .rx
            .release("shmkit_consumer_recv")
    })
}

/// Receives the next message by copying it into `buf` (`cap` bytes), waiting as
/// `timeout_ns` says; `*len` is set to its length. A message held in place is released
/// first. A message longer than `cap` is `SHMKIT_SIZE_INVALID` and is **not lost**: `*len`
/// says how long it is, and the consumer keeps it for the next `recv_into` (or `recv`);
/// [`shmkit_consumer_len`] tells its length too. Other errors as [`shmkit_consumer_recv`].
///
/// The copy is made while the message is held, so a cooperating producer never writes it
/// meanwhile; a hostile process can only make the copied bytes wrong.
///
/// # Safety
///
/// `c` is a live consumer handle not used by another thread during the call; `buf` points
/// to `cap` writable bytes (or `cap` is 0); `len` is writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_consumer_recv_into(
    c: *mut shmkit_consumer,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
    timeout_ns: i64,
) -> shmkit_status {
    run(|| {
        let len = Out::new(len, "len")?;
        // SAFETY: the caller's promises.
        let (c, buf) = unsafe {
            (
                handle(c, "consumer")?,
                bytes_mut_arg(buf.cast(), cap, "buf")?,
            )
        };
        c.rx.recv_into(buf, len, timeout_ns)
    })
}
