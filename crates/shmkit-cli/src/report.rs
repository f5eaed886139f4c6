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

/// What `info --json` prints (and `ls --json`, as an array). Field names are stable.
#[derive(Debug, Serialize)]
pub struct InfoJson {
    /// The segment's name.
    pub name: String,
    /// Size in bytes (page-rounded on Windows for segments created elsewhere).
    pub size: u64,
    /// `"raw"`, or the shmkit object kind: `"channel"`, `"broadcast channel"`, `"mutex"`,
    /// `"event"`, `"semaphore"`, `"shared value"`.
    pub kind: String,
    /// Layout version of a shmkit object.
    pub layout_version: Option<u32>,
    /// Process that created a shmkit object.
    pub creator_pid: Option<u32>,
    /// Whether that process still runs.
    pub creator_alive: Option<bool>,
    /// Owner uid (Unix).
    pub owner_uid: Option<u32>,
    /// Permission bits as an octal string, e.g. `"600"` (Unix).
    pub mode: Option<String>,
    /// Seconds since the last change (Unix).
    pub age_seconds: Option<u64>,
}

impl From<&Info> for InfoJson {
    fn from(i: &Info) -> Self {
        InfoJson {
            name: i.name.clone(),
            size: i.len as u64,
            kind: i.kind.label().to_owned(),
            layout_version: i.layout_version,
            creator_pid: i.creator_pid,
            creator_alive: i.creator_alive,
            owner_uid: i.owner_uid,
            mode: i.mode.map(|m| format!("{m:o}")),
            age_seconds: i.modified.map(age),
        }
    }
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
