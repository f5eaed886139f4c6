//! `WaitSet`: many channels fed by several processes, idle CPU, timeouts, mixed members, and
//! wakes of one passed on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast, Consumer};
use shmkit::sync::{Event, Reset, Semaphore};
use shmkit::{Error, WaitSet, Waitable};

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("waitset_feed", child_feed),
    ("waitset_idle", child_idle),
    ("waitset_set_event", child_set_event),
];

/// A hang guard, not a performance assertion.
const WAIT: Duration = Duration::from_secs(60);

/// The names `<prefix>-<i>` for `i < n`, each removed when the guard drops.
fn names(prefix: &str, n: usize) -> Vec<NameGuard> {
    (0..n).map(|i| NameGuard(format!("{prefix}-{i}"))).collect()
}

/// A small deterministic generator (xorshift), seeded per child.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// args: prefix, k, children, channels, messages per channel — opens the producers of the
/// channels `i` with `i % children == k` and sends each its messages `(i, seq)`, picking the
/// channel at random each time, with a pause now and then so that the receiver falls asleep.
fn child_feed(a: &[String]) {
    let p: Vec<usize> = a[1..].iter().map(|s| s.parse().unwrap()).collect();
    let (k, children, channels, per) = (p[0], p[1], p[2], p[3] as u32);
    let mut mine: Vec<(usize, channel::Producer, u32)> = (0..channels)
        .filter(|i| i % children == k)
        .map(|i| {
            let tx = channel::options()
                .open_producer(&format!("{}-{i}", a[0]))
                .unwrap();
            (i, tx, 0)
        })
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
    let mut sent = 0u64;
    while !mine.is_empty() {
        let j = (rng.next() % mine.len() as u64) as usize;
        let (i, tx, seq) = &mut mine[j];
        let mut m = [0u8; 8];
        m[..4].copy_from_slice(&(*i as u32).to_le_bytes());
        m[4..].copy_from_slice(&seq.to_le_bytes());
        tx.send_timeout(&m, WAIT).unwrap();
        *seq += 1;
        if *seq == per {
            mine.swap_remove(j); // drops the producer: its channel reports Disconnected
        }
        sent += 1;
        if sent % 64 == 0 {
            std::thread::sleep(Duration::from_millis(1 + rng.next() % 3));
        }
    }
}

#[test]
fn a_waitset_over_256_channels_fed_by_four_processes_sees_every_message_once() {
    const CHANNELS: usize = 256;
    const CHILDREN: usize = 4;
    const PER: u32 = 40;
    let prefix = util::unique("ws256");
    let guards = names(&prefix, CHANNELS);
    let mut consumers: Vec<Consumer> = guards
        .iter()
        .map(|n| {
            channel::options()
                .capacity(1024)
                .create_consumer(n)
                .unwrap()
        })
        .collect();
    let mut ids: Vec<usize> = (0..CHANNELS).collect();
    let children: Vec<_> = (0..CHILDREN)
        .map(|k| {
            let args = [
                k.to_string(),
                CHILDREN.to_string(),
                CHANNELS.to_string(),
                PER.to_string(),
            ];
            let mut all = vec![prefix.as_str()];
            all.extend(args.iter().map(String::as_str));
            util::spawn("waitset_feed", &all)
        })
        .collect();
    let mut next: HashMap<usize, u32> = HashMap::new();
    let mut set = WaitSet::new();
    let mut received = 0u64;
    while !consumers.is_empty() {
        let ready = set.wait_timeout(&consumers, WAIT).unwrap().to_vec();
        assert!(!ready.is_empty());
        // Highest index first, so that removing one does not move another still to visit.
        for &r in ready.iter().rev() {
            loop {
                let got = match consumers[r].try_recv() {
                    Ok(m) => Some((
                        u32::from_le_bytes(m[..4].try_into().unwrap()) as usize,
                        u32::from_le_bytes(m[4..8].try_into().unwrap()),
                    )),
                    Err(Error::WouldBlock { .. }) => break,
                    Err(Error::Disconnected { .. }) => None,
                    Err(e) => panic!("recv: {e}"),
                };
                let Some((i, seq)) = got else {
                    consumers.swap_remove(r);
                    ids.swap_remove(r);
                    break;
                };
                assert_eq!(i, ids[r], "a message of channel {i} on channel {}", ids[r]);
                let want = next.entry(i).or_insert(0);
                assert_eq!(seq, *want, "channel {i}: message out of order or twice");
                *want += 1;
                received += 1;
            }
        }
    }
    for c in children {
        c.wait().assert_success();
    }
    assert_eq!(received, CHANNELS as u64 * u64::from(PER));
    assert!((0..CHANNELS).all(|i| next.get(&i) == Some(&PER)));
}

