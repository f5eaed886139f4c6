//! The SPSC channel: semantics in one process, a model check with proptest, and real
//! cross-process stress, producer death and disconnects.

use std::collections::VecDeque;
use std::io::Write;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::channel::{self, WaitStrategy};
use shmkit::{Access, Error, Segment};

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("stream_send", child_stream_send),
    ("send_forever", child_send_forever),
    ("recv_some", child_recv_some),
    ("send_one_and_hang", child_send_one_and_hang),
    ("claim_producer", child_claim_producer),
    ("recv_asleep", child_recv_asleep),
];

/// Offsets in a channel segment (see the layout in `channel/layout.rs`).
const PRODUCER_ATTACHMENT: usize = 64;
pub(crate) const WRITE_POS: usize = 128;
pub(crate) const READ_POS: usize = 256;
/// The sleeper count of the bell the consumer sleeps on (in the producer's line).
const DATA_SLEEPERS: usize = 140;

/// An attachment word: `state | pid << 32`, state 1 = attached.
fn attached_by(pid: u32) -> [u8; 8] {
    (1 | u64::from(pid) << 32).to_ne_bytes()
}

const WAIT: Duration = Duration::from_secs(60);

/// A deterministic xorshift generator (no dependency, same sequence in both processes).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Message `seq`: 8-byte sequence number, then a length-dependent pattern, then a checksum.
fn message(seq: u64, len: usize) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    m.extend((0..len).map(|i| (seq as usize * 7 + i) as u8));
    let sum = m
        .iter()
        .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    m.extend(sum.to_le_bytes());
    m
}

/// Checks a message built by [`message`]; returns its sequence number.
fn check(m: &[u8]) -> u64 {
    assert!(m.len() >= 12, "short message: {} bytes", m.len());
    let (body, sum) = m.split_at(m.len() - 4);
    let want = body
        .iter()
        .fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    assert_eq!(sum, want.to_le_bytes(), "checksum");
    let seq = u64::from_le_bytes(body[..8].try_into().unwrap());
    assert_eq!(
        body[8..],
        message(seq, body.len() - 8)[8..body.len()],
        "payload of {seq}"
    );
    seq
}

/// Receives one message into `buf`, failing the test instead of hanging if none comes.
fn recv_into(rx: &mut channel::Consumer, buf: &mut Vec<u8>) {
    let s = rx.recv_timeout(WAIT).unwrap();
    buf.clear();
    buf.extend_from_slice(&s);
}

/// args: name, count, seed — opens the producer side and sends `count` random-size messages.
fn child_stream_send(a: &[String]) {
    let mut tx = channel::options().open_producer(&a[0]).unwrap();
    let mut rng = Rng(a[2].parse().unwrap());
    for seq in 0..a[1].parse::<u64>().unwrap() {
        let len = (rng.next() % 300) as usize;
        if seq % 2 == 0 {
            tx.send(&message(seq, len)).unwrap();
        } else {
            // The zero-copy path, for half of them.
            let m = message(seq, len);
            let mut loan = tx.loan(m.len()).unwrap();
            loan.copy_from_slice(&m);
            loan.commit();
        }
    }
}

/// args: name — sends numbered messages until killed, saying "sending" once started.
fn child_send_forever(a: &[String]) {
    let mut tx = channel::options().open_producer(&a[0]).unwrap();
    let mut out = std::io::stdout();
    for seq in 0.. {
        tx.send(&message(seq, (seq % 1000) as usize)).unwrap();
        if seq == 100 {
            writeln!(out, "sending").unwrap();
            out.flush().unwrap();
        }
    }
}

/// args: name, n — receives n messages, then drops the consumer and exits.
fn child_recv_some(a: &[String]) {
    let mut rx = channel::options().open_consumer(&a[0]).unwrap();
    for _ in 0..a[1].parse::<u32>().unwrap() {
        rx.recv_timeout(WAIT).unwrap();
    }
}

