//! The role words of `crate::liveness`: joins racing for one place, an eviction racing the
//! successor's join.

use super::*;

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
            .create_publisher(&name)
            .unwrap();
        let other = {
            let name = name.clone();
            thread::spawn(move || broadcast::options().open_subscriber(&name))
        };
        let mine = broadcast::options().open_subscriber(&name);
        let theirs = other.join().unwrap();
        match (&mine, &theirs) {
            (Ok(_), Err(Error::Full { .. })) | (Err(Error::Full { .. }), Ok(_)) => {}
            (a, b) => panic!("one place, two joins: {:?} and {:?}", a.is_ok(), b.is_ok()),
        }
        assert_eq!(publ.subscribers(), 1);
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
            .wait_strategy(WaitStrategy::Blocking);
        o
    };
    let mut publ = options().create_publisher(&name).unwrap();
    let dead = options().open_subscriber(&name).unwrap();
    publ.send(&message(1)).unwrap();
    dead.vanish();
    let publisher = thread::spawn(move || {
        // The ring is full for the dead subscriber: `try_send` scans, tests, evicts.
        send_retrying(|| publ.try_send(&message(2)));
        publ
    });
    let mut sub = match options().open_subscriber(&name) {
        Ok(sub) => sub,
        Err(Error::Full { .. }) => panic!("the newcomer was evicted while joining"),
        Err(e) => panic!("subscribe: {e}"),
    };
    let publ = publisher.join().unwrap();
    assert_eq!(publ.subscribers(), 1, "the newcomer was evicted");
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
