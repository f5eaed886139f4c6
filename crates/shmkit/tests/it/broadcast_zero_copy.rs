//! Zero-copy broadcast: loans, samples read in place by subscriber processes, held samples
//! under both policies, subscribers and publishers killed at the worst moment, and a model.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::channel::broadcast::{self, Policy, Publisher, Sample, Subscriber};
use shmkit::sync::{Event, Reset};
use shmkit::Error;

use crate::util::{self, say, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("bc_in_place", child_in_place),
    ("bc_hold_and_sleep", child_hold_and_sleep),
    ("bc_publish_then_loan", child_publish_then_loan),
    ("bc_hold_until_go", child_hold_until_go),
];

/// A hang guard, never a performance assertion.
const WAIT: Duration = Duration::from_secs(60);

/// Message `seq`: its number (8 bytes, little-endian), then `len` bytes of `seq as u8`.
fn message(seq: u64, len: usize) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    m.extend(std::iter::repeat_n(seq as u8, len));
    m
}

/// Publishes `message(seq, len)` through a loan (written in place).
fn publish(publ: &mut Publisher, seq: u64, len: usize) {
    let m = message(seq, len);
    let mut loan = publ.loan_timeout(m.len(), WAIT).unwrap();
    loan.copy_from_slice(&m);
    loan.commit();
}

/// The sequence number of a message, checking that every byte is what `message` wrote.
fn check(m: &[u8]) -> u64 {
    let seq = u64::from_le_bytes(m[..8].try_into().unwrap());
    assert!(m[8..].iter().all(|&b| b == seq as u8), "content of {seq}");
    seq
}

fn policy_arg(p: Policy) -> &'static str {
    match p {
        Policy::Block => "block",
        Policy::Overwrite => "overwrite",
    }
}

fn policy_of(s: &str) -> Policy {
    if s == "overwrite" {
        Policy::Overwrite
    } else {
        Policy::Block
    }
}

/// args: name, delay_us — subscribes, says "subscribed", receives in place until
/// disconnected, sleeping `delay_us` per message *while holding it* and checking its bytes
/// again after the sleep; checks order; prints "received R missed M".
fn child_in_place(a: &[String]) {
    let mut sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    let delay = Duration::from_micros(a[1].parse().unwrap());
    say("subscribed");
    util::receive_until_disconnected(|expect, _| {
        let sample = sub.recv_timeout(WAIT)?;
        assert_eq!(check(&sample), expect, "order");
        assert_eq!(sample.seq(), expect);
        if !delay.is_zero() {
            std::thread::sleep(delay);
            assert_eq!(check(&sample), expect, "overwritten while held");
        }
        Ok(())
    });
}

/// args: name — subscribes, takes one sample, says "holding" and sleeps holding it.
fn child_hold_and_sleep(a: &[String]) {
    let mut sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    say("subscribed");
    let sample = sub.recv_timeout(WAIT).unwrap();
    say("holding");
    std::thread::sleep(Duration::from_secs(600));
    drop(sample);
}

/// args: name, policy, n — creates a 4-slot broadcast, waits for one subscriber, publishes
/// `n` messages, then loans a slot, fills it with 0xEE and says "loaned" without committing.
fn child_publish_then_loan(a: &[String]) {
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(1)
        .policy(policy_of(&a[1]))
        .create_publisher(&a[0])
        .unwrap();
    say("created");
    let start = Instant::now();
    while publ.subscribers() == 0 {
        assert!(start.elapsed() < WAIT, "no subscriber came");
        std::thread::sleep(Duration::from_millis(1));
    }
    for seq in 0..a[2].parse().unwrap() {
        publish(&mut publ, seq, 40);
    }
    let mut loan = publ.loan_timeout(64, WAIT).unwrap();
    loan.fill(0xEE);
    say("loaned");
    std::thread::sleep(Duration::from_secs(600));
    loan.commit();
}

