//! Process-shared synchronisation across real processes: owner death, counters, ping-pong,
//! semaphore bounds, typed errors on open.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shmkit::sync::{Event, LockError, Mutex, Pod, Reset, Semaphore, Shared, Zeroable};
use shmkit::{Access, Error, Segment};

use crate::util::{self, say, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("hold_and_hang", child_hold_and_hang),
    ("increment", child_increment),
    ("pong", child_pong),
    ("event_wait", child_event_wait),
    ("semaphore_worker", child_semaphore_worker),
    ("open_as_b", child_open_as_b),
    ("mutex_hold_and_hang", child_mutex_hold_and_hang),
    ("create_event_and_hang", child_create_event_and_hang),
];

/// The state a test protects: `busy` is 1 while an update is half done.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Ledger {
    updates: u64,
    busy: u64,
}

const WAIT: Duration = Duration::from_secs(30);

/// args: name — locks the ledger, starts an update, says "locked" and hangs until killed.
fn child_hold_and_hang(a: &[String]) {
    let ledger = Shared::<Ledger>::open(&a[0]).unwrap();
    let mut g = ledger.lock().unwrap();
    g.busy = 1;
    say("locked");
    std::thread::sleep(Duration::from_secs(120));
}

/// args: name — locks the plain mutex, says "locked" and hangs until killed.
fn child_mutex_hold_and_hang(a: &[String]) {
    let m = Mutex::open(&a[0]).unwrap();
    let _g = m.lock().unwrap();
    say("locked");
    std::thread::sleep(Duration::from_secs(120));
}

/// args: name, n — adds 1 to a `Shared<u64>` n times.
fn child_increment(a: &[String]) {
    let counter = Shared::<u64>::open(&a[0]).unwrap();
    let n: u64 = a[1].parse().unwrap();
    for _ in 0..n {
        *counter.lock().unwrap() += 1;
    }
}

/// args: ping, pong, rounds — waits for ping, sets pong, `rounds` times.
fn child_pong(a: &[String]) {
    let ping = Event::open(&a[0]).unwrap();
    let pong = Event::open(&a[1]).unwrap();
    for _ in 0..a[2].parse::<u32>().unwrap() {
        ping.wait_timeout(WAIT).unwrap();
        pong.set().unwrap();
    }
}

/// args: name, timeout_ms — says "waiting", waits; exits 0 if set, 3 on timeout.
fn child_event_wait(a: &[String]) {
    let ev = Event::open(&a[0]).unwrap();
    say("waiting");
    match ev.wait_timeout(Duration::from_millis(a[1].parse().unwrap())) {
        Ok(()) => {}
        Err(Error::Timeout { .. }) => std::process::exit(3),
        Err(e) => panic!("{e}"),
    }
}

