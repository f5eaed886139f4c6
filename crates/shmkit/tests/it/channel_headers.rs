//! The SPSC channel against bad input: foreign and corrupt segments, bogus positions, and
//! what a producer killed mid-publish leaves behind — each a typed error or a recovery,
//! never undefined behaviour.

use shmkit::channel;
use shmkit::{Error, Segment};

use crate::channel::{READ_POS, WRITE_POS};
use crate::util::{self, NameGuard};

#[test]
fn opening_checks_roles_and_headers() {
    let name = NameGuard::new("chopen");
    let _tx = channel::create_producer(&name, 100).unwrap();
    let rx = channel::open_consumer(&name).unwrap();
    assert_eq!(rx.capacity(), 128, "rounded up to a power of two");
    assert!(matches!(
        channel::open_consumer(&name),
        Err(Error::InUse {
            role: "consumer",
            ..
        })
    ));
    assert!(matches!(
        channel::options().open_producer(&name),
        Err(Error::InUse {
            role: "producer",
            ..
        })
    ));
    drop(rx);
    channel::open_consumer(&name).unwrap(); // a closed side can be claimed again

    let raw = NameGuard::new("chraw");
    let _seg = Segment::create(&raw, 8192).unwrap();
    assert!(matches!(
        channel::open_consumer(&raw),
        Err(Error::Corrupt { .. })
    ));
    let ev = NameGuard::new("chev");
    let _ev = shmkit::sync::Event::create(&ev, shmkit::sync::Reset::Auto).unwrap();
    assert!(matches!(
        channel::open_consumer(&ev),
        Err(Error::KindMismatch {
            expected: "channel",
            ..
        })
    ));
    assert!(matches!(
        channel::open_consumer(&NameGuard::new("chnone")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_corrupt_ring_is_an_error_not_undefined_behaviour() {
    let name = NameGuard::new("chcorrupt");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    tx.send(b"fine").unwrap();
    // Overwrite the first frame's header (ring starts at 384) with an absurd length.
    let mut v = util::raw_view(&name);
    v.write_at(384, &[0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0])
        .unwrap();
    assert!(matches!(rx.try_recv(), Err(Error::Corrupt { .. })));
    v.write_at(384, &[4, 0, 0, 0, 99, 0, 0, 0]).unwrap(); // unknown frame kind
    assert!(matches!(rx.try_recv(), Err(Error::Corrupt { .. })));
}

#[test]
fn a_bogus_consumer_position_is_an_error_not_an_overflow() {
    let name = NameGuard::new("chbogus");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let _rx = channel::open_consumer(&name).unwrap();
    let mut v = util::raw_view(&name);
    // The consumer's read_pos (offset 256): far ahead of the producer, then far behind it
    // (positions compare modulo 2^64, so "behind" wraps below zero).
    for bogus in [1 << 40, u64::MAX - (1 << 20)] {
        v.write_at(256, &bogus.to_ne_bytes()).unwrap();
        let mut sent = 0;
        let err = loop {
            match tx.try_send(&[7; 100]) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 4096, "a bogus position was never noticed");
        };
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    }
}

/// A producer killed after publishing a frame but before storing its write position leaves
/// the frame published and the stored position one frame behind. (The kill cannot be timed
/// between two stores from outside, so the test makes that state by rewinding the stored
/// position.) A new producer must go on after the frame — not overwrite it — whether or
/// not the consumer already received it.
#[test]
fn a_producer_that_died_before_counting_its_last_frame_loses_nothing() {
    for (already_received, wrap) in [(false, false), (true, false), (false, true), (true, true)] {
        let name = NameGuard::new("chrecover");
        let mut rx = channel::options()
            .capacity(1024)
            .create_consumer(&name)
            .unwrap();
        let mut v = util::raw_view(&name);
        let write_pos = |v: &shmkit::View| {
            u64::from_ne_bytes(v.read_vec(WRITE_POS, 8).unwrap().try_into().unwrap())
        };
        let mut tx = channel::options().open_producer(&name).unwrap();
        let mut got = Vec::new();
        if wrap {
            // Move both positions near the ring's end, so the next message needs a pad.
            for i in 0..9u8 {
                tx.send(&[i; 96]).unwrap();
                rx.try_recv().unwrap();
            }
        }
        tx.send(b"first").unwrap();
        let counted = write_pos(&v);
        tx.send(&[b's'; 200]).unwrap();
        drop(tx);
        v.write_at(WRITE_POS, &counted.to_ne_bytes()).unwrap();
        got.push(rx.try_recv().unwrap().to_vec());
        if already_received {
            got.push(rx.try_recv().unwrap().to_vec());
        }
        let mut tx = channel::options().open_producer(&name).unwrap();
        tx.send(b"after").unwrap();
        while got.len() < 3 {
            got.push(rx.try_recv().unwrap().to_vec());
        }
        let case = format!("received before: {already_received}, wrap: {wrap}");
        assert_eq!(got[0], b"first", "{case}");
        assert_eq!(got[1], [b's'; 200], "{case}");
        assert_eq!(got[2], b"after", "{case}");
        assert!(
            matches!(rx.try_recv(), Err(Error::WouldBlock { .. })),
            "{case}"
        );
        assert!(write_pos(&v) > counted, "{case}");
    }
}

#[test]
fn positions_that_are_not_frame_aligned_are_refused_on_open() {
    let name = NameGuard::new("chalign");
    let _tx = channel::create_producer(&name, 4096).unwrap();
    let mut v = util::raw_view(&name);
    v.write_at(READ_POS, &3u64.to_ne_bytes()).unwrap();
    assert!(matches!(
        channel::open_consumer(&name),
        Err(Error::Corrupt { .. })
    ));

    let name = NameGuard::new("chalign");
    let _rx = channel::options().create_consumer(&name).unwrap();
    let mut v = util::raw_view(&name);
    v.write_at(WRITE_POS, &4092u64.to_ne_bytes()).unwrap();
    assert!(matches!(
        channel::options().open_producer(&name),
        Err(Error::Corrupt { .. })
    ));
    // Aligned but more than a ring apart.
    v.write_at(WRITE_POS, &(1u64 << 40).to_ne_bytes()).unwrap();
    assert!(matches!(
        channel::options().open_producer(&name),
        Err(Error::Corrupt { .. })
    ));
    v.write_at(WRITE_POS, &0u64.to_ne_bytes()).unwrap();
    channel::options().open_producer(&name).unwrap();

    // A consumer re-attaching at a position that is aligned but rings ahead of the
    // producer's would deliver frames of an earlier lap again.
    let name = NameGuard::new("chfar");
    let mut tx = channel::create_producer(&name, 1024).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    for i in 0..20u8 {
        tx.send(&[i; 120]).unwrap(); // a 128-byte frame
        rx.try_recv().unwrap();
    }
    drop(rx);
    let mut v = util::raw_view(&name);
    let far = 20 * 128 + 5 * 1024 + 128u64;
    v.write_at(READ_POS, &far.to_ne_bytes()).unwrap();
    assert!(matches!(
        channel::open_consumer(&name),
        Err(Error::Corrupt { .. })
    ));
}
