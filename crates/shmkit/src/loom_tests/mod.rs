//! loom runs the real code: the SPSC ring (`channel::spsc`, through the public `Producer`
//! and `Consumer`), the broadcast's slot protocol (`channel::broadcast`, through the public
//! `Publisher` and `Subscriber`) and the notifier (`wait::Notifier`), their atomics shadowed by
//! loom's through `crate::atomic_shim`. loom explores every interleaving (and every weak-memory
//! outcome it models) of the threads, which the cross-process tests can only sample.
//!
//! Run: `RUSTFLAGS="--cfg shmkit_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p shmkit --lib --release
//! loom_tests` (with `--target-dir target/loom`, so the normal build is not redone).
//! Role words (`crate::liveness`) are shadowed too, so joins racing joins and evictions
//! racing joins run the real claim and eviction, with the kernel's side (OFD locks) as real
//! system calls on each handle's own descriptor.

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};
use std::sync::Arc;

use loom::thread;

use crate::atomic_shim::model::{begin, futex_waitv, prime_u32, prime_waitv, Mutation};
use crate::atomic_shim::{AtomicU32, AtomicU64, Ordering};
use crate::channel::broadcast::{self, Policy, Publisher, Subscriber};
use crate::channel::{self, WaitMode};
use crate::sys::Deadline;
use crate::wait::{self, Member, Notifier};
use crate::Error;

