//! Looking at segments from the outside: what a segment is (raw bytes or a shmkit object, and
//! which), who made it, and whether any live process still has it open or holds one of its
//! roles — what `shmkit ls`, `info` and `gc` show — and each object's shape and the counters
//! its roles keep in it ([`Info::details`]: a broadcast's slots, policy, published count and
//! each subscriber's position, lag, received and lost; a channel's fill and counts; ...). Liveness comes from the kernel, never
//! from a bare pid (see the crate's liveness notes): it holds across pid namespaces and pid
//! reuse. Inspection only reads; it never changes a segment. [`remove_unused`] is the one
//! exception, for `gc`.
//!
//! ```no_run
//! use shmkit::inspect;
//!
//! for name in inspect::list()? {      // Linux: /dev/shm; Windows: what shmkit created
//!     let info = inspect::inspect(&name)?;
//!     println!("{name}: {} bytes, {}, in use: {:?}", info.len, info.kind.label(), info.in_use);
//! }
//! # Ok::<(), shmkit::Error>(())
//! ```

use std::time::SystemTime;

use crate::liveness::{self, slot};
use crate::object::{self, kind_label, Header, Kind as ObjectKind, HEADER_LEN, MAGIC};
use crate::sys::role;
use crate::{Access, Result, Segment};

mod details;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
mod json;

pub use details::{
    BroadcastDetails, ChannelDetails, Details, EventDetails, LockDetails, SemaphoreDetails,
    ServiceDetails, SharedDetails, SubscriberDetails,
};

/// The layout version of the object headers this build writes and reads ([`Info::layout_version`]
/// of the objects it makes). Opening an object of another version is
/// [`Error::VersionMismatch`](crate::Error::VersionMismatch).
pub const LAYOUT_VERSION: u32 = crate::object::LAYOUT_VERSION;

/// The label of every kind of shmkit object this build makes, in the order of their header
/// numbers: what [`Kind::Object`] holds for them. An object whose header names a kind this
/// build does not know (from a newer version) is labelled `"unknown kind"`.
///
/// ```
/// assert!(shmkit::inspect::OBJECT_KINDS.contains(&"service"));
/// ```
pub const OBJECT_KINDS: &[&str] = &{
    let mut labels = [""; ObjectKind::ALL.len()];
    let mut i = 0;
    while i < labels.len() {
        labels[i] = ObjectKind::ALL[i].label();
        i += 1;
    }
    labels
};

/// What a segment holds, judged by its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Plain bytes (no shmkit header): a [`Segment`], or made by another program.
    Raw,
    /// A shmkit object; the label says which: one of [`OBJECT_KINDS`] (`"mutex"`, `"event"`,
    /// `"semaphore"`, `"shared value"`, `"channel"`, `"broadcast channel"`, `"service"`).
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

    /// The label as an identifier, as JSON and scripts use it: `"raw"`, `"channel"`,
    /// `"broadcast_channel"`, `"shared_value"`, ... (spaces become `_`).
    ///
    /// ```
    /// use shmkit::inspect::Kind;
    /// assert_eq!(Kind::Object("broadcast channel").id(), "broadcast_channel");
    /// assert_eq!(Kind::Raw.id(), "raw");
    /// ```
    pub fn id(self) -> String {
        self.label().replace(' ', "_")
    }
}

/// A role of an object that a live process holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Holder {
    /// `"producer"`, `"consumer"`, `"publisher"`, `"subscriber 3"`.
    pub role: String,
    /// The pid the holder recorded when it took the role — for display only: it may belong
    /// to another pid namespace.
    pub pid: u32,
}

/// What [`inspect`] learns about a segment.
///
/// With the `serde` feature it serialises to the JSON `shmkit info --json` prints (the field
/// list is on its `Serialize` impl).
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
    /// The pid that created a shmkit object, as it recorded it (for display: it may belong to
    /// another pid namespace).
    pub creator_pid: Option<u32>,
    /// Whether the creator's handle is still open, as the kernel says (on macOS: whether the
    /// pid runs, which a reused pid fools).
    pub creator_alive: Option<bool>,
    /// Whether any process has this shmkit object open (any handle, any role). `None` for raw
    /// segments, objects of another layout version, and where the OS cannot tell (macOS).
    /// Always `true` on Windows, where a named mapping exists only while some process has it
    /// open.
    pub in_use: Option<bool>,
    /// The roles (channel sides, publisher, subscribers) that live processes hold.
    pub holders: Vec<Holder>,
    /// Owner uid (Unix).
    pub owner_uid: Option<u32>,
    /// Permission bits (Unix).
    pub mode: Option<u32>,
    /// Last change (Unix).
    pub modified: Option<SystemTime>,
    /// The object's kind-specific shape and counters (slots, policy, layout, published,
    /// each subscriber's position and lag, ...), read without taking any role. `None` for
    /// raw segments, objects of another layout version or unknown kind, and when they could
    /// not be read (then [`details_error`](Info::details_error) says why).
    pub details: Option<Details>,
    /// Why [`details`](Info::details) could not be read: a corrupt or truncated object, or
    /// one still being created.
    pub details_error: Option<String>,
}

