//! loom models of the channel's concurrency protocols, with the orderings of
//! `src/channel/spsc.rs` and `src/channel/layout.rs`. loom explores every interleaving (and
//! every weak-memory outcome it models) of two threads, which the cross-process tests can only
//! sample. These are models — the algorithm restated on loom's atomics and cells. The real
//! ring and notifier are now model-checked themselves through `crate::shm_atomic`
//! (`src/loom_tests.rs`); the ring and doorbell models here are kept until that has run in CI
//! for a while; the liveness claim is still only a model.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p shmkit --test loom --release`
//! (without `--cfg loom` this file is empty).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

const CAP: usize = 3;

/// The ring's publication protocol, with one-word frames: each frame is a header word (0 =
/// "not yet", else the value's frame is complete) and a payload cell. The producer writes the
/// payload, zeroes the next frame's header, then stores this header with Release; the consumer
/// polls the header at its position with Acquire, reads the payload, and stores `read` with
/// Release so the producer may reuse the frame. Room = this frame and the next header.
struct Ring {
    read: AtomicU64,
    headers: [AtomicU64; CAP],
    payloads: [UnsafeCell<u32>; CAP],
}

fn ring() -> Arc<Ring> {
    Arc::new(Ring {
        read: AtomicU64::new(0),
        headers: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        payloads: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
    })
}

/// Sends `n` values and receives them on another thread; `publish` and `release` are the
/// orderings of the header store and of the store of `read` (the code uses Release for both;
/// a Relaxed publication must be caught as a race).
fn transfer(n: u32, publish: Ordering, release: Ordering) {
    let r = ring();
    let p = r.clone();
    let producer = thread::spawn(move || {
        let (mut w, mut read_cache) = (0u64, 0u64);
        for v in 1..=n {
            // Room for this frame and the next frame's header.
            while w + 2 - read_cache > CAP as u64 {
                // SYNC POINT: pairs with the consumer's store of `read`.
                read_cache = p.read.load(Ordering::Acquire);
                if w + 2 - read_cache > CAP as u64 {
                    thread::yield_now();
                }
            }
            let (at, next) = ((w % CAP as u64) as usize, ((w + 1) % CAP as u64) as usize);
            p.payloads[at].with_mut(|s| unsafe { *s = v });
            p.headers[next].store(0, Ordering::Relaxed);
            p.headers[at].store(u64::from(v), publish);
            w += 1;
        }
    });
    let mut rd = 0u64;
    for want in 1..=n {
        let at = (rd % CAP as u64) as usize;
        // SYNC POINT: pairs with the producer's store of this header.
        while r.headers[at].load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        let got = r.payloads[at].with(|s| unsafe { *s });
        assert_eq!(got, want);
        rd += 1;
        r.read.store(rd, release);
    }
    producer.join().unwrap();
}

#[test]
fn the_ring_delivers_in_order_without_races() {
    loom::model(|| transfer(4, Ordering::Release, Ordering::Release));
}

/// The model can fail: a Relaxed publication lets the consumer read a payload the producer is
/// still writing, which loom reports as a data race (a panic).
#[test]
#[should_panic]
fn a_relaxed_publication_is_caught() {
    loom::model(|| transfer(2, Ordering::Relaxed, Ordering::Release));
}

/// The notifier (`sync::notify::Notifier`, under channel doorbells, events and semaphores): a
/// sleeper registers, fences,
/// re-checks, and sleeps on `seq` (FUTEX_WAIT, modelled with park: a wake between the check
/// and the sleep leaves a token, as a futex's value check does); the waker changes the
/// condition, fences, and rings only if it sees a sleeper. A lost wake-up leaves the sleeper
/// parked forever, which loom reports as a deadlock.
fn doorbell(fenced: bool) {
    let fence = move || {
        if fenced {
            loom::sync::atomic::fence(Ordering::SeqCst);
        }
    };
    let data = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU32::new(0));
    let sleepers = Arc::new(AtomicU32::new(0));
    let (d, q, z) = (data.clone(), seq.clone(), sleepers.clone());
    let sleeper = thread::spawn(move || {
        while d.load(Ordering::Acquire) != 1 {
            z.fetch_add(1, Ordering::Relaxed);
            fence();
            let s = q.load(Ordering::Acquire);
            if d.load(Ordering::Acquire) != 1 && q.load(Ordering::Acquire) == s {
                thread::park();
            }
            z.fetch_sub(1, Ordering::Relaxed);
        }
    });
    data.store(1, Ordering::Release);
    fence();
    if sleepers.load(Ordering::Relaxed) > 0 {
        seq.fetch_add(1, Ordering::Release);
        sleeper.thread().unpark();
    }
    sleeper.join().unwrap();
}

/// Without the two fences loom reports a deadlock here — the lost wake-up (checked by hand:
/// loom's deadlock report aborts the process, so it cannot be a `should_panic` test).
#[test]
fn the_doorbell_loses_no_wake_up() {
    loom::model(|| doorbell(true));
}

/// Taking over a place whose holder died (`liveness::claim`: channel sides, the publisher,
/// broadcast subscriber entries, once the kernel says the holder is gone): two processes (pids 1 and 2, both alive) find the place held by dead
/// pid 9 and race to claim it. With the state and pid in one word and one compare-exchange of
/// the exact word seen, exactly one wins. `split` restates the earlier protocol — exchange the state word
/// alone, then store the pid — in which both can win.
fn take_over(split: bool) {
    const ATTACHED: u64 = 1;
    let alive = |pid: u64| pid == 1 || pid == 2;
    let word = Arc::new(AtomicU64::new(ATTACHED | 9 << 32));
    let pid_word = Arc::new(AtomicU64::new(9)); // the split protocol's separate pid
    let claim = move |word: Arc<AtomicU64>, pid_word: Arc<AtomicU64>, me: u64| -> bool {
        let mut seen = word.load(Ordering::Acquire);
        loop {
            let holder = if split {
                pid_word.load(Ordering::Relaxed)
            } else {
                seen >> 32
            };
            if seen & 0xffff_ffff == ATTACHED && alive(holder) {
                return false;
            }
            let new = if split { ATTACHED } else { ATTACHED | me << 32 };
            match word.compare_exchange(seen, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if split {
                        pid_word.store(me, Ordering::Relaxed);
                    }
                    return true;
                }
                Err(now) => seen = now,
            }
        }
    };
    let (w, p) = (word.clone(), pid_word.clone());
    let other = thread::spawn(move || claim(w, p, 2));
    let mine = claim(word, pid_word, 1);
    let theirs = other.join().unwrap();
    assert!(mine ^ theirs, "winners: 1 {mine}, 2 {theirs}");
}

#[test]
fn one_claimant_takes_over_a_dead_holders_place() {
    loom::model(|| take_over(false));
}

/// The model can fail: with the state and the pid in separate words both claimants win.
#[test]
#[should_panic(expected = "winners")]
fn the_split_claim_is_caught() {
    loom::model(|| take_over(true));
}
