//! Typed broadcast: a struct to four subscriber processes under both policies, slices across
//! processes, loans written in place, the layout check, and fuzzed segments subscribed to as
//! typed broadcasts.

use std::time::Duration;

use proptest::prelude::*;
use shmkit::channel::broadcast::{self, Policy};
use shmkit::sync::{Pod, Zeroable};
use shmkit::{Access, Error, Segment};

use crate::typed::{reading, Reading, TAG as READING_TAG};
use crate::typed_common::{self as common, Kind, WAIT};
use crate::util::{self, say, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("tbc_recv_ticks", child_recv_ticks),
    ("tbc_recv_slices", child_recv_slices),
];

const TAG: &str = "tick v1";

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
struct Tick {
    seq: u64,
    price: f64,
    venue: u32,
    check: u32,
}

fn tick(i: u64) -> Tick {
    Tick {
        seq: i,
        price: i as f64 * 0.25,
        venue: (i % 5) as u32,
        check: !(i as u32).rotate_left(7),
    }
}

/// Slice message `m`: up to 256 values.
fn values(m: usize) -> Vec<u32> {
    (0..(m * 37) % 257).map(|i| (m * 1000 + i) as u32).collect()
}

fn typed_ticks() -> broadcast::typed::Options<Tick> {
    let mut o = broadcast::typed::<Tick>();
    o.tag(TAG);
    o
}

/// Child: args name, delay_us — subscribes, says "subscribed", receives until disconnected
/// (in place, copy, copy-into in turn; a non-zero delay is slept holding the in-place
/// sample, which is checked again after), checks every value and the order, and prints
/// "received R missed M".
fn child_recv_ticks(a: &[String]) {
    let mut sub = typed_ticks().open_subscriber(&a[0]).unwrap();
    let delay = Duration::from_micros(a[1].parse().unwrap());
    say("subscribed");
    let mut into = Tick::zeroed();
    util::receive_until_disconnected(|expect, received| {
        let got = match received % 3 {
            0 => sub.recv_timeout(WAIT).map(|s| {
                assert_eq!(s.seq(), expect);
                let v = *s;
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                    assert_eq!(*s, v, "overwritten while held");
                }
                v
            }),
            1 => sub.recv_copy_timeout(WAIT),
            _ => sub.recv_into_timeout(&mut into, WAIT).map(|()| into),
        };
        assert_eq!(got?, tick(expect), "value {expect}");
        Ok(())
    });
}

/// Publishes `tick(i)` for every `i` below `total`, each written a different way.
fn publish_ticks(publ: &mut broadcast::typed::Publisher<Tick>, total: u64) {
    for i in 0..total {
        match i % 4 {
            0 => publ.loan_timeout(WAIT).unwrap().write(tick(i)).commit(),
            1 => publ.send_timeout(&tick(i), WAIT).unwrap(),
            2 => {
                let mut w = publ.loan_timeout(WAIT).unwrap().zeroed();
                *w = tick(i);
                w.commit();
            }
            _ => {
                let mut loan = publ.loan_timeout(WAIT).unwrap();
                loan.as_uninit().write(tick(i));
                // SAFETY: the whole value was written just above.
                unsafe { loan.assume_init() }.commit();
            }
        }
    }
}

/// Four subscriber processes, the last one slow; returns each one's (received, missed).
fn run_four(policy: Policy, total: u64) -> Vec<(u64, u64)> {
    let name = NameGuard::new("tbc-four");
    let mut publ = typed_ticks()
        .slots(16)
        .max_subscribers(4)
        .policy(policy)
        .create_publisher(&name)
        .unwrap();
    util::four_subscribers("tbc_recv_ticks", &name, policy, move || {
        assert_eq!(publ.subscribers(), 4);
        publish_ticks(&mut publ, total);
    })
}

#[test]
fn a_struct_to_four_subscriber_processes_with_back_pressure_reaches_all() {
    util::assert_all_received(&run_four(Policy::Block, 2000), 2000);
}

