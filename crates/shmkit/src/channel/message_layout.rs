//! What a typed channel records about its message type, and the check an opener makes.
//!
//! Written once for every typed kind. The SPSC channel puts [`MessageLayout::params`] in its
//! object header's last two parameters and the tag text at an offset of its choosing in its
//! first 128 bytes. A kind whose header parameters are all taken (broadcast) keeps a *record*
//! instead, [`RECORD_LEN`] bytes in free space of its own: the same two words, then the tag.
//!
//! ```text
//! params[1]  size | align << 32      0: a byte channel (no type recorded)
//! params[2]  fingerprint             FNV-1a 64 of size (u64 LE), align (u64 LE), tag bytes
//! tag text   TAG_ROOM bytes          byte 0: length (0..=47) | 0x80 if truncated; then UTF-8
//!
//! record     the two words (native-endian u64s), then the tag text: 64 bytes
//! ```
//!
//! The fingerprint never involves `std::any::type_name`: two separately built programs that
//! each define "the same" `#[repr(C)]` struct give it different paths (and the compiler may
//! spell it differently from one release to the next). Without a tag the fingerprint covers
//! size and alignment only; a tag (`"pose v2"`) adds the name and version the user gives the
//! layout. The tag text is kept only so that an error can show what the other side used; the
//! check compares the fingerprint, which covers the whole tag.

use bytemuck::Pod;

use crate::atomic_copy;
use crate::object::Object;
use crate::{Error, Result};

/// Bytes kept for the tag text: a length byte and up to 47 bytes of UTF-8.
pub(crate) const TAG_ROOM: usize = 48;
const TAG_MAX: usize = TAG_ROOM - 1;
/// Bytes of a layout record ([`MessageLayout::write_record`]): two words and the tag text.
pub(crate) const RECORD_LEN: usize = 16 + TAG_ROOM;
const TRUNCATED: u8 = 0x80;

/// A message type's layout as a typed channel records it: size, alignment and tag, and the
/// fingerprint over them that every opener compares.
///
/// Typed channels and broadcasts make and check these themselves; this type is public for
/// code that forwards typed messages it knows only as bytes (a bridge to another machine):
/// it reads the layout a byte side carries ([`Subscriber::message_layout`](
/// crate::channel::broadcast::Subscriber::message_layout), [`Consumer::message_layout`](
/// crate::channel::Consumer::message_layout)), and creates a byte broadcast that records one
/// ([`broadcast::Options::create_publisher_with_layout`](crate::channel::broadcast::Options::create_publisher_with_layout)),
/// which typed subscribers of that layout can then join.
///
/// ```
/// use shmkit::channel::MessageLayout;
/// let pose = MessageLayout::of::<[f32; 4]>(Some("pose v1"));
/// assert_eq!((pose.size(), pose.align(), pose.tag()), (16, 4, Some("pose v1")));
/// assert_eq!(pose, MessageLayout::new(16, 4, Some("pose v1")));
/// assert_ne!(pose.fingerprint(), MessageLayout::new(16, 4, None).fingerprint());
/// ```
#[derive(Clone, Debug)]
pub struct MessageLayout {
    pub(crate) size: u64,
    pub(crate) align: u64,
    pub(crate) fingerprint: u64,
    /// The tag, if any (an empty tag is none).
    pub(crate) tag: Option<String>,
    /// The Rust type, on this side only: for error messages, never compared.
    type_name: Option<&'static str>,
}

/// Layouts are equal when size, alignment and fingerprint are (the fingerprint covers the
/// whole tag; the Rust type's name, kept for error messages, is not compared).
impl PartialEq for MessageLayout {
    fn eq(&self, other: &Self) -> bool {
        (self.size, self.align, self.fingerprint) == (other.size, other.align, other.fingerprint)
    }
}

impl Eq for MessageLayout {}

impl std::fmt::Display for MessageLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(true))
    }
}