/// args: sem, counters, rounds — takes a permit, counts holders in a shared segment, records
/// the highest count seen, gives the permit back.
fn child_semaphore_worker(a: &[String]) {
    let sem = Semaphore::open(&a[0]).unwrap();
    let seg = Segment::open(&a[1]).unwrap();
    let v = seg.map(Access::ReadWrite).unwrap();
    let (holders, most) = (v.atomic_u32(0).unwrap(), v.atomic_u32(4).unwrap());
    for _ in 0..a[2].parse::<u32>().unwrap() {
        sem.wait_timeout(WAIT).unwrap();
        let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        std::thread::yield_now();
        holders.fetch_sub(1, Ordering::SeqCst);
        sem.post().unwrap();
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct PairA {
    x: u32,
    y: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct PairB {
    xy: [u32; 2],
}

/// args: name — opens a `Shared<PairA>` as `Shared<PairB>`: must be a LayoutMismatch.
fn child_open_as_b(a: &[String]) {
    match Shared::<PairB>::open(&a[0]) {
        Err(Error::LayoutMismatch { reason, .. }) => say(&format!("mismatch: {reason}")),
        other => panic!("expected LayoutMismatch, got {other:?}"),
    }
}

#[test]
fn a_killed_owner_is_reported_every_time_and_the_data_repaired() {
    let rounds = 200;
    let name = NameGuard::new("robust");
    let ledger = Shared::create(
        &name,
        Ledger {
            updates: 0,
            busy: 0,
        },
    )
    .unwrap();
    for round in 0..rounds {
        let mut child = util::spawn("hold_and_hang", &[&name]);
        child.wait_for_line("locked");
        child.kill();
        match ledger.lock_timeout(WAIT) {
            Err(LockError::OwnerDied(mut g)) => {
                assert!(g.needs_repair());
                assert_eq!(
                    g.busy, 1,
                    "round {round}: the child's half-done update is visible"
                );
                g.busy = 0;
                g.updates += 1;
                g.make_consistent();
                assert!(!g.needs_repair());
            }
            Ok(_) => panic!("round {round}: the owner's death went unreported"),
            Err(LockError::Other(e)) => panic!("round {round}: {e}"),
        }
        // Repaired: the next lock is clean.
        assert!(ledger.try_lock().is_ok(), "round {round}");
    }
    assert_eq!(ledger.lock().unwrap().updates, rounds);
}

#[test]
fn an_unrepaired_owner_death_makes_the_mutex_unrecoverable() {
    let name = NameGuard::new("unrec");
    let m = Mutex::create(&name).unwrap();
    let mut child = util::spawn("mutex_hold_and_hang", &[&name]);
    child.wait_for_line("locked");
    // Held by the child: try and timeout forms give up.
    assert!(matches!(
        m.try_lock(),
        Err(LockError::Other(Error::WouldBlock { .. }))
    ));
    let t = Instant::now();
    assert!(matches!(
        m.lock_timeout(Duration::from_millis(100)),
        Err(LockError::Other(Error::Timeout { .. }))
    ));
    assert!(t.elapsed() >= Duration::from_millis(100));
    child.kill();
    let g = m
        .lock_timeout(WAIT)
        .unwrap_err()
        .into_owner_died()
        .expect("owner died");
    drop(g); // not repaired
    for _ in 0..2 {
        assert!(matches!(
            m.lock(),
            Err(LockError::Other(Error::Unrecoverable { .. }))
        ));
    }
    // Converting to Error keeps the news.
    let e: Error = m.try_lock().unwrap_err().into();
    assert!(matches!(e, Error::Unrecoverable { .. }));
}

#[test]
fn relocking_from_the_same_thread_is_refused() {
    let name = NameGuard::new("relock");
    let m = Mutex::create(&name).unwrap();
    let other = Mutex::open(&name).unwrap();
    let _g = m.lock().unwrap();
    assert!(matches!(
        other.try_lock(),
        Err(LockError::Other(Error::Deadlock { .. }))
    ));
    assert!(matches!(
        m.lock(),
        Err(LockError::Other(Error::Deadlock { .. }))
    ));
}

#[test]
fn two_processes_increment_a_shared_counter_exactly() {
    let n = 100_000;
    let name = NameGuard::new("count");
    let counter = Shared::<u64>::create(&name, 0).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| util::spawn("increment", &[&name, &n.to_string()]))
        .collect();
    for c in children {
        c.wait().assert_success();
    }
    assert_eq!(*counter.lock().unwrap(), 2 * n);
}

#[test]
fn events_ping_pong_between_processes() {
    let rounds = 2000;
    let (ping_name, pong_name) = (NameGuard::new("ping"), NameGuard::new("pong"));
    let ping = Event::create(&ping_name, Reset::Auto).unwrap();
    let pong = Event::create(&pong_name, Reset::Auto).unwrap();
    let child = util::spawn("pong", &[&ping_name, &pong_name, &rounds.to_string()]);
    for _ in 0..rounds {
        ping.set().unwrap();
        pong.wait_timeout(WAIT).unwrap();
    }
    child.wait().assert_success();
    assert!(!ping.is_set() && !pong.is_set());
}

#[test]
fn a_manual_reset_event_releases_every_waiter() {
    let name = NameGuard::new("manual");
    let ev = Event::create(&name, Reset::Manual).unwrap();
    let mut children: Vec<_> = (0..3)
        .map(|_| util::spawn("event_wait", &[&name, "30000"]))
        .collect();
    for c in &mut children {
        c.wait_for_line("waiting");
    }
    ev.set().unwrap();
    for c in children {
        c.wait().assert_success();
    }
    assert!(ev.is_set(), "a manual-reset event stays set");
    ev.reset();
    assert!(!ev.is_set());
}

/// shmkit writes 0 and 1 to an event's word; any other non-zero value (another writer's) is
/// "set", so waiters take it instead of spinning on a word the OS wait never sleeps on.
#[test]
fn an_event_word_of_another_value_counts_as_set() {
    for reset in [Reset::Auto, Reset::Manual] {
        let name = NameGuard::new("evword");
        let ev = Event::create(&name, reset).unwrap();
        let mut v = util::raw_view(&name);
        v.write_at(72, &2u32.to_ne_bytes()).unwrap(); // the event's word
        assert!(ev.is_set());
        ev.wait_timeout(WAIT).unwrap();
        if reset == Reset::Auto {
            assert!(matches!(ev.try_wait(), Err(Error::WouldBlock { .. })));
        } else {
            ev.try_wait().unwrap();
        }
    }
}

#[test]
fn an_auto_reset_event_releases_exactly_one_waiter() {
    let name = NameGuard::new("auto");
    let ev = Event::create(&name, Reset::Auto).unwrap();
    let mut children: Vec<_> = (0..3)
        .map(|_| util::spawn("event_wait", &[&name, "3000"]))
        .collect();
    for c in &mut children {
        c.wait_for_line("waiting");
    }
    ev.set().unwrap();
    let codes: Vec<_> = children
        .into_iter()
        .map(|c| c.wait().status.code())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(3)).count(),
        2,
        "{codes:?}"
    );
    assert!(!ev.is_set());
}

