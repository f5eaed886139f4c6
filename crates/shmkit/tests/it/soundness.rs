//! Soundness across processes: leaked guards, `?` on an owner death, sleepers killed asleep,
//! a creator's drop racing a re-created name.

use std::time::Duration;

use shmkit::sync::{Event, LockError, Mutex, Semaphore, Shared};
use shmkit::{Access, Error, Segment};

use crate::util::{self, say, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("leak_guards", child_leak_guards),
    ("hold_u64_and_hang", child_hold_u64_and_hang),
    ("repair_u64", child_repair_u64),
    ("event_sleep", child_event_sleep),
    ("semaphore_sleep", child_semaphore_sleep),
    ("take_permits", child_take_permits),
];

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

/// args: name — locks a `Shared<u64>`, writes 999 (a half-done update), says "locked" and
/// hangs until killed.
fn child_hold_u64_and_hang(a: &[String]) {
    let s = Shared::<u64>::open(&a[0]).unwrap();
    let mut g = s.lock().unwrap();
    *g = 999;
    say("locked");
    std::thread::sleep(Duration::from_secs(120));
}

/// args: name — locks a `Shared<u64>`, which must report the owner's death, and repairs it.
fn child_repair_u64(a: &[String]) {
    let s = Shared::<u64>::open(&a[0]).unwrap();
    match s.lock_timeout(WAIT) {
        Err(LockError::OwnerDied(mut g)) => {
            assert_eq!(*g, 999);
            *g = 1;
            g.make_consistent();
        }
        Ok(_) => panic!("the owner's death went unreported"),
        Err(LockError::Other(e)) => panic!("{e}"),
    };
}

/// The `?` way to lock, as the `Shared` docs show it.
fn bump(s: &Shared<u64>) -> shmkit::Result<()> {
    *s.lock()? += 1;
    Ok(())
}

#[test]
fn question_mark_on_an_owner_death_hands_the_repair_on() {
    let name = NameGuard::new("qmark");
    let s = Shared::<u64>::create(&name, 0).unwrap();
    let mut child = util::spawn("hold_u64_and_hang", &[&name]);
    child.wait_for_line("locked");
    child.kill();
    assert!(matches!(bump(&s), Err(Error::OwnerDied { .. })));
    // The lock was released unrepaired, not made unrecoverable: the next holder, in another
    // process, is told of the death and repairs.
    util::run("repair_u64", &[&name]).assert_success();
    bump(&s).unwrap();
    assert_eq!(*s.lock().unwrap(), 2);

    // The same for a plain mutex, converting by hand.
    let mname = NameGuard::new("qmarkm");
    let m = Mutex::create(&mname).unwrap();
    let mut child = util::spawn("mutex_hold_and_hang", &[&mname]);
    child.wait_for_line("locked");
    child.kill();
    let e: Error = m.lock_timeout(WAIT).unwrap_err().into();
    assert!(matches!(e, Error::OwnerDied { .. }), "{e:?}");
    let again = m.lock_timeout(WAIT).unwrap_err().into_owner_died();
    let g = again.expect("the death is reported again");
    assert!(g.needs_repair());
    g.make_consistent();
    drop(g);
    drop(m.try_lock().unwrap());
}

/// args: name — says "waiting" and waits for the event for ever (until killed).
fn child_event_sleep(a: &[String]) {
    let ev = Event::open(&a[0]).unwrap();
    say("waiting");
    ev.wait().unwrap();
    panic!("woken: nobody sets this event");
}

/// args: name — says "waiting" and waits for a permit for ever (until killed).
fn child_semaphore_sleep(a: &[String]) {
    let sem = Semaphore::open(&a[0]).unwrap();
    say("waiting");
    sem.wait().unwrap();
    panic!("woken: nobody posts this semaphore");
}

/// The sleeper count of a sync object (offset 76 of its segment, see `src/object/header.rs`).
#[cfg(target_os = "linux")]
fn sleepers(view: &shmkit::View) -> u32 {
    view.atomic_u32(76)
        .unwrap()
        .load(std::sync::atomic::Ordering::SeqCst)
}

/// Starts `role` on `name`, waits until it sleeps (sleeper count 1), and kills it.
#[cfg(target_os = "linux")]
fn kill_a_sleeper(role: &str, name: &str, view: &shmkit::View) {
    let mut child = util::spawn(role, &[name]);
    child.wait_for_line("waiting");
    let start = std::time::Instant::now();
    while sleepers(view) == 0 {
        assert!(start.elapsed() < WAIT, "the child never slept");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20)); // most likely inside the futex by now
    child.kill();
}

#[test]
#[cfg(target_os = "linux")]
fn a_sleeper_killed_asleep_stops_costing_wakers_a_syscall() {
    let name = NameGuard::new("deadsleep");
    let ev = Event::create(&name, shmkit::sync::Reset::Auto).unwrap();
    let ev_view = util::raw_view(&name);
    kill_a_sleeper("event_sleep", &name, &ev_view);
    assert_eq!(sleepers(&ev_view), 1, "the dead sleeper's count is left");
    for _ in 0..20 {
        ev.set().unwrap();
        ev.try_wait().unwrap();
    }
    assert_eq!(sleepers(&ev_view), 0);

    let name = NameGuard::new("deadsem");
    let sem = Semaphore::create(&name, 0, 4).unwrap();
    let view = util::raw_view(&name);
    kill_a_sleeper("semaphore_sleep", &name, &view);
    assert_eq!(sleepers(&view), 1);
    for _ in 0..20 {
        sem.post().unwrap();
        sem.try_wait().unwrap();
    }
    assert_eq!(sleepers(&view), 0);
    // Live sleepers are still woken.
    let ev2 = Event::open(ev.name()).unwrap();
    std::thread::scope(|s| {
        let t = s.spawn(|| ev2.wait_timeout(WAIT));
        while sleepers(&ev_view) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        ev.set().unwrap();
        t.join().unwrap().unwrap();
    });
}

/// args: name, threads, n — `threads` threads, each on its own handle, take `n` permits
/// each; a lost wake-up shows as a timeout.
fn child_take_permits(a: &[String]) {
    let (threads, n): (usize, usize) = (a[1].parse().unwrap(), a[2].parse().unwrap());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let sem = Semaphore::open(&a[0]).unwrap();
                for i in 0..n {
                    sem.wait_timeout(WAIT)
                        .unwrap_or_else(|e| panic!("permit {i}: {e}"));
                }
            });
        }
    });
}

#[test]
fn sleepers_in_flight_are_never_reset_away() {
    // Posts trickle in while four sleepers in two processes come and go: the wakes that find
    // nobody asleep (sleepers in flight) make wakers try to reset the count again and again.
    let name = NameGuard::new("inflight");
    let sem = Semaphore::create(&name, 0, u32::MAX).unwrap();
    let (threads, n) = (2, 500);
    let children: Vec<_> = (0..2)
        .map(|_| {
            util::spawn(
                "take_permits",
                &[&name, &threads.to_string(), &n.to_string()],
            )
        })
        .collect();
    for i in 0..2 * threads * n {
        sem.post().unwrap();
        if i % 8 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    for c in children {
        c.wait().assert_success();
    }
    assert_eq!(sem.value(), 0);
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
