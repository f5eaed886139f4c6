//! Named segments and views, shared between real processes.

use shmkit::{Access, Error, Segment};

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("write", child_write),
    ("expect", child_expect),
    ("cow", child_cow),
    ("write_read_only", child_write_read_only),
    ("open_drop", child_open_drop),
    ("create_drop", child_create_drop),
    ("create_keep", child_create_keep),
    ("fill_region", child_fill_region),
];

/// args: name, offset, text — opens `name` and writes `text` at `offset`.
fn child_write(a: &[String]) {
    let seg = Segment::open(&a[0]).unwrap();
    let mut v = seg.map(Access::ReadWrite).unwrap();
    v.write_at(a[1].parse().unwrap(), a[2].as_bytes()).unwrap();
}

/// args: name, offset, text — opens `name` read-only and checks `text` is at `offset`.
fn child_expect(a: &[String]) {
    let seg = Segment::options().read_only(true).open(&a[0]).unwrap();
    let v = seg.map(Access::ReadOnly).unwrap();
    let got = v.read_vec(a[1].parse().unwrap(), a[2].len()).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), a[2]);
}

/// args: name — writes into a copy-on-write view and checks it sees its own write.
fn child_cow(a: &[String]) {
    let seg = Segment::options().read_only(true).open(&a[0]).unwrap();
    let mut v = seg.map(Access::CopyOnWrite).unwrap();
    v.write_at(0, b"private!").unwrap();
    assert_eq!(v.read_vec(0, 8).unwrap(), b"private!");
    let shared = seg.map(Access::ReadOnly).unwrap();
    assert_eq!(shared.read_vec(0, 8).unwrap(), b"original");
}

/// args: name — writes through a read-only view's raw pointer: must die of an access violation.
fn child_write_read_only(a: &[String]) {
    let seg = Segment::open(&a[0]).unwrap();
    let v = seg.map(Access::ReadOnly).unwrap();
    util::exit_with_exception_code_on_crash();
    // SAFETY: none — this is the point of the test: the OS must stop this write.
    unsafe { v.as_mut_ptr().write_volatile(0x55) };
    println!("the write went through");
}

/// args: name — opens and drops (an opener never removes the name).
fn child_open_drop(a: &[String]) {
    let seg = Segment::open(&a[0]).unwrap();
    assert!(!seg.is_creator());
    drop(seg);
}

/// args: name — creates and drops (the creator removes the name).
fn child_create_drop(a: &[String]) {
    let seg = Segment::create(&a[0], 4096).unwrap();
    assert!(Segment::open(&a[0]).is_ok());
    drop(seg);
    assert!(matches!(Segment::open(&a[0]), Err(Error::NotFound { .. })));
}

/// args: name — creates with keep, writes a marker and exits.
fn child_create_keep(a: &[String]) {
    let seg = Segment::options()
        .size(4096)
        .keep(true)
        .create(&a[0])
        .unwrap();
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, b"kept")
        .unwrap();
}

/// args: name, index, region — maps only its own region (at an unaligned offset) and fills it.
fn child_fill_region(a: &[String]) {
    let seg = Segment::open(&a[0]).unwrap();
    let i: usize = a[1].parse().unwrap();
    let region: usize = a[2].parse().unwrap();
    let mut v = seg
        .map_range(Access::ReadWrite, i * region, region)
        .unwrap();
    let pattern: Vec<u8> = (0..region).map(|k| (i * 31 + k) as u8).collect();
    v.write_at(0, &pattern).unwrap();
}

#[test]
fn a_write_in_one_process_is_read_in_another() {
    let name = NameGuard::new("rw");
    let seg = Segment::create(&name, 4096).unwrap();
    let mut view = seg.map(Access::ReadWrite).unwrap();

    util::run("write", &[&name, "100", "written by the child"]).assert_success();
    assert_eq!(view.read_vec(100, 20).unwrap(), b"written by the child");

    view.write_at(3000, b"written by the parent").unwrap();
    util::run("expect", &[&name, "3000", "written by the parent"]).assert_success();
    // And a wrong expectation really fails in the child.
    let f = util::run("expect", &[&name, "3000", "something else"]);
    assert!(!f.status.success());
}

