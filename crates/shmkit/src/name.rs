//! Names of shared-memory objects: the rules, checked before any OS call, and how each OS spells
//! them.
//!
//! A shmkit name is a plain token:
//!
//! * 1 ..= [`MAX_LEN`] bytes of UTF-8;
//! * no `/`, no `\`, no NUL byte;
//! * not `.` or `..`.
//!
//! # Platform notes
//!
//! | OS      | shmkit name `foo` is                       | limit                              |
//! |---------|--------------------------------------------|------------------------------------|
//! | Linux   | POSIX object `/foo`, the file `/dev/shm/foo` | 253 bytes (see below)            |
//! | macOS   | POSIX object `/foo`                        | 30 bytes (`PSHMNAMLEN` 31 with `/`) |
//! | Windows | file mapping `foo` in the session's `Local\` namespace | 253 bytes            |
//!
//! Python's `multiprocessing.shared_memory.SharedMemory("foo")` uses the same spelling on every OS,
//! and so does a C program calling `shm_open("/foo", …)` or `OpenFileMappingA(…, "foo")`, so all of
//! them meet the same memory.
//!
//! Linux file names may have 255 bytes (`NAME_MAX`), but glibc's `shm_open` — which C programs
//! and Python use — refuses names whose length plus the terminating NUL reaches `NAME_MAX`
//! (the slash not counted), so 253 is the longest name every program on the machine can open.
//! The Windows limit is shmkit's own, kept equal to Linux's so a name that works on one works on
//! the other; the kernel would take up to `MAX_PATH`. `Global\` names are not supported (they need
//! `SeCreateGlobalPrivilege`, and `\` is refused everywhere).

use crate::{Error, Result};

/// The longest name, in bytes, that this platform accepts.
#[cfg(target_vendor = "apple")]
pub const MAX_LEN: usize = 30;
/// The longest name, in bytes, that this platform accepts.
#[cfg(not(target_vendor = "apple"))]
pub const MAX_LEN: usize = 253;

/// Checks `name` against the rules above.
///
/// # Errors
///
/// [`Error::NameInvalid`] with the rule that was broken.
///
/// # Examples
///
/// ```
/// assert!(shmkit::name::validate("frames-0").is_ok());
/// assert!(shmkit::name::validate("a/b").is_err());
/// ```
pub fn validate(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "a name must not be empty"
    } else if name == "." || name == ".." {
        "`.` and `..` are not names"
    } else if name.contains('/') {
        "a name must not contain `/`"
    } else if name.contains('\\') {
        "a name must not contain `\\`"
    } else if name.contains('\0') {
        "a name must not contain a NUL byte"
    } else if name.len() > MAX_LEN {
        if cfg!(target_vendor = "apple") {
            "a name must be at most 30 bytes on macOS"
        } else {
            "a name must be at most 253 bytes"
        }
    } else {
        return Ok(());
    };
    Err(Error::NameInvalid {
        name: name.to_owned(),
        reason,
    })
}

/// The POSIX spelling of a validated name: `foo` → `/foo`.
#[cfg(unix)]
pub(crate) fn posix(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 1);
    s.push('/');
    s.push_str(name);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_tokens() {
        for ok in [
            "a",
            "MySharedMem",
            "psm_1234abcd",
            "with space",
            "ünïcode",
            "a.b",
            "...",
        ] {
            validate(ok).unwrap();
        }
        validate(&"x".repeat(MAX_LEN)).unwrap();
    }

    #[test]
    fn refuses_each_rule_with_its_reason() {
        let cases = [
            ("", "empty"),
            (".", "`.`"),
            ("..", "`.`"),
            ("/", "`/`"),
            ("/lead", "`/`"),
            ("a/b", "`/`"),
            ("a\\b", "`\\`"),
            ("Global\\x", "`\\`"),
            ("a\0b", "NUL"),
        ];
        for (name, needle) in cases {
            match validate(name) {
                Err(Error::NameInvalid { name: n, reason }) => {
                    assert_eq!(n, name);
                    assert!(reason.contains(needle), "{name:?}: {reason}");
                }
                other => panic!("{name:?} gave {other:?}"),
            }
        }
        let long = "x".repeat(MAX_LEN + 1);
        assert!(
            matches!(validate(&long), Err(Error::NameInvalid { reason, .. }) if reason.contains("at most"))
        );
    }
}