/// FNV-1a, 64 bits, over size, alignment and tag (a stable fingerprint, not for security).
pub(crate) fn fingerprint(size: u64, align: u64, tag: &str) -> u64 {
    size.to_le_bytes()
        .into_iter()
        .chain(align.to_le_bytes())
        .chain(tag.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

impl MessageLayout {
    /// The layout of `T`, identified by `tag` if one is given.
    pub fn of<T: Pod>(tag: Option<&str>) -> MessageLayout {
        let (size, align) = (
            std::mem::size_of::<T>() as u64,
            std::mem::align_of::<T>() as u64,
        );
        let tag = tag.filter(|t| !t.is_empty());
        MessageLayout {
            size,
            align,
            fingerprint: fingerprint(size, align, tag.unwrap_or("")),
            tag: tag.map(str::to_owned),
            type_name: Some(std::any::type_name::<T>()),
        }
    }

    /// A layout given by numbers (a type known only by its size, alignment and tag, as a
    /// command line gives it). An empty tag is none.
    pub fn new(size: u64, align: u64, tag: Option<&str>) -> MessageLayout {
        let tag = tag.filter(|t| !t.is_empty());
        MessageLayout {
            size,
            align,
            fingerprint: fingerprint(size, align, tag.unwrap_or("")),
            tag: tag.map(str::to_owned),
            type_name: None,
        }
    }

    /// Size of one value, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Alignment of the type, in bytes.
    pub fn align(&self) -> u64 {
        self.align
    }

    /// The fingerprint: FNV-1a 64 over size, alignment and tag; what openers compare.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The tag, if any. Read from a segment, it is display text only (at most 47 bytes are
    /// kept; a longer one ends in `…`); the fingerprint covers the whole tag.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The layout recorded by header parameters `params` and the tag text at `at`; `None`
    /// for a byte side (parameters zero).
    pub(crate) fn read(obj: &Object, params: [u64; 2], at: usize) -> Option<MessageLayout> {
        Self::read_view(&obj.view, params, at)
    }

    /// [`MessageLayout::read`] from any view of the object (inspection maps it read-only);
    /// a tag text out of the view's range reads as none.
    pub(crate) fn read_view(
        view: &crate::View,
        params: [u64; 2],
        at: usize,
    ) -> Option<MessageLayout> {
        (params[0] != 0).then(|| MessageLayout {
            size: params[0] & 0xffff_ffff,
            align: params[0] >> 32,
            fingerprint: params[1],
            tag: read_tag(view, at),
            type_name: None,
        })
    }

    /// [`MessageLayout::read_record`] from any view of the object.
    pub(crate) fn read_record_view(view: &crate::View, at: usize) -> Result<Option<MessageLayout>> {
        let words = view.read_vec(at, 16)?;
        Ok(Self::read_view(
            view,
            bytemuck::pod_read_unaligned(&words),
            at + 16,
        ))
    }

    /// [`MessageLayout::read`] of the record at `at` (see [`MessageLayout::write_record`]).
    pub(crate) fn read_record(obj: &Object, at: usize) -> Result<Option<MessageLayout>> {
        let words = obj.view.read_vec(at, 16)?;
        Ok(Self::read(
            obj,
            bytemuck::pod_read_unaligned(&words),
            at + 16,
        ))
    }

    /// The two header parameters that record this layout: `[size | align << 32, fingerprint]`.
    /// Sizes and alignments must fit 32 bits (the typed kinds assert it at compile time).
    pub(crate) fn params(&self) -> [u64; 2] {
        debug_assert!(self.size <= u64::from(u32::MAX) && self.align <= u64::from(u32::MAX));
        [self.size | self.align << 32, self.fingerprint]
    }

    /// Writes the tag text at `at` in `obj` (a new object, not yet published).
    pub(crate) fn write_tag(&self, obj: &Object, at: usize) {
        let mut room = [0u8; TAG_ROOM];
        let tag = self.tag.as_deref().unwrap_or("");
        let mut len = tag.len().min(TAG_MAX);
        while !tag.is_char_boundary(len) {
            len -= 1;
        }
        room[0] = len as u8 | if len < tag.len() { TRUNCATED } else { 0 };
        room[1..=len].copy_from_slice(&tag.as_bytes()[..len]);
        assert!(at + TAG_ROOM <= obj.view.len());
        // SAFETY: in bounds (asserted) of the read-write mapping `obj` keeps alive; the object
        // is not published yet, and the store is atomic anyway (`atomic_copy::store`).
        unsafe { atomic_copy::store(&room, obj.ptr(at)) };
    }

    /// Writes the layout record (parameters and tag text) at `at` in `obj` (a new object, not
    /// yet published), for a kind with no header parameters to spare.
    pub(crate) fn write_record(&self, obj: &Object, at: usize) {
        assert!(at % 8 == 0 && at + RECORD_LEN <= obj.view.len());
        // SAFETY: in bounds (asserted) of the read-write mapping `obj` keeps alive; the object
        // is not published yet, and the store is atomic anyway (`atomic_copy::store`).
        unsafe { atomic_copy::store(bytemuck::bytes_of(&self.params()), obj.ptr(at)) };
        self.write_tag(obj, at + 16);
    }

    /// [`MessageLayout::check`] against the record at `at` (zeroed, as in a kind created
    /// without a message type, it records none).
    pub(crate) fn check_record(&self, obj: &Object, at: usize) -> Result<()> {
        let words = obj.view.read_vec(at, 16)?;
        let params: [u64; 2] = bytemuck::pod_read_unaligned(&words);
        self.check(obj, params, at + 16)
    }

    /// Checks that the object records this layout (`params` are its header's last two
    /// parameters, the tag text is at `at`): [`Error::LayoutMismatch`] naming both layouts if
    /// not, or if it records none (a byte channel).
    pub(crate) fn check(&self, obj: &Object, params: [u64; 2], at: usize) -> Result<()> {
        if params == self.params() {
            return Ok(());
        }
        let (found, fp) = match MessageLayout::read(obj, params, at) {
            None => {
                let bytes = "bytes (a byte channel or broadcast, created without a message type)";
                (bytes.to_owned(), false)
            }
            Some(found) => {
                let fp = found.same_text(self);
                (found.describe(fp), fp)
            }
        };
        Err(Error::LayoutMismatch {
            name: obj.name().to_owned(),
            reason: format!(
                "it carries {found}; this side expects {}",
                self.describe(fp)
            ),
        })
    }

    /// Whether `other` would be described with the same words (then the fingerprints, which
    /// differ, are shown too: the stored tag text is only for display, and a process outside
    /// the protocol could have changed it).
    fn same_text(&self, other: &MessageLayout) -> bool {
        self.size == other.size && self.align == other.align && self.tag == other.tag
    }

    /// `64-byte messages, align 8, tag "pose v1"` (and the fingerprint, when `fp`).
    pub(crate) fn describe(&self, fp: bool) -> String {
        let mut s = format!("{}-byte messages, align {}", self.size, self.align);
        match &self.tag {
            Some(t) => s += &format!(", tag {t:?}"),
            None => s += ", no tag",
        }
        if fp {
            s += &format!(", fingerprint {:#018x}", self.fingerprint);
        }
        if let Some(t) = self.type_name {
            s += &format!(" ({t})");
        }
        s
    }
}

/// The tag text recorded at `at`, as far as it can be read (for display only: it comes from
/// the segment, so it is decoded leniently and shown escaped).
fn read_tag(view: &crate::View, at: usize) -> Option<String> {
    let room = view.read_vec(at, TAG_ROOM).ok()?;
    let len = usize::from(room[0] & !TRUNCATED).min(TAG_MAX);
    let mut tag = String::from_utf8_lossy(&room[1..=len]).into_owned();
    if room[0] & TRUNCATED != 0 {
        tag.push('…');
    }
    (!tag.is_empty()).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_cover_size_align_and_tag() {
        let base = fingerprint(64, 8, "");
        assert_ne!(base, fingerprint(64, 4, ""));
        assert_ne!(base, fingerprint(32, 8, ""));
        assert_ne!(base, fingerprint(64, 8, "pose"));
        assert_ne!(fingerprint(64, 8, "pose"), fingerprint(64, 8, "pose2"));
        // Stable across builds and platforms: this value is part of the layout.
        assert_eq!(fingerprint(64, 8, ""), 0x3f7b_ca06_7dbf_c5ad);
    }

    #[test]
    fn the_layout_packs_size_and_alignment() {
        let l = MessageLayout::of::<[u32; 3]>(Some(""));
        assert_eq!(l.tag, None);
        assert_eq!(l.params()[0], 12 | 4 << 32);
        assert_eq!(MessageLayout::of::<u64>(Some("x")).params()[0], 8 | 8 << 32);
    }
}