impl Info {
    /// Whole seconds since [`modified`](Info::modified) (0 if that is in the future; `None`
    /// where the OS does not say).
    pub fn age_seconds(&self) -> Option<u64> {
        self.modified.map(|t| {
            SystemTime::now()
                .duration_since(t)
                .map_or(0, |d| d.as_secs())
        })
    }
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
        in_use: None,
        holders: Vec::new(),
        owner_uid,
        mode,
        modified,
        details: None,
        details_error: None,
    };
    let Some(header) = header(&seg)? else {
        return Ok(info);
    };
    info.kind = Kind::Object(kind_label(header.kind));
    info.layout_version = Some(header.version);
    info.creator_pid = Some(header.creator_pid);
    if header.version != LAYOUT_VERSION {
        // Another layout's processes may not register as users, and its role words would be
        // misread: say nothing about liveness rather than something wrong.
        return Ok(info);
    }
    match details::read(&seg, name, &header) {
        Ok(d) => info.details = d,
        Err(e) => info.details_error = Some(e.to_string()),
    }
    info.in_use = role::users_present(seg.section(), name, slot::USERS);
    info.creator_alive = object::creator_alive(&seg, &header);
    let roles = ObjectKind::from_u32(header.kind)
        .and_then(|k| {
            crate::channel::roles(k, header.params, seg.len())
                .or_else(|| crate::service::roles(k, header.params))
        })
        .unwrap_or_default();
    if let Some(end) = roles.iter().map(|r| r.offset + 8).max() {
        let view = seg.map_range(Access::ReadOnly, 0, end.min(seg.len()))?;
        for r in roles.iter().filter(|r| r.offset + 8 <= view.len()) {
            let mut word = [0u8; 8];
            view.read_at(r.offset, &mut word)?;
            let word = u64::from_ne_bytes(word);
            let (state, _, pid) = liveness::unpack(word);
            if (r.held)(state) && liveness::holder_alive(&seg, r.slot, word) {
                info.holders.push(Holder {
                    role: r.label.clone(),
                    pid,
                });
            }
        }
    }
    Ok(info)
}

/// The header of a shmkit object, or `None` for a raw segment.
fn header(seg: &Segment) -> Result<Option<Header>> {
    if seg.len() < HEADER_LEN {
        return Ok(None);
    }
    let view = seg.map_range(Access::ReadOnly, 0, HEADER_LEN)?;
    let header: Header = bytemuck::pod_read_unaligned(&view.read_vec(0, HEADER_LEN)?);
    Ok((header.magic == MAGIC).then_some(header))
}

/// What [`remove_unused`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removal {
    /// The name is gone.
    Removed,
    /// Some process has the object open (or it has another layout version, whose users
    /// cannot be told, or the name was given to a new object meanwhile): left alone.
    InUse,
    /// Not a shmkit object (raw bytes, or another program's): left alone.
    NotShmkit,
}

/// Removes the shmkit object `name` if no process has it open — what `shmkit gc` does.
///
/// The test and the removal are one step as far as shmkit processes are concerned: this
/// takes the object's users' slot exclusively (which it gets only if no handle holds it),
/// removes the name, and only then lets go; a process opening the object meanwhile waits and
/// then gets [`Error::NotFound`](crate::Error::NotFound). Raw segments are never removed.
/// Users are the handles of shmkit objects (channels, broadcasts, sync objects); a process
/// that maps the object's bytes as a plain [`Segment`] is not one (its mapping stays valid
/// when the name goes).
///
/// # Errors
///
/// As [`Segment::open`] (e.g. `AccessDenied` for another user's object) and
/// [`Segment::remove`]; [`Error::Unsupported`](crate::Error::Unsupported) where the OS cannot
/// tell whether an object is in use (macOS).
///
/// # Platform notes
///
/// Windows frees a named mapping with its last handle, so an object that can be opened is in
/// use, and this always answers [`Removal::InUse`].
pub fn remove_unused(name: &str) -> Result<Removal> {
    let seg = Segment::open(name)?;
    match header(&seg)? {
        None => return Ok(Removal::NotShmkit),
        // Its processes may not register as users: it may be in use for all we can tell.
        Some(h) if h.version != LAYOUT_VERSION => return Ok(Removal::InUse),
        Some(_) => {}
    }
    let Some(hold) = role::exclude_users(seg.section(), name, slot::USERS)? else {
        return Ok(Removal::InUse);
    };
    // Only if the name still names the object tested: if it was removed and made again
    // meanwhile, the new object is someone else's (and not what was tested).
    let removed = match crate::sys::still_names(name, seg.section()) {
        Some(false) => Ok(Removal::InUse),
        _ => Segment::remove(name).map(|()| Removal::Removed),
    };
    role::release(seg.section(), hold);
    removed
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
    let mut names: Vec<String> = crate::sys::shm_list()?
        .into_iter()
        .filter(|n| crate::name::validate(n).is_ok())
        .collect();
    names.sort();
    Ok(names)
}
