//! The versioned object header every shmkit object (sync objects, channels, broadcasts)
//! starts with, how objects are created, opened and checked, and — for sync objects — the
//! state words, the mutex slot and (for `Shared<T>`) the value that follow it. It is the
//! crate's own layer between segments and the kinds built on them, so it lives at crate level
//! (channels and `inspect` use it as much as `sync` does).
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
//!
//! Every handle registers as a user of the object, and the creator holds the creator role,
//! through [`crate::liveness`] (kernel-held, so `shmkit ls` / `gc` can tell whether any live
//! process still has the object open). Both are taken before the header is written, so that
//! `gc`, which only considers segments with the magic, never sees an object without its
//! creator registered.

use crate::atomic_shim::AtomicU64;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};

use crate::liveness::{self, slot, Claim, Claimed};
use crate::sys::{self, role, MUTEX_SLOT};
use crate::{Error, Result, Segment, View};

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
pub(crate) const LAYOUT_VERSION: u32 = 4;

pub(crate) const HEADER_LEN: usize = 64;
const READY: usize = 28;
const CREATOR: usize = 56;
pub(crate) const LOCK_STATE: usize = 64;
pub(crate) const WORD: usize = 72;
pub(crate) const SLEEPERS: usize = 76;
pub(crate) const MUTEX: usize = 128;
pub(crate) const DATA: usize = MUTEX + MUTEX_SLOT;

/// How long an opener waits for a creator to finish initialising.
const INIT_WAIT: Duration = Duration::from_secs(2);

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
const CREATOR_HOLDS: u32 = 1;
const CREATOR_LEFT: u32 = 2;

/// How long an opener waits while `shmkit gc` (which keeps users out) removes the object.
const GC_WAIT: Duration = Duration::from_secs(2);

/// How a new object's segment is made: who may open it, and whether its creator removes the
/// name when dropped. Every kind's options carry one (`mode`, `keep`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Creation {
    /// Unix permission bits of the segment (ignored on Windows).
    pub(crate) mode: u32,
    /// Whether the creator leaves the name in place when dropped.
    pub(crate) keep: bool,
}

impl Default for Creation {
    fn default() -> Self {
        Creation {
            mode: crate::segment::DEFAULT_MODE,
            keep: false,
        }
    }
}

/// The `mode` and `keep` setters of every object kind's options builder (each has a
/// `how: Creation` field), written once so their docs say the same everywhere.
macro_rules! creation_setters {
    () => {
        /// Unix permission bits of the object's segment, if this call creates it (default
        /// `0o600`: the creating user only). Applied exactly: the umask does not narrow them.
        /// `0o660` also lets the segment's group open it — on Linux the creating process's
        /// effective group, or whatever `chgrp` on `/dev/shm/<name>` makes it. Every process
        /// that can open it is a peer you trust (see the [trust model](crate#trust-model)).
        ///
        /// # Platform notes
        ///
        /// Ignored on Windows: the section and the named kernel objects beside it get the
        /// default security of the creating process's token.
        pub fn mode(&mut self, mode: u32) -> &mut Self {
            self.how.mode = mode;
            self
        }

        /// Whether the creator leaves the name in place when dropped (default: it removes it,
        /// like [`Segment`](crate::Segment)). A kept name lives until someone removes it
        /// (`Segment::remove`, `shmkit rm`) or the machine reboots.
        ///
        /// # Platform notes
        ///
        /// Windows: an object exists only while some process holds a handle to it, so
        /// keeping cannot make it outlive the last process that has it open.
        pub fn keep(&mut self, keep: bool) -> &mut Self {
            self.how.keep = keep;
            self
        }
    };
}
pub(crate) use creation_setters;

/// Opens the object `name` if it exists, else creates it: `create` must fail with
/// [`Error::AlreadyExists`] when the name is taken (it does: segments are created
/// exclusively), and `open` must do every check an open does, including waiting for the
/// creator's `ready`. So when two processes race, exactly one creates and the other opens
/// what the winner finishes initialising. If the name vanishes between the two attempts
/// (its creator dropped it), try again, a few times; then report `NotFound`.
pub(crate) fn open_or_create<T>(
    mut create: impl FnMut() -> Result<T>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    const ATTEMPTS: usize = 8;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create() {
            Err(Error::AlreadyExists { .. }) => {}
            r => return r,
        }
        match open() {
            Err(Error::NotFound { .. }) if attempt < ATTEMPTS => {}
            r => return r,
        }
    }
}

