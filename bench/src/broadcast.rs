//! Broadcast benchmarks, all cross-process (the subscribers are this binary, re-executed):
//!
//! * `broadcast_64KiB`: 64 KiB messages, every subscriber process copies every message out
//!   (`recv_into`), for 1, 2 and 4 subscribers;
//! * `broadcast_1MiB`: 1 MiB messages doing the throughput tables' application work: the
//!   publisher writes every byte of message `i` into a loan, every subscriber reads every byte
//!   back and checks it — in place (`recv` → `Sample`) or copied out (`recv_into`). The
//!   baseline is the SPSC channel's zero-copy stream doing the same work for one consumer.
//!   Under back-pressure the publisher runs at the pace of the slowest subscriber, so its
//!   time per message is the channel's. Apart from that, the publisher's own cost per message
//!   (`loan` + `commit`, without the fill) is measured under the overwrite policy, where it
//!   never waits for a subscriber: the protocol's cost, and how it grows with subscribers.
//!   With the `iceoryx2` feature (Linux), iceoryx2's publish-subscribe does the same work for
//!   1 and 4 subscribers (see `crate::iceoryx::Broadcast`), timed the same way.
//!
//! * in `latency_64B_busy_poll`: the channel's 64-byte `BusyPoll` ping-pong over two
//!   broadcasts of one subscriber each (see [`latency`]).
//!
//! Every subscriber runs on the child CPU (see `sync::pin`): on a 2-CPU machine the four
//! subscribers share one CPU, so "4 subscribers" measures four checks of every message on
//! one core.

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::process::{Child, Stdio};
use std::time::Instant;

use shmkit::channel::broadcast::{self, Policy};
use shmkit::channel::{self, WaitStrategy};
use shmkit::Error;

