//! Typed channels: values and slices across processes, loans written in place, the layout
//! check (also against a separately built program), and fuzzed segments opened as typed
//! channels.

use proptest::prelude::*;
use shmkit::channel;
use shmkit::sync::{Pod, Zeroable};
use shmkit::{Access, Error, Segment};

use crate::typed_common::{self as common, Kind, WAIT};
use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("typed_recv_readings", child_recv_readings),
    ("typed_send_slices", child_send_slices),
];

pub(crate) const TAG: &str = "reading v1";

/// The layout `examples/typed_peer.rs` defines on its own as `Reading`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub(crate) struct Reading {
    seq: u64,
    value: f64,
    sensor: u32,
    flags: u32,
}

pub(crate) fn reading(i: u64) -> Reading {
    Reading {
        seq: i,
        value: i as f64 * 0.5,
        sensor: (i % 7) as u32,
        flags: !(i as u32),
    }
}

/// Slice message `m`: up to 300 values.
fn samples(m: usize) -> Vec<u16> {
    (0..(m * 37) % 301)
        .map(|i| (m * 31 + i * 7) as u16)
        .collect()
}

/// Child: receives `args[1]` readings from `args[0]`, alternating in place, copy and
/// copy-into, and checks each.
fn child_recv_readings(args: &[String]) {
    let mut rx = channel::typed::<Reading>()
        .tag(TAG)
        .open_consumer(&args[0])
        .unwrap();
    let n: u64 = args[1].parse().unwrap();
    let mut into = Reading::zeroed();
    for i in 0..n {
        let got = match i % 3 {
            0 => *rx.recv_timeout(WAIT).unwrap(),
            1 => rx.recv_copy_timeout(WAIT).unwrap(),
            _ => {
                rx.recv_into_timeout(&mut into, WAIT).unwrap();
                into
            }
        };
        assert_eq!(got, reading(i), "message {i}");
    }
    println!("received {n}");
}

/// Child: sends `args[1]` slices of u16 on `args[0]`, each written a different way.
fn child_send_slices(args: &[String]) {
    let mut tx = channel::typed::<u16>().open_producer(&args[0]).unwrap();
    for m in 0..args[1].parse().unwrap() {
        common::send_slice_a_way!(tx, m, &samples(m)[..]);
    }
}

#[test]
fn values_round_trip_across_processes() {
    let name = NameGuard::new("typed-values");
    let mut tx = channel::typed::<Reading>()
        .tag(TAG)
        .capacity(4096)
        .create_producer(&name)
        .unwrap();
    const N: u64 = 3000; // many laps of a 4 KiB ring
    let child = util::spawn("typed_recv_readings", &[&name, &N.to_string()]);
    for i in 0..N {
        match i % 3 {
            0 => tx.send_timeout(&reading(i), WAIT).unwrap(),
            1 => tx.loan_timeout(WAIT).unwrap().write(reading(i)).commit(),
            _ => {
                let mut w = tx.loan_timeout(WAIT).unwrap().zeroed();
                let r = reading(i);
                (w.seq, w.value, w.sensor, w.flags) = (r.seq, r.value, r.sensor, r.flags);
                w.commit();
            }
        }
    }
    let out = child.wait();
    out.assert_success();
    assert!(out.stdout.contains(&format!("received {N}")), "{out:?}");
}

#[test]
fn slices_round_trip_across_processes() {
    let name = NameGuard::new("typed-slices");
    let mut rx = channel::typed::<u16>()
        .capacity(8192)
        .create_consumer(&name)
        .unwrap();
    const N: usize = 400;
    let child = util::spawn("typed_send_slices", &[&name, &N.to_string()]);
    common::recv_slices_checked!(rx, N, samples);
    child.wait().assert_success();
    // The producer is gone and everything was received.
    assert!(matches!(
        rx.try_recv_slice(),
        Err(Error::Disconnected { .. })
    ));
}

