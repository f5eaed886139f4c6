//! What several kinds share: the wait strategy and the message layout of typed sides.

use std::ffi::c_char;

use shmkit::channel::{MessageLayout, WaitStrategy};

use crate::status::*;

/// How a blocked side waits (`shmkit::channel::WaitStrategy`); options and
/// `shmkit_*_set_wait_strategy` take it as an `int32_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shmkit_wait_strategy {
    /// Spin about a µs, yield a while, then sleep on the OS waker. The default.
    SHMKIT_WAIT_ADAPTIVE = 0,
    /// Sleep at once (least CPU).
    SHMKIT_WAIT_BLOCKING = 1,
    /// Never sleep: spin until ready (lowest latency, burns a core).
    SHMKIT_WAIT_BUSY_POLL = 2,
}

/// A `wait_strategy` argument: one of [`shmkit_wait_strategy`]'s values.
pub(crate) fn wait_strategy_arg(w: i32) -> Outcome<WaitStrategy> {
    Ok(match w {
        0 => WaitStrategy::Adaptive,
        1 => WaitStrategy::Blocking,
        2 => WaitStrategy::BusyPoll,
        _ => {
            return Err(misuse(format!(
                "wait strategy {w} is not a shmkit_wait_strategy value"
            )))
        }
    })
}

/// The message type of a typed side: a C struct's `sizeof`, `_Alignof` and a tag naming it
/// and its version (`"pose v2"`; NULL or "" for none). The same three numbers give the same
/// layout fingerprint as Rust's `Pod` types (`MessageLayout::of::<T>(Some(tag))`) and
/// Python's numpy dtypes, so an opener with another struct gets `SHMKIT_LAYOUT_MISMATCH`,
/// naming both sides.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_layout {
    /// `sizeof` the message struct (at least 1).
    pub size: usize,
    /// `_Alignof` the message struct (a power of two).
    pub align: usize,
    /// A NUL-terminated UTF-8 tag, or NULL.
    pub tag: *const c_char,
}

/// A layout argument (NULL: none, a byte side).
///
/// # Safety
///
/// `p` is NULL or points to a valid `shmkit_layout` whose `tag` is NULL or a NUL-terminated
/// string.
pub(crate) unsafe fn layout_arg(p: *const shmkit_layout) -> Outcome<Option<MessageLayout>> {
    // SAFETY: the caller promises NULL or a valid struct.
    let Some(l) = (unsafe { p.as_ref() }) else {
        return Ok(None);
    };
    let max = u32::MAX as usize;
    if l.size == 0 || l.size > max || !l.align.is_power_of_two() || l.align > max {
        return Err(misuse(format!(
            "layout size {} / align {}: the size must be 1 to 4 GiB - 1 and the alignment a power of two",
            l.size, l.align
        )));
    }
    let tag = if l.tag.is_null() {
        None
    } else {
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        Some(unsafe { str_arg(l.tag, "layout tag")? })
    };
    Ok(Some(MessageLayout::new(l.size as u64, l.align as u64, tag)))
}