#[test]
fn copy_on_write_is_private_to_the_view() {
    let name = NameGuard::new("cow");
    let seg = Segment::create(&name, 4096).unwrap();
    let mut shared = seg.map(Access::ReadWrite).unwrap();
    shared.write_at(0, b"original").unwrap();

    util::run("cow", &[&name]).assert_success();
    assert_eq!(shared.read_vec(0, 8).unwrap(), b"original");

    // In this process too: a private write is invisible to a shared view of the same bytes.
    let mut private = seg.map(Access::CopyOnWrite).unwrap();
    private.write_at(0, b"mine").unwrap();
    assert_eq!(private.read_vec(0, 8).unwrap(), b"mineinal");
    assert_eq!(shared.read_vec(0, 8).unwrap(), b"original");
}

#[test]
fn writing_through_a_read_only_view_kills_only_the_writer() {
    let name = NameGuard::new("ro");
    let seg = Segment::create(&name, 4096).unwrap();
    let f = util::run("write_read_only", &[&name]);
    assert!(util::is_access_violation(&f.status), "{f:#?}");
    assert!(!f.stdout.contains("went through"), "{f:#?}");
    assert_eq!(
        seg.map(Access::ReadOnly).unwrap().read_vec(0, 1).unwrap(),
        [0]
    );
}

#[test]
fn a_view_stronger_than_the_open_is_refused_with_both_accesses() {
    let name = NameGuard::new("mismatch");
    let _seg = Segment::create(&name, 4096).unwrap();
    let ro = Segment::options().read_only(true).open(&name).unwrap();
    assert_eq!(ro.access(), Access::ReadOnly);
    let err = ro.map(Access::ReadWrite).unwrap_err();
    match &err {
        Error::AccessMismatch {
            requested,
            granted,
            name: n,
        } => {
            assert_eq!(
                (*requested, *granted),
                (Access::ReadWrite, Access::ReadOnly)
            );
            assert_eq!(n, &*name);
        }
        other => panic!("expected AccessMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("read-write") && msg.contains("read-only"),
        "{msg}"
    );
    // Read-only and copy-on-write views of a read-only open are fine.
    ro.map(Access::ReadOnly).unwrap();
    ro.map(Access::CopyOnWrite).unwrap();
    // Copy-in on a read-only view is refused the same way, and writes nothing.
    let mut v = ro.map(Access::ReadOnly).unwrap();
    assert!(matches!(
        v.write_at(0, b"x"),
        Err(Error::AccessMismatch { .. })
    ));
    assert!(matches!(v.atomic_u32(0), Err(Error::AccessMismatch { .. })));
}

#[test]
fn open_missing_and_create_existing_are_typed() {
    let name = NameGuard::new("exist");
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { name: n }) if n == *name));
    assert!(matches!(
        Segment::remove(&name),
        Err(Error::NotFound { .. })
    ));
    let _seg = Segment::create(&name, 64).unwrap();
    assert!(
        matches!(Segment::create(&name, 64), Err(Error::AlreadyExists { name: n }) if n == *name)
    );
    let again = Segment::options().size(64).open_or_create(&name).unwrap();
    assert!(!again.is_creator());
    assert!(matches!(
        Segment::options().size(1 << 20).open(&name),
        Err(Error::SizeInvalid { .. })
    ));
}

#[test]
fn open_or_create_creates_once() {
    let name = NameGuard::new("ooc");
    let first = Segment::options().size(8192).open_or_create(&name).unwrap();
    assert!(first.is_creator());
    assert_eq!(first.len(), 8192);
    let second = Segment::options().size(100).open_or_create(&name).unwrap();
    assert!(!second.is_creator());
    assert!(second.len() >= 8192);
}