/// This process's CPU time (user + system), all threads.
fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: `u` is a valid out-pointer for getrusage.
        let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
        assert_eq!(r, 0);
        // SAFETY: getrusage filled it.
        let u = unsafe { u.assume_init() };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        tv(u.ru_utime) + tv(u.ru_stime)
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::FILETIME;
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};
        let z = || FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut c, mut e, mut k, mut u) = (z(), z(), z(), z());
        // SAFETY: the pseudo handle of this process and four valid out-pointers.
        let ok = unsafe { GetProcessTimes(GetCurrentProcess(), &mut c, &mut e, &mut k, &mut u) };
        assert_ne!(ok, 0);
        let t = |f: FILETIME| (u64::from(f.dwHighDateTime) << 32) | u64::from(f.dwLowDateTime);
        Duration::from_nanos((t(k) + t(u)) * 100)
    }
}

/// args: prefix — makes 256 channels (both sides, attached, so that liveness tests run),
/// waits on them for a second with nothing sent, and checks that this used little CPU.
fn child_idle(a: &[String]) {
    let mut consumers = Vec::new();
    let mut producers = Vec::new();
    for i in 0..256 {
        let name = format!("{}-{i}", a[0]);
        consumers.push(
            channel::options()
                .capacity(1024)
                .create_consumer(&name)
                .unwrap(),
        );
        producers.push(channel::options().open_producer(&name).unwrap());
    }
    let mut set = WaitSet::new();
    // A first short wait makes the helper threads, outside the measurement.
    let _ = set.wait_timeout(&consumers, Duration::from_millis(10));
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let r = set.wait_timeout(&consumers, Duration::from_secs(1));
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    // The timeout is on the monotonic clock: it does not end early.
    assert!(wall >= Duration::from_secs(1), "returned after {wall:?}");
    println!("cpu {cpu:?} wall {wall:?}");
    // A busy wait would use the whole second. On Windows each liveness tick opens every
    // member's named events (`crate::liveness`), a wineserver round trip each under Wine,
    // whose CPU accounting is also coarse: there 256 members cost 10-20 % of a CPU on a
    // loaded CI machine, so the bound is a third.
    let share = if cfg!(windows) { 3 } else { 10 };
    assert!(
        cpu * share < wall,
        "idle wait over 256 channels used {cpu:?} of CPU in {wall:?}"
    );
}

#[test]
fn an_idle_waitset_over_256_channels_uses_no_cpu_to_speak_of() {
    let prefix = util::unique("wsidle");
    let _guards = names(&prefix, 256);
    let f = util::run("waitset_idle", &[&prefix]);
    f.assert_success();
    println!("{}", f.stdout.trim());
}

#[test]
fn a_timeout_expires_on_the_monotonic_clock() {
    let name = NameGuard::new("wstimeout");
    let c = channel::options()
        .capacity(1024)
        .create_consumer(&name)
        .unwrap();
    let mut set = WaitSet::new();
    for ms in [0, 20, 100] {
        let t0 = Instant::now();
        let r = set.wait_timeout(std::slice::from_ref(&c), Duration::from_millis(ms));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(t0.elapsed() >= Duration::from_millis(ms));
    }
    assert!(matches!(
        set.try_wait(std::slice::from_ref(&c)),
        Err(Error::WouldBlock { .. })
    ));
    // No members: nothing can be ready; the wait lasts its timeout.
    let none: [&dyn Waitable; 0] = [];
    let t0 = Instant::now();
    let r = set.wait_timeout(&none, Duration::from_millis(20));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(20));
}

/// args: event name — sets the event.
fn child_set_event(a: &[String]) {
    std::thread::sleep(Duration::from_millis(50));
    Event::open(&a[0]).unwrap().set().unwrap();
}

#[test]
fn mixed_members_report_which_is_ready() {
    let (ch, ev, sem, bc) = (
        NameGuard::new("wsmix-ch"),
        NameGuard::new("wsmix-ev"),
        NameGuard::new("wsmix-sem"),
        NameGuard::new("wsmix-bc"),
    );
    let c = channel::options()
        .capacity(1024)
        .create_consumer(&ch)
        .unwrap();
    let mut p = channel::options().open_producer(&ch).unwrap();
    let event = Event::create(&ev, Reset::Auto).unwrap();
    let semaphore = Semaphore::create(&sem, 0, 4).unwrap();
    let mut publ = broadcast::options()
        .slot_size(64)
        .create_publisher(&bc)
        .unwrap();
    let sub = broadcast::options().open_subscriber(&bc).unwrap();
    let mut set = WaitSet::new();
    {
        let members: [&dyn Waitable; 5] = [&c, &event, &semaphore, &sub, &p];
        // The producer has room: ready at once.
        assert_eq!(set.try_wait(&members).unwrap(), &[4]);
        let members = &members[..4];
        assert!(set.try_wait(members).is_err());
        // Set by another process while the set sleeps.
        let child = util::spawn("waitset_set_event", &[&ev]);
        assert_eq!(set.wait_timeout(members, WAIT).unwrap(), &[1]);
        child.wait().assert_success();
    }
    event.try_wait().unwrap();
    semaphore.post().unwrap();
    publ.send(b"all").unwrap();
    {
        let members: [&dyn Waitable; 4] = [&c, &event, &semaphore, &sub];
        assert_eq!(set.wait_timeout(&members, WAIT).unwrap(), &[2, 3]);
    }
    p.send(b"x").unwrap();
    {
        let members: [&dyn Waitable; 1] = [&c];
        assert_eq!(set.wait_timeout(&members, WAIT).unwrap(), &[0]);
    }
    drop(p);
}

