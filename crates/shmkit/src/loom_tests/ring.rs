//! The SPSC ring (`channel::spsc`, through the public `Producer` and `Consumer`).

use super::*;

/// Sends `n` 16-byte messages through a real 64-byte channel with `try_send` and receives
/// them on another thread with `try_recv` (retrying with a yield). With 16-byte messages
/// (24-byte frames) the third message wraps: a pad, then the first frame's bytes again, so
/// the producer reuses what the consumer released.
fn transfer(n: u8, mutation: Mutation) {
    begin(mutation);
    let name = unique("ring");
    let mut producer = channel::options()
        .capacity(64)
        .wait_strategy(WaitStrategy::Blocking)
        .create_producer(&name)
        .unwrap();
    let mut consumer = channel::options()
        .wait_strategy(WaitStrategy::Blocking)
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

/// The blocking calls, as they ship (`WaitStrategy::Blocking`: the wait loop sleeps at once, in
/// liveness slices, which loom models as yields).
#[test]
fn blocking_send_and_recv_deliver() {
    model(|| {
        begin(Mutation::None);
        let name = unique("block");
        let mut producer = channel::options()
            .capacity(64)
            .wait_strategy(WaitStrategy::Blocking)
            .create_producer(&name)
            .unwrap();
        let mut consumer = channel::options()
            .wait_strategy(WaitStrategy::Blocking)
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
