//! The JSON shape of an [`Info`] (feature `serde`): what `shmkit info --json` prints, what
//! Python's `shmkit.inspect()` returns, field for field. One definition, here, so the three
//! cannot drift apart.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Holder, Info};

/// The fields, in order: `name`, `size`, `kind` ([`Kind::id`](super::Kind::id)),
/// `layout_version`, `creator_pid`, `creator_alive`, `in_use`, `holders` (`[{"role", "pid"}]`),
/// `owner_uid`, `mode` (octal string, e.g. `"600"`), `modified` (RFC 3339 in UTC to the
/// second), `age_seconds` (seconds since `modified`, as of serialising), `details` (below),
/// `details_error` (why `details` is `null` for an object: corrupt, truncated, being
/// created). Absent facts are `null`. Adding a field is compatible; changing or removing one
/// raises the CLI's JSON `schema`.
///
/// `details` is an object whose `kind` says which fields follow (the field names are those
/// of the [`Details`](super::Details) structs):
///
/// * `"channel"`: `capacity`, `fill` (bytes in the ring), `sent`, `received`, `layout`;
/// * `"broadcast"`: `slots`, `slot_size`, `policy` (`"block"` / `"overwrite"`),
///   `max_subscribers`, `layout`, `published`, `overwritten`, `subscribers`
///   (`[{"index", "pid", "position", "lag", "received", "lost"}]`);
/// * `"service"`: `max_clients`, `max_outstanding`, `max_request_len`, `max_response_len`,
///   `request_layout`, `response_layout`, `epoch`, `clients`, `requests`, `queued`,
///   `served`, `refused_responses`, `refused_requests`, `refused_connections`;
/// * `"mutex"`: `state` (`"consistent"`, `"owner_died"`, `"unrecoverable"`);
/// * `"event"`: `manual_reset`, `set`, `waiters`;
/// * `"semaphore"`: `count`, `max`, `waiters`;
/// * `"shared_value"`: `size`, `align`, `fingerprint`, `lock` (as a mutex's `state`).
///
/// A `layout` is `null` for bytes, else `{"size", "align", "tag", "fingerprint"}` (`tag`
/// `null` for none); fingerprints are 16 hex digits (a string: JSON numbers lose 64-bit
/// precision in many readers).
impl Serialize for Info {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Info", 14)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("size", &(self.len as u64))?;
        st.serialize_field("kind", &self.kind.id())?;
        st.serialize_field("layout_version", &self.layout_version)?;
        st.serialize_field("creator_pid", &self.creator_pid)?;
        st.serialize_field("creator_alive", &self.creator_alive)?;
        st.serialize_field("in_use", &self.in_use)?;
        st.serialize_field("holders", &self.holders)?;
        st.serialize_field("owner_uid", &self.owner_uid)?;
        st.serialize_field("mode", &self.mode.map(|m| format!("{m:o}")))?;
        st.serialize_field(
            "modified",
            &self
                .modified
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        )?;
        st.serialize_field("age_seconds", &self.age_seconds())?;
        st.serialize_field("details", &self.details)?;
        st.serialize_field("details_error", &self.details_error)?;
        st.end()
    }
}

/// `{"role": "producer", "pid": 4127}`.
impl Serialize for Holder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Holder", 2)?;
        st.serialize_field("role", &self.role)?;
        st.serialize_field("pid", &self.pid)?;
        st.end()
    }
}

/// A message layout: `null`, or `{"size", "align", "tag", "fingerprint"}`.
pub(super) fn layout<S: Serializer>(
    l: &Option<crate::channel::MessageLayout>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match l {
        None => s.serialize_none(),
        Some(l) => {
            let mut st = s.serialize_struct("MessageLayout", 4)?;
            st.serialize_field("size", &l.size())?;
            st.serialize_field("align", &l.align())?;
            st.serialize_field("tag", &l.tag())?;
            st.serialize_field("fingerprint", &format!("{:016x}", l.fingerprint()))?;
            st.end()
        }
    }
}

/// `"block"` or `"overwrite"`.
pub(super) fn policy<S: Serializer>(
    p: &crate::channel::broadcast::Policy,
    s: S,
) -> Result<S::Ok, S::Error> {
    use crate::channel::broadcast::Policy;
    s.serialize_str(match p {
        Policy::Block => "block",
        Policy::Overwrite => "overwrite",
    })
}

/// 16 hex digits.
pub(super) fn fingerprint<S: Serializer>(f: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{f:016x}"))
}
