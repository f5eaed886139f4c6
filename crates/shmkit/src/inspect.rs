//! Looking at segments from the outside: what a segment is (raw bytes or a shmkit object, and
//! which), who made it and whether that process still runs — what `shmkit ls`, `info` and `gc`
//! show. Inspection only reads; it never changes a segment.

use std::time::SystemTime;

use crate::sync::object::{kind_label, Header, HEADER_LEN, MAGIC};
use crate::{sys, Access, Result, Segment};

/// The layout version of the object headers this build writes and reads ([`Info::layout_version`]
/// of the objects it makes). Opening an object of another version is
/// [`Error::VersionMismatch`](crate::Error::VersionMismatch).
pub const LAYOUT_VERSION: u32 = crate::sync::object::LAYOUT_VERSION;

/// What a segment holds, judged by its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Plain bytes (no shmkit header): a [`Segment`], or made by another program.
    Raw,
    /// A shmkit object; the label says which (`"mutex"`, `"event"`, `"semaphore"`,
    /// `"shared value"`, `"channel"`, …).
    Object(&'static str),
}

impl Kind {
    /// `"raw"` or the object's label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Object(l) => l,
        }
    }
}

/// What [`inspect`] learns about a segment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Info {
    /// The segment's name.
    pub name: String,
    /// Its size in bytes.
    pub len: usize,
    /// Raw bytes or a shmkit object.
    pub kind: Kind,
    /// The layout version in the header of a shmkit object.
    pub layout_version: Option<u32>,
    /// The process that created a shmkit object.
    pub creator_pid: Option<u32>,
    /// Whether that process still runs (a reused pid looks alive).
    pub creator_alive: Option<bool>,
    /// Owner uid (Unix).
    pub owner_uid: Option<u32>,
    /// Permission bits (Unix).
    pub mode: Option<u32>,
    /// Last change (Unix).
    pub modified: Option<SystemTime>,
}

/// Opens `name` read-only and reports what it is.
///
/// # Errors
///
/// [`Error::NameInvalid`](crate::Error::NameInvalid), [`Error::NotFound`](crate::Error::NotFound),
/// [`Error::AccessDenied`](crate::Error::AccessDenied), [`Error::Io`](crate::Error::Io).
pub fn inspect(name: &str) -> Result<Info> {
    let seg = Segment::options().read_only(true).open(name)?;
    let (owner_uid, mode, modified) = match seg.owner_mode_mtime() {
        Some((u, m, t)) => (Some(u), Some(m), Some(t)),
        None => (None, None, None),
    };
    let mut info = Info {
        name: name.to_owned(),
        len: seg.len(),
        kind: Kind::Raw,
        layout_version: None,
        creator_pid: None,
        creator_alive: None,
        owner_uid,
        mode,
        modified,
    };
    if seg.len() >= HEADER_LEN {
        let view = seg.map_range(Access::ReadOnly, 0, HEADER_LEN)?;
        let header: Header = bytemuck::pod_read_unaligned(&view.read_vec(0, HEADER_LEN)?);
        if header.magic == MAGIC {
            info.kind = Kind::Object(kind_label(header.kind));
            info.layout_version = Some(header.version);
            info.creator_pid = Some(header.creator_pid);
            info.creator_alive = Some(sys::process_alive(header.creator_pid));
        }
    }
    Ok(info)
}

/// The names of the shared-memory segments on this machine that the OS can list.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) on macOS, which offers no way to
/// enumerate them.
///
/// # Platform notes
///
/// Linux lists `/dev/shm`, which holds every POSIX segment of every user (and also glibc's
/// `sem.*` semaphores). Windows cannot enumerate named file mappings, so there this lists the
/// segments shmkit created (it records each name in `%LOCALAPPDATA%\shmkit\segments`) that
/// still exist. Names that are not valid shmkit names are left out.
pub fn list() -> Result<Vec<String>> {
    let mut names: Vec<String> = sys::shm_list()?
        .into_iter()
        .filter(|n| crate::name::validate(n).is_ok())
        .collect();
    names.sort();
    Ok(names)
}
