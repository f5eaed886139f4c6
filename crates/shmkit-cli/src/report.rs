//! Turning errors into one line for people, with a hint where one helps; and the JSON shape of
//! `info` / `ls`.

use std::time::SystemTime;

use serde::Serialize;
use shmkit::inspect::Info;
use shmkit::Error;

/// One line: the error, its context, and a hint for the common cases.
pub fn message(e: &anyhow::Error) -> String {
    let hint = e
        .chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .and_then(|se| match se {
            Error::NotFound { name } => Some(format!("no segment {name:?} — see `shmkit ls`")),
            Error::AlreadyExists { name } => Some(format!(
                "a segment {name:?} already exists — pick another name or `shmkit rm {name}`"
            )),
            Error::AccessDenied { name, .. } => Some(format!(
                "permission denied for {name:?} — `shmkit info {name}` shows its owner and mode"
            )),
            Error::Disconnected { name } => Some(format!("the other side of {name:?} went away")),
            _ => None,
        });
    let mut msg = String::new();
    for (i, c) in e.chain().enumerate() {
        if i > 0 {
            msg.push_str(": ");
        }
        msg.push_str(&c.to_string());
    }
    match hint {
        // Keep the context the caller added, replace the library's wording by the hint.
        Some(h) if e.chain().count() > 1 => format!("{}: {h}", e),
        Some(h) => h,
        None => msg,
    }
}

/// The version of the JSON that `info --json` and `ls --json` print: raised when a field
/// changes meaning or goes away (adding a field does not raise it).
pub const SCHEMA: u32 = 1;

/// What `info --json` prints: `{"schema": 1, ...}`, the fields of [`Entry`] flattened in.
#[derive(Debug, Serialize)]
pub struct InfoJson {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The segment.
    #[serde(flatten)]
    pub entry: Entry,
}

impl InfoJson {
    /// The JSON of `i`.
    pub fn new(i: &Info) -> Self {
        InfoJson {
            schema: SCHEMA,
            entry: Entry::from(i),
        }
    }
}

/// What `ls --json` prints: `{"schema": 1, "segments": [...]}`.
#[derive(Debug, Serialize)]
pub struct LsJson {
    /// [`SCHEMA`].
    pub schema: u32,
    /// One entry per segment, with the fields `info --json` has (less `schema`).
    pub segments: Vec<Entry>,
}

impl LsJson {
    /// The JSON of a listing.
    pub fn new(infos: &[Info]) -> Self {
        LsJson {
            schema: SCHEMA,
            segments: infos.iter().map(Entry::from).collect(),
        }
    }
}

/// One segment in JSON. Field names are stable; absent facts are `null`.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The segment's name.
    pub name: String,
    /// Size in bytes (page-rounded on Windows for segments created elsewhere).
    pub size: u64,
    /// An identifier: `"raw"`, or the shmkit object kind ([`kind_id`] of one of
    /// [`shmkit::inspect::OBJECT_KINDS`]: `"mutex"`, `"event"`, `"semaphore"`,
    /// `"shared_value"`, `"channel"`, `"broadcast_channel"`, `"service"`), or `"unknown_kind"`
    /// for a kind this build does not know.
    pub kind: String,
    /// Layout version of a shmkit object.
    pub layout_version: Option<u32>,
    /// The pid that created a shmkit object, as it recorded it (display only: it may be
    /// from another pid namespace).
    pub creator_pid: Option<u32>,
    /// Whether the creator still has the object open, as the kernel says.
    pub creator_alive: Option<bool>,
    /// Whether any process has a shmkit object open (`null`: raw, another layout version,
    /// or an OS that cannot tell).
    pub in_use: Option<bool>,
    /// The roles live processes hold: `[{"role": "producer", "pid": 4127}, ...]`.
    pub holders: Vec<HolderJson>,
    /// Owner uid (Unix).
    pub owner_uid: Option<u32>,
    /// Permission bits as an octal string, e.g. `"600"` (Unix).
    pub mode: Option<String>,
    /// Last change, RFC 3339 in UTC to the second, e.g. `"2026-11-25T09:30:00Z"` (Unix).
    pub modified: Option<String>,
    /// Seconds since the last change (Unix).
    pub age_seconds: Option<u64>,
}

impl From<&Info> for Entry {
    fn from(i: &Info) -> Self {
        Entry {
            name: i.name.clone(),
            size: i.len as u64,
            kind: kind_id(i.kind.label()),
            layout_version: i.layout_version,
            creator_pid: i.creator_pid,
            creator_alive: i.creator_alive,
            in_use: i.in_use,
            holders: i
                .holders
                .iter()
                .map(|h| HolderJson {
                    role: h.role.clone(),
                    pid: h.pid,
                })
                .collect(),
            owner_uid: i.owner_uid,
            mode: i.mode.map(|m| format!("{m:o}")),
            modified: i
                .modified
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            age_seconds: i.modified.map(age),
        }
    }
}

/// A role a live process holds, in JSON.
#[derive(Debug, Serialize)]
pub struct HolderJson {
    /// `"producer"`, `"consumer"`, `"publisher"`, `"subscriber 3"`.
    pub role: String,
    /// The pid it recorded (display only).
    pub pid: u32,
}

/// A kind's label as an identifier: `"broadcast channel"` → `"broadcast_channel"`.
pub fn kind_id(label: &str) -> String {
    label.replace(' ', "_")
}

/// Seconds since `t` (0 if `t` is in the future).
pub fn age(t: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(t)
        .map_or(0, |d| d.as_secs())
}

/// An age for people: `42s`, `5m`, `3h`, `2d`.
pub fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_identifiers() {
        assert_eq!(kind_id("broadcast channel"), "broadcast_channel");
        assert_eq!(kind_id("shared value"), "shared_value");
        assert_eq!(kind_id("raw"), "raw");
        for kind in shmkit::inspect::OBJECT_KINDS {
            let id = kind_id(kind);
            assert!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id:?}"
            );
        }
    }

    /// The kinds this crate's README lists in its JSON section (`kind` (an identifier: `raw`,
    /// …)) are every kind the library makes, and only those (issue 20: `service` was missing).
    #[test]
    fn the_readme_lists_every_kind() {
        let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let Ok(readme) = std::fs::read_to_string(readme) else {
            eprintln!("skipped: no README.md beside Cargo.toml");
            return;
        };
        let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
        let start = "`kind` (an identifier: ";
        let at = readme.find(start).expect("the README's kind list") + start.len();
        let end = readme[at..].find([')', ';']).expect("the list's end");
        let list = &readme[at..at + end];
        let listed: Vec<&str> = list
            .split(", ")
            .map(|k| k.strip_prefix('`').and_then(|k| k.strip_suffix('`')))
            .collect::<Option<_>>()
            .unwrap_or_else(|| panic!("not a list of `kind`s: {list}"));
        let mut expected = vec!["raw".to_owned()];
        expected.extend(shmkit::inspect::OBJECT_KINDS.iter().map(|k| kind_id(k)));
        assert_eq!(listed, expected, "the README says: {list}");
    }
}
