//! Turning errors into one line for people, with a hint where one helps; and the JSON shape of
//! `info` / `ls`.

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