/// args: name, event — takes one sample, says "holding", waits for the event, checks the
/// sample is intact ("intact"), releases it and reports what follows: "lagged N", "got S",
/// "disconnected".
fn child_hold_until_go(a: &[String]) {
    let mut sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    let go = Event::open(&a[1]).unwrap();
    say("subscribed");
    let sample = sub.recv_timeout(WAIT).unwrap();
    let copy = sample.to_vec();
    say("holding");
    go.wait_timeout(WAIT).unwrap();
    assert_eq!(&*sample, &copy[..], "a held sample changed");
    check(&sample);
    say("intact");
    drop(sample);
    loop {
        match sub.recv_timeout(WAIT) {
            Ok(s) => say(&format!("got {}", check(&s))),
            Err(Error::Lagged { missed, .. }) => say(&format!("lagged {missed}")),
            Err(Error::Disconnected { .. }) => break say("disconnected"),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Four subscriber processes read in place, three fast and one that holds each sample for
/// 200 µs; the publisher writes every message through a loan. Returns (received, missed) of
/// each.
fn run_four_in_place(policy: Policy, total: u64) -> Vec<(u64, u64)> {
    let name = NameGuard::new("bczcfour");
    let mut publ = broadcast::options()
        .slots(64)
        .slot_size(256)
        .policy(policy)
        .create_publisher(&name)
        .unwrap();
    util::four_subscribers("bc_in_place", &name, policy, move || {
        assert_eq!(publ.subscribers(), 4);
        for seq in 0..total {
            publish(&mut publ, seq, (seq % 200) as usize);
        }
    })
}

#[test]
fn four_in_place_subscriber_processes_with_back_pressure_all_get_everything() {
    util::assert_all_received(&run_four_in_place(Policy::Block, 3000), 3000);
}

#[test]
fn four_in_place_subscriber_processes_with_overwrite_account_for_every_message() {
    util::assert_all_accounted_for(&run_four_in_place(Policy::Overwrite, 3000), 3000);
}

/// A subscriber process killed while it holds a sample neither stops the publisher (under
/// back-pressure it is evicted; under overwrite its slot is skipped, then freed) nor keeps
/// counting as a subscriber.
fn killed_holder(policy: Policy) {
    let name = NameGuard::new("bczckill");
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(2)
        .policy(policy)
        .create_publisher(&name)
        .unwrap();
    let mut mine = broadcast::options().open_subscriber(&name).unwrap();
    let mut child = util::spawn("bc_hold_and_sleep", &[&name]);
    child.wait_for_line("subscribed");
    publish(&mut publ, 0, 8);
    assert_eq!(check(&mine.recv_timeout(WAIT).unwrap()), 0);
    child.wait_for_line("holding");
    child.kill();
    for seq in 1..40 {
        publish(&mut publ, seq, 8); // loan_timeout: a hang guard only
        assert_eq!(check(&mine.recv_timeout(WAIT).unwrap()), seq);
    }
    assert_eq!(publ.subscribers(), 1);
}

#[test]
fn a_subscriber_killed_holding_a_sample_does_not_block_a_back_pressure_publisher() {
    killed_holder(Policy::Block);
}

#[test]
fn a_subscriber_killed_holding_a_sample_does_not_stop_an_overwriting_publisher() {
    killed_holder(Policy::Overwrite);
}

/// A publisher process killed while it holds a filled loan exposes none of it: the subscriber
/// gets what was committed (minus what it lost, under overwrite), then `Disconnected`.
fn killed_mid_loan(policy: Policy, committed: u64, want: &[Result<u64, u64>]) {
    let name = NameGuard::new("bczcloan");
    let n = committed.to_string();
    let mut child = util::spawn("bc_publish_then_loan", &[&name, policy_arg(policy), &n]);
    child.wait_for_line("created");
    let mut sub = broadcast::options().open_subscriber(&name).unwrap();
    child.wait_for_line("loaned");
    child.kill();
    let mut got = Vec::new();
    loop {
        match sub.recv_timeout(WAIT) {
            Ok(s) => got.push(Ok(check(&s))),
            Err(Error::Lagged { missed, .. }) => got.push(Err(missed)),
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, want);
}

#[test]
fn a_publisher_killed_mid_loan_exposes_nothing() {
    killed_mid_loan(Policy::Block, 3, &[Ok(0), Ok(1), Ok(2)]);
    // Six messages in four slots: the first two are lost (the count is more than a ring
    // ahead), and the loan took the slot of message 2: three, reported at once.
    killed_mid_loan(Policy::Overwrite, 6, &[Err(3), Ok(3), Ok(4), Ok(5)]);
}

/// A subscriber process holds message 0 while an overwriting publisher laps a 4-slot ring 25
/// times: the publisher never waits (it skips the held slot), the held bytes stay intact,
/// and once released the subscriber is told exactly what it lost and gets the rest.
#[test]
fn a_held_sample_is_never_overwritten_while_the_publisher_laps() {
    let name = NameGuard::new("bczclap");
    let go_name = NameGuard::new("bczcgo");
    let go = Event::create(&go_name, Reset::Manual).unwrap();
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(2)
        .policy(Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut child = util::spawn("bc_hold_until_go", &[&name, &go_name]);
    child.wait_for_line("subscribed");
    publ.try_send(&message(0, 48)).unwrap();
    child.wait_for_line("holding");
    for seq in 1..=100 {
        publ.try_send(&message(seq, 48)).unwrap(); // never blocks: the held slot is skipped
    }
    drop(publ);
    go.set().unwrap();
    let f = child.wait();
    f.assert_success();
    let lines: Vec<&str> = f.stdout.lines().skip_while(|l| *l != "intact").collect();
    assert_eq!(
        lines,
        [
            "intact",
            "lagged 97",
            "got 98",
            "got 99",
            "got 100",
            "disconnected"
        ],
        "{f:?}"
    );
}

/// Under overwrite the publisher waits only when every slot is held; a held sample keeps
/// its bytes while its neighbour is rewritten.
#[test]
fn overwrite_waits_only_when_every_slot_is_held() {
    let name = NameGuard::new("bczcfull");
    let mut publ = broadcast::options()
        .slots(2)
        .slot_size(64)
        .max_subscribers(2)
        .policy(Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut a = broadcast::options().open_subscriber(&name).unwrap();
    let mut b = broadcast::options().open_subscriber(&name).unwrap();
    publish(&mut publ, 0, 16);
    let sa = a.try_recv().unwrap();
    publish(&mut publ, 1, 16);
    // A full ring keeps both messages: b reads message 0 too (a holds it), then 1.
    assert_eq!(check(&b.try_recv().unwrap()), 0);
    let sb = b.try_recv().unwrap();
    assert_eq!((check(&sa), check(&sb)), (0, 1));
    assert!(matches!(publ.try_loan(8), Err(Error::WouldBlock { .. })));
    drop(sb);
    publish(&mut publ, 2, 16);
    publish(&mut publ, 3, 16);
    assert_eq!(check(&sa), 0, "the held sample was overwritten");
    drop(sa);
    assert!(matches!(a.try_recv(), Err(Error::Lagged { missed: 2, .. })));
    assert_eq!(check(&a.try_recv().unwrap()), 3);
    // Message 2 went to b's released slot and was overwritten by 3.
    assert!(matches!(b.try_recv(), Err(Error::Lagged { missed: 1, .. })));
    assert_eq!(check(&b.try_recv().unwrap()), 3);
}

#[test]
fn every_subscriber_holds_the_same_slot_at_once() {
    let name = NameGuard::new("bczcsame");
    let mut publ = broadcast::options()
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let mut subs: Vec<Subscriber> = (0..3)
        .map(|_| broadcast::options().open_subscriber(&name).unwrap())
        .collect();
    let mut loan = publ.loan(20).unwrap();
    loan.fill(7);
    loan.truncate(5);
    loan.commit();
    let samples: Vec<Sample<'_>> = subs.iter_mut().map(|s| s.try_recv().unwrap()).collect();
    // Each process (here: each subscriber) maps the segment at its own address; what they
    // share is the slot, which all of them hold at once.
    for s in &samples {
        assert_eq!(&**s, &[7; 5]);
        assert_eq!(s.seq(), 0);
    }
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Op {
    /// Publish a message of this many pattern bytes (through a loan, or `send`).
    Send(usize, bool),
    /// Loan a slot, fill it, drop the loan.
    DropLoan(usize),
    /// Subscriber `i` takes its next message and holds it.
    Take(usize),
    /// Subscriber `i` releases the sample it holds.
    Release(usize),
    /// Subscriber `i` copies its next message out.
    RecvInto(usize),
}

const SUBS: usize = 3;
const SLOTS: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..=48usize, any::<bool>()).prop_map(|(n, l)| Op::Send(n, l)),
        1 => (0..=56usize).prop_map(Op::DropLoan),
        2 => (0..SUBS).prop_map(Op::Take),
        2 => (0..SUBS).prop_map(Op::Release),
        2 => (0..SUBS).prop_map(Op::RecvInto),
    ]
}

/// Subscribers whose samples outlive a borrow: each is boxed, and a sample of subscriber `i`
/// lives in `held[i]` while nothing else uses subscriber `i`. Dropping this drops the samples
/// first, then the subscribers.
struct Subs {
    ptrs: Vec<*mut Subscriber>,
    /// The sample each holds, and a copy of its bytes when taken.
    held: Vec<Option<(Sample<'static>, Vec<u8>)>>,
}

impl Subs {
    fn get(&mut self, i: usize) -> &'static mut Subscriber {
        assert!(self.held[i].is_none(), "subscriber {i} holds a sample");
        // SAFETY: the box lives until `Subs` is dropped, after every sample; subscriber `i`
        // is used here only while it holds no sample (checked above), and the reference
        // (or the sample it becomes) is gone before the next call for `i`.
        unsafe { &mut *self.ptrs[i] }
    }
}

impl Drop for Subs {
    fn drop(&mut self) {
        self.held.clear();
        for &p in &self.ptrs {
            // SAFETY: made by `Box::into_raw`, freed once, after every sample of it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// What subscriber `i`'s `Lagged(n)` or message means for its model queue.
fn apply(
    model: &mut VecDeque<Vec<u8>>,
    policy: Policy,
    got: Result<Vec<u8>, Error>,
) -> Result<Option<Vec<u8>>, TestCaseError> {
    match got {
        Ok(m) => {
            prop_assert_eq!(Some(&m), model.front());
            Ok(Some(m))
        }
        Err(Error::Lagged { missed, .. }) => {
            prop_assert_eq!(policy, Policy::Overwrite, "lagged under back-pressure");
            prop_assert!(
                missed as usize <= model.len(),
                "lost {} of {}",
                missed,
                model.len()
            );
            model.drain(..missed as usize);
            Ok(None)
        }
        Err(Error::WouldBlock { .. }) => {
            prop_assert!(
                model.is_empty(),
                "nothing received, {} expected",
                model.len()
            );
            Ok(None)
        }
        Err(e) => Err(TestCaseError::fail(e.to_string())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of loans, sends, holds, releases and copies behaves like one queue per
    /// subscriber: under back-pressure each gets every message and the publisher is refused
    /// exactly when a subscriber has a ring of messages unreleased; under overwrite each
    /// gets a subsequence whose gaps are exactly the `Lagged` counts, the publisher is never
    /// refused (more slots than subscribers), and a held sample never changes.
    #[test]
    fn broadcast_behaves_like_a_queue_per_subscriber(
        overwrite in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let policy = if overwrite { Policy::Overwrite } else { Policy::Block };
        let name = NameGuard::new("bcprop");
        let mut publ = broadcast::options()
            .slots(SLOTS)
            .slot_size(56)
            .max_subscribers(SUBS)
            .policy(policy)
            .create_publisher(&name)
            .unwrap();
        let mut subs = Subs {
            ptrs: (0..SUBS)
                .map(|_| Box::into_raw(Box::new(broadcast::options().open_subscriber(&name).unwrap())))
                .collect(),
            held: (0..SUBS).map(|_| None).collect(),
        };
        let mut model: Vec<VecDeque<Vec<u8>>> = vec![VecDeque::new(); SUBS];
        let mut seq = 0u64;
        let mut buf = Vec::new();
        for op in ops {
            match op {
                Op::Send(len, loan) => {
                    let m = message(seq, len);
                    let full = model.iter().any(|q| q.len() >= SLOTS);
                    let sent = if loan {
                        publ.try_loan(m.len()).map(|mut l| {
                            l.copy_from_slice(&m);
                            l.commit();
                        })
                    } else {
                        publ.try_send(&m)
                    };
                    match sent {
                        Ok(()) => {
                            prop_assert!(policy == Policy::Overwrite || !full, "sent past a full ring");
                            model.iter_mut().for_each(|q| q.push_back(m.clone()));
                            seq += 1;
                        }
                        Err(Error::WouldBlock { .. }) => {
                            prop_assert!(policy == Policy::Block && full, "refused with room");
                        }
                        Err(e) => prop_assert!(false, "{}", e),
                    }
                }
                Op::DropLoan(len) => {
                    if let Ok(mut loan) = publ.try_loan(len) {
                        loan.fill(0xEE);
                    }
                }
                Op::Take(i) => {
                    if subs.held[i].is_some() {
                        continue;
                    }
                    match subs.get(i).try_recv() {
                        Ok(s) => {
                            let copy = s.to_vec();
                            apply(&mut model[i], policy, Ok(copy.clone()))?;
                            subs.held[i] = Some((s, copy));
                        }
                        Err(e) => {
                            apply(&mut model[i], policy, Err(e))?;
                        }
                    }
                }
                Op::Release(i) => {
                    if let Some((s, copy)) = subs.held[i].take() {
                        prop_assert_eq!(&*s, &copy[..], "a held sample changed");
                        drop(s);
                        model[i].pop_front();
                    }
                }
                Op::RecvInto(i) => {
                    if subs.held[i].is_some() {
                        continue;
                    }
                    let got = subs.get(i).try_recv_into(&mut buf).map(|_| buf.clone());
                    if apply(&mut model[i], policy, got)?.is_some() {
                        model[i].pop_front();
                    }
                }
            }
        }
        for (i, queue) in model.iter_mut().enumerate() {
            if let Some((s, copy)) = subs.held[i].take() {
                prop_assert_eq!(&*s, &copy[..], "a held sample changed");
                drop(s);
                queue.pop_front();
            }
            loop {
                let got = subs.get(i).try_recv_into(&mut buf).map(|_| buf.clone());
                let empty = matches!(got, Err(Error::WouldBlock { .. }));
                if apply(queue, policy, got)?.is_some() {
                    queue.pop_front();
                }
                if empty {
                    break;
                }
            }
        }
    }
}
