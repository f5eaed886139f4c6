//! The one error type of the library.

use std::fmt;
use std::io;

use crate::Access;

/// Result alias used throughout shmkit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in shmkit, as variants that say what the caller can do.
///
/// OS failures that have a meaning of their own (an object that does not exist, a name already
/// taken, permission denied) get their own variant with the name involved; anything else is
/// [`Error::Io`] with the operation and the object it was applied to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name breaks the rules of [`crate::name`]; nothing was created or opened.
    #[error("invalid name {name:?}: {reason}")]
    NameInvalid {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// No object of that name (or no such file) exists.
    #[error("no shared memory object named {name:?}")]
    NotFound {
        /// The name (or path) that was looked up.
        name: String,
    },

    /// An object of that name already exists and the caller asked for a new one.
    #[error("a shared memory object named {name:?} already exists")]
    AlreadyExists {
        /// The name that is taken.
        name: String,
    },

    /// The OS refused access to the object (its mode, owner or ACL forbid it).
    #[error("permission denied for {name:?} ({op})")]
    AccessDenied {
        /// The name (or path) involved.
        name: String,
        /// The operation that was refused.
        op: &'static str,
    },

    /// A view asked for more access than the segment or file was opened with.
    #[error("cannot map a {requested} view of {name:?}: it was opened {granted}")]
    AccessMismatch {
        /// The name (or path) of the mapping.
        name: String,
        /// The access the view asked for.
        requested: Access,
        /// The access the segment or file was opened with.
        granted: Access,
    },

    /// A size or range is invalid: zero, too large for this platform, or past the end.
    #[error("invalid size for {name:?}: {reason}")]
    SizeInvalid {
        /// The name (or path) involved.
        name: String,
        /// What is wrong, with the numbers.
        reason: String,
    },

    /// The system has not enough shared memory (or disk) for the requested size.
    #[error("not enough space for {name:?}: asked for {requested} bytes{}", Available(*.available))]
    NoSpace {
        /// The name (or path) involved.
        name: String,
        /// Bytes asked for.
        requested: u64,
        /// Bytes free where the object lives, when the OS tells.
        available: Option<u64>,
    },

    /// The segment is not what it should be: not a shmkit object, truncated, or never finished
    /// initialising (its creator died during creation).
    #[error("{name:?} is not a valid shmkit object: {reason}")]
    Corrupt {
        /// The segment's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The segment was made by a shmkit with another layout version.
    #[error("{name:?} has layout version {found}, this shmkit reads version {expected}")]
    VersionMismatch {
        /// The segment's name.
        name: String,
        /// The version in the segment.
        found: u32,
        /// The version this library writes and reads.
        expected: u32,
    },

    /// The segment holds another kind of shmkit object (e.g. an event opened as a mutex).
    #[error("{name:?} is a shmkit {found}, not a {expected}")]
    KindMismatch {
        /// The segment's name.
        name: String,
        /// The kind asked for.
        expected: &'static str,
        /// The kind found.
        found: &'static str,
    },

    /// A typed object (`Shared<T>`, a typed channel) was opened with a type of another layout
    /// (size, alignment or tag), or a byte channel was opened as a typed one.
    #[error("{name:?} holds another type: {reason}")]
    LayoutMismatch {
        /// The segment's name.
        name: String,
        /// Which part of the layout differs, with both values.
        reason: String,
    },

    /// A wait ran out of time.
    #[error("timed out waiting for {name:?}")]
    Timeout {
        /// The object waited for.
        name: String,
    },

    /// A `try_` call found the object busy (lock held, no permit, event not set).
    #[error("{name:?} is not available right now")]
    WouldBlock {
        /// The object.
        name: String,
    },

    /// The holder of a mutex died while holding it, and the data it protects may be
    /// inconsistent. Returned when a [`LockError::OwnerDied`](crate::sync::LockError) is
    /// converted (`?`): the lock was then released unrepaired, and its next holder is told of
    /// the death in turn.
    #[error("the owner of {name:?} died while holding it")]
    OwnerDied {
        /// The mutex.
        name: String,
    },

    /// A mutex whose owner died was unlocked without being marked consistent; it can never be
    /// locked again. Remove and recreate it.
    #[error("{name:?} is unrecoverable: its owner died and nobody repaired the state")]
    Unrecoverable {
        /// The mutex.
        name: String,
    },

    /// The calling thread already holds this mutex; locking again would deadlock.
    #[error("this thread already holds {name:?}")]
    Deadlock {
        /// The mutex.
        name: String,
    },

    /// A semaphore is at its maximum count, a broadcast channel has its maximum number of
    /// subscribers, a service its maximum of clients, or a service client its maximum of
    /// outstanding requests.
    #[error("{name:?} is already at its maximum of {max}")]
    Full {
        /// The semaphore.
        name: String,
        /// Its maximum count.
        max: u32,
    },

    /// A request is not outstanding on the client asked: already answered, cancelled, or
    /// another client's (`service::Client::wait` and its forms). Not [`Error::NotFound`],
    /// which is only ever about a named object.
    #[error("request {id} is not outstanding on the client of {name:?}")]
    NotOutstanding {
        /// The service.
        name: String,
        /// The request's id ([`Pending::id`](crate::service::Pending::id)).
        id: u64,
    },

    /// The other side of a channel is gone (dropped, or its process died) and everything it
    /// committed has been received.
    #[error("the other side of {name:?} disconnected")]
    Disconnected {
        /// The channel.
        name: String,
    },

    /// A broadcast subscriber fell a whole ring behind and lost this many messages; it goes
    /// on with the oldest message still available.
    #[error("subscriber of {name:?} lagged and lost {missed} messages")]
    Lagged {
        /// The channel.
        name: String,
        /// How many messages it missed.
        missed: u64,
    },

    /// The role asked for (producer or consumer of a channel, a broadcast's publisher) is held
    /// by a live process, as the kernel says (see the crate's liveness notes).
    #[error("the {role} of {name:?} is held by a live process (recorded pid {pid})")]
    InUse {
        /// The object.
        name: String,
        /// `"producer"`, `"consumer"`, `"publisher"`, …
        role: &'static str,
        /// The pid the holder recorded when it took the role: for display only (it may
        /// belong to another pid namespace, and 0 means none was recorded).
        pid: u32,
    },

    /// The operation is not available on this OS.
    #[error("{op} is not supported here: {reason}")]
    Unsupported {
        /// What was attempted.
        op: &'static str,
        /// Why this OS cannot do it.
        reason: &'static str,
    },

    /// Any other OS error, with the operation and the object it was applied to.
    #[error("{op} {name:?}: {source}")]
    Io {
        /// The operation that failed (for example `"shm_open"` or `"MapViewOfFile"`).
        op: &'static str,
        /// The name (or path) involved.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Formats the optional "bytes available" tail of [`Error::NoSpace`].
struct Available(Option<u64>);

impl fmt::Display for Available {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, ", {n} available"),
            None => Ok(()),
        }
    }
}

