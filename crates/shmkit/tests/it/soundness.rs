//! Soundness across processes: leaked guards, `?` on an owner death, sleepers killed asleep,
//! a creator's drop racing a re-created name.

use std::time::Duration;

use shmkit::sync::{Mutex, Shared};
use shmkit::{Access, Segment};

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[("leak_guards", child_leak_guards)];

const WAIT: Duration = Duration::from_secs(30);

/// Whether this process maps the shared-memory object `name` (from /proc/self/maps).
#[cfg(target_os = "linux")]
fn maps_object(name: &str) -> bool {
    let path = format!("/dev/shm/{name}");
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(5) == Some(path.as_str()))
}

/// args: mutex, shared — leaks a guard of each, drops both handles, and checks that their
/// mappings stay (glibc's robust list of this thread still points into them), then that
/// other robust mutexes still lock and unlock in this thread over fresh mappings.
fn child_leak_guards(a: &[String]) {
    let m = Mutex::open(&a[0]).unwrap();
    std::mem::forget(m.lock().unwrap());
    drop(m);
    let s = Shared::<u64>::open(&a[1]).unwrap();
    std::mem::forget(s.lock().unwrap());
    drop(s);
    #[cfg(target_os = "linux")]
    for name in &a[..2] {
        assert!(
            maps_object(name),
            "{name} was unmapped under a leaked guard"
        );
    }
    // New mappings where the old ones may have been, filled with a pattern; then the robust
    // list is used by another lock. No byte of the new mappings may change.
    let fresh: Vec<_> = (0..4)
        .map(|i| {
            let g = NameGuard::new(&format!("fresh{i}"));
            let seg = Segment::create(&g, 4096).unwrap();
            let mut v = seg.map(Access::ReadWrite).unwrap();
            v.fill(0, 4096, 0xa5).unwrap();
            (g, seg, v)
        })
        .collect();
    let other = NameGuard::new("other");
    let m2 = Mutex::create(&other).unwrap();
    for _ in 0..3 {
        drop(m2.lock().unwrap());
    }
    for (_, _, v) in &fresh {
        assert!(v.read_vec(0, 4096).unwrap().iter().all(|&b| b == 0xa5));
    }
}

#[test]
fn a_leaked_guard_keeps_its_mutex_mapped() {
    let (mname, sname) = (NameGuard::new("leakm"), NameGuard::new("leaks"));
    let m = Mutex::create(&mname).unwrap();
    let s = Shared::<u64>::create(&sname, 7).unwrap();
    util::run("leak_guards", &[&mname, &sname]).assert_success();
    // The child ended holding both: they come back with the owner's death, and work on.
    m.lock_timeout(WAIT)
        .unwrap_err()
        .into_owner_died()
        .expect("owner died")
        .make_consistent();
    s.lock_timeout(WAIT)
        .unwrap_err()
        .into_owner_died()
        .expect("owner died")
        .make_consistent();
    assert_eq!(*s.lock().unwrap(), 7);
    drop(m.lock().unwrap());
}

#[test]
#[cfg(unix)]
fn a_creator_leaves_a_re_created_name_alone() {
    let name = NameGuard::new("recreated");
    let a = Segment::create(&name, 4096).unwrap();
    Segment::remove(&name).unwrap();
    let b = Segment::options()
        .size(4096)
        .keep(true)
        .create(&name)
        .unwrap();
    b.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, b"mine")
        .unwrap();
    drop(a); // the creator of the old segment: must not remove b's name
    let seen = Segment::open(&name).expect("the re-created name survives");
    assert_eq!(
        seen.map(Access::ReadOnly).unwrap().read_vec(0, 4).unwrap(),
        b"mine"
    );
    drop(b);
}
