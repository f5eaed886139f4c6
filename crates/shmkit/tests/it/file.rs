//! File-backed mappings: views, flush, copy-on-write never touching the file.

use shmkit::{Access, Error, FileMapping};

use crate::util;
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("file_write_flush_abort", child_write_flush_abort),
    ("file_read_after_shrink", child_read_after_shrink),
];

/// args: path, text — writes `text` at 10 000 through a mapping, flushes, and aborts (no unmap,
/// no destructors): what was flushed must be in the file.
fn child_write_flush_abort(a: &[String]) {
    let file = FileMapping::open(&a[0]).unwrap();
    let mut v = file
        .map_range(Access::ReadWrite, 10_000, a[1].len())
        .unwrap();
    v.write_at(0, a[1].as_bytes()).unwrap();
    v.flush().unwrap();
    std::process::abort();
}

/// args: path — maps the whole file, says "mapped", waits until someone shrinks the file
/// below 8192 bytes, then reads its second page (which no longer exists: SIGBUS).
fn child_read_after_shrink(a: &[String]) {
    let file = FileMapping::open(&a[0]).unwrap();
    let view = file.map(Access::ReadOnly).unwrap();
    println!("mapped");
    while std::fs::metadata(&a[0]).unwrap().len() >= 8192 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut buf = [0u8; 8];
    view.read_at(4096, &mut buf).unwrap();
    println!("read past the end and lived");
}

/// The hazard `FileMapping`'s docs describe: a process that shrinks a mapped file kills the
/// processes that touch the lost pages with SIGBUS (a crash, not a wrong read).
#[cfg(unix)]
#[test]
fn shrinking_a_mapped_file_kills_readers_of_the_lost_pages_with_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrink.bin");
    drop(FileMapping::create(&path, 8192).unwrap());
    let mut child = util::spawn("file_read_after_shrink", &[path.to_str().unwrap()]);
    child.wait_for_line("mapped");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100)
        .unwrap();
    let f = child.wait();
    assert_eq!(f.status.signal(), Some(libc::SIGBUS), "{f:#?}");
}

#[test]
fn a_flushed_write_survives_the_writer_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flush.bin");
    drop(FileMapping::create(&path, 20_000).unwrap());
    let f = util::run(
        "file_write_flush_abort",
        &[path.to_str().unwrap(), "durable bytes"],
    );
    assert!(!f.status.success(), "the child should have aborted: {f:#?}");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 20_000);
    assert_eq!(&bytes[10_000..10_013], b"durable bytes");
}

#[test]
fn create_open_and_views_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    let file = FileMapping::create(&path, 100_000).unwrap();
    assert_eq!(file.len(), 100_000);
    assert!(matches!(
        FileMapping::create(&path, 10),
        Err(Error::AlreadyExists { .. })
    ));
    let mut v = file.map_range(Access::ReadWrite, 70_001, 5).unwrap();
    v.write_at(0, b"hello").unwrap();
    v.flush_range(1, 3).unwrap();
    v.flush_async().unwrap();
    drop(file);
    let again = FileMapping::open(&path).unwrap();
    assert_eq!(
        again
            .map(Access::ReadOnly)
            .unwrap()
            .read_vec(70_001, 5)
            .unwrap(),
        b"hello"
    );
    assert!(matches!(
        v.flush_range(3, 3),
        Err(Error::SizeInvalid { .. })
    ));
}

#[test]
fn copy_on_write_never_changes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cow.bin");
    std::fs::write(&path, vec![b'a'; 5000]).unwrap();
    let ro = FileMapping::options().read_only(true).open(&path).unwrap();
    assert!(matches!(
        ro.map(Access::ReadWrite),
        Err(Error::AccessMismatch { .. })
    ));
    let mut cow = ro.map(Access::CopyOnWrite).unwrap();
    cow.write_at(0, b"zzzz").unwrap();
    cow.flush().unwrap();
    assert_eq!(cow.read_vec(0, 5).unwrap(), b"zzzza");
    drop(cow);
    drop(ro);
    // Also from a read-write open.
    let rw = FileMapping::open(&path).unwrap();
    let mut cow = rw.map(Access::CopyOnWrite).unwrap();
    cow.fill(0, 5000, b'q').unwrap();
    cow.flush().unwrap();
    drop(cow);
    drop(rw);
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'a'; 5000]);
}

#[test]
fn missing_empty_and_short_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    assert!(matches!(
        FileMapping::open(&missing),
        Err(Error::NotFound { .. })
    ));
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        FileMapping::open(&empty),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        FileMapping::options().size(10).open(&empty),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        FileMapping::create(dir.path().join("zero"), 0),
        Err(Error::SizeInvalid { .. })
    ));
    // open_or_create sizes a new file, and keeps an existing one as it is.
    let ooc = dir.path().join("ooc.bin");
    assert_eq!(
        FileMapping::options()
            .size(300)
            .open_or_create(&ooc)
            .unwrap()
            .len(),
        300
    );
    assert_eq!(
        FileMapping::options()
            .size(10)
            .open_or_create(&ooc)
            .unwrap()
            .len(),
        300
    );
}

#[cfg(unix)]
#[test]
fn a_file_without_write_permission_is_access_denied_for_writing() {
    use std::os::unix::fs::PermissionsExt;
    // root ignores file modes; the check is only meaningful for other users.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("running as root: file modes do not apply, checking read-only open instead");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.bin");
    std::fs::write(&path, b"0123456789").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(matches!(
            FileMapping::open(&path),
            Err(Error::AccessDenied { .. })
        ));
    }
    let ro = FileMapping::options().read_only(true).open(&path).unwrap();
    assert_eq!(
        ro.map(Access::ReadOnly).unwrap().read_vec(0, 10).unwrap(),
        b"0123456789"
    );
}
