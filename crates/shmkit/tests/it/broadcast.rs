//! 1 → N broadcast: join points, both slow-subscriber policies, and four subscriber processes.

use std::time::Duration;

use shmkit::channel::broadcast::{self, Policy};
use shmkit::{Error, WaitSet};

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[("subscriber", child_subscriber)];

const WAIT: Duration = Duration::from_secs(60);

/// args: name, delay_us — subscribes, says "subscribed", receives until disconnected (sleeping
/// `delay_us` per message), checks order, and prints "received R missed M".
fn child_subscriber(a: &[String]) {
    let mut sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    let delay = Duration::from_micros(a[1].parse().unwrap());
    util::say("subscribed");
    let mut buf = Vec::new();
    util::receive_until_disconnected(|expect, _| {
        sub.recv_into_timeout(&mut buf, WAIT)?;
        let seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
        assert_eq!(seq, expect, "order");
        assert!(buf[8..].iter().all(|&b| b == seq as u8), "content of {seq}");
        std::thread::sleep(delay);
        Ok(())
    });
}

fn message(seq: u64) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    m.extend(std::iter::repeat_n(seq as u8, (seq % 200) as usize));
    m
}

#[test]
fn subscribers_see_everything_from_their_join_point() {
    let name = NameGuard::new("bcjoin");
    let mut publ = broadcast::options()
        .slots(16)
        .slot_size(256)
        .create_publisher(&name)
        .unwrap();
    publ.send(b"before anyone").unwrap();
    let mut a = broadcast::options().open_subscriber(&name).unwrap();
    publ.send(b"one").unwrap();
    let mut b = broadcast::options().open_subscriber(&name).unwrap();
    publ.send(b"two").unwrap();
    let mut buf = Vec::new();
    for (sub, want) in [(&mut a, vec!["one", "two"]), (&mut b, vec!["two"])] {
        for w in want {
            sub.try_recv_into(&mut buf).unwrap();
            assert_eq!(buf, w.as_bytes());
        }
        assert!(matches!(
            sub.try_recv_into(&mut buf),
            Err(Error::WouldBlock { .. })
        ));
    }
    assert!(matches!(
        publ.send(&[0; 257]),
        Err(Error::SizeInvalid { .. })
    ));
    drop(publ);
    assert!(matches!(
        a.recv_into_timeout(&mut buf, WAIT),
        Err(Error::Disconnected { .. })
    ));
}