use crate::channel::{rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;
use crate::throughput::{check, fill, stream_capacity};

pub const BCAST: &str = "broadcast_64KiB";
pub const BCAST_TITLE: &str =
    "broadcast, 64 KiB messages, each subscriber process copies each message out (per message; GiB/s per subscriber)";
pub const BCAST_1MIB: &str = "broadcast_1MiB";
pub const BCAST_1MIB_TITLE: &str = "broadcast, 1 MiB messages written in place, every subscriber process checks every byte (time per message; GiB/s per subscriber)";

/// The child side of the broadcast benches; false if `role` is not one of them.
pub fn child(role: &str, args: &[String]) -> bool {
    match role {
        "bcast-sub" => {
            let mut sub = broadcast::options().open_subscriber(&args[0]).unwrap();
            subscribed();
            let mut buf = Vec::new();
            for _ in 0..args[1].parse::<usize>().unwrap() {
                sub.recv_into(&mut buf).unwrap();
                black_box(&buf);
            }
        }
        "bcast-spsc-check" => {
            let mut rx = channel::options().open_consumer(&args[0]).unwrap();
            for i in 0..args[1].parse::<usize>().unwrap() {
                check(&rx.recv().unwrap(), i);
            }
        }
        "bcast-1mib-sub" => {
            let wait = if args[2] == "overwrite-busy" {
                WaitStrategy::BusyPoll
            } else {
                WaitStrategy::Adaptive
            };
            let mut sub = broadcast::options()
                .wait_strategy(wait)
                .open_subscriber(&args[0])
                .unwrap();
            subscribed();
            let count: usize = args[1].parse().unwrap();
            let mut buf = Vec::new();
            match args[2].as_str() {
                "in-place" => {
                    for i in 0..count {
                        check(&sub.recv().unwrap(), i);
                    }
                }
                // The iceoryx2 subscribers' loop (`crate::iceoryx::broadcast_subscriber`):
                // try to receive, else yield the CPU; never sleep.
                "in-place-yield" => {
                    for i in 0..count {
                        let s = loop {
                            match sub.try_recv() {
                                Ok(s) => break s,
                                Err(Error::WouldBlock { .. }) => std::thread::yield_now(),
                                Err(e) => panic!("{e}"),
                            }
                        };
                        check(&s, i);
                    }
                }
                "copy" => {
                    for i in 0..count {
                        sub.recv_into(&mut buf).unwrap();
                        check(&buf, i);
                    }
                }
                _ => loop {
                    // Overwrite: check whatever arrives, until the publisher is gone.
                    match sub.recv() {
                        Ok(s) => check(&s, s.seq() as usize),
                        Err(Error::Lagged { .. }) => {}
                        Err(Error::Disconnected { .. }) => break,
                        Err(e) => panic!("{e}"),
                    }
                },
            }
        }
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        "iceoryx2-bcast-sub" => crate::iceoryx::broadcast_subscriber(
            &args[0],
            args[1].parse().unwrap(),
            subscribed,
            check,
        ),
        "bcast-echo" => {
            let busy = || {
                let mut o = broadcast::options();
                o.slot_size(64)
                    .max_subscribers(1)
                    .wait_strategy(WaitStrategy::BusyPoll);
                o
            };
            let mut sub = busy().open_subscriber(&args[0]).unwrap();
            let mut publ = busy().create_publisher(&args[1]).unwrap();
            // The parent subscribes to the pong broadcast before its first ping, so every
            // echo below has its subscriber.
            subscribed();
            for _ in 0..args[2].parse::<usize>().unwrap() {
                let m = sub.recv().unwrap();
                let mut loan = publ.loan(m.len()).unwrap();
                loan.copy_from_slice(&m);
                drop(m);
                loan.commit();
            }
        }
        _ => return false,
    }
    true
}

/// One-way latency of a 64-byte `BusyPoll` ping-pong over broadcasts with one subscriber
/// each, as the channel's `latency_64B_busy_poll`: `send` there, `recv()` in place back,
/// while the child echoes each message with a loan written in place.
pub fn latency(batches: usize, per: usize) -> Summary {
    let (ping, pong) = (unique("bping"), unique("bpong"));
    let busy = || {
        let mut o = broadcast::options();
        o.slot_size(64)
            .max_subscribers(1)
            .wait_strategy(WaitStrategy::BusyPoll);
        o
    };
    let mut publ = busy().create_publisher(&ping).unwrap();
    let total = ((batches + 1) * per).to_string();
    let children = subscribers(1, "bcast-echo", &[&ping, &pong, &total]);
    let mut sub = busy().open_subscriber(&pong).unwrap();
    let msg = [7u8; 64];
    // As the channel bench: send a constant message, receive without reading the payload.
    let s = crate::channel::one_way(batches, per, || {
        publ.send(&msg).unwrap();
        drop(black_box(sub.recv().unwrap()));
    });
    reap(children);
    s
}

pub(crate) fn subscribed() {
    let mut out = std::io::stdout();
    writeln!(out, "subscribed").unwrap();
    out.flush().unwrap();
}

/// Starts `n` subscriber processes of `role` with `args` and waits until all have joined.
pub(crate) fn subscribers(n: usize, role: &str, args: &[&str]) -> Vec<Child> {
    let mut children: Vec<Child> = (0..n).map(|_| spawn(role, args, Stdio::piped())).collect();
    for c in &mut children {
        let mut line = String::new();
        std::io::BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "subscribed");
    }
    children
}

pub(crate) fn reap(children: Vec<Child>) {
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
}

/// Broadcast read bandwidth: one publisher, `n` subscriber processes each copying every
/// message out (back-pressure, so the publisher runs at the pace of the slowest).
fn broadcast(n: usize, size: usize, count: usize) -> Summary {
    let name = unique("bcast");
    let mut publ = broadcast::options()
        .slots(32)
        .slot_size(size)
        .max_subscribers(n)
        .create_publisher(&name)
        .unwrap();
    let children = subscribers(n, "bcast-sub", &[&name, &count.to_string()]);
    let msg = vec![0x5au8; size];
    let batch = 32;
    let mut v = Vec::new();
    for _ in 0..count / batch {
        let t = Instant::now();
        for _ in 0..batch {
            publ.send(&msg).unwrap();
        }
        v.push(t.elapsed() / batch as u32);
    }
    reap(children);
    // The first batches fill the ring before any back-pressure; drop them.
    v.drain(..v.len().min(2));
    Summary::of(&mut v)
}

/// Broadcast table: per-message time (so per-subscriber bandwidth) for 1, 2 and 4 subscribers.
pub fn broadcast_table(quick: bool) -> Vec<Row> {
    pin(0);
    let size = 64 << 10;
    let count = if quick { 32 * 8 } else { 32 * 200 };
    let one = Row::base(BCAST, "1 subscriber", broadcast(1, size, count)).moving(size as u64);
    let two = Row::vs(BCAST, "2 subscribers", broadcast(2, size, count), &one).moving(size as u64);
    let four = Row::vs(BCAST, "4 subscribers", broadcast(4, size, count), &one).moving(size as u64);
    vec![one, two, four]
}