#[test]
fn zero_and_oversized_sizes_are_refused_and_create_nothing() {
    let name = NameGuard::new("size");
    assert!(matches!(
        Segment::create(&name, 0),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        Segment::create(&name, usize::MAX),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        Segment::options().create(&name),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
}

#[cfg(target_os = "linux")]
#[test]
fn more_than_dev_shm_holds_is_no_space_at_create_and_leaves_nothing() {
    let name = NameGuard::new("nospace");
    let err = Segment::create(&name, 1 << 50).unwrap_err();
    assert!(
        matches!(err, Error::NoSpace { requested, .. } if requested == 1 << 50),
        "{err:?}"
    );
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn views_at_any_offset_and_out_of_range_errors() {
    let name = NameGuard::new("ranges");
    let size = 200_000; // several pages and more than one 64 KiB granule
    let seg = Segment::create(&name, size).unwrap();
    let mut whole = seg.map(Access::ReadWrite).unwrap();
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    whole.write_at(0, &data).unwrap();
    for (off, len) in [
        (0, 1),
        (1, 10),
        (4095, 2),
        (65_537, 70_000),
        (size - 1, 1),
        (123_457, 76_543),
    ] {
        let v = seg.map_range(Access::ReadOnly, off, len).unwrap();
        assert_eq!((v.offset(), v.len()), (off, len));
        assert_eq!(
            v.read_vec(0, len).unwrap(),
            &data[off..off + len],
            "view {off}+{len}"
        );
    }
    for (off, len) in [(0, 0), (size, 1), (size - 1, 2), (1, usize::MAX)] {
        let e = seg.map_range(Access::ReadOnly, off, len).unwrap_err();
        assert!(matches!(e, Error::SizeInvalid { .. }), "{off}+{len}: {e:?}");
    }
    let mut buf = [0u8; 8];
    assert!(matches!(
        whole.read_at(size - 4, &mut buf),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        whole.write_at(size - 4, &buf),
        Err(Error::SizeInvalid { .. })
    ));
    assert_eq!(
        whole.read_vec(size - 4, 4).unwrap(),
        &data[size - 4..],
        "failed write changed bytes"
    );
    assert!(matches!(
        whole.atomic_u32(2),
        Err(Error::SizeInvalid { .. })
    ));
    whole
        .atomic_u64(8)
        .unwrap()
        .store(7, std::sync::atomic::Ordering::Release);
    assert_eq!(whole.read_vec(8, 8).unwrap(), 7u64.to_ne_bytes());
}

#[test]
fn the_creator_removes_the_name_and_openers_do_not() {
    let name = NameGuard::new("life");
    let seg = Segment::create(&name, 4096).unwrap();
    assert!(seg.is_creator() && !seg.keeps_name());
    util::run("open_drop", &[&name]).assert_success();
    assert!(Segment::open(&name).is_ok(), "an opener removed the name");

    // A view outlives both the segment handle and the name.
    let mut view = seg.map(Access::ReadWrite).unwrap();
    drop(seg);
    #[cfg(unix)]
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
    view.write_at(0, b"still mapped").unwrap();
    assert_eq!(view.read_vec(0, 12).unwrap(), b"still mapped");

    let other = NameGuard::new("life2");
    util::run("create_drop", &[&other]).assert_success();
    assert!(matches!(Segment::open(&other), Err(Error::NotFound { .. })));
}

/// On Unix a kept name outlives its creator; on Windows the OS frees it with the last handle.
#[test]
fn keep_leaves_the_name_after_the_creator_exits() {
    let name = NameGuard::new("keep");
    util::run("create_keep", &[&name]).assert_success();
    let r = Segment::open(&name);
    if cfg!(windows) {
        assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    } else {
        assert_eq!(
            r.unwrap()
                .map(Access::ReadOnly)
                .unwrap()
                .read_vec(0, 4)
                .unwrap(),
            b"kept"
        );
        Segment::remove(&name).unwrap();
        assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
    }
}

#[test]
fn four_processes_write_disjoint_regions_of_one_segment() {
    const REGION: usize = 5000; // not a page multiple: each child maps at an unaligned offset
    let name = NameGuard::new("four");
    let seg = Segment::create(&name, 4 * REGION).unwrap();
    let region = REGION.to_string();
    let children: Vec<_> = (0..4)
        .map(|i| util::spawn("fill_region", &[&name, &i.to_string(), &region]))
        .collect();
    for c in children {
        c.wait().assert_success();
    }
    let v = seg.map(Access::ReadOnly).unwrap();
    for i in 0..4 {
        let want: Vec<u8> = (0..REGION).map(|k| (i * 31 + k) as u8).collect();
        assert_eq!(v.read_vec(i * REGION, REGION).unwrap(), want, "region {i}");
    }
}

#[cfg(unix)]
#[test]
fn default_mode_is_owner_only_and_modes_ignore_the_umask() {
    let mode_of = |name: &str| {
        let seg = Segment::options().read_only(true).open(name).unwrap();
        // The segment's fd is private; look the object up the POSIX way instead.
        let path = std::ffi::CString::new(format!("/{name}")).unwrap();
        // SAFETY: plain libc calls on a NUL-terminated path and a zeroed stat buffer.
        unsafe {
            let fd = libc::shm_open(path.as_ptr(), libc::O_RDONLY, 0);
            assert!(fd >= 0);
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd, &mut st), 0);
            libc::close(fd);
            drop(seg);
            st.st_mode as u32 & 0o777
        }
    };
    let name = NameGuard::new("mode");
    let _a = Segment::create(&name, 64).unwrap();
    assert_eq!(mode_of(&name), 0o600);
    let wide = NameGuard::new("mode2");
    let _b = Segment::options()
        .size(64)
        .mode(0o666)
        .create(&wide)
        .unwrap();
    assert_eq!(mode_of(&wide), 0o666);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(format!("/dev/shm/{}", &*name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn a_thousand_create_drop_cycles_leave_nothing() {
    let prefix = util::unique("cycle");
    for i in 0..1000 {
        let name = format!("{prefix}-{i}");
        let seg = Segment::create(&name, 1 << 16).unwrap();
        seg.map(Access::ReadWrite)
            .unwrap()
            .write_at(0, b"x")
            .unwrap();
    }
    #[cfg(target_os = "linux")]
    assert_eq!(util::dev_shm_entries(&prefix), Vec::<String>::new());
    for i in [0, 499, 999] {
        let name = format!("{prefix}-{i}");
        assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Segment>();
    check::<shmkit::View>();
    check::<shmkit::FileMapping>();
    check::<Error>();
}

/// The README's first command: the classic server/client demo, as two real processes.
#[test]
fn the_classic_demo_runs_end_to_end() {
    let exe = std::env::current_exe().unwrap();
    let demo = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| {
            dir.join("examples")
                .join(format!("demo{}", std::env::consts::EXE_SUFFIX))
        })
        .unwrap();
    assert!(
        demo.exists(),
        "{} missing: cargo test builds examples",
        demo.display()
    );
    let name = NameGuard::new("demo");
    let out = std::process::Command::new(&demo)
        .arg(&*name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "client: read the server's message: \"Message from the server process.\"",
        "server: the client replied: \"Hello back from the client process.\"",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
}

/// POSIX creates a segment empty and sizes it in a second call; an opener that slips in
/// between waits briefly for the size instead of failing (the demo's client hit this under
/// load). A segment that stays empty is still refused.
#[cfg(unix)]
#[test]
fn opening_a_segment_between_creation_and_sizing_waits_for_the_size() {
    let name = NameGuard::new("sizing");
    let path = std::ffi::CString::new(format!("/{}", &*name)).unwrap();
    // SAFETY: plain libc calls on a NUL-terminated name; the fd is closed by the thread.
    let fd = unsafe {
        libc::shm_open(
            path.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        )
    };
    assert!(fd >= 0);
    let sizer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(30));
        // SAFETY: `fd` is the open descriptor from above, owned by this thread now.
        unsafe {
            assert_eq!(libc::ftruncate(fd, 8192), 0);
            libc::close(fd);
        }
    });
    let seg = Segment::open(&name).unwrap();
    assert_eq!(seg.len(), 8192);
    sizer.join().unwrap();

    let empty = NameGuard::new("empty");
    let path = std::ffi::CString::new(format!("/{}", &*empty)).unwrap();
    // SAFETY: as above.
    unsafe {
        libc::close(libc::shm_open(
            path.as_ptr(),
            libc::O_CREAT | libc::O_RDWR,
            0o600,
        ))
    };
    assert!(matches!(
        Segment::open(&empty),
        Err(Error::SizeInvalid { .. })
    ));
}