#[test]
fn loans_are_written_in_place_and_only_written_loans_commit() {
    let name = NameGuard::new("typed-loans");
    let mut tx = channel::typed::<Reading>()
        .capacity(4096)
        .create_producer(&name)
        .unwrap();
    let mut rx = channel::typed::<Reading>().open_consumer(&name).unwrap();

    // Field by field through the uninitialised slot.
    let mut loan = tx.loan().unwrap();
    let slot = loan.as_uninit().as_mut_ptr();
    // SAFETY: `slot` points to the loan's `Reading`; every field is written before
    // `assume_init`.
    let written = unsafe {
        std::ptr::addr_of_mut!((*slot).seq).write(1);
        std::ptr::addr_of_mut!((*slot).value).write(2.0);
        std::ptr::addr_of_mut!((*slot).sensor).write(3);
        std::ptr::addr_of_mut!((*slot).flags).write(4);
        loan.assume_init()
    };
    written.commit();
    assert_eq!(
        *rx.recv().unwrap(),
        Reading {
            seq: 1,
            value: 2.0,
            sensor: 3,
            flags: 4
        }
    );

    // Dropped loans, written or not, publish nothing.
    drop(tx.loan().unwrap());
    drop(tx.loan().unwrap().write(reading(9)));
    drop(tx.loan_slice(3).unwrap().zeroed());
    assert!(matches!(rx.try_recv(), Err(Error::WouldBlock { .. })));

    // A written loan can be changed in place before commit.
    let mut w = tx.try_loan().unwrap().write(reading(5));
    w.flags = 77;
    w.commit();
    let got = rx.try_recv_copy().unwrap();
    assert_eq!((got.seq, got.flags), (5, 77));

    // A slice loan that panics while being filled publishes nothing.
    let filled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let w = tx.loan_slice(4).unwrap().write_with(|i| {
            assert!(i < 2, "fill fails midway");
            reading(i as u64)
        });
        w.commit();
    }));
    assert!(filled.is_err());
    assert!(matches!(rx.try_recv(), Err(Error::WouldBlock { .. })));

    // Slices: the longest, and an empty one.
    let max = tx.max_slice_len();
    assert_eq!(max, (4096 / 2 - 8) / 24);
    tx.loan_slice(max).unwrap().zeroed().commit();
    assert_eq!(rx.recv_slice().unwrap().len(), max);
    assert!(matches!(
        tx.loan_slice(max + 1),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        tx.loan_slice(usize::MAX),
        Err(Error::SizeInvalid { .. })
    ));
    tx.send_slice(&[]).unwrap();
    assert!(rx.recv_slice().unwrap().is_empty());
}

/// The `LayoutMismatch` of opening `name` as a consumer of `T` (with `tag`), as text.
fn mismatch<T: Pod>(name: &str, tag: Option<&str>) -> String {
    common::mismatch::<T>(Kind::Channel, name, tag)
}

#[test]
fn another_layout_is_a_typed_error_naming_both() {
    let name = NameGuard::new("typed-layout");
    let mut tx = channel::typed::<[u32; 4]>()
        .tag("quad v1")
        .create_producer(&name)
        .unwrap();
    common::assert_other_layouts_are_refused(Kind::Channel, &name);
    // The right type still opens: a refused open claimed nothing.
    let mut rx = channel::typed::<[u32; 4]>()
        .tag("quad v1")
        .open_consumer(&name)
        .unwrap();
    // A typed channel may be opened as bytes; a byte channel may not be opened as typed.
    drop(rx.try_recv());
    drop(rx);
    let mut bytes = channel::open_consumer(&name).unwrap();
    tx.send(&[1, 2, 3, 4]).unwrap();
    assert_eq!(bytes.recv().unwrap().len(), 16);

    let raw = NameGuard::new("typed-bytes");
    let _bytes_tx = channel::create_producer(&raw, 4096).unwrap();
    let e = mismatch::<u64>(&raw, None);
    assert!(
        e.contains("byte channel") && e.contains("8-byte messages"),
        "{e}"
    );
}

#[test]
fn long_tags_are_compared_whole_and_shown_truncated() {
    let name = NameGuard::new("typed-longtag");
    let long = "é".repeat(30); // 60 bytes, more than the 47 kept
    let _tx = channel::typed::<u32>()
        .tag(&format!("{long}A"))
        .create_producer(&name)
        .unwrap();
    let e = mismatch::<u32>(&name, Some(&format!("{long}B")));
    // The whole tags differ; the stored text is cut at a character boundary and marked.
    assert!(e.contains(&format!("\"{}…\"", "é".repeat(23))), "{e}");
    assert!(e.contains(&format!("\"{long}B\"")), "{e}");
    // The text is for display only: rewritten to look like the opener's tag, it still
    // differs in the fingerprint, which the error then shows.
    util::raw_view(&name)
        .write_at(TAG_TEXT, &[1, b'B'])
        .unwrap();
    let e = mismatch::<u32>(&name, Some("B"));
    assert_eq!(e.matches("tag \"B\", fingerprint 0x").count(), 2, "{e}");
}