#[test]
fn event_timeouts_expire_and_try_wait_does_not_block() {
    let name = NameGuard::new("evtimeout");
    let ev = Event::create(&name, Reset::Auto).unwrap();
    assert!(matches!(ev.try_wait(), Err(Error::WouldBlock { .. })));
    let t = Instant::now();
    assert!(matches!(
        ev.wait_timeout(Duration::from_millis(50)),
        Err(Error::Timeout { .. })
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
    ev.set().unwrap();
    ev.try_wait().unwrap();
    assert!(matches!(ev.try_wait(), Err(Error::WouldBlock { .. })));
    assert_eq!(Event::open(&name).unwrap().reset_kind(), Reset::Auto);
}

#[test]
fn a_semaphore_never_exceeds_its_count_under_four_processes() {
    let (sem_name, counters) = (NameGuard::new("sem"), NameGuard::new("semcount"));
    let sem = Semaphore::create(&sem_name, 2, 2).unwrap();
    let seg = Segment::create(&counters, 64).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| util::spawn("semaphore_worker", &[&sem_name, &counters, "2000"]))
        .collect();
    for c in children {
        c.wait().assert_success();
    }
    let v = seg.map(Access::ReadWrite).unwrap();
    let most = v.atomic_u32(4).unwrap().load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "at most 2 holders at once, saw {most}"
    );
    assert_eq!(v.atomic_u32(0).unwrap().load(Ordering::SeqCst), 0);
    assert_eq!(sem.value(), 2);
}

