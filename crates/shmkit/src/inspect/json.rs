//! The JSON shape of an [`Info`] (feature `serde`): what `shmkit info --json` prints, what
//! Python's `shmkit.inspect()` returns, field for field. One definition, here, so the three
//! cannot drift apart.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::{Holder, Info};

/// The fields, in order: `name`, `size`, `kind` ([`Kind::id`](super::Kind::id)),
/// `layout_version`, `creator_pid`, `creator_alive`, `in_use`, `holders` (`[{"role", "pid"}]`),
/// `owner_uid`, `mode` (octal string, e.g. `"600"`), `modified` (RFC 3339 in UTC to the
/// second), `age_seconds` (seconds since `modified`, as of serialising). Absent facts are
/// `null`. Adding a field is compatible; changing or removing one raises the CLI's JSON
/// `schema`.
impl Serialize for Info {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Info", 12)?;
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