/// The held forms bindings use (`recv_held`, `loan_held`), as the channel's: what they hold
/// is what a sample or a loan would be (a held message holds its slot against both
/// policies), it ends with the matching call or the next receive or loan of any form, and a
/// held message does not count as ready.
#[test]
fn held_messages_and_loans_behave_as_samples_and_loans() {
    let read = |(p, n): (*const u8, usize)| {
        // SAFETY: a held message is `n` bytes the publisher does not write until released.
        unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
    };
    for policy in [Policy::Block, Policy::Overwrite] {
        let name = NameGuard::new("bcheld");
        let mut publ = broadcast::options()
            .slots(4)
            .slot_size(64)
            .policy(policy)
            .create_publisher(&name)
            .unwrap();
        let mut sub = broadcast::options().open_subscriber(&name).unwrap();
        assert_eq!(
            (publ.held_loan_len(), publ.commit_held(1), publ.abort_held()),
            (None, false, false)
        );
        assert_eq!(
            (sub.held(), sub.held_seq(), sub.release_held()),
            (None, None, false)
        );

        let p = publ.loan_held(64, shmkit::Deadline::Try).unwrap();
        // SAFETY: the held slot is 64 writable bytes, the publisher's until the commit.
        unsafe { std::ptr::copy_nonoverlapping(b"one".as_ptr(), p, 3) };
        assert!(publ.commit_held(3));
        publ.loan_held(8, shmkit::Deadline::Forever).unwrap();
        assert!(publ.abort_held(), "given back unsent");
        publ.loan_held(8, shmkit::Deadline::Forever).unwrap();
        publ.send(b"two").unwrap();
        assert!(!publ.commit_held(8), "the send gave the held slot back");
        let p = publ.loan_held(4, shmkit::Deadline::Forever).unwrap();
        // SAFETY: 4 writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(b"four".as_ptr(), p, 4) };
        assert!(
            publ.commit_held(usize::MAX),
            "more than the slot is cut to it"
        );
        assert_eq!(publ.published(), 3);

        assert_eq!(read(sub.recv_held(shmkit::Deadline::Try).unwrap()), b"one");
        assert_eq!((sub.held_seq(), sub.next_seq()), (Some(0), 1));
        assert_eq!(read(sub.held().unwrap()), b"one");
        // The next receive of any form releases the held message first.
        assert_eq!(
            read(sub.recv_held(shmkit::Deadline::Forever).unwrap()),
            b"two"
        );
        assert_eq!(&*sub.recv().unwrap(), b"four");
        assert_eq!(sub.held(), None);

        // A held message holds its slot: under back-pressure the publisher cannot lap it,
        // under overwrite it passes it by; either way its bytes stay.
        publ.send(b"held").unwrap();
        let held = sub.recv_held(shmkit::Deadline::Forever).unwrap();
        let mut sent = 0;
        while sent < 20 && publ.try_send(&[sent as u8; 16]).is_ok() {
            sent += 1;
        }
        match policy {
            Policy::Block => assert_eq!(sent, 3, "the held slot and three free ones"),
            Policy::Overwrite => assert_eq!(sent, 20),
        }
        assert_eq!(read(held), b"held");
        // A held message is not a ready one: readiness looks at the message after it.
        let mut set = WaitSet::new();
        let ready = set.wait_timeout(std::slice::from_ref(&sub), Duration::from_secs(10));
        assert_eq!(
            ready.unwrap(),
            &[0],
            "messages after the held one are there"
        );
        assert!(sub.release_held());
        let mut buf = Vec::new();
        loop {
            match sub.try_recv_into(&mut buf) {
                Ok(_) | Err(Error::Lagged { .. }) => {}
                Err(Error::WouldBlock { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        let r = sub.recv_held(shmkit::Deadline::Try);
        assert!(
            matches!(r, Err(Error::WouldBlock { .. })),
            "{policy:?}: {r:?}"
        );
        publ.send(b"last").unwrap();
        sub.recv_held(shmkit::Deadline::Forever).unwrap();
        let r = set.wait_timeout(std::slice::from_ref(&sub), Duration::from_millis(20));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{policy:?}: {r:?}");
    }
}

/// An overwriting broadcast `name` of four 64-byte slots with one subscriber and message 0
/// published, and the segment mapped raw: slot 0's stamp is at offset 448 (slots start after
/// the 384-byte header and one table entry).
fn one_message_to_overwrite(
    name: &str,
) -> (broadcast::Publisher, broadcast::Subscriber, shmkit::View) {
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(1)
        .policy(Policy::Overwrite)
        .create_publisher(name)
        .unwrap();
    let sub = broadcast::options().open_subscriber(name).unwrap();
    publ.try_send(&message(0)).unwrap();
    (publ, sub, util::raw_view(name))
}

/// Readiness agrees with `try_recv` whatever the stamp of the next message's slot says
/// (issue 19, item 3): a stamp no publisher writes (beyond the count) is `Corrupt`, and
/// ready; the mark of a live publisher deciding whether it may overwrite the message (which
/// it clears within a few loads; here never, as a hostile writer leaves it) is neither ready
/// nor lost.
/// A wait set therefore never reports a subscriber that `try_recv` then says `WouldBlock`
/// to, and never spins.
#[test]
fn readiness_agrees_with_try_recv_whatever_the_stamp() {
    let name = NameGuard::new("bcready");
    let (_publ, mut sub, mut v) = one_message_to_overwrite(&name);
    let mut set = WaitSet::new();
    let mut buf = Vec::new();
    // (stamp of slot 0, whether try_recv then returns something other than WouldBlock)
    let cases: [(u64, bool); 4] = [
        (1_000_001, true),             // odd, far beyond one published message: corrupt
        (1_000_000, true),             // even, the same
        ((1 << 63) | 2, false),        // "deciding whether message 0 may go": wait
        ((1 << 63) | 1_000_002, true), // that mark on a message never published: corrupt
    ];
    for (stamp, ready) in cases {
        v.write_at(384 + 64, &stamp.to_ne_bytes()).unwrap();
        let waited = set.wait_timeout(&[&sub], Duration::from_millis(50));
        let got = sub.try_recv_into(&mut buf);
        assert_eq!(waited.is_ok(), ready, "stamp {stamp:#x}: {waited:?}");
        match got {
            Err(Error::WouldBlock { .. }) => assert!(!ready, "stamp {stamp:#x}"),
            Err(Error::Corrupt { .. }) => assert!(ready, "stamp {stamp:#x}"),
            other => panic!("stamp {stamp:#x}: {other:?}"),
        }
    }
    // The real stamp back: message 0 is there.
    v.write_at(384 + 64, &2u64.to_ne_bytes()).unwrap();
    assert_eq!(set.wait_timeout(&[&sub], WAIT).unwrap(), [0]);
    sub.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, message(0));
}

/// A ring keeps its last `slots` messages readable, so an overwriting broadcast of one slot
/// delivers the newest message (it reported every message lost before issue 19), and a lag
/// is reported once, whole, however the loss was found.
#[test]
fn an_overwriting_ring_of_one_slot_delivers_the_newest_message() {
    let name = NameGuard::new("bcone");
    let mut publ = broadcast::options()
        .slots(1)
        .slot_size(64)
        .policy(Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut sub = broadcast::options().open_subscriber(&name).unwrap();
    let mut buf = Vec::new();
    publ.try_send(&message(0)).unwrap();
    sub.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, message(0));
    for seq in 1..=3 {
        publ.try_send(&message(seq)).unwrap();
    }
    assert!(matches!(
        sub.try_recv_into(&mut buf),
        Err(Error::Lagged { missed: 2, .. })
    ));
    sub.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, message(3));
    // A held sample keeps its slot: the publisher has nowhere to write.
    publ.try_send(&message(4)).unwrap();
    let held = sub.try_recv().unwrap();
    assert!(matches!(
        publ.try_send(&message(5)),
        Err(Error::WouldBlock { .. })
    ));
    assert_eq!(&*held, &message(4)[..]);
}

#[test]
fn a_corrupt_stamp_is_no_overflow_and_heals_when_the_publisher_laps_it() {
    let name = NameGuard::new("bcstamp");
    let (mut publ, mut sub, mut v) = one_message_to_overwrite(&name);
    // The first slot's stamp claims a message from far in the future, while the count says
    // one message.
    v.write_at(384 + 64, &(u64::MAX - 1).to_ne_bytes()).unwrap();
    let mut buf = Vec::new();
    // Reported, and reported as ready: a wait set must not spin on it (issue 19, item 3).
    for _ in 0..2 {
        assert_eq!(WaitSet::new().wait_timeout(&[&sub], WAIT).unwrap(), [0]);
        assert!(matches!(
            sub.try_recv_into(&mut buf),
            Err(Error::Corrupt { .. })
        ));
    }
    // Once the publisher has really lapped the slot, the subscriber is told what it lost.
    for seq in 1..10 {
        publ.try_send(&message(seq)).unwrap();
    }
    let missed = match sub.try_recv_into(&mut buf) {
        Err(Error::Lagged { missed, .. }) => missed,
        other => panic!("{other:?}"),
    };
    sub.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, message(missed));
}

#[test]
fn overwrite_reports_exactly_what_a_slow_subscriber_lost() {
    let name = NameGuard::new("bclag");
    let mut publ = broadcast::options()
        .slots(8)
        .slot_size(64)
        .policy(Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut sub = broadcast::options().open_subscriber(&name).unwrap();
    for seq in 0..100 {
        publ.try_send(&message(seq % 50)).unwrap(); // never blocks
    }
    drop(publ);
    let (mut got, mut lost) = (Vec::new(), 0);
    let mut buf = Vec::new();
    loop {
        match sub.recv_into_timeout(&mut buf, WAIT) {
            Ok(_) => got.push(buf.clone()),
            Err(Error::Lagged { missed, .. }) => lost += missed,
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got.len() as u64 + lost, 100);
    assert!(lost >= 92, "a ring of 8 keeps at most 8: lost {lost}");
    let want: Vec<_> = (100 - got.len() as u64..100)
        .map(|s| message(s % 50))
        .collect();
    assert_eq!(got, want, "the newest messages survive, in order");
}

#[test]
fn back_pressure_waits_for_the_slowest_and_max_subscribers_holds() {
    let name = NameGuard::new("bcblock");
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(16)
        .max_subscribers(2)
        .create_publisher(&name)
        .unwrap();
    let mut slow = broadcast::options().open_subscriber(&name).unwrap();
    let _other = broadcast::options().open_subscriber(&name).unwrap();
    assert!(matches!(
        broadcast::options().open_subscriber(&name),
        Err(Error::Full { max: 2, .. })
    ));
    drop(_other);
    for i in 0..4u8 {
        publ.try_send(&[i]).unwrap();
    }
    assert!(matches!(publ.try_send(&[9]), Err(Error::WouldBlock { .. })));
    assert!(matches!(
        publ.send_timeout(&[9], Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    let mut buf = Vec::new();
    slow.try_recv_into(&mut buf).unwrap();
    assert_eq!(buf, [0]);
    publ.try_send(&[4]).unwrap();
    for i in 1..=4u8 {
        slow.try_recv_into(&mut buf).unwrap();
        assert_eq!(buf, [i]);
    }
}

/// Four subscriber processes, the last a slow one (`util::slow_subscriber_us`).
fn run_four(policy: Policy, total: u64) -> Vec<(u64, u64)> {
    let name = NameGuard::new("bcfour");
    let mut publ = broadcast::options()
        .slots(64)
        .slot_size(256)
        .policy(policy)
        .create_publisher(&name)
        .unwrap();
    util::four_subscribers("subscriber", &name, policy, move || {
        for seq in 0..total {
            publ.send_timeout(&message(seq), WAIT).unwrap();
        }
    })
}

#[test]
fn four_subscriber_processes_with_back_pressure_all_get_everything() {
    util::assert_all_received(&run_four(Policy::Block, 3000), 3000);
}

#[test]
fn four_subscriber_processes_with_overwrite_account_for_every_message() {
    util::assert_all_accounted_for(&run_four(Policy::Overwrite, 3000), 3000);
}

/// Parameters no creator could write — sizes whose layout arithmetic overflows — are
/// refused as `Corrupt`, not turned into out-of-bounds slot addresses.
#[test]
fn impossible_geometry_in_the_header_is_corrupt() {
    let name = NameGuard::new("bcgeom");
    // One slot of 16 bytes for one subscriber: a 576-byte segment (with the
    // 64-byte index after the slot).
    let _publ = broadcast::options()
        .slots(1)
        .slot_size(16)
        .max_subscribers(1)
        .create_publisher(&name)
        .unwrap();
    let mut v = util::raw_view(&name);
    // params = [slots, slot size, subscribers] at offset 32 of the header. A slot size of
    // 2^64 - 15 makes `16 + size` wrap to 1, a "64-byte stride" that also adds up to 576.
    for (slots, slot_size, subs) in [
        (1, u64::MAX - 14, 1),
        (1, 1 << 32, 1),
        (u64::MAX, 16, 1),
        (1, 16, 0xffff_ffff),
        (0, 16, 1),
    ] {
        for (i, p) in [slots, slot_size, subs].into_iter().enumerate() {
            v.write_at(32 + 8 * i, &p.to_ne_bytes()).unwrap();
        }
        assert!(
            matches!(
                broadcast::options().open_subscriber(&name),
                Err(Error::Corrupt { .. })
            ),
            "{slots} slots of {slot_size} for {subs}"
        );
    }
}

/// Places held (or half-joined) by processes that died are taken over by new subscribers.
#[test]
fn places_of_dead_subscribers_are_reused_even_mid_join() {
    let name = NameGuard::new("bcjoining");
    let mut publ = broadcast::options()
        .max_subscribers(2)
        .create_publisher(&name)
        .unwrap();
    let mut v = util::raw_view(&name);
    let dead = u64::from(util::dead_pid()) << 32;
    // The table starts at 384, 64 bytes an entry: `state | pid << 32`; 1 = active,
    // 2 = joining.
    v.write_at(384, &(1 | dead).to_ne_bytes()).unwrap();
    v.write_at(384 + 64, &(2 | dead).to_ne_bytes()).unwrap();
    let mut a = broadcast::options().open_subscriber(&name).unwrap();
    let mut b = broadcast::options().open_subscriber(&name).unwrap();
    assert!(matches!(
        broadcast::options().open_subscriber(&name),
        Err(Error::Full { .. })
    ));
    publ.send(b"hi").unwrap();
    let mut buf = Vec::new();
    for s in [&mut a, &mut b] {
        s.try_recv_into(&mut buf).unwrap();
        assert_eq!(buf, b"hi");
    }
}

/// A subscriber killed a ring behind is evicted instead of blocking the publisher forever.
#[test]
fn a_killed_subscriber_does_not_block_the_publisher() {
    let name = NameGuard::new("bcdead");
    let mut publ = broadcast::options()
        .slots(4)
        .slot_size(16)
        .create_publisher(&name)
        .unwrap();
    let mut child = util::spawn("subscriber", &[&name, "1000000"]);
    child.wait_for_line("subscribed");
    publ.send(&message(0)[..8]).unwrap(); // the child takes this one, then sleeps
    child.kill();
    for seq in 1..50 {
        publ.send_timeout(&message(seq)[..8], WAIT).unwrap();
    }
}
