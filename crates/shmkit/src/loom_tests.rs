//! loom runs the real code: the SPSC ring (`channel::spsc`, through the public `Producer`
//! and `Consumer`) and the notifier (`sync::notify`), their atomics shadowed by loom's
//! through `crate::shm_atomic`. loom explores every interleaving (and every weak-memory
//! outcome it models) of the threads, which the cross-process tests can only sample.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p shmkit --lib --release
//! loom_tests` (with `--target-dir target/loom`, so the normal build is not redone).
//! The liveness claim is still a model, in `tests/loom.rs`.

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};
use std::sync::Arc;

use loom::thread;

use crate::channel::{self, WaitMode};
use crate::shm_atomic::model::{begin, prime_u32, Mutation};
use crate::shm_atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::notify::Notifier;
use crate::sys::Deadline;
use crate::Error;

/// `loom::model`, with room for the real code's many atomic operations per call (loom's
/// default of 1000 branches is for small models); the environment still sets the rest
/// (`LOOM_MAX_PREEMPTIONS`).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

/// A channel name no other execution or test uses.
fn unique(tag: &str) -> String {
    static NEXT: StdAtomicU64 = StdAtomicU64::new(0);
    let n = NEXT.fetch_add(1, StdOrdering::Relaxed);
    format!("shmkit-loom-{tag}-{}-{n}", std::process::id())
}

/// The message `i`: 16 bytes, all `i`.
fn message(i: u8) -> [u8; 16] {
    [i; 16]
}

/// Sends `n` 16-byte messages through a real 64-byte channel with `try_send` and receives
/// them on another thread with `try_recv` (retrying with a yield). With 16-byte messages
/// (24-byte frames) the third message wraps: a pad, then the first frame's bytes again, so
/// the producer reuses what the consumer released.
fn transfer(n: u8, mutation: Mutation) {
    begin(mutation);
    let name = unique("ring");
    let mut producer = channel::options()
        .capacity(64)
        .wait_mode(WaitMode::Blocking)
        .create_producer(&name)
        .unwrap();
    let mut consumer = channel::options()
        .wait_mode(WaitMode::Blocking)
        .open_consumer(&name)
        .unwrap();
    let sender = thread::spawn(move || {
        for i in 1..=n {
            loop {
                match producer.try_send(&message(i)) {
                    Ok(()) => break,
                    Err(Error::WouldBlock { .. }) => thread::yield_now(),
                    Err(e) => panic!("send: {e}"),
                }
            }
        }
        producer
    });
    for i in 1..=n {
        loop {
            match consumer.try_recv() {
                Ok(sample) => {
                    assert_eq!(*sample, message(i));
                    break;
                }
                Err(Error::WouldBlock { .. }) => thread::yield_now(),
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
    let producer = sender.join().unwrap();
    drop(consumer);
    drop(producer);
}

#[test]
fn the_ring_delivers_in_order_without_races() {
    model(|| transfer(3, Mutation::None));
}

/// A Relaxed publication lets the consumer read a payload not ordered after the producer's
/// write of it, which loom reports (a panic).
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_publication_is_caught() {
    model(|| transfer(2, Mutation::RelaxedPublish));
}

// No negative test for a Relaxed release (the consumer's store of its position): loom
// models fence(SeqCst) as synchronising with every earlier SeqCst fence, stronger than
// C++, so the doorbell's fences on both sides order the consumer's read before the
// producer's reuse and loom does not report it (checked: that mutation passes).

/// The blocking calls, as they ship (`WaitMode::Blocking`: the wait loop sleeps at once, in
/// liveness slices, which loom models as yields).
#[test]
fn blocking_send_and_recv_deliver() {
    model(|| {
        begin(Mutation::None);
        let name = unique("block");
        let mut producer = channel::options()
            .capacity(64)
            .wait_mode(WaitMode::Blocking)
            .create_producer(&name)
            .unwrap();
        let mut consumer = channel::options()
            .wait_mode(WaitMode::Blocking)
            .open_consumer(&name)
            .unwrap();
        let sender = thread::spawn(move || {
            producer.send(&message(1)).unwrap();
            producer
        });
        assert_eq!(*consumer.recv().unwrap(), message(1));
        drop(sender.join().unwrap());
    });
}

/// The notifier with a sequence word (channel doorbells): the sleeper sleeps on `seq` (with
/// no deadline: a lost wake-up leaves it asleep forever, which loom reports as a deadlock)
/// until `data` is 1; the waker sets `data` and rings, bumping `seq`.
#[test]
fn the_doorbell_loses_no_wake_up() {
    model(|| {
        begin(Mutation::None);
        let notifier = Arc::new(Notifier::create("loom").unwrap());
        let words = Arc::new((AtomicU64::new(0), AtomicU32::new(0), AtomicU32::new(0)));
        let _ = (
            words.0.load(Ordering::Relaxed),
            prime_u32(&words.1),
            prime_u32(&words.2),
        );
        let (n, w) = (notifier.clone(), words.clone());
        let sleeper = thread::spawn(move || {
            let (data, seq, sleepers) = &*w;
            while data.load(Ordering::Acquire) != 1 {
                n.sleep(sleepers, seq, Deadline::Forever, |_| {
                    data.load(Ordering::Acquire) != 1
                })
                .unwrap();
            }
        });
        let (data, seq, sleepers) = &*words;
        data.store(1, Ordering::Release);
        notifier.wake(sleepers, seq, u32::MAX, true);
        sleeper.join().unwrap();
    });
}

/// The notifier on the state word itself (events, semaphores): the sleeper sleeps while the
/// flag is 0; the waker sets it and wakes one.
#[test]
fn the_state_word_notifier_loses_no_wake_up() {
    model(|| {
        begin(Mutation::None);
        let notifier = Arc::new(Notifier::create("loom").unwrap());
        let words = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
        let _ = (prime_u32(&words.0), prime_u32(&words.1));
        let (n, w) = (notifier.clone(), words.clone());
        let sleeper = thread::spawn(move || {
            let (flag, sleepers) = &*w;
            while flag.load(Ordering::Acquire) == 0 {
                n.sleep(sleepers, flag, Deadline::Forever, |seen| seen == 0)
                    .unwrap();
            }
        });
        let (flag, sleepers) = &*words;
        flag.store(1, Ordering::Release);
        notifier.wake(sleepers, flag, 1, false);
        sleeper.join().unwrap();
    });
}