#[test]
fn semaphore_limits_and_timeouts() {
    let name = NameGuard::new("semlim");
    assert!(matches!(
        Semaphore::create(&name, 3, 2),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        Semaphore::create(&name, 0, 0),
        Err(Error::SizeInvalid { .. })
    ));
    let sem = Semaphore::create(&name, 0, 1).unwrap();
    assert!(matches!(sem.try_wait(), Err(Error::WouldBlock { .. })));
    assert!(matches!(
        sem.wait_timeout(Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    sem.post().unwrap();
    assert!(matches!(sem.post(), Err(Error::Full { max: 1, .. })));
    let other = Semaphore::open(&name).unwrap();
    assert_eq!((other.value(), other.max()), (1, 1));
    other.wait().unwrap();
    assert_eq!(sem.value(), 0);
}

#[test]
fn opening_with_another_layout_or_kind_is_a_typed_error() {
    let name = NameGuard::new("layout");
    let _a = Shared::create(&name, PairA { x: 1, y: 2 }).unwrap();
    let f = util::run("open_as_b", &[&name]);
    f.assert_success();
    assert!(
        f.stdout.contains("mismatch: the type tag differs"),
        "{f:#?}"
    );
    assert!(matches!(
        Shared::<u32>::open(&name),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(
        Shared::<[u8; 8]>::open(&name),
        Err(Error::LayoutMismatch { .. })
    ));
    // Same layout under an explicit, different tag: refused too.
    assert!(matches!(
        Shared::<PairA>::open_tagged(&name, "PairA v2"),
        Err(Error::LayoutMismatch { .. })
    ));
    assert_eq!(Shared::<PairA>::open(&name).unwrap().lock().unwrap().y, 2);
    assert!(matches!(
        Event::open(&name),
        Err(Error::KindMismatch {
            expected: "event",
            found: "shared value",
            ..
        })
    ));
    assert!(matches!(
        Mutex::open(&name),
        Err(Error::KindMismatch { .. })
    ));
}

#[test]
fn foreign_truncated_and_future_segments_are_refused() {
    let foreign = NameGuard::new("foreign");
    let seg = Segment::create(&foreign, 4096).unwrap();
    let mut v = seg.map(Access::ReadWrite).unwrap();
    v.write_at(0, b"GIF89a not a shmkit object").unwrap();
    assert!(matches!(Mutex::open(&foreign), Err(Error::Corrupt { .. })));

    let small = NameGuard::new("small");
    let _s = Segment::create(&small, 100).unwrap();
    let e = Event::open(&small).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");

    // A segment whose creator never finished (all zeros): refused after a short wait.
    let zeros = NameGuard::new("zeros");
    let _z = Segment::create(&zeros, 4096).unwrap();
    assert!(matches!(
        Semaphore::open(&zeros),
        Err(Error::Corrupt { .. })
    ));

    // A future layout version.
    let future = NameGuard::new("future");
    let _ev = Event::create(&future, Reset::Manual).unwrap();
    util::raw_view(&future)
        .write_at(8, &99u32.to_ne_bytes())
        .unwrap();
    assert!(matches!(
        Event::open(&future),
        Err(Error::VersionMismatch {
            found: 99,
            expected: shmkit::inspect::LAYOUT_VERSION,
            ..
        })
    ));
}

#[test]
fn sync_handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Mutex>();
    check::<Event>();
    check::<Semaphore>();
    check::<Shared<u64>>();
    check::<shmkit::sync::SharedBytes>();
}

/// args: name — creates an event, says "created" and hangs until killed (never removing it).
fn child_create_event_and_hang(a: &[String]) {
    let _ev = Event::create(&a[0], Reset::Manual).unwrap();
    say("created");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn inspect_tells_raw_from_objects_and_dead_creators_from_live_ones() {
    use shmkit::inspect::{inspect, Kind};
    let raw = NameGuard::new("inspraw");
    let _r = Segment::create(&raw, 1000).unwrap();
    let info = inspect(&raw).unwrap();
    assert_eq!((info.kind, info.creator_pid), (Kind::Raw, None));
    // Windows records only the page-rounded size of a segment it did not create here.
    let want_len = if cfg!(windows) { 4096 } else { 1000 };
    assert_eq!(info.len, want_len);
    #[cfg(unix)]
    assert_eq!(info.mode, Some(0o600));

    let live = NameGuard::new("insplive");
    let _ev = Event::create(&live, Reset::Auto).unwrap();
    let info = inspect(&live).unwrap();
    assert_eq!(info.kind, Kind::Object("event"));
    assert_eq!(info.kind.label(), "event");
    assert_eq!(info.layout_version, Some(shmkit::inspect::LAYOUT_VERSION));
    assert_eq!(info.creator_pid, Some(std::process::id()));
    assert_eq!(info.creator_alive, Some(true));

    // A creator killed before it could remove its object: on Unix the name stays, and its
    // creator is reported dead (what `shmkit gc` looks for). Windows frees it with the process.
    let dead = NameGuard::new("inspdead");
    let mut child = util::spawn("create_event_and_hang", &[&dead]);
    child.wait_for_line("created");
    child.kill();
    match inspect(&dead) {
        Ok(info) => {
            if cfg!(windows) {
                panic!("Windows should have freed it: {info:?}");
            }
            assert_eq!(info.kind, Kind::Object("event"));
            assert_eq!(info.creator_alive, Some(false));
        }
        Err(e) => assert!(
            cfg!(windows) && matches!(e, Error::NotFound { .. }),
            "{e:?}"
        ),
    }
    assert!(matches!(
        inspect(&NameGuard::new("none")),
        Err(Error::NotFound { .. })
    ));

    #[cfg(target_os = "linux")]
    {
        let names = shmkit::inspect::list().unwrap();
        assert!(names.contains(&raw.0) && names.contains(&live.0) && names.contains(&dead.0));
    }
    // Windows lists the segments shmkit created that still exist (the dead one is gone).
    #[cfg(windows)]
    {
        let names = shmkit::inspect::list().unwrap();
        assert!(
            names.contains(&raw.0) && names.contains(&live.0),
            "{names:?}"
        );
        assert!(!names.contains(&dead.0));
    }
    #[cfg(target_vendor = "apple")]
    assert!(matches!(
        shmkit::inspect::list(),
        Err(Error::Unsupported { .. })
    ));
}
