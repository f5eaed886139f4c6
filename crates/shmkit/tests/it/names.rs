//! Name validation happens before any OS call, and nothing is created for a bad name.

use shmkit::{Error, Segment};

fn bad_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "/",
        "/lead",
        "a/b",
        "a\\b",
        "Global\\x",
        "a\0b",
        ".",
        "..",
    ]
    .map(String::from)
    .to_vec();
    v.push("n".repeat(shmkit::name::MAX_LEN + 1));
    v
}

/// Files in `/dev/shm` a mishandled bad name could have made: the name itself, without its
/// leading slashes, and each of its `/`- or `\\`-separated parts. (Checked by name, not by
/// counting `/dev/shm`, which other tests and processes change concurrently.)
#[cfg(target_os = "linux")]
fn files_a_bad_name_could_make(name: &str) -> Vec<std::path::PathBuf> {
    let mut candidates = vec![name, name.trim_start_matches('/')];
    candidates.extend(name.split(['/', '\\']));
    candidates
        .into_iter()
        .filter(|c| !c.is_empty() && *c != "." && *c != ".." && !c.contains(['/', '\0']))
        .map(|c| std::path::Path::new("/dev/shm").join(c))
        .collect()
}

#[test]
fn every_invalid_name_is_refused_by_every_entry_point() {
    for name in bad_names() {
        let results = [
            Segment::create(&name, 4096).map(drop),
            Segment::open(&name).map(drop),
            Segment::options()
                .size(4096)
                .open_or_create(&name)
                .map(drop),
            Segment::remove(&name),
        ];
        for r in results {
            match r {
                Err(Error::NameInvalid { name: n, reason }) => {
                    assert_eq!(n, name);
                    assert!(!reason.is_empty());
                }
                other => panic!("{name:?}: expected NameInvalid, got {other:?}"),
            }
        }
        #[cfg(target_os = "linux")]
        for f in files_a_bad_name_could_make(&name) {
            assert!(!f.exists(), "{name:?} created {}", f.display());
        }
    }
}

#[test]
fn the_longest_valid_name_works() {
    // The guard's own name is short; build a maximal one that is still unique.
    let base = crate::util::unique("long");
    let name = format!("{base}{}", "x".repeat(shmkit::name::MAX_LEN - base.len()));
    let seg = Segment::create(&name, 100).unwrap();
    assert_eq!(seg.name(), name);
    assert!(Segment::open(&name).is_ok());
}

#[test]
fn error_messages_name_the_object_and_the_reason() {
    let e = Segment::create("a/b", 1).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("a/b") && msg.contains('/'), "{msg}");
}