/// `loom::model`, with room for the real code's many atomic operations per call (loom's
/// default of 1000 branches is for small models); the environment still sets the rest
/// (`LOOM_MAX_PREEMPTIONS`).
///
/// Every name [`unique`] made on this thread is removed when the model ends, also when it
/// ends with a panic: an execution loom cuts short (a negative test's reported violation)
/// never drops its creators, which would leave their segments behind.
fn model(f: impl Fn() + Sync + Send + 'static) {
    struct RemoveNames;
    impl Drop for RemoveNames {
        fn drop(&mut self) {
            for name in NAMES.with(|n| std::mem::take(&mut *n.borrow_mut())) {
                let _ = crate::Segment::remove(&name);
            }
        }
    }
    let _cleanup = RemoveNames;
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

std::thread_local! {
    /// The names [`unique`] made on this thread (loom runs a model's threads on the test's).
    static NAMES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A channel name no other execution or test uses, removed when the test's model ends.
fn unique(tag: &str) -> String {
    static NEXT: StdAtomicU64 = StdAtomicU64::new(0);
    let n = NEXT.fetch_add(1, StdOrdering::Relaxed);
    let name = format!("shmkit-loom-{tag}-{}-{n}", std::process::id());
    NAMES.with(|names| names.borrow_mut().push(name.clone()));
    name
}

/// Retries `try_send` (a channel's or a publisher's), yielding to the other loom threads,
/// until it sends; any error but `WouldBlock` fails the test.
fn send_retrying(mut try_send: impl FnMut() -> crate::Result<()>) {
    loop {
        match try_send() {
            Ok(()) => return,
            Err(Error::WouldBlock { .. }) => thread::yield_now(),
            Err(e) => panic!("send: {e}"),
        }
    }
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
            send_retrying(|| producer.try_send(&message(i)));
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
// C++, so the bell's fences on both sides order the consumer's read before the
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

/// The notifier with a sequence word (channel bells): the sleeper sleeps on `seq` (with
/// no deadline: a lost wake-up leaves it asleep forever, which loom reports as a deadlock)
/// until `data` is 1; the waker sets `data` and rings, bumping `seq`.
#[test]
fn the_bell_loses_no_wake_up() {
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

/// A wait set's sleep over two bells (`wait::sleep_any`, with `futex_waitv` modelled):
/// the sleeper waits, with no deadline, until both `data` words are 1; two wakers, one per
/// word, set theirs and ring. A wake-up lost on either word leaves the sleeper asleep forever,
/// which loom reports as a deadlock.
fn two_bells(mutation: Mutation) {
    begin(mutation);
    prime_waitv();
    let notifier = Arc::new(Notifier::create("loom").unwrap());
    // (data, seq, sleepers) per bell.
    let bells = Arc::new([0, 1].map(|_| (AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0))));
    for (data, seq, sleepers) in &*bells {
        prime_u32(data);
        prime_u32(seq);
        prime_u32(sleepers);
    }
    let (b, n) = (bells.clone(), notifier.clone());
    let waker = thread::spawn(move || {
        let (data, seq, sleepers) = &b[0];
        data.store(1, Ordering::Release);
        n.wake(sleepers, seq, u32::MAX, true);
    });
    let b = bells.clone();
    let sleeper = thread::spawn(move || {
        let done = || b.iter().all(|(d, _, _)| d.load(Ordering::Acquire) == 1);
        let members = [0, 1].map(|i| Member {
            sleepers: &b[i].2,
            word: &b[i].1,
        });
        let mut seen = Vec::new();
        while !done() {
            wait::sleep_any(
                &members,
                &mut seen,
                || !done(),
                |seen| {
                    futex_waitv(&[(&b[0].1, seen[0]), (&b[1].1, seen[1])]);
                    Ok(())
                },
            )
            .unwrap();
        }
    });
    let (data, seq, sleepers) = &bells[1];
    data.store(1, Ordering::Release);
    notifier.wake(sleepers, seq, u32::MAX, true);
    waker.join().unwrap();
    sleeper.join().unwrap();
}

#[test]
fn a_wait_on_two_bells_loses_no_wake_up() {
    model(|| two_bells(Mutation::None));
}

/// Without the fence between counting in and reading the words, a waker can miss the count
/// while the sleeper misses the change: loom finds the sleeper asleep forever.
#[test]
#[should_panic(expected = "deadlock")]
fn a_wait_set_without_its_fence_is_caught() {
    model(|| two_bells(Mutation::NoWaitSetFence));
}

/// A real broadcast channel of `slots` 16-byte slots for one subscriber, and that subscriber
/// (joined before anything is published), both made on the main thread.
fn bcast(policy: Policy, slots: usize) -> (Publisher, Subscriber) {
    let name = unique("bcast");
    let publ = broadcast::options()
        .slots(slots)
        .slot_size(16)
        .max_subscribers(1)
        .policy(policy)
        .wait_mode(WaitMode::Blocking)
        .create(&name)
        .unwrap();
    let sub = broadcast::options()
        .wait_mode(WaitMode::Blocking)
        .subscribe(&name)
        .unwrap();
    (publ, sub)
}

/// Overwrite: the publisher sends message 0, then (on another thread) two more into a ring
/// of two slots, which laps it, while the subscriber takes the first message it can and
/// holds it until the publisher is done. The held bytes never change (checked after the
/// publisher's thread is joined), the publisher never writes them while they are held (the
/// payload marks: loom reports a write not ordered after the read), and every message is
/// received or reported lost, exactly once.
fn hold_while_lapped(mutation: Mutation) {
    begin(mutation);
    let (mut publ, mut sub) = bcast(Policy::Overwrite, 2);
    publ.send(&message(1)).unwrap();
    let publisher = thread::spawn(move || {
        for i in 2..=3 {
            // Overwrite with more slots than subscribers: a slot is always free.
            publ.try_send(&message(i)).unwrap();
        }
        publ
    });
    let mut lost = 0;
    let sample = loop {
        match sub.try_recv() {
            Ok(sample) => break sample,
            Err(Error::Lagged { missed, .. }) => lost += missed,
            Err(Error::WouldBlock { .. }) => thread::yield_now(),
            Err(e) => panic!("recv: {e}"),
        }
    };
    let seq = sample.seq();
    assert_eq!(seq, lost, "a first message after the reported losses");
    let want = message(seq as u8 + 1);
    assert_eq!(*sample, want);
    let publ = publisher.join().unwrap();
    assert_eq!(*sample, want, "the held message was overwritten");
    drop(sample);
    let mut received = 1;
    let mut last = seq;
    loop {
        match sub.try_recv() {
            Ok(sample) => {
                assert!(sample.seq() > last);
                assert_eq!(*sample, message(sample.seq() as u8 + 1));
                last = sample.seq();
                received += 1;
            }
            Err(Error::Lagged { missed, .. }) => lost += missed,
            Err(Error::WouldBlock { .. }) => break,
            Err(e) => panic!("recv: {e}"),
        }
    }
    assert_eq!(
        received + lost,
        3,
        "every message received or reported lost"
    );
    drop(sub);
    drop(publ);
}

#[test]
fn a_held_broadcast_sample_is_never_overwritten() {
    model(|| hold_while_lapped(Mutation::None));
}

/// Without the subscriber's SeqCst fence its held word and the publisher's odd stamp can
/// each miss the other (store buffering): the publisher overwrites the held slot, which
/// loom reports.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_subscriber_without_its_dekker_fence_is_caught() {
    model(|| hold_while_lapped(Mutation::NoSubscriberFence));
}

/// As above, without the publisher's fence.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_publisher_without_its_dekker_fence_is_caught() {
    model(|| hold_while_lapped(Mutation::NoPublisherFence));
}

/// Overwrite, three slots, three subscribers: X holds message 0 and A holds message 1, so a
/// loan for message 3 skips slot 0 (held), marks slot 1 while the publisher looks for a
/// holder of message 1, finds A, gives the stamp back, and takes slot 2. Meanwhile B, on another
/// thread, reads message 1, which is never overwritten (and its count is less than a ring
/// behind): B must get it, whatever it saw of the publisher's mark, never `Lagged`
/// (issue 19, item 6: `Lagged` means lost).
#[test]
fn a_message_another_subscriber_holds_is_never_reported_lost() {
    model(|| held_by_another(Mutation::None));
}

/// As above, with the publisher's plain odd stamp while it looks for a holder (the code before
/// issue 19): B can see it and report message 1 lost.
#[test]
#[should_panic(expected = "B: subscriber")]
fn a_publisher_without_its_checking_mark_is_caught() {
    model(|| held_by_another(Mutation::NoCheckingMark));
}

fn held_by_another(mutation: Mutation) {
    begin(mutation);
    let name = unique("bheld");
    let mut publ = broadcast::options()
        .slots(3)
        .slot_size(16)
        .max_subscribers(3)
        .policy(Policy::Overwrite)
        .wait_mode(WaitMode::Blocking)
        .create(&name)
        .unwrap();
    let sub = || {
        broadcast::options()
            .wait_mode(WaitMode::Blocking)
            .subscribe(&name)
            .unwrap()
    };
    let (mut x, mut a, mut b) = (sub(), sub(), sub());
    // Two messages: a ring of three slots keeps two readable (the third is where the
    // next message goes, so a count of three laps message 0).
    for i in 0..2 {
        publ.try_send(&message(i + 1)).unwrap();
    }
    let held_x = x.try_recv().unwrap();
    drop(a.try_recv().unwrap());
    let held_a = a.try_recv().unwrap();
    drop(b.try_recv().unwrap());
    publ.try_send(&message(3)).unwrap(); // slot 2; the count is 3
    let reader = thread::spawn(move || {
        loop {
            match b.try_recv() {
                Ok(sample) => {
                    assert_eq!((sample.seq(), &*sample), (1, &message(2)[..]));
                    break;
                }
                Err(Error::WouldBlock { .. }) => thread::yield_now(),
                Err(e) => panic!("B: {e}"),
            }
        }
        b
    });
    // A loan for message 3, not committed while B reads (a commit would make the count a
    // ring ahead of message 1, which then counts as lost): slot 0, X holds message 0,
    // skipped; slot 1: marked, A found, given back; slot 2 taken.
    let loan = publ.try_loan(16).unwrap();
    let b = reader.join().unwrap();
    drop(loan);
    assert_eq!((held_x.seq(), held_a.seq()), (0, 1));
    assert_eq!(*held_a, message(2), "the held message was overwritten");
    drop((held_x, held_a));
    drop((x, a, b));
    drop(publ);
}

/// Block: one slot, three messages; the publisher (`try_send`, retrying with a yield) waits
/// for each release. The subscriber receives all of them in order, and the publisher never
/// writes a slot the subscriber is reading (the payload marks).
#[test]
fn block_waits_for_the_release_and_loses_nothing() {
    model(|| {
        begin(Mutation::None);
        let (mut publ, mut sub) = bcast(Policy::Block, 1);
        let publisher = thread::spawn(move || {
            for i in 1..=3 {
                send_retrying(|| publ.try_send(&message(i)));
            }
            publ
        });
        for seq in 0..3u64 {
            loop {
                match sub.try_recv() {
                    Ok(sample) => {
                        assert_eq!(sample.seq(), seq);
                        assert_eq!(*sample, message(seq as u8 + 1));
                        break;
                    }
                    Err(Error::WouldBlock { .. }) => thread::yield_now(),
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
        let publ = publisher.join().unwrap();
        drop(sub);
        drop(publ);
    });
}

/// Join racing a publish (the subscribe protocol, `broadcast::Options::subscribe`): the
/// publisher sends two messages into one slot under back-pressure while the subscriber
/// joins. Whatever point it joins at, it then receives every later message in order, none
/// lost (no `Lagged`, which a lapped Block subscriber reports) and none overwritten while
/// read (the payload marks).
#[test]
fn a_join_racing_a_publish_loses_nothing() {
    model(|| join_racing_a_publish(Mutation::None));
}

/// Without the joining subscriber's fence, its ACTIVE store and the publisher's scan can
/// miss each other (store buffering): the publisher laps the position it starts at.
#[test]
#[should_panic(expected = "lagged")]
fn a_join_without_its_fence_is_caught() {
    model(|| join_racing_a_publish(Mutation::NoJoinFence));
}

fn join_racing_a_publish(mutation: Mutation) {
    {
        begin(mutation);
        let name = unique("join");
        let mut publ = broadcast::options()
            .slots(1)
            .slot_size(16)
            .max_subscribers(1)
            .policy(Policy::Block)
            .wait_mode(WaitMode::Blocking)
            .create(&name)
            .unwrap();
        let done = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let finished = done.clone();
        let publisher = thread::spawn(move || {
            for i in 1..=2 {
                send_retrying(|| publ.try_send(&message(i)));
            }
            finished.store(true, Ordering::Release);
            publ
        });
        let mut sub = broadcast::options()
            .wait_mode(WaitMode::Blocking)
            .subscribe(&name)
            .unwrap();
        let mut last = None;
        loop {
            let over = done.load(Ordering::Acquire);
            match sub.try_recv() {
                Ok(sample) => {
                    let seq = sample.seq();
                    if let Some(l) = last {
                        assert_eq!(seq, l + 1, "a message lost");
                    }
                    assert_eq!(*sample, message(seq as u8 + 1));
                    last = Some(seq);
                }
                // Everything was published before `over` was read: nothing more comes.
                Err(Error::WouldBlock { .. }) if over => break,
                Err(Error::WouldBlock { .. }) => thread::yield_now(),
                Err(e) => panic!("recv: {e}"),
            }
        }
        assert!(last.is_none_or(|l| l == 1), "stopped early at {last:?}");
        let publ = publisher.join().unwrap();
        drop(sub);
        drop(publ);
    }
}

/// Two handles race to join a broadcast with one subscriber place (the liveness claim,
/// `crate::liveness::claim`, reached through `subscribe`): exactly one gets it, the other
/// is told `Full`.
#[test]
fn two_joins_for_one_place_admit_exactly_one() {
    model(|| {
        begin(Mutation::None);
        let name = unique("race");
        let publ = broadcast::options()
            .slots(1)
            .slot_size(16)
            .max_subscribers(1)
            .create(&name)
            .unwrap();
        let other = {
            let name = name.clone();
            thread::spawn(move || broadcast::options().subscribe(&name))
        };
        let mine = broadcast::options().subscribe(&name);
        let theirs = other.join().unwrap();
        match (&mine, &theirs) {
            (Ok(_), Err(Error::Full { .. })) | (Err(Error::Full { .. }), Ok(_)) => {}
            (a, b) => panic!("one place, two joins: {:?} and {:?}", a.is_ok(), b.is_ok()),
        }
        assert_eq!(publ.subscriber_count(), 1);
        drop((mine, theirs, publ));
    });
}

/// An eviction racing a join (`crate::liveness::evict`): a subscriber dies a ring behind
/// (its kernel hold gone, its entry still ACTIVE), and a newcomer takes its place while the
/// publisher, finding the ring full, tests the dead one and evicts it. Whatever the
/// interleaving, the newcomer keeps its place — the eviction compare-exchanges the exact
/// word it tested — and receives what is published after it joined.
fn evict_racing_a_join(mutation: Mutation) {
    begin(mutation);
    let name = unique("evict");
    let options = || {
        let mut o = broadcast::options();
        o.slots(1)
            .slot_size(16)
            .max_subscribers(1)
            .policy(Policy::Block)
            .wait_mode(WaitMode::Blocking);
        o
    };
    let mut publ = options().create(&name).unwrap();
    let dead = options().subscribe(&name).unwrap();
    publ.send(&message(1)).unwrap();
    dead.vanish();
    let publisher = thread::spawn(move || {
        // The ring is full for the dead subscriber: `try_send` scans, tests, evicts.
        send_retrying(|| publ.try_send(&message(2)));
        publ
    });
    let mut sub = match options().subscribe(&name) {
        Ok(sub) => sub,
        Err(Error::Full { .. }) => panic!("the newcomer was evicted while joining"),
        Err(e) => panic!("subscribe: {e}"),
    };
    let publ = publisher.join().unwrap();
    assert_eq!(publ.subscriber_count(), 1, "the newcomer was evicted");
    // It joined after message 1 (published before it started) and before or after 2.
    match sub.try_recv() {
        Ok(sample) => assert_eq!((sample.seq(), &*sample), (1, &message(2)[..])),
        Err(Error::WouldBlock { .. }) => {}
        Err(e) => panic!("recv: {e}"),
    }
    drop((sub, publ));
}

#[test]
fn an_eviction_never_throws_out_the_successor() {
    model(|| evict_racing_a_join(Mutation::None));
}

/// With a blind store for the eviction (the bug `evict`'s compare-exchange prevents), shmkit_loom
/// finds the interleaving where the publisher tests the dead holder, the newcomer takes the
/// place, and the publisher's store throws the newcomer out.
#[test]
#[should_panic(expected = "the newcomer was evicted")]
fn a_blind_eviction_is_caught() {
    model(|| evict_racing_a_join(Mutation::BlindEvict));
}