#[test]
fn a_closed_producer_makes_its_consumer_ready() {
    let name = NameGuard::new("wsclosed");
    let mut cs = vec![channel::options()
        .capacity(1024)
        .create_consumer(&name)
        .unwrap()];
    let p = channel::options().open_producer(&name).unwrap();
    let mut set = WaitSet::new();
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(p);
        });
        assert_eq!(set.wait_timeout(&cs, WAIT).unwrap(), &[0]);
    });
    assert!(matches!(cs[0].try_recv(), Err(Error::Disconnected { .. })));
    cs.clear();
}

/// A post wakes one sleeper; if that is the wait set, it passes the wake on, so a thread
/// blocked in `Semaphore::wait` still gets the permit.
#[test]
fn a_wake_of_one_taken_by_a_waitset_is_passed_on() {
    let name = NameGuard::new("wspass");
    let sem = Semaphore::create(&name, 0, 8).unwrap();
    let other = Semaphore::open(&name).unwrap();
    for _ in 0..20 {
        std::thread::scope(|s| {
            let blocked = s.spawn(|| other.wait_timeout(WAIT));
            let n = name.0.clone();
            let watcher = s.spawn(move || {
                let o = Semaphore::open(&n).unwrap();
                let mut set = WaitSet::new();
                // Ready, or not if the blocked thread took the permit first: either is fine.
                let _ = set.wait_timeout(std::slice::from_ref(&o), Duration::from_millis(300));
            });
            std::thread::sleep(Duration::from_millis(5));
            sem.post().unwrap();
            // The watcher only watches; the blocked thread must get the permit.
            blocked.join().unwrap().unwrap();
            watcher.join().unwrap();
        });
    }
}

/// Helpers stay armed between waits on unchanged words (Linux); channels dropped and made
/// again between waits (likely at the same addresses) must not leave one asleep on the old
/// ones: every send is seen.
#[test]
fn a_waitset_sees_channels_made_again_at_reused_addresses() {
    for round in 0..6 {
        let prefix = util::unique("wsreuse");
        let guards = names(&prefix, 200);
        let mut consumers: Vec<Consumer> = guards
            .iter()
            .map(|n| {
                channel::options()
                    .capacity(1024)
                    .create_consumer(n)
                    .unwrap()
            })
            .collect();
        let mut producers: Vec<channel::Producer> = guards
            .iter()
            .map(|n| channel::options().open_producer(n).unwrap())
            .collect();
        let mut set = WaitSet::new();
        for k in [199, 150, 128, 3] {
            let k = (k + round * 7) % 200;
            std::thread::scope(|s| {
                let p = &mut producers[k];
                s.spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    p.send(b"hi").unwrap();
                });
                assert_eq!(set.wait_timeout(&consumers, WAIT).unwrap(), &[k]);
            });
            assert_eq!(&*consumers[k].try_recv().unwrap(), b"hi");
        }
        drop(producers);
    }
}

/// A helper thread of a large set that stays queued on a word after the wait returned must
/// not take the only wake of a thread blocked on it: a semaphore and a manual-reset event
/// served by a helper (index > 127), then a thread blocked on each, then a post / set.
#[test]
fn a_helper_left_behind_takes_no_wake_up_from_a_blocked_thread() {
    let prefix = util::unique("wsleft");
    let guards = names(&prefix, 200);
    let (sem_name, ev_name) = (NameGuard::new("wsleft-sem"), NameGuard::new("wsleft-ev"));
    let consumers: Vec<Consumer> = guards
        .iter()
        .map(|n| {
            channel::options()
                .capacity(1024)
                .create_consumer(n)
                .unwrap()
        })
        .collect();
    let sem = Semaphore::create(&sem_name, 0, 8).unwrap();
    let ev = Event::create(&ev_name, Reset::Manual).unwrap();
    let mut set = WaitSet::new();
    for _ in 0..5 {
        {
            let mut members: Vec<&dyn Waitable> = consumers.iter().map(|c| c as _).collect();
            members.push(&sem);
            members.push(&ev);
            let r = set.wait_timeout(&members, Duration::from_millis(5));
            assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        }
        std::thread::scope(|s| {
            let a = s.spawn(|| Semaphore::open(&sem_name).unwrap().wait_timeout(WAIT));
            let b = s.spawn(|| Event::open(&ev_name).unwrap().wait_timeout(WAIT));
            std::thread::sleep(Duration::from_millis(20)); // both asleep by now, most likely
            sem.post().unwrap();
            ev.set().unwrap();
            a.join().unwrap().unwrap();
            b.join().unwrap().unwrap();
        });
        ev.reset();
    }
}