/// An object segment, mapped read-write.
#[derive(Debug)]
pub(crate) struct Object {
    /// The creator role, held by the handle that created the object. First, so that it is
    /// given back while the mapping it points into is still there.
    creator: Option<CreatorRole>,
    pub(crate) view: View,
    // Dropped after the view: the creator's handle removes the name.
    pub(crate) segment: Segment,
}

/// The creator's hold of its role, given back on drop.
#[derive(Debug)]
struct CreatorRole {
    claim: Option<Claim>,
    /// The creator's role word in the mapping, which outlives this value (see `Object`).
    word: *const AtomicU64,
}

// SAFETY: `word` points to an atomic in a shared mapping; nothing is tied to a thread.
unsafe impl Send for CreatorRole {}
// SAFETY: as above; the word is only used through atomic operations.
unsafe impl Sync for CreatorRole {}

impl Drop for CreatorRole {
    fn drop(&mut self) {
        if let Some(c) = self.claim.take() {
            // SAFETY: the mapping is still there: `creator` is dropped before `view`, and a
            // leaked mapping (`lock::RawLock::drop_object`) stays for the process's life.
            let word = unsafe { &*self.word };
            // The kernel's record (Linux: the OFD lock) goes with the segment's descriptor.
            // Windows: the hold's event closes as it goes out of scope.
            let _hold = liveness::release_word(c, word, CREATOR_LEFT, sys::current_pid());
        }
    }
}

impl Object {
    /// Creates the segment `name` of `len` bytes, writes the header, runs `init` on the new
    /// object (zeroed beyond the header), and only then publishes it to openers.
    pub(crate) fn create<R>(
        name: &str,
        how: Creation,
        kind: Kind,
        len: usize,
        params: [u64; 3],
        init: impl FnOnce(&Object) -> Result<R>,
    ) -> Result<(Object, R)> {
        let segment = Segment::options()
            .size(len)
            .mode(how.mode)
            .keep(how.keep)
            .create(name)?;
        // Registered before the magic is written: see the module docs.
        role::join_users(segment.section(), name, slot::USERS)?;
        let mut view = segment.map_populated()?;
        let header = Header {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            kind: kind as u32,
            total_len: len as u64,
            creator_pid: sys::current_pid(),
            ready: 0,
            params,
            creator: 0,
        };
        view.write_at(0, bytemuck::bytes_of(&header))?;
        let mut obj = Object {
            creator: None,
            view,
            segment,
        };
        let word = obj.creator_word();
        let claim = liveness::claim(&obj.segment, slot::CREATOR, word, CREATOR_HOLDS, |_| true)?;
        obj.creator = match claim {
            Claimed::Yes(c) => Some(CreatorRole {
                claim: Some(c),
                word,
            }),
            // Nobody else can hold the creator slot of a segment this call just created.
            Claimed::HeldBy(pid) => {
                return Err(Error::InUse {
                    name: name.to_owned(),
                    role: "creator",
                    pid,
                })
            }
        };
        let r = init(&obj)?;
        // SYNC POINT: this Release store publishes the header and everything `init` wrote;
        // it pairs with the Acquire load in `open`.
        obj.word(READY).store(1, Ordering::Release);
        Ok((obj, r))
    }