#[test]
fn a_struct_to_four_subscriber_processes_with_overwrite_accounts_for_every_value() {
    util::assert_all_accounted_for(&run_four(Policy::Overwrite, 2000), 2000);
}

/// Child: args name, count — receives `count` slices of u32 (in place and copied out in
/// turn) and checks each; prints "slices N".
fn child_recv_slices(a: &[String]) {
    let mut sub = broadcast::typed::<u32>().open_subscriber(&a[0]).unwrap();
    say("subscribed");
    let n: usize = a[1].parse().unwrap();
    common::recv_slices_checked!(sub, n, values);
    say(&format!("slices {n}"));
}

#[test]
fn slices_round_trip_to_two_subscriber_processes() {
    let name = NameGuard::new("tbc-slices");
    let mut publ = broadcast::typed::<u32>()
        .slots(8)
        .max_slice_len(300)
        .create_publisher(&name)
        .unwrap();
    assert_eq!(publ.max_slice_len(), 300);
    let n = 400;
    let mut children: Vec<_> = (0..2)
        .map(|_| util::spawn("tbc_recv_slices", &[&name, &n.to_string()]))
        .collect();
    for c in &mut children {
        c.wait_for_line("subscribed");
    }
    for m in 0..n {
        common::send_slice_a_way!(publ, m, &values(m)[..]);
    }
    for c in children {
        let f = c.wait();
        f.assert_success();
        assert!(f.stdout.contains(&format!("slices {n}")), "{}", f.stdout);
    }
}

#[test]
fn loans_are_written_in_place_and_only_written_loans_commit() {
    let name = NameGuard::new("tbc-loans");
    let mut publ = typed_ticks().slots(4).create_publisher(&name).unwrap();
    let mut sub = typed_ticks().open_subscriber(&name).unwrap();
    assert_eq!(publ.subscribers(), 1);
    // A loan dropped unwritten, or written and dropped, publishes nothing.
    drop(publ.loan().unwrap());
    drop(publ.loan().unwrap().write(tick(99)));
    assert!(matches!(sub.try_recv(), Err(Error::WouldBlock { .. })));
    // Changed in place after writing.
    let mut w = publ.loan().unwrap().write(tick(1));
    w.price = 7.5;
    w.commit();
    let got = sub.recv().unwrap();
    assert_eq!((got.seq(), got.price, got.venue), (0, 7.5, 1));
    drop(got);
    // Slices: too long is refused; empty is a message; a single-value broadcast carries 1.
    assert_eq!(publ.max_slice_len(), 1);
    assert!(matches!(
        publ.try_loan_slice(2),
        Err(Error::SizeInvalid { .. })
    ));
    assert!(matches!(
        publ.loan_slice(usize::MAX),
        Err(Error::SizeInvalid { .. })
    ));
    publ.send_slice(&[]).unwrap();
    assert!(sub.recv_slice().unwrap().is_empty());
    // An empty message is not one value.
    publ.send_slice(&[]).unwrap();
    assert!(matches!(sub.try_recv(), Err(Error::Corrupt { .. })));
    publ.try_send(&tick(2)).unwrap();
    assert_eq!(sub.try_recv_copy().unwrap(), tick(2));
}

#[test]
fn another_layout_is_a_typed_error_naming_both() {
    let name = NameGuard::new("tbc-layout");
    let mut publ = broadcast::typed::<[u32; 4]>()
        .tag("quad v1")
        .max_subscribers(1)
        .create_publisher(&name)
        .unwrap();
    common::assert_other_layouts_are_refused(Kind::Broadcast, &name);
    // A broadcast's payloads are 16-aligned, so an alignment of 16 is possible: and refused.
    let e = common::layout_error(
        broadcast::typed::<u128>()
            .tag("quad v1")
            .open_subscriber(&name),
    );
    assert!(e.contains("align 4") && e.contains("align 16"), "{e}");
    let e = common::mismatch::<[u32; 4]>(Kind::Broadcast, &name, None);
    assert!(e.contains(&*name), "{e}");

    // A refused subscribe took no place (there is only one); the right type joins.
    let mut sub = broadcast::typed::<[u32; 4]>()
        .tag("quad v1")
        .open_subscriber(&name)
        .unwrap();
    publ.send(&[1, 2, 3, 4]).unwrap();
    assert_eq!(*sub.recv().unwrap(), [1, 2, 3, 4]);
    drop(sub);
    // A typed broadcast may be read as bytes ...
    let mut bytes = broadcast::options().open_subscriber(&name).unwrap();
    publ.send(&[5, 6, 7, 8]).unwrap();
    assert_eq!(bytes.recv().unwrap().len(), 16);

    // ... but a byte broadcast is not a typed one.
    let raw = NameGuard::new("tbc-bytes");
    let _raw_publ = broadcast::options().create_publisher(&raw).unwrap();
    let e = common::mismatch::<u64>(Kind::Broadcast, &raw, None);
    assert!(e.contains("bytes") && e.contains("8-byte messages"), "{e}");
}

