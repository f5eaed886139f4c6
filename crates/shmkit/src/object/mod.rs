//! Objects: the segments every shmkit kind (sync objects, channels, broadcasts, services) is
//! built on. It is the crate's own layer between segments and the kinds built on them, so it
//! lives at crate level (channels and `inspect` use it as much as `sync` does):
//!
//! * `header.rs`: the versioned header every object starts with, the kinds, and the layout of
//!   a sync object after it;
//! * `creation.rs`: how a new object's segment is made (`mode`, `keep`), and open-or-create;
//! * here: [`Object`], a mapped object segment — creating one (header written, creator role
//!   claimed, published with `ready`), opening one (waiting for `ready`, every header field
//!   checked), and its creator role.
//!
//! Every handle registers as a user of the object, and the creator holds the creator role,
//! through [`crate::liveness`] (kernel-held, so `shmkit ls` / `gc` can tell whether any live
//! process still has the object open). Both are taken before the header is written, so that
//! `gc`, which only considers segments with the magic, never sees an object without its
//! creator registered.

mod creation;
mod header;

use crate::atomic_shim::AtomicU64;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::liveness::{self, slot, Claim, Claimed};
use crate::sys::{self, role};
use crate::{Error, Result, Segment, View};

pub(crate) use creation::{creation_setters, open_or_create, Creation};
pub(crate) use header::*;

/// How long an opener waits for a creator to finish initialising.
const INIT_WAIT: Duration = Duration::from_secs(2);

/// How long an opener waits while `shmkit gc` (which keeps users out) removes the object.
const GC_WAIT: Duration = Duration::from_secs(2);

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