/// args: name — sends one message, says "sent", and waits to be killed.
fn child_send_one_and_hang(a: &[String]) {
    let mut tx = channel::options().open_producer(&a[0]).unwrap();
    tx.send(b"last words").unwrap();
    println!("sent");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(WAIT);
}

/// args: name — opens the consumer, says "waiting", and sleeps in `recv` until killed.
fn child_recv_asleep(a: &[String]) {
    let mut rx = channel::options()
        .wait_strategy(WaitStrategy::Blocking)
        .open_consumer(&a[0])
        .unwrap();
    println!("waiting");
    std::io::stdout().flush().unwrap();
    let _ = rx.recv_timeout(WAIT);
}

/// args: channel name, gate segment name — waits until the gate's first word is 1, tries to
/// become the producer, and says "won" (then waits to be killed) or "in use" (and exits).
fn child_claim_producer(a: &[String]) {
    let gate = Segment::open(&a[1]).unwrap();
    let gate = gate.map(Access::ReadWrite).unwrap();
    let go = gate.atomic_u32(0).unwrap();
    while go.load(std::sync::atomic::Ordering::Acquire) == 0 {
        std::hint::spin_loop();
    }
    let mut out = std::io::stdout();
    match channel::options().open_producer(&a[0]) {
        Ok(_tx) => {
            writeln!(out, "won").unwrap();
            out.flush().unwrap();
            std::thread::sleep(WAIT);
        }
        Err(Error::InUse { .. }) => writeln!(out, "in use").unwrap(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn messages_arrive_in_order_by_copy_and_by_loan() {
    let name = NameGuard::new("chbasic");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    assert_eq!(tx.capacity(), 4096);
    assert_eq!(tx.max_message_len(), 2040);
    assert!(matches!(rx.try_recv(), Err(Error::WouldBlock { .. })));
    tx.send(b"").unwrap();
    tx.send(b"one").unwrap();
    let mut loan = tx.loan(100).unwrap();
    loan[..3].copy_from_slice(b"two");
    loan.truncate(3);
    loan.commit();
    // A dropped loan publishes nothing.
    drop(tx.loan(50).unwrap());
    assert_eq!(rx.recv().unwrap().len(), 0);
    assert_eq!(&*rx.recv().unwrap(), b"one");
    assert_eq!(&*rx.recv().unwrap(), b"two");
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    // Too big for the ring.
    assert!(matches!(tx.loan(2041), Err(Error::SizeInvalid { .. })));
    tx.send(&[7; 2040]).unwrap();
    assert_eq!(rx.recv().unwrap().len(), 2040);
}

#[test]
fn a_full_ring_refuses_try_send_and_wraps_with_padding() {
    let name = NameGuard::new("chfull");
    let mut tx = channel::create_producer(&name, 1024).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    let mut sent = 0u64;
    while tx.try_send(&message(sent, 90)).is_ok() {
        sent += 1;
    }
    let more = message(sent, 90);
    assert!(matches!(tx.try_send(&more), Err(Error::WouldBlock { .. })));
    assert!(matches!(
        tx.send_timeout(&more, Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    // Thousands of messages of odd sizes through a small ring: every wrap needs a pad frame.
    let mut next = 0u64;
    let mut buf = Vec::new();
    for seq in sent..sent + 5000 {
        while let Err(Error::WouldBlock { .. }) = tx.try_send(&message(seq, (seq % 400) as usize)) {
            rx.recv_into(&mut buf).unwrap();
            assert_eq!(check(&buf), next);
            next += 1;
        }
    }
    drop(tx);
    loop {
        match rx.recv_into(&mut buf) {
            Ok(_) => {
                assert_eq!(check(&buf), next);
                next += 1;
            }
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(next, sent + 5000);
}

/// The held forms bindings use (`recv_held`, `loan_held`): what they hold is what a sample
/// or a loan would be, it is released or given back by the matching call, the next receive
/// or loan of any form, and a held message does not count as ready.
#[test]
fn held_messages_and_loans_behave_as_samples_and_loans() {
    let name = NameGuard::new("chheld");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    assert_eq!(
        (tx.held_loan_len(), tx.commit_held(3), tx.abort_held()),
        (None, false, false)
    );
    assert_eq!((rx.held(), rx.release_held()), (None, false));

    let p = tx.loan_held(100, shmkit::Deadline::Try).unwrap();
    assert_eq!(p as usize % 8, 0, "a held slot is 8-aligned");
    assert_eq!(tx.held_loan_len(), Some(100));
    // SAFETY: the slot is 100 writable bytes, this producer's until the commit.
    unsafe { std::ptr::copy_nonoverlapping(b"one".as_ptr(), p, 3) };
    assert!(tx.commit_held(3));
    assert_eq!(tx.held_loan_len(), None);
    // Given back unsent: nothing arrives.
    tx.loan_held(50, shmkit::Deadline::Forever).unwrap();
    assert!(tx.abort_held());
    // A held slot is given back by the next loan or send, which takes its place.
    tx.loan_held(50, shmkit::Deadline::Forever).unwrap();
    tx.send(b"two").unwrap();
    assert!(!tx.commit_held(50), "the send gave the held slot back");
    // More than the slot is cut to it.
    let p = tx.loan_held(4, shmkit::Deadline::Forever).unwrap();
    // SAFETY: 4 writable bytes.
    unsafe { std::ptr::copy_nonoverlapping(b"four".as_ptr(), p, 4) };
    assert!(tx.commit_held(usize::MAX));

    let (p, n) = rx.recv_held(shmkit::Deadline::Try).unwrap();
    // SAFETY: the held message is `n` bytes the producer does not write until its release.
    assert_eq!(unsafe { std::slice::from_raw_parts(p, n) }, b"one");
    assert_eq!(rx.held(), Some((p, n)));
    // The next receive of any form releases the held message first.
    let (p, n) = rx.recv_held(shmkit::Deadline::Forever).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { std::slice::from_raw_parts(p, n) }, b"two");
    assert_eq!(&*rx.recv().unwrap(), b"four");
    assert_eq!(rx.held(), None);
    assert!(matches!(
        rx.recv_held(shmkit::Deadline::Try),
        Err(Error::WouldBlock { .. })
    ));
    assert_eq!(rx.held(), None, "nothing is held after an error");

    // A held message is not a ready one: a wait set waits for the message after it.
    tx.send(b"five").unwrap();
    rx.recv_held(shmkit::Deadline::Forever).unwrap();
    let mut set = shmkit::WaitSet::new();
    let r = set.wait_timeout(std::slice::from_ref(&rx), Duration::from_millis(20));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    tx.send(b"six").unwrap();
    let ready = set.wait_timeout(std::slice::from_ref(&rx), Duration::from_secs(10));
    assert_eq!(ready.unwrap(), &[0]);
    assert!(rx.release_held());
    assert_eq!(&*rx.recv().unwrap(), b"six");

    // What the consumer holds when it is dropped is delivered again to the next one.
    tx.send(b"seven").unwrap();
    rx.recv_held(shmkit::Deadline::Forever).unwrap();
    drop(rx);
    let mut rx = channel::open_consumer(&name).unwrap();
    assert_eq!(&*rx.recv().unwrap(), b"seven");
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    Recv,
    DropLoan(usize),
    /// `loan_held`, written, `commit_held` of this many bytes.
    HeldSend(usize, usize),
    /// `loan_held`, written, left held (the next loan or send gives it back).
    HeldLeave(usize),
    AbortHeld,
    /// `recv_held`, checked, left held (the next receive releases it).
    HeldRecv,
    ReleaseHeld,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..=500).prop_map(Op::Send),
        Just(Op::Recv),
        (0usize..=500).prop_map(Op::DropLoan),
        (0usize..=500, 0usize..=600).prop_map(|(n, c)| Op::HeldSend(n, c)),
        (0usize..=500).prop_map(Op::HeldLeave),
        Just(Op::AbortHeld),
        Just(Op::HeldRecv),
        Just(Op::ReleaseHeld),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of sends, receives, abandoned loans and the held forms of loans and
    /// receives behaves like a VecDeque.
    #[test]
    fn the_ring_behaves_like_a_queue(ops in proptest::collection::vec(op(), 1..300)) {
        let name = NameGuard::new("chprop");
        let mut tx = channel::create_producer(&name, 2048).unwrap();
        let mut rx = channel::open_consumer(&name).unwrap();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seq = 0u64;
        // Whether the producer holds a slot, the consumer a message (already off `model`).
        let (mut tx_held, mut rx_held) = (false, false);
        for op in ops {
            match op {
                Op::Send(len) => {
                    tx_held = false;
                    let m = message(seq, len);
                    match tx.try_send(&m) {
                        Ok(()) => { model.push_back(m); seq += 1; }
                        Err(Error::WouldBlock { .. }) => prop_assert!(!model.is_empty() || rx_held, "an empty ring refused {} bytes", m.len()),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Op::DropLoan(len) => {
                    tx_held = false;
                    if let Ok(mut loan) = tx.try_loan(len) {
                        loan.fill(0xEE);
                    }
                }
                Op::HeldSend(len, cut) | Op::HeldLeave(len @ cut) => {
                    let leave = matches!(op, Op::HeldLeave(_));
                    tx_held = false;
                    let m = message(seq, len);
                    match tx.loan_held(len, shmkit::Deadline::Try) {
                        Ok(p) => {
                            // SAFETY: the held slot is `len` writable bytes.
                            unsafe { std::ptr::copy_nonoverlapping(m.as_ptr(), p, len) };
                            if leave {
                                tx_held = true;
                            } else {
                                prop_assert!(tx.commit_held(cut));
                                model.push_back(m[..cut.min(len)].to_vec());
                                seq += 1;
                            }
                        }
                        Err(Error::WouldBlock { .. }) => prop_assert!(!model.is_empty() || rx_held, "an empty ring refused {} bytes", len),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                    prop_assert_eq!(tx.held_loan_len(), tx_held.then_some(len));
                }
                Op::AbortHeld => {
                    prop_assert_eq!(tx.abort_held(), tx_held);
                    tx_held = false;
                }
                Op::Recv => {
                    rx_held = false;
                    match rx.try_recv() {
                        Ok(s) => prop_assert_eq!(Some(s.to_vec()), model.pop_front()),
                        Err(Error::WouldBlock { .. }) => prop_assert!(model.is_empty()),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Op::HeldRecv => {
                    rx_held = false;
                    match rx.recv_held(shmkit::Deadline::Try) {
                        Ok((p, n)) => {
                            // SAFETY: the held message is `n` bytes nobody writes until its
                            // release.
                            let got = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
                            prop_assert_eq!(Some(got), model.pop_front());
                            rx_held = true;
                        }
                        Err(Error::WouldBlock { .. }) => prop_assert!(model.is_empty()),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                    prop_assert_eq!(rx.held().is_some(), rx_held);
                }
                Op::ReleaseHeld => {
                    prop_assert_eq!(rx.release_held(), rx_held);
                    rx_held = false;
                }
            }
        }
        while let Some(want) = model.pop_front() {
            prop_assert_eq!(rx.try_recv().unwrap().to_vec(), want);
        }
        let empty = matches!(rx.try_recv(), Err(Error::WouldBlock { .. }));
        prop_assert!(empty, "the ring should be empty");
    }
}

#[test]
fn a_million_messages_cross_processes_intact_and_in_order() {
    let count: u64 = 1_000_000;
    let name = NameGuard::new("chstress");
    let mut rx = channel::options()
        .capacity(1 << 16)
        .create_consumer(&name)
        .unwrap();
    let child = util::spawn(
        "stream_send",
        &[&name, &count.to_string(), "88172645463325252"],
    );
    let mut rng = Rng(88172645463325252);
    let mut buf = Vec::new();
    for want in 0..count {
        recv_into(&mut rx, &mut buf);
        assert_eq!(check(&buf), want);
        assert_eq!(
            buf.len(),
            12 + (rng.next() % 300) as usize,
            "length of {want}"
        );
    }
    child.wait().assert_success();
    assert!(matches!(
        rx.recv_timeout(WAIT),
        Err(Error::Disconnected { .. })
    ));
}

#[test]
fn a_killed_producer_leaves_only_whole_messages_then_disconnected() {
    for round in 0..20 {
        let name = NameGuard::new("chkill");
        let mut rx = channel::options()
            .capacity(1 << 14)
            .create_consumer(&name)
            .unwrap();
        let mut child = util::spawn("send_forever", &[&name]);
        let mut next = 0u64;
        let mut buf = Vec::new();
        // Read until the child is well under way, with the ring sometimes full.
        while next < 150 + round * 37 {
            recv_into(&mut rx, &mut buf);
            assert_eq!(check(&buf), next);
            next += 1;
        }
        child.wait_for_line("sending");
        child.kill();
        let start = Instant::now();
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(s) => {
                    assert_eq!(check(&s), next, "round {round}");
                    next += 1;
                }
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("round {round}: {e}"),
            }
            assert!(
                start.elapsed() < WAIT,
                "round {round}: no disconnect (hang guard)"
            );
        }
    }
}

#[test]
fn a_dropped_consumer_disconnects_the_producer() {
    let name = NameGuard::new("chdrop");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let child = util::spawn("recv_some", &[&name, "10"]);
    let mut sent = 0;
    let err = loop {
        match tx.send_timeout(&[1; 100], WAIT) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    assert!(sent >= 10);
    child.wait().assert_success();
}

/// When the producer's place is held by a dead process, processes racing to take it over
/// must not both win: exactly one becomes the producer. (This samples real processes; the
/// window of the race it guards against is a few instructions wide, so loom running the real
/// claim, `two_joins_for_one_place_admit_exactly_one` in `src/loom_tests/`, is what checks
/// every interleaving.)
#[test]
fn racing_processes_cannot_both_take_over_a_dead_producers_place() {
    let dead = util::dead_pid();
    for round in 0..10 {
        let name = NameGuard::new("chrace");
        let _rx = channel::options().create_consumer(&name).unwrap();
        let mut v = util::raw_view(&name);
        v.write_at(PRODUCER_ATTACHMENT, &attached_by(dead)).unwrap();
        let gate_name = NameGuard::new("chgate");
        let gate = Segment::create(&gate_name, 64).unwrap();
        let gate = gate.map(Access::ReadWrite).unwrap();
        let mut children: Vec<_> = (0..4)
            .map(|_| util::spawn("claim_producer", &[&name, &gate_name]))
            .collect();
        gate.atomic_u32(0)
            .unwrap()
            .store(1, std::sync::atomic::Ordering::Release);
        // The first line that is an answer (the test harness prints a header first).
        let said: Vec<String> = children
            .iter_mut()
            .map(|c| {
                (0..10)
                    .map(|_| c.read_line())
                    .find(|l| l == "won" || l == "in use")
                    .unwrap_or_default()
            })
            .collect();
        for c in children {
            c.kill();
        }
        let won = said.iter().filter(|l| *l == "won").count();
        assert_eq!(won, 1, "round {round}: {said:?}");
        assert_eq!(said.len() - won, 3, "round {round}: {said:?}");
    }
}

/// A consumer killed while asleep never takes itself off the sleeper count; the next
/// consumer clears it, or every send would pay for a wake-up syscall nobody needs.
#[test]
fn a_consumer_killed_asleep_leaves_no_phantom_sleeper() {
    let name = NameGuard::new("chphantom");
    let _tx = channel::create_producer(&name, 4096).unwrap();
    let v = util::raw_view(&name);
    let sleepers = v.atomic_u32(DATA_SLEEPERS).unwrap();
    let mut child = util::spawn("recv_asleep", &[&name]);
    child.wait_for_line("waiting");
    let start = Instant::now();
    while sleepers.load(std::sync::atomic::Ordering::Acquire) == 0 {
        assert!(start.elapsed() < WAIT, "the child never went to sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill();
    assert_eq!(sleepers.load(std::sync::atomic::Ordering::Acquire), 1);
    let _rx = channel::open_consumer(&name).unwrap();
    assert_eq!(sleepers.load(std::sync::atomic::Ordering::Acquire), 0);
}

/// A consumer that polls with `try_recv` (or short timeouts) learns that a killed producer
/// is gone: liveness is checked across calls, not only inside one long wait.
#[test]
fn polling_notices_a_killed_producer() {
    for short_timeouts in [false, true] {
        let name = NameGuard::new("chpoll");
        let mut rx = channel::options().create_consumer(&name).unwrap();
        let mut child = util::spawn("send_one_and_hang", &[&name]);
        child.wait_for_line("sent");
        child.kill();
        let start = Instant::now();
        let mut received = 0;
        loop {
            let r = if short_timeouts {
                rx.recv_timeout(Duration::from_millis(1))
            } else {
                rx.try_recv()
            };
            match r {
                Ok(s) => {
                    assert_eq!(&*s, b"last words");
                    received += 1;
                }
                Err(Error::WouldBlock { .. } | Error::Timeout { .. }) => {}
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(
                start.elapsed() < WAIT,
                "the dead producer was never noticed"
            );
        }
        assert_eq!(received, 1);
    }
}

#[test]
fn busy_poll_mode_works_across_processes() {
    let name = NameGuard::new("chbusy");
    let mut rx = channel::options()
        .capacity(1 << 12)
        .wait_strategy(WaitStrategy::BusyPoll)
        .create_consumer(&name)
        .unwrap();
    let child = util::spawn("stream_send", &[&name, "20000", "12345"]);
    let mut buf = Vec::new();
    for want in 0..20_000 {
        recv_into(&mut rx, &mut buf);
        assert_eq!(check(&buf), want);
    }
    child.wait().assert_success();
}

#[test]
fn channel_handles_are_send() {
    fn check_send<T: Send>() {}
    check_send::<channel::Producer>();
    check_send::<channel::Consumer>();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Opening a segment full of arbitrary bytes — as a channel, a broadcast, or any sync
    /// object — returns a typed error or a working object, never a crash or a hang. Half the
    /// cases start with the real magic and version, so the checks behind them run too.
    #[test]
    fn opening_random_bytes_never_crashes(
        mut bytes in proptest::collection::vec(any::<u8>(), 64..2048),
        shmkit_header in any::<bool>(),
        kind in 1u32..=7,
    ) {
        if shmkit_header {
            util::claim_header(&mut bytes, kind);
        }
        let name = NameGuard::new("fuzz");
        let _seg = util::segment_of(&name, &bytes);
        if let Ok(mut rx) = channel::open_consumer(&name) {
            let _ = rx.try_recv();
        }
        if let Ok(mut tx) = channel::options().open_producer(&name) {
            let _ = tx.try_send(b"probe");
        }
        if let Ok(mut sub) = channel::broadcast::options().open_subscriber(&name) {
            let _ = sub.try_recv_into(&mut Vec::new());
        }
        if let Ok(ev) = shmkit::sync::Event::open(&name) {
            let _ = ev.try_wait();
        }
        if let Ok(sem) = shmkit::sync::Semaphore::open(&name) {
            let _ = sem.try_wait();
        }
        let _ = shmkit::sync::Shared::<u64>::open(&name);
        let _ = shmkit::inspect::inspect(&name);
    }
}