#[test]
fn a_message_that_is_not_a_whole_value_is_corrupt_and_dropped() {
    let name = NameGuard::new("typed-len");
    let mut rx = channel::typed::<u32>()
        .capacity(4096)
        .create_consumer(&name)
        .unwrap();
    let mut tx = channel::options().open_producer(&name).unwrap(); // a byte producer
    tx.send(b"abc").unwrap();
    tx.send(&7u32.to_ne_bytes()).unwrap();
    tx.send(b"abcdef").unwrap();
    tx.send(&[0; 12]).unwrap();
    assert!(matches!(rx.try_recv(), Err(Error::Corrupt { .. })));
    assert_eq!(*rx.try_recv().unwrap(), 7);
    assert!(matches!(rx.try_recv_slice(), Err(Error::Corrupt { .. })));
    assert!(matches!(rx.try_recv_copy(), Err(Error::Corrupt { .. }))); // 12 bytes: 3 u32s
    assert!(matches!(rx.try_recv(), Err(Error::WouldBlock { .. })));
}

/// Runs `examples/typed_peer.rs` (built separately, with its own `Reading`) as the
/// consumer of `name`; returns its output.
fn run_peer(layout: &str, name: &str, count: usize) -> (bool, String) {
    let out = std::process::Command::new(util::example("typed_peer"))
        .args([layout, name, &count.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.success(),
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn a_separately_built_program_with_the_same_struct_interoperates() {
    let name = NameGuard::new("typed-peer");
    let mut tx = channel::typed::<Reading>()
        .tag(TAG)
        .capacity(1 << 16)
        .create_producer(&name)
        .unwrap();
    for i in 0..3 {
        tx.send(&reading(i)).unwrap();
    }
    let (ok, out) = run_peer("same", &name, 3);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().nth(2),
        Some(&*format!("got {:?}", reading(2))),
        "{out}"
    );
}

#[test]
fn a_separately_built_program_with_another_struct_is_refused() {
    let name = NameGuard::new("typed-peer-other");
    let _tx = channel::typed::<Reading>()
        .tag(TAG)
        .create_producer(&name)
        .unwrap();
    let (ok, out) = run_peer("other", &name, 1);
    common::assert_peer_refused(ok, &out);
}

/// Offsets in a channel segment (see `channel/layout.rs`).
const PARAMS: usize = 32;
const TAG_TEXT: usize = 80;
const RING: usize = 384;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A typed channel whose header parameters, tag text or ring were overwritten with
    /// arbitrary bytes — or a segment of arbitrary bytes that only claims to be a channel —
    /// opens as a typed error or a working channel, and receiving from it gives values or
    /// typed errors: never a crash, a hang or undefined behaviour.
    #[test]
    fn opening_random_bytes_as_a_typed_channel_never_crashes(
        real in any::<bool>(),
        at in prop_oneof![Just(PARAMS), Just(TAG_TEXT), RING..RING + 4096],
        junk in proptest::collection::vec(any::<u8>(), 1..64),
        random in proptest::collection::vec(any::<u8>(), 64..2048),
    ) {
        let name = NameGuard::new("typed-fuzz");
        if real {
            // Kept, so that the name outlives the producer, which is dropped to free its role;
            // and a raw handle stays open meanwhile, because on Windows a mapping lives only
            // while someone has it open.
            let mut tx = channel::typed::<Reading>()
                .tag(TAG)
                .capacity(4096)
                .keep(true)
                .create_producer(&name)
                .unwrap();
            tx.send(&reading(1)).unwrap();
            tx.send_slice(&[reading(2), reading(3)]).unwrap();
            let raw = Segment::open(&name).unwrap();
            drop(tx);
            let mut view = raw.map(Access::ReadWrite).unwrap();
            let end = (at + junk.len()).min(view.len());
            view.write_at(at, &junk[..end - at]).unwrap();
            drop(view);
            probe(&name);
        } else {
            let mut bytes = random;
            util::claim_header(&mut bytes, 5); // a channel
            let _seg = util::segment_of(&name, &bytes);
            probe(&name);
        }
    }
}

/// Opens `name` as a typed consumer and producer every way, and receives what is there.
fn probe(name: &str) {
    let typed = || {
        let mut o = channel::typed::<Reading>();
        o.tag(TAG);
        o
    };
    if let Ok(mut rx) = typed().open_consumer(name) {
        common::try_every_recv!(rx);
    }
    if let Ok(mut tx) = typed().open_producer(name) {
        let _ = tx.try_send(&reading(4));
        let _ = tx.try_loan_slice(3).map(|l| l.zeroed().commit());
    }
    let _ = channel::typed::<u8>()
        .open_consumer(name)
        .map(|mut rx| rx.try_recv_slice().map(|s| s.len()));
}
