//! The versioned object header every shmkit object (sync objects, channels, broadcasts,
//! services) starts with, and — for sync objects — the state words, the mutex slot and (for
//! `Shared<T>`) the value that follow it.
//!
//! Sync objects:
//!
//! ```text
//! offset  size  what
//!      0    64  Header (Pod): magic "SHMKIT\0\0", version, kind, total length, creator pid,
//!               ready flag, three kind-specific parameters, the creator's role word
//!     64     4  lock state: 0 consistent, 1 owner died (being repaired), 2 unrecoverable
//!     68     4  (reserved)
//!     72     4  the word waiters sleep on: event "set" flag / semaphore count
//!     76     4  number of sleepers on that word (lets wakers skip the syscall)
//!    128    64  the OS mutex (`pthread_mutex_t` on Linux; owner word elsewhere)
//!    192     …  the value of a `Shared<T>`, aligned for `T`
//! ```
//!
//! The creator writes the header and initialises the state, then publishes it by storing 1 in
//! `ready` with Release; openers wait (briefly) for `ready` with Acquire and then check magic,
//! version, kind and sizes, so a segment that is not a shmkit object, is truncated, or comes
//! from another layout version is a typed error, never undefined behaviour.

use bytemuck::{Pod, Zeroable};

use crate::liveness::{self, slot};
use crate::sys::MUTEX_SLOT;
use crate::Segment;

/// "SHMKIT" and two NULs: the first 8 bytes of every shmkit object segment.
pub(crate) const MAGIC: [u8; 8] = *b"SHMKIT\0\0";
/// The layout version this library writes and reads. Bump it whenever a process running
/// the old layout could misread the new one, or race with it.
///
/// * 1: the first layout.
/// * 2: channel attachment words and broadcast subscriber entries are one u64
///   (`state | pid << 32`) claimed by a single compare-exchange; version 1 claimed the state
///   word and stored the pid after it, which a version 2 process could race with.
/// * 3: liveness from the kernel (`crate::liveness`): role words carry a generation
///   (`state | generation << 8 | pid << 32`), holders hold OFD locks (Linux) or named events
///   (Windows), and the header's last word is the creator's role word. A version 2 process
///   would judge holders by their pid alone.
/// * 4: zero-copy broadcast: subscriber entries gain a held word, and an index after the
///   slots says which slot each message went to (an overwriting publisher skips held slots).
///   A version 3 publisher would overwrite a slot a version 4 subscriber holds.
/// * 5: counters in the objects (issue 21): channel lines count messages sent and received,
///   a broadcast publisher's line counts messages overwritten unread, subscriber entries
///   count received and lost, a service counts refusals (`channel::layout`, "Counters").
///   A version 4 process would leave them unwritten, so `inspect` would report wrong
///   counts for an object it uses, and its subscribers would keep a predecessor's counts.
pub(crate) const LAYOUT_VERSION: u32 = 5;

pub(crate) const HEADER_LEN: usize = 64;
pub(super) const READY: usize = 28;
pub(super) const CREATOR: usize = 56;
pub(crate) const LOCK_STATE: usize = 64;
pub(crate) const WORD: usize = 72;
pub(crate) const SLEEPERS: usize = 76;
pub(crate) const MUTEX: usize = 128;
pub(crate) const DATA: usize = MUTEX + MUTEX_SLOT;

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Mutex = 1,
    Event = 2,
    Semaphore = 3,
    Shared = 4,
    Channel = 5,
    Broadcast = 6,
    Service = 7,
}

impl Kind {
    /// Every kind, in the order of their numbers.
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Mutex,
        Kind::Event,
        Kind::Semaphore,
        Kind::Shared,
        Kind::Channel,
        Kind::Broadcast,
        Kind::Service,
    ];

    pub(crate) const fn label(self) -> &'static str {
        kind_label(self as u32)
    }

    /// The kind a header's number names, if any.
    pub(crate) fn from_u32(kind: u32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u32 == kind)
    }
}

/// A readable name for a kind number found in a header.
pub(crate) const fn kind_label(kind: u32) -> &'static str {
    match kind {
        1 => "mutex",
        2 => "event",
        3 => "semaphore",
        4 => "shared value",
        5 => "channel",
        6 => "broadcast channel",
        7 => "service",
        _ => "unknown kind",
    }
}

/// The first 64 bytes of an object segment.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct Header {
    pub(crate) magic: [u8; 8],
    pub(crate) version: u32,
    pub(crate) kind: u32,
    pub(crate) total_len: u64,
    pub(crate) creator_pid: u32,
    /// Read through an atomic at offset `READY`; here only to fix the layout.
    pub(crate) ready: u32,
    pub(crate) params: [u64; 3],
    /// The creator's role word (`crate::liveness`), read through an atomic at `CREATOR`.
    pub(crate) creator: u64,
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_LEN);
const _: () = assert!(std::mem::offset_of!(Header, ready) == READY);
const _: () = assert!(std::mem::offset_of!(Header, creator) == CREATOR);

/// States of the creator's role word.
pub(super) const CREATOR_HOLDS: u32 = 1;
pub(super) const CREATOR_LEFT: u32 = 2;

/// Whether the creator role recorded in `header` is still held by a live handle (`None`
/// for a header with no creator word).
pub(crate) fn creator_alive(segment: &Segment, header: &Header) -> Option<bool> {
    match liveness::unpack(header.creator).0 {
        CREATOR_HOLDS => Some(liveness::holder_alive(
            segment,
            slot::CREATOR,
            header.creator,
        )),
        CREATOR_LEFT => Some(false),
        _ => None,
    }
}