/// Runs `examples/typed_peer.rs` (built separately, with its own `Reading`) as a subscriber
/// of `name`; once it has joined (or failed), publishes `count` readings; returns whether it
/// succeeded and its output.
fn run_peer(layout: &str, name: &str, count: u64) -> (bool, String) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut publ = broadcast::typed::<Reading>()
        .tag(READING_TAG)
        .create_publisher(name)
        .unwrap();
    let mut child = Command::new(util::example("typed_peer"))
        .args(["--broadcast", layout, name, &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    if first.trim() == "subscribed" {
        for i in 0..count {
            publ.send_timeout(&reading(i), WAIT).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let rest = String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        format!("{first}{rest}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn a_separately_built_subscriber_with_the_same_struct_interoperates() {
    let name = NameGuard::new("tbc-peer");
    let (ok, out) = run_peer("same", &name, 3);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().nth(3),
        Some(&*format!("got {:?}", reading(2))),
        "{out}"
    );
}

#[test]
fn a_separately_built_subscriber_with_another_struct_is_refused() {
    let name = NameGuard::new("tbc-peer-other");
    let (ok, out) = run_peer("other", &name, 1);
    common::assert_peer_refused(ok, &out);
}

/// Offsets in a broadcast segment (see `channel/broadcast/layout.rs`).
const PARAMS: usize = 32;
const RECORD: usize = 320;
const TABLE: usize = 384;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A typed broadcast whose header parameters, layout record, table or slots were
    /// overwritten with arbitrary bytes — or a segment of arbitrary bytes that only claims to
    /// be a broadcast — subscribes as a typed error or a working subscriber, and receiving
    /// gives values or typed errors: never a crash, a hang or undefined behaviour.
    #[test]
    fn subscribing_to_random_bytes_as_a_typed_broadcast_never_crashes(
        real in any::<bool>(),
        at in prop_oneof![Just(PARAMS), Just(RECORD), Just(RECORD + 16), TABLE..TABLE + 1024],
        junk in proptest::collection::vec(any::<u8>(), 1..64),
        random in proptest::collection::vec(any::<u8>(), 64..4096),
    ) {
        let name = NameGuard::new("tbc-fuzz");
        if real {
            // Kept, so that the name outlives the publisher; it is dropped before the
            // corruption, so subscribers meet a finished channel.
            let mut publ = typed_ticks()
                .slots(4)
                .max_slice_len(2)
                .max_subscribers(2)
                .keep(true)
                .create_publisher(&name)
                .unwrap();
            let mut early = typed_ticks().open_subscriber(&name).unwrap();
            publ.send(&tick(1)).unwrap();
            publ.send_slice(&[tick(2), tick(3)]).unwrap();
            drop(publ);
            let mut view = Segment::open(&name).unwrap().map(Access::ReadWrite).unwrap();
            let at = at.min(view.len() - 1);
            let end = (at + junk.len()).min(view.len());
            view.write_at(at, &junk[..end - at]).unwrap();
            drop(view);
            common::try_every_recv!(early);
            probe(&name);
        } else {
            let mut bytes = random;
            util::claim_header(&mut bytes, 6); // a broadcast
            let _seg = util::segment_of(&name, &bytes);
            probe(&name);
        }
    }
}

/// Subscribes to `name` as a typed broadcast every way, and receives what is there.
fn probe(name: &str) {
    if let Ok(mut sub) = typed_ticks().open_subscriber(name) {
        common::try_every_recv!(sub);
    }
    let _ = broadcast::typed::<u8>()
        .open_subscriber(name)
        .map(|mut s| s.try_recv_slice().map(|s| s.len()));
}

/// What a bridge relies on: a byte side reads the layout a typed broadcast or channel
/// records, a byte broadcast created with a layout admits exactly the typed subscribers of
/// that layout, and the sequence numbers say how many messages were published.
#[test]
fn byte_sides_read_and_record_layouts() -> shmkit::Result<()> {
    let name = util::unique("tbc-layout");
    let tick = shmkit::channel::MessageLayout::of::<Tick>(Some(TAG));
    {
        let mut publ = broadcast::typed::<Tick>()
            .tag(TAG)
            .create_publisher(&name)?;
        let sub = broadcast::options().open_subscriber(&name)?;
        assert_eq!(sub.message_layout()?, Some(tick.clone()));
        assert_eq!(sub.message_layout()?.unwrap().tag(), Some(TAG));
        assert_eq!(sub.next_seq(), 0);
        publ.send(&self::tick(1))?;
        publ.send(&self::tick(2))?;
        assert_eq!(publ.published(), 2);
        assert_eq!(broadcast::options().open_subscriber(&name)?.next_seq(), 2);
        assert_eq!(broadcast::published(&name)?, 2);
    }
    {
        // Recorded by a byte publisher that knows the layout only by numbers.
        let by_numbers = shmkit::channel::MessageLayout::new(
            std::mem::size_of::<Tick>() as u64,
            std::mem::align_of::<Tick>() as u64,
            Some(TAG),
        );
        assert_eq!(by_numbers, tick);
        let _publ = broadcast::options().create_publisher_with_layout(&name, &by_numbers)?;
        let typed = broadcast::typed::<Tick>().tag(TAG).open_subscriber(&name)?;
        assert_eq!(typed.name(), name);
        let other = broadcast::typed::<Tick>()
            .tag("tick v2")
            .open_subscriber(&name);
        assert!(
            matches!(other, Err(Error::LayoutMismatch { .. })),
            "{other:?}"
        );
    }
    {
        let _publ = broadcast::options().create_publisher(&name)?;
        assert_eq!(
            broadcast::options()
                .open_subscriber(&name)?
                .message_layout()?,
            None
        );
    }
    let chan = util::unique("tch-layout");
    let _tx = shmkit::channel::typed::<Tick>()
        .tag(TAG)
        .create_producer(&chan)?;
    let rx = shmkit::channel::options().open_consumer(&chan)?;
    assert_eq!(rx.message_layout()?, Some(tick.clone()));
    drop((_tx, rx));
    // A byte producer that knows the layout only by numbers records it too (`shmkit replay`).
    let by_numbers = shmkit::channel::MessageLayout::new(
        std::mem::size_of::<Tick>() as u64,
        std::mem::align_of::<Tick>() as u64,
        Some(TAG),
    );
    let mut tx = shmkit::channel::options().create_producer_with_layout(&chan, &by_numbers)?;
    let mut rx = shmkit::channel::typed::<Tick>()
        .tag(TAG)
        .open_consumer(&chan)?;
    tx.send(bytemuck::bytes_of(&self::tick(7)))?;
    assert_eq!(*rx.recv()?, self::tick(7));
    let other = shmkit::channel::typed::<Tick>()
        .tag("tick v2")
        .open_consumer(&chan);
    assert!(
        matches!(other, Err(Error::LayoutMismatch { .. })),
        "{other:?}"
    );
    assert_eq!(tick, by_numbers);
    Ok(())
}

/// What the C API's typed sides rely on: byte sides opened with a layout given by numbers
/// check it as typed sides do, with the same `LayoutMismatch` text (less the Rust type's
/// name, which a layout by numbers does not have).
#[test]
fn byte_sides_opened_with_a_layout_check_it_as_typed_sides_do() -> shmkit::Result<()> {
    use shmkit::channel::{self, MessageLayout};
    let by_numbers = |tag| {
        MessageLayout::new(
            std::mem::size_of::<Tick>() as u64,
            std::mem::align_of::<Tick>() as u64,
            Some(tag),
        )
    };
    let (tick, other) = (by_numbers(TAG), by_numbers("tick v2"));
    let type_name = format!(" ({})", std::any::type_name::<Tick>());

    // A typed channel: the right layout opens either side, another is refused.
    let chan = NameGuard::new("tch-by-numbers");
    // Kept, so that the sides can be opened again after the creator is gone.
    let mut tx = channel::typed::<Tick>()
        .tag(TAG)
        .keep(true)
        .create_producer(&chan)?;
    let mut rx = channel::options().open_consumer_with_layout(&chan, &tick)?;
    tx.send(&self::tick(3))?;
    assert_eq!(&*rx.recv()?, bytemuck::bytes_of(&self::tick(3)));
    let typed = common::mismatch::<Tick>(Kind::Channel, &chan, Some("tick v2"));
    let e = common::layout_error(channel::options().open_consumer_with_layout(&chan, &other));
    assert_eq!(typed.replace(&type_name, ""), e);
    assert!(
        e.contains("\"tick v1\"") && e.contains("\"tick v2\""),
        "{e}"
    );
    drop(tx);
    let _tx = channel::options().open_producer_with_layout(&chan, &tick)?;
    drop(rx);
    common::layout_error(channel::options().open_producer_with_layout(&chan, &other));
    common::layout_error(channel::options().open_or_create_consumer_with_layout(&chan, &other));
    assert!(!channel::options()
        .open_or_create_consumer_with_layout(&chan, &tick)?
        .is_creator());

    // Created with a layout by either side (or whichever comes first), a typed side joins.
    let made = NameGuard::new("tch-made-by-numbers");
    let rx = channel::options().open_or_create_consumer_with_layout(&made, &tick)?;
    assert!(rx.is_creator());
    let tx = channel::options().open_or_create_producer_with_layout(&made, &tick)?;
    assert!(!tx.is_creator());
    drop((tx, rx));
    let made2 = NameGuard::new("tch-made-by-numbers2");
    let _rx = channel::options().create_consumer_with_layout(&made2, &tick)?;
    let _tx = channel::typed::<Tick>().tag(TAG).open_producer(&made2)?;
    assert_eq!(_rx.message_layout()?, Some(tick.clone()));

    // A byte channel records no layout: refused, as a typed open is.
    let raw = NameGuard::new("tch-raw-by-numbers");
    let _raw_tx = channel::create_producer(&raw, 4096)?;
    let e = common::layout_error(channel::options().open_consumer_with_layout(&raw, &tick));
    assert!(
        e.contains("byte channel") && e.contains("tag \"tick v1\""),
        "{e}"
    );

    // A typed broadcast, and a byte one.
    let name = NameGuard::new("tbc-by-numbers");
    let mut publ = broadcast::typed::<Tick>()
        .tag(TAG)
        .create_publisher(&name)?;
    let mut sub = broadcast::options().open_subscriber_with_layout(&name, &tick)?;
    publ.send(&self::tick(4))?;
    assert_eq!(&*sub.recv()?, bytemuck::bytes_of(&self::tick(4)));
    let typed = common::mismatch::<Tick>(Kind::Broadcast, &name, Some("tick v2"));
    let e = common::layout_error(broadcast::options().open_subscriber_with_layout(&name, &other));
    assert_eq!(typed.replace(&type_name, ""), e);
    let raw = NameGuard::new("tbc-raw-by-numbers");
    let _raw_publ = broadcast::options().create_publisher(&raw)?;
    let e = common::layout_error(broadcast::options().open_subscriber_with_layout(&raw, &tick));
    assert!(e.contains("bytes") && e.contains("tag \"tick v1\""), "{e}");
    Ok(())
}