impl Error {
    /// Wraps an OS error, mapping the kinds that have their own variant.
    pub(crate) fn os(op: &'static str, name: &str, source: io::Error) -> Self {
        let name = name.to_owned();
        match source.kind() {
            io::ErrorKind::NotFound => Error::NotFound { name },
            io::ErrorKind::AlreadyExists => Error::AlreadyExists { name },
            io::ErrorKind::PermissionDenied => Error::AccessDenied { name, op },
            _ => Error::Io { op, name, source },
        }
    }

    /// Builds a [`Error::Timeout`] or [`Error::WouldBlock`], whichever a wait that gave up
    /// with `deadline` means.
    pub(crate) fn gave_up(name: &str, deadline: crate::sys::Deadline) -> Self {
        let name = name.to_owned();
        if deadline == crate::sys::Deadline::Try {
            Error::WouldBlock { name }
        } else {
            Error::Timeout { name }
        }
    }

    /// Builds a [`Error::SizeInvalid`].
    pub(crate) fn size(name: &str, reason: impl Into<String>) -> Self {
        Error::SizeInvalid {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::NameInvalid { .. } | Error::SizeInvalid { .. } => io::ErrorKind::InvalidInput,
            Error::NotFound { .. } => io::ErrorKind::NotFound,
            Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
            Error::AccessDenied { .. } | Error::AccessMismatch { .. } => {
                io::ErrorKind::PermissionDenied
            }
            Error::NoSpace { .. } => io::ErrorKind::OutOfMemory,
            Error::Corrupt { .. }
            | Error::VersionMismatch { .. }
            | Error::KindMismatch { .. }
            | Error::LayoutMismatch { .. } => io::ErrorKind::InvalidData,
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::WouldBlock { .. } => io::ErrorKind::WouldBlock,
            Error::OwnerDied { .. } | Error::Unrecoverable { .. } | Error::Deadlock { .. } => {
                io::ErrorKind::Other
            }
            Error::Full { .. } => io::ErrorKind::Other,
            Error::NotOutstanding { .. } => io::ErrorKind::InvalidInput,
            Error::Disconnected { .. } => io::ErrorKind::BrokenPipe,
            Error::Lagged { .. } => io::ErrorKind::Other,
            Error::InUse { .. } => io::ErrorKind::ResourceBusy,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e)
    }
}