/// Runs `one(i)` for `i` in `0..count` and reports the time per message of batches of
/// [`BATCH`] after the first `warm`: a producer under back-pressure alternates runs of quick
/// messages (room in the ring) with waits, so single-message times would show the fill, not
/// the pace.
fn batched(count: usize, warm: usize, mut one: impl FnMut(usize)) -> Summary {
    for i in 0..warm {
        one(i);
    }
    let mut v = Vec::new();
    let mut i = warm;
    while i + BATCH <= count {
        let t = Instant::now();
        for _ in 0..BATCH {
            one(i);
            i += 1;
        }
        v.push(t.elapsed() / BATCH as u32);
    }
    Summary::of(&mut v)
}

const BATCH: usize = 16;

/// Slots of the 1 MiB broadcasts: 4 MiB of buffer, as the SPSC baseline's ring
/// ([`stream_capacity`] of 1 MiB), so that both stream through the same amount of memory
/// (with 8 slots the broadcast's 8 MiB of buffer left the caches more often than the ring).
const SLOTS_1MIB: usize = 4;

/// The baseline: the SPSC channel doing the same work, timed the same way — this process
/// writes every byte of each message into a loan, a consumer process checks it in place.
fn spsc_zero_copy(size: usize, count: usize, warm: usize) -> Summary {
    let name = unique("bcspsc");
    let mut tx = channel::options()
        .capacity(stream_capacity(size))
        .create_producer(&name)
        .unwrap();
    let mut child = spawn(
        "bcast-spsc-check",
        &[&name, &count.to_string()],
        Stdio::inherit(),
    );
    let s = batched(count, warm, |i| {
        let mut loan = tx.loan(size).unwrap();
        fill(&mut loan, i);
        loan.commit();
    });
    assert!(child.wait().unwrap().success());
    s
}

/// One publisher writing every byte of `count` messages of `size` bytes in place, `n`
/// subscriber processes checking each (`how`: "in-place" or "copy"), back-pressure: the
/// publisher's time per message (the pace of the slowest subscriber).
fn broadcast_1mib(n: usize, how: &str, size: usize, count: usize, warm: usize) -> Summary {
    let name = unique("bc1m");
    let mut publ = broadcast::options()
        .slots(SLOTS_1MIB)
        .slot_size(size)
        .max_subscribers(n)
        .create_publisher(&name)
        .unwrap();
    let children = subscribers(n, "bcast-1mib-sub", &[&name, &count.to_string(), how]);
    let s = batched(count, warm, |i| {
        let mut loan = publ.loan(size).unwrap();
        fill(&mut loan, i);
        loan.commit();
    });
    reap(children);
    s
}

/// iceoryx2 doing [`broadcast_1mib`]'s work, timed the same way: this process writes every
/// byte of each message into a loan and sends it (waiting while a subscriber's queue is full),
/// `n` subscriber processes check every byte in place.
#[cfg(all(target_os = "linux", feature = "iceoryx2"))]
fn iceoryx2_1mib(n: usize, size: usize, count: usize, warm: usize) -> Summary {
    let publ = crate::iceoryx::Broadcast::create(n, size);
    let children = subscribers(n, "iceoryx2-bcast-sub", &[&publ.name, &count.to_string()]);
    let s = batched(count, warm, |i| publ.send(i, crate::throughput::pattern));
    reap(children);
    s
}

