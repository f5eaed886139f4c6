//! The sleeping protocol (`wait::Notifier`): one bell, a state word, and a wait set's
//! sleep over two bells (`wait::sleep_any`, with `futex_waitv` modelled).

use super::*;

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
