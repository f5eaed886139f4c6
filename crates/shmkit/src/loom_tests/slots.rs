//! The broadcast's slot protocol (`channel::broadcast`, through the public `Publisher` and
//! `Subscriber`): held samples under overwrite, back-pressure, a join racing a publish.

use super::*;

/// A real broadcast channel of `slots` 16-byte slots for one subscriber, and that subscriber
/// (joined before anything is published), both made on the main thread.
fn bcast(policy: Policy, slots: usize) -> (Publisher, Subscriber) {
    let name = unique("bcast");
    let publ = broadcast::options()
        .slots(slots)
        .slot_size(16)
        .max_subscribers(1)
        .policy(policy)
        .wait_strategy(WaitStrategy::Blocking)
        .create_publisher(&name)
        .unwrap();
    let sub = broadcast::options()
        .wait_strategy(WaitStrategy::Blocking)
        .open_subscriber(&name)
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
        .wait_strategy(WaitStrategy::Blocking)
        .create_publisher(&name)
        .unwrap();
    let sub = || {
        broadcast::options()
            .wait_strategy(WaitStrategy::Blocking)
            .open_subscriber(&name)
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

/// Join racing a publish (the subscribe protocol, `broadcast::Options::open_subscriber`): the
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
            .wait_strategy(WaitStrategy::Blocking)
            .create_publisher(&name)
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
            .wait_strategy(WaitStrategy::Blocking)
            .open_subscriber(&name)
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