/// The publisher's own time per message, `loan` + `commit` without the fill, with `n`
/// subscriber processes checking in place, under overwrite (so it never waits for them);
/// `how` is "overwrite" (subscribers wait adaptively: they sleep, and a commit wakes them)
/// or "overwrite-busy" (they busy-poll: no wake-up).
pub(crate) fn publisher_own(
    n: usize,
    how: &str,
    size: usize,
    count: usize,
    warm: usize,
) -> Summary {
    let name = unique("bcown");
    let mut publ = broadcast::options()
        .slots(SLOTS_1MIB)
        .slot_size(size)
        .max_subscribers(n)
        .policy(Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let children = subscribers(n, "bcast-1mib-sub", &[&name, &count.to_string(), how]);
    let mut v = Vec::with_capacity(count - warm);
    for i in 0..count {
        let t = Instant::now();
        let mut loan = publ.loan(size).unwrap();
        let mut own = t.elapsed();
        fill(&mut loan, i);
        let t = Instant::now();
        loan.commit();
        own += t.elapsed();
        if i >= warm {
            v.push(own);
        }
    }
    drop(publ);
    reap(children);
    Summary::of(&mut v)
}

/// The 1 MiB table: each variant in rotating order, three rounds (one with `quick`).
pub fn broadcast_1mib_table(quick: bool) -> Vec<Row> {
    pin(0);
    let size = 1usize << 20;
    let (count, warm) = if quick { (80, 16) } else { (560, 48) };
    let b = size as u64;
    #[allow(unused_mut)] // extended with iceoryx2 below
    let mut variants: Vec<Box<dyn Fn() -> Summary>> = vec![
        Box::new(move || spsc_zero_copy(size, count, warm)),
        Box::new(move || broadcast_1mib(1, "in-place", size, count, warm)),
        Box::new(move || broadcast_1mib(2, "in-place", size, count, warm)),
        Box::new(move || broadcast_1mib(4, "in-place", size, count, warm)),
        Box::new(move || broadcast_1mib(4, "copy", size, count, warm)),
        Box::new(move || publisher_own(1, "overwrite", size, count, warm)),
        Box::new(move || publisher_own(2, "overwrite", size, count, warm)),
        Box::new(move || publisher_own(4, "overwrite", size, count, warm)),
        Box::new(move || publisher_own(4, "overwrite-busy", size, count, warm)),
        Box::new(move || broadcast_1mib(4, "in-place-yield", size, count, warm)),
    ];
    #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
    {
        variants.push(Box::new(move || iceoryx2_1mib(1, size, count, warm)));
        variants.push(Box::new(move || iceoryx2_1mib(4, size, count, warm)));
        // got[9] is the yield-polling variant above; iceoryx2 is got[10] and got[11].
    }
    let got = rotate(&variants, if quick { 1 } else { 3 });
    let spsc = Row::base(BCAST_1MIB, "spsc zero-copy", got[0]).moving(b);
    let own = Row::base(
        BCAST_1MIB,
        "publisher's loan + commit, 1 subscriber",
        got[5],
    );
    #[allow(unused_mut)] // extended with iceoryx2 below
    let mut rows = vec![
        Row::vs(BCAST_1MIB, "1 subscriber, in place", got[1], &spsc).moving(b),
        Row::vs(BCAST_1MIB, "2 subscribers, in place", got[2], &spsc).moving(b),
        Row::vs(BCAST_1MIB, "4 subscribers, in place", got[3], &spsc).moving(b),
        Row::vs(BCAST_1MIB, "4 subscribers, copying", got[4], &spsc).moving(b),
        Row::vs(
            BCAST_1MIB,
            "4 subscribers, in place, polling with yield",
            got[9],
            &spsc,
        )
        .moving(b),
        Row::vs(
            BCAST_1MIB,
            "publisher's loan + commit, 2 subscribers",
            got[6],
            &own,
        ),
        Row::vs(
            BCAST_1MIB,
            "publisher's loan + commit, 4 subscribers",
            got[7],
            &own,
        ),
        Row::vs(
            BCAST_1MIB,
            "publisher's loan + commit, 4 busy-polling subscribers",
            got[8],
            &own,
        ),
    ];
    #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
    {
        let ice1 = Row::vs(BCAST_1MIB, "iceoryx2, 1 subscriber", got[10], &spsc).moving(b);
        let ice4 = Row::vs(BCAST_1MIB, "iceoryx2, 4 subscribers", got[11], &spsc).moving(b);
        rows.push(Row::vs(
            BCAST_1MIB,
            "1 subscriber, in place, vs iceoryx2",
            got[1],
            &ice1,
        ));
        rows.push(Row::vs(
            BCAST_1MIB,
            "4 subscribers, in place, vs iceoryx2",
            got[3],
            &ice4,
        ));
        rows.push(Row::vs(
            BCAST_1MIB,
            "4 subscribers, polling with yield, vs iceoryx2",
            got[9],
            &ice4,
        ));
        rows.push(ice1);
        rows.push(ice4);
    }
    rows.push(spsc);
    rows.push(own);
    rows
}
