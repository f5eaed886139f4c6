//! Synchronisation benchmarks.
//!
//! * Cross-process ping-pong (one round trip = two one-way wake-ups), parent and child pinned
//!   to different CPUs when there are two: shmkit `Event` pair vs a raw futex ping-pong on one
//!   word (the floor for a blocking hop) vs `raw_sync`'s process-shared event (pthread
//!   mutex + condvar) — all in the same run.
//! * Uncontended lock + unlock in one process: shmkit `Mutex` (robust pthread mutex) and
//!   `Shared<u64>` increment vs `std::sync::Mutex`.

use std::hint::black_box;
use std::process::{Child, Stdio};
use std::time::Instant;

use shmkit::sync::{Event, Mutex, Reset, Shared};

use crate::stats::{Row, Summary};

pub const PINGPONG: &str = "pingpong_round_trip";
pub const PINGPONG_TITLE: &str = "two-process ping-pong, blocking, one round trip (two hops)";
pub const LOCK: &str = "uncontended_lock_unlock";
pub const LOCK_TITLE: &str = "uncontended lock + unlock, one process";

/// Batches of round trips: (batches, round trips per batch).
pub struct Plan {
    pub batches: usize,
    pub per_batch: usize,
}

fn unique(tag: &str) -> String {
    format!("shmkit-bench-{}-{tag}", std::process::id())
}

/// Starts this benchmark binary again as the child side of a ping-pong.
fn spawn_child(role: &str, args: &[&str]) -> Child {
    crate::child_command()
        .arg(role)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn bench child")
}

/// Pins the calling thread to `cpu` if the machine has more than one; returns whether it did.
pub fn pin(cpu: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        // Not available_parallelism: it shrinks to 1 once this process (or, for a child, its
        // parent) is pinned, and a child must still reach the other CPU.
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        if n < 2 {
            return false;
        }
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes inside it; sched_setaffinity
        // reads it for the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu % n, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        false
    }
}