    /// Opens the segment `name`, waits for it to be ready, and checks that it is a `kind` of
    /// this layout version and at least `min_len` bytes long. Returns the header too.
    pub(crate) fn open(name: &str, kind: Kind, min_len: usize) -> Result<(Object, Header)> {
        let segment = Segment::open(name)?;
        join(&segment)?;
        let corrupt = |reason: String| Error::Corrupt {
            name: name.to_owned(),
            reason,
        };
        let too_small = |len: usize| {
            corrupt(format!(
                "{len} bytes is too small for a shmkit {}",
                kind.label()
            ))
        };
        if segment.len() < HEADER_LEN {
            return Err(too_small(segment.len()));
        }
        let view = segment.map_populated()?;
        let ready = view.atomic_u32(READY)?;
        let start = Instant::now();
        let mut pause = Duration::from_micros(10);
        // SYNC POINT: Acquire pairs with the creator's Release store of `ready`.
        while ready.load(Ordering::Acquire) != 1 {
            let magic = view.read_vec(0, MAGIC.len())?;
            if magic != MAGIC && magic.iter().any(|&b| b != 0) {
                return Err(corrupt("it does not start with the shmkit magic".into()));
            }
            if start.elapsed() > INIT_WAIT {
                return Err(corrupt(format!(
                    "its creator did not finish initialising it within {INIT_WAIT:?} (it may have died)"
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
        let header: Header = bytemuck::pod_read_unaligned(&view.read_vec(0, HEADER_LEN)?);
        if header.magic != MAGIC {
            return Err(corrupt("it does not start with the shmkit magic".into()));
        }
        if header.version != LAYOUT_VERSION {
            return Err(Error::VersionMismatch {
                name: name.to_owned(),
                found: header.version,
                expected: LAYOUT_VERSION,
            });
        }
        if header.kind != kind as u32 {
            return Err(Error::KindMismatch {
                name: name.to_owned(),
                expected: kind.label(),
                found: kind_label(header.kind),
            });
        }
        if segment.len() < min_len.max(DATA) {
            return Err(too_small(segment.len()));
        }
        if header.total_len > segment.len() as u64 || header.total_len < min_len as u64 {
            return Err(corrupt(format!(
                "its header says {} bytes but the segment has {} (at least {min_len} needed)",
                header.total_len,
                segment.len()
            )));
        }
        Ok((
            Object {
                creator: None,
                view,
                segment,
            },
            header,
        ))
    }

    /// The creator's role word.
    fn creator_word(&self) -> &AtomicU64 {
        #[cfg(shmkit_loom)]
        {
            crate::atomic_shim::model::prime_u64(self.ptr(CREATOR), 8);
            crate::atomic_shim::model::prime_kernel(self.name(), slot::CREATOR);
        }
        // SAFETY: offset 56 of a page-aligned mapping of at least DATA bytes (checked by
        // `create` and `open`) is an aligned, in-bounds u64; `&self` keeps the mapping alive.
        unsafe { &*self.view.as_ptr().add(CREATOR).cast::<AtomicU64>() }
    }

    /// The atomic word at `offset`, one of the header offsets above (a hot path: lock, set,
    /// post — hence no `Result`; callers pass constants, so the assert folds away).
    #[inline]
    pub(crate) fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= DATA,
            "not a header word: {offset}"
        );
        // SAFETY: every object segment has at least DATA bytes (checked by `create` and
        // `open`), is mapped read-write at a page-aligned address, so a multiple-of-4 offset
        // below DATA is an aligned, in-bounds, writable u32; `&self` keeps the mapping alive.
        unsafe { &*self.view.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// A raw pointer to `offset` in the mapping.
    pub(crate) fn ptr(&self, offset: usize) -> *mut u8 {
        assert!(offset < self.view.len());
        #[cfg(shmkit_loom)]
        crate::atomic_shim::model::mapped(self.name(), self.view.as_mut_ptr(), self.view.len());
        // SAFETY: in bounds, checked above.
        unsafe { self.view.as_mut_ptr().add(offset) }
    }

    /// The object's name.
    pub(crate) fn name(&self) -> &str {
        self.segment.name()
    }

    /// Whether this handle created the object (and so removes its name when dropped, unless
    /// it keeps it).
    pub(crate) fn is_creator(&self) -> bool {
        self.segment.is_creator()
    }
}

/// Registers an opener as a user of the object. `shmkit gc` holds the users' slot while it
/// removes an object; an opener that meets it waits, then finds the name gone (`NotFound`).
fn join(segment: &Segment) -> Result<()> {
    let name = segment.name();
    let start = Instant::now();
    while !role::join_users(segment.section(), name, slot::USERS)? {
        if start.elapsed() > GC_WAIT {
            return Err(Error::InUse {
                name: name.to_owned(),
                role: "remover",
                pid: 0,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if !role::still_linked(segment.section()) {
        return Err(Error::NotFound {
            name: name.to_owned(),
        });
    }
    Ok(())
}

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
