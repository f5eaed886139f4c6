//! Turning errors into one line for people, with a hint where one helps; and the JSON shape of
//! `info` / `ls`.

use serde::Serialize;
use shmkit::channel::broadcast::Policy;
use shmkit::channel::MessageLayout;
use shmkit::inspect::{Details, Info};
use shmkit::Error;

/// One line: the error, its context, and a hint for the common cases.
pub fn message(e: &anyhow::Error) -> String {
    let hint = e
        .chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .and_then(|se| match se {
            Error::NotFound { name } => Some(format!("no segment {name:?} — see `shmkit ls`")),
            Error::AlreadyExists { name } => Some(format!(
                "{} {name:?} already exists — pick another name or `shmkit rm {name}`",
                what_is(name)
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

/// What the segment `name` holds, for a message: "a broadcast channel", "a segment of raw
/// bytes" (so that `recv` on a broadcast does not just say "a segment exists"), or "a segment"
/// if it cannot be looked at.
pub fn what_is(name: &str) -> String {
    match shmkit::inspect::inspect(name).map(|i| i.kind) {
        Ok(shmkit::inspect::Kind::Raw) => "a segment of raw bytes".into(),
        Ok(shmkit::inspect::Kind::Object(label)) => {
            let article = if label.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {label}")
        }
        _ => "a segment".into(),
    }
}

/// The version of the JSON that `info --json` and `ls --json` print: raised when a field
/// changes meaning or goes away (adding a field does not raise it).
pub const SCHEMA: u32 = 1;

/// What `info --json` prints: `{"schema": 1, ...}`, the fields of [`Info`]'s JSON flattened
/// in (the library defines them, for the CLI and Python alike: `shmkit::inspect::Info`'s
/// `Serialize`).
#[derive(Debug, Serialize)]
pub struct InfoJson<'a> {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The segment.
    #[serde(flatten)]
    pub info: &'a Info,
}

impl<'a> InfoJson<'a> {
    /// The JSON of `info`.
    pub fn new(info: &'a Info) -> Self {
        InfoJson {
            schema: SCHEMA,
            info,
        }
    }
}

/// What `ls --json` prints: `{"schema": 1, "segments": [...]}`.
#[derive(Debug, Serialize)]
pub struct LsJson<'a> {
    /// [`SCHEMA`].
    pub schema: u32,
    /// One entry per segment, with the fields `info --json` has (less `schema`).
    pub segments: &'a [Info],
}

impl<'a> LsJson<'a> {
    /// The JSON of a listing.
    pub fn new(segments: &'a [Info]) -> Self {
        LsJson {
            schema: SCHEMA,
            segments,
        }
    }
}

/// The lines `info` prints for an object's shape and counters (`label: value`, the label
/// padded as the other lines of `info`).
pub fn details_lines(d: &Details) -> Vec<String> {
    let mut out = Vec::new();
    let mut line =
        |label: &str, value: String| out.push(format!("{:<9} {value}", format!("{label}:")));
    let layout = |l: &Option<MessageLayout>| match l {
        None => "bytes".to_owned(),
        Some(l) => format!(
            "{} bytes, align {}{}, fingerprint {:016x}",
            l.size(),
            l.align(),
            l.tag().map_or(String::new(), |t| format!(", tag {t:?}")),
            l.fingerprint()
        ),
    };
    match d {
        Details::Channel(c) => {
            line("ring", format!("{} bytes, {} in use", c.capacity, c.fill));
            line("messages", layout(&c.layout));
            line(
                "sent",
                format!(
                    "{} ({} of payload)",
                    c.sent,
                    crate::units::human(c.bytes_sent)
                ),
            );
            line("received", c.received.to_string());
        }
        Details::Broadcast(b) => {
            line(
                "slots",
                format!("{} x {} bytes, {}", b.slots, b.slot_size, policy(b.policy)),
            );
            line("messages", layout(&b.layout));
            line(
                "published",
                format!(
                    "{} ({} of payload)",
                    b.published,
                    crate::units::human(b.published_bytes)
                ),
            );
            if b.policy == Policy::Overwrite {
                line(
                    "overwritten",
                    format!("{} (before a subscriber had them)", b.overwritten),
                );
            }
            line(
                "subscribers",
                format!("{} of at most {}", b.subscribers.len(), b.max_subscribers),
            );
            for s in &b.subscribers {
                line(
                    &format!("  #{}", s.index),
                    format!(
                        "pid {}, at {}, lag {}, received {}, lost {}",
                        s.pid, s.position, s.lag, s.received, s.lost
                    ),
                );
            }
        }
        Details::Service(v) => {
            line(
                "clients",
                format!("{} of at most {}", v.clients, v.max_clients),
            );
            line(
                "limits",
                format!(
                    "{} outstanding per client, requests up to {} bytes, responses up to {}",
                    v.max_outstanding, v.max_request_len, v.max_response_len
                ),
            );
            line("requests", layout(&v.request_layout));
            line("responses", layout(&v.response_layout));
            line("epoch", v.epoch.to_string());
            line(
                "served",
                format!(
                    "{} of {} requests ({} queued)",
                    v.served, v.requests, v.queued
                ),
            );
            line(
                "refused",
                format!(
                    "{} requests, {} responses, {} connections",
                    v.refused_requests, v.refused_responses, v.refused_connections
                ),
            );
        }
        Details::Mutex(m) => line("state", m.state.replace('_', " ")),
        Details::Event(e) => {
            let reset = if e.manual_reset { "manual" } else { "auto" };
            let set = if e.set { "set" } else { "not set" };
            line(
                "state",
                format!("{set} ({reset} reset), {} waiting", e.waiters),
            );
        }
        Details::Semaphore(s) => {
            line(
                "count",
                format!("{} of at most {}, {} waiting", s.count, s.max, s.waiters),
            );
        }
        Details::Shared(v) => {
            line(
                "value",
                format!(
                    "{} bytes, align {}, fingerprint {:016x}",
                    v.size, v.align, v.fingerprint
                ),
            );
            line("lock", v.lock.replace('_', " "));
        }
        _ => {}
    }
    out
}

fn policy(p: Policy) -> &'static str {
    match p {
        Policy::Block => "back-pressure",
        Policy::Overwrite => "overwrite",
    }
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
    use shmkit::inspect::Kind;

    /// An existing name is described by what it holds (issue 21: `shmkit recv` on a
    /// broadcast said only "a segment already exists").
    #[test]
    fn already_exists_names_what_is_there() {
        let name = format!("cli-report-exists-{}", std::process::id());
        let said = |name: &str| {
            super::message(&anyhow::Error::new(shmkit::Error::AlreadyExists {
                name: name.to_owned(),
            }))
        };
        {
            let _publ = shmkit::channel::broadcast::options()
                .slot_size(64)
                .create_publisher(&name)
                .unwrap();
            let m = said(&name);
            assert!(
                m.starts_with(&format!("a broadcast channel {name:?} already exists")),
                "{m}"
            );
        }
        {
            let _ev = shmkit::sync::Event::options().create(&name).unwrap();
            let m = said(&name);
            assert!(m.starts_with(&format!("an event {name:?}")), "{m}");
        }
        {
            let _seg = shmkit::Segment::create(&name, 64).unwrap();
            let m = said(&name);
            assert!(
                m.starts_with(&format!("a segment of raw bytes {name:?}")),
                "{m}"
            );
        }
        assert!(said(&name).starts_with(&format!("a segment {name:?}")));
    }

    #[test]
    fn kinds_are_identifiers() {
        assert_eq!(Kind::Object("shared value").id(), "shared_value");
        for kind in shmkit::inspect::OBJECT_KINDS {
            let id = Kind::Object(kind).id();
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
        expected.extend(
            shmkit::inspect::OBJECT_KINDS
                .iter()
                .map(|k| Kind::Object(k).id()),
        );
        assert_eq!(listed, expected, "the README says: {list}");
    }
}