/// Lets the calling thread (and the threads and children it starts from now on) run on every
/// online CPU again, undoing an inherited [`pin`]; returns whether it did.
#[cfg_attr(not(all(target_os = "linux", feature = "zenoh")), allow(dead_code))]
pub fn unpin() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes inside it (n is capped to the
        // set's size); sched_setaffinity reads it for the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for cpu in 0..n.min(libc::CPU_SETSIZE as usize) {
                libc::CPU_SET(cpu, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Times `plan.batches * plan.per_batch` calls of `round_trip` one by one (see
/// [`crate::stats::each`]), after `plan.per_batch` warm-up calls.
fn time_batches(plan: &Plan, round_trip: impl FnMut()) -> Summary {
    // Each round trip timed on its own (the plan's batches only set the count).
    crate::stats::each(plan.per_batch, plan.batches * plan.per_batch, round_trip)
}

fn total(plan: &Plan) -> String {
    ((plan.batches + 1) * plan.per_batch).to_string()
}

fn shmkit_event(plan: &Plan) -> Summary {
    let (ping_name, pong_name) = (unique("ping"), unique("pong"));
    let ping = Event::create(&ping_name, Reset::Auto).expect("create ping");
    let pong = Event::create(&pong_name, Reset::Auto).expect("create pong");
    let mut child = spawn_child("event", &[&ping_name, &pong_name, &total(plan)]);
    let s = time_batches(plan, || {
        ping.set().unwrap();
        pong.wait().unwrap();
    });
    assert!(child.wait().expect("wait child").success());
    s
}

#[cfg(target_os = "linux")]
mod futex {
    //! The raw baseline: one u32 in shared memory, FUTEX_WAIT/FUTEX_WAKE syscalls via libc,
    //! and a wake syscall on every hop (the classic minimal futex ping-pong).
    use std::sync::atomic::{AtomicU32, Ordering};

    pub fn wait_for(word: &AtomicU32, want: u32) {
        loop {
            let v = word.load(Ordering::Acquire);
            if v == want {
                return;
            }
            // SAFETY: FUTEX_WAIT on a valid, aligned u32 in a shared mapping; no timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    libc::FUTEX_WAIT,
                    v,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }

    pub fn store_and_wake(word: &AtomicU32, v: u32) {
        word.store(v, Ordering::Release);
        // SAFETY: FUTEX_WAKE on a valid, aligned u32 in a shared mapping.
        unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn raw_futex(plan: &Plan) -> Summary {
    let name = unique("futex");
    let seg = shmkit::Segment::create(&name, 4096).expect("create");
    let view = seg.map(shmkit::Access::ReadWrite).expect("map");
    let word = view.atomic_u32(0).unwrap();
    let mut child = spawn_child("futex", &[&name, &total(plan)]);
    let mut i = 0u32;
    let s = time_batches(plan, || {
        futex::store_and_wake(word, 2 * i + 1);
        futex::wait_for(word, 2 * i + 2);
        i += 1;
    });
    assert!(child.wait().expect("wait child").success());
    s
}

/// One-way time of the raw futex ping-pong (half a round trip), for the channel table.
#[cfg(target_os = "linux")]
pub fn raw_futex_one_way(batches: usize, per: usize) -> Summary {
    raw_futex(&Plan {
        batches,
        per_batch: per,
    })
    .halved()
}

#[cfg(unix)]
fn raw_sync_event(plan: &Plan) -> Summary {
    use raw_sync::events::{Event as RsEvent, EventInit, EventState};
    use raw_sync::Timeout;
    let name = unique("rawsync");
    let seg = shmkit::Segment::create(&name, 4096).expect("create");
    let view = seg.map(shmkit::Access::ReadWrite).expect("map");
    let base = view.as_mut_ptr();
    // SAFETY: both events live in a fresh 4 KiB shared mapping that outlives them; offset 2048
    // leaves room for the first (a pthread mutex + condvar, under 200 bytes).
    let (ping, _) = unsafe { RsEvent::new(base, true) }.expect("raw_sync ping");
    // SAFETY: as above.
    let (pong, _) = unsafe { RsEvent::new(base.add(2048), true) }.expect("raw_sync pong");
    let mut child = spawn_child("raw_sync", &[&name, &total(plan)]);
    let s = time_batches(plan, || {
        ping.set(EventState::Signaled).unwrap();
        pong.wait(Timeout::Infinite).unwrap();
    });
    assert!(child.wait().expect("wait child").success());
    s
}

/// Runs the child side of a ping-pong; `args` are what `spawn_child` passed.
pub fn child(role: &str, args: &[String]) {
    pin(1);
    // The ping-pong roles end with their round-trip count.
    let n = || -> usize { args.last().and_then(|s| s.parse().ok()).expect("count") };
    match role {
        "event" => {
            let ping = Event::open(&args[0]).expect("open ping");
            let pong = Event::open(&args[1]).expect("open pong");
            for _ in 0..n() {
                ping.wait().unwrap();
                pong.set().unwrap();
            }
        }
        #[cfg(target_os = "linux")]
        "futex" => {
            let seg = shmkit::Segment::open(&args[0]).expect("open");
            let view = seg.map(shmkit::Access::ReadWrite).expect("map");
            let word = view.atomic_u32(0).unwrap();
            for i in 0..n() as u32 {
                futex::wait_for(word, 2 * i + 1);
                futex::store_and_wake(word, 2 * i + 2);
            }
        }
        #[cfg(unix)]
        "raw_sync" => {
            use raw_sync::events::{Event as RsEvent, EventInit, EventState};
            use raw_sync::Timeout;
            let seg = shmkit::Segment::open(&args[0]).expect("open");
            let view = seg.map(shmkit::Access::ReadWrite).expect("map");
            let base = view.as_mut_ptr();
            // SAFETY: the parent initialised both events at these offsets of this segment.
            let (ping, _) = unsafe { RsEvent::from_existing(base) }.expect("ping");
            // SAFETY: as above.
            let (pong, _) = unsafe { RsEvent::from_existing(base.add(2048)) }.expect("pong");
            for _ in 0..n() {
                ping.wait(Timeout::Infinite).unwrap();
                pong.set(EventState::Signaled).unwrap();
            }
        }
        other => {
            if !crate::channel::child(other, args) {
                panic!("unknown child role {other:?}");
            }
        }
    }
}

/// The ping-pong table: each variant once, in rotating order over `rounds` rounds.
pub fn pingpong(plan: &Plan, rounds: usize) -> Vec<Row> {
    pin(0);
    type Variant = (&'static str, fn(&Plan) -> Summary);
    #[allow(unused_mut)] // extended per platform below
    let mut variants: Vec<Variant> = vec![("shmkit Event pair", shmkit_event)];
    #[cfg(target_os = "linux")]
    variants.push(("raw futex ping-pong", raw_futex));
    #[cfg(unix)]
    variants.push(("raw_sync Event (pthread cond)", raw_sync_event));
    let mut medians: Vec<Vec<Summary>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            medians[v].push((variants[v].1)(plan));
        }
    }
    // Each round yields a summary per variant; report the round whose median is the median.
    let pick = |s: &mut Vec<Summary>| {
        s.sort_by_key(|x| x.median);
        s[s.len() / 2]
    };
    let shmkit = pick(&mut medians[0]);
    let mut rows = Vec::new();
    if variants.len() > 1 {
        let futex = Row::base(PINGPONG, variants[1].0, pick(&mut medians[1]));
        rows.push(Row::vs(PINGPONG, variants[0].0, shmkit, &futex));
        rows.push(futex);
        for (k, (label, _)) in variants.iter().enumerate().skip(2) {
            let s = pick(&mut medians[k]);
            rows.push(Row::vs(PINGPONG, label, s, &rows[1]));
        }
    } else {
        rows.push(Row::base(PINGPONG, variants[0].0, shmkit));
    }
    rows
}

/// Uncontended lock + unlock, per operation.
pub fn lock(plan: &Plan) -> Vec<Row> {
    #[cfg(target_os = "linux")]
    let raw = raw_robust_mutex();
    let name = unique("lock");
    let m = Mutex::create(&name).expect("mutex");
    let shared_name = unique("sharedlock");
    let shared = Shared::<u64>::create(&shared_name, 0).expect("shared");
    let std_mutex = std::sync::Mutex::new(0u64);
    let per = plan.per_batch * 10;
    let run = |f: &dyn Fn()| {
        let mut v = Vec::with_capacity(plan.batches);
        for _ in 0..plan.batches {
            let t = Instant::now();
            for _ in 0..per {
                f();
            }
            v.push(t.elapsed() / per as u32);
        }
        v
    };
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut c = Vec::new();
    #[cfg(target_os = "linux")]
    let mut d = Vec::new();
    for _ in 0..5 {
        #[cfg(target_os = "linux")]
        // SAFETY: `raw` is an initialised mutex that lives until the end of this function.
        d.extend(run(&|| unsafe {
            libc::pthread_mutex_lock(raw);
            libc::pthread_mutex_unlock(raw);
        }));
        a.extend(run(&|| drop(black_box(std_mutex.lock().unwrap()))));
        b.extend(run(&|| drop(black_box(m.lock().unwrap()))));
        c.extend(run(&|| *shared.lock().unwrap() += 1));
    }
    let std_row = Row::base(LOCK, "std::sync::Mutex", Summary::of(&mut a));
    let rows = vec![
        Row::vs(
            LOCK,
            "shmkit Mutex (robust, shared)",
            Summary::of(&mut b),
            &std_row,
        ),
        Row::vs(
            LOCK,
            "shmkit Shared<u64> lock + add",
            Summary::of(&mut c),
            &std_row,
        ),
    ];
    #[cfg(target_os = "linux")]
    let rows = {
        let mut rows = rows;
        rows.push(Row::vs(
            LOCK,
            "raw robust pthread mutex (libc)",
            Summary::of(&mut d),
            &std_row,
        ));
        // SAFETY: allocated by `raw_robust_mutex`, no longer used.
        drop(unsafe { Box::from_raw(raw) });
        rows
    };
    let mut rows = rows;
    rows.push(std_row);
    rows
}

/// A robust, process-shared, error-checking pthread mutex as shmkit configures it, on the heap:
/// the floor for shmkit's `Mutex` (what the OS primitive costs by itself).
#[cfg(target_os = "linux")]
fn raw_robust_mutex() -> *mut libc::pthread_mutex_t {
    // SAFETY: a zeroed pthread_mutex_t is a valid target for pthread_mutex_init; the attribute
    // object is initialised, used and destroyed here.
    unsafe {
        let m = Box::into_raw(Box::new(std::mem::zeroed::<libc::pthread_mutex_t>()));
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
        libc::pthread_mutexattr_settype(&mut attr, libc::PTHREAD_MUTEX_ERRORCHECK);
        libc::pthread_mutex_init(m, &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        m
    }
}