/// A producer killed without closing its side is noticed by the set's liveness test: the
/// consumer turns ready, and receiving says `Disconnected` once its own test runs.
#[test]
fn a_killed_producer_makes_its_consumer_ready() {
    let name = NameGuard::new("wskilled");
    let mut cs = vec![channel::options()
        .capacity(1024)
        .create_consumer(&name)
        .unwrap()];
    let mut child = util::spawn("send_one_and_hang", &[&name]);
    child.wait_for_line("sent");
    let mut set = WaitSet::new();
    assert_eq!(set.wait_timeout(&cs, WAIT).unwrap(), &[0]);
    assert_eq!(&*cs[0].try_recv().unwrap(), b"last words");
    child.kill();
    let t0 = Instant::now();
    loop {
        assert_eq!(set.wait_timeout(&cs, WAIT).unwrap(), &[0]);
        match cs[0].try_recv() {
            Err(Error::Disconnected { .. }) => break,
            Err(Error::WouldBlock { .. }) => assert!(t0.elapsed() < WAIT, "never disconnected"),
            other => panic!("{other:?}"),
        }
    }
}

/// Typed sides wait where their byte sides do.
#[test]
fn typed_channels_and_subscribers_are_members() {
    let (ch, bc) = (NameGuard::new("wstyped-ch"), NameGuard::new("wstyped-bc"));
    let mut tx = channel::typed::<u64>()
        .capacity(1024)
        .create_producer(&ch)
        .unwrap();
    let rx = channel::typed::<u64>().open_consumer(&ch).unwrap();
    let mut publ = broadcast::typed::<u64>().create_publisher(&bc).unwrap();
    let sub = broadcast::typed::<u64>().open_subscriber(&bc).unwrap();
    let mut set = WaitSet::new();
    let members: [&dyn Waitable; 2] = [&rx, &sub];
    assert!(set.try_wait(&members).is_err());
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            publ.send(&7).unwrap();
        });
        assert_eq!(set.wait_timeout(&members, WAIT).unwrap(), &[1]);
    });
    tx.send(&9).unwrap();
    assert_eq!(set.wait_timeout(&members, WAIT).unwrap(), &[0, 1]);
    let producers: [&dyn Waitable; 1] = [&tx];
    assert_eq!(set.try_wait(&producers).unwrap(), &[0]);
}

/// A producer is ready when a message as long as its latest `send` fits: with room for small
/// messages but not for the 1000-byte one it last tried, it is not ready (a wait set would
/// otherwise report it ready while `try_send` says `WouldBlock`: a busy loop, issue 19), and
/// it is once the consumer frees the room.
#[test]
fn a_producer_is_ready_when_its_last_message_length_fits() {
    const WAIT_LONG: Duration = Duration::from_secs(30); // a hang guard
    let name = NameGuard::new("wsprod");
    let mut tx = channel::options()
        .capacity(4096)
        .create_producer(&name)
        .unwrap();
    let mut rx = channel::options().open_consumer(&name).unwrap();
    let big = [7u8; 1000];
    let mut sent = 0;
    while tx.try_send(&big).is_ok() {
        sent += 1;
    }
    assert!(sent >= 2);
    tx.try_send(&[1u8; 8]).unwrap(); // room for a small one remains
    assert!(matches!(tx.try_send(&big), Err(Error::WouldBlock { .. })));
    let mut set = WaitSet::new();
    assert!(matches!(
        set.wait_timeout(&[&tx], Duration::from_millis(50)),
        Err(Error::Timeout { .. })
    ));
    // Whether one message freed is room enough depends on where the next frame wraps: the
    // wait set and try_send agree either way; two are enough.
    let mut buf = Vec::new();
    rx.try_recv_into(&mut buf).unwrap();
    let ready = set.wait_timeout(&[&tx], Duration::from_millis(50)).is_ok();
    assert_eq!(ready, tx.try_send(&big).is_ok());
    if !ready {
        rx.try_recv_into(&mut buf).unwrap();
        assert_eq!(set.wait_timeout(&[&tx], WAIT_LONG).unwrap(), [0]);
        tx.try_send(&big).unwrap();
    }
}
