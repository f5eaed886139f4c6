//! The typed channel's latency: the `latency_64B_busy_poll` ping-pong of `channel.rs`, with
//! a 64-byte `#[repr(C)]` struct instead of 64 bytes, so the two rows compare what the typed
//! layer adds (the length check on receive, the typed loan) to the byte channel it wraps.

use std::hint::black_box;
use std::process::Stdio;

use shmkit::channel::{self, WaitStrategy};
use shmkit::sync::{Pod, Zeroable};

use crate::stats::Summary;

/// The message: 64 bytes, aligned to 8, as the byte bench's `[u8; 64]`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Msg64 {
    seq: u64,
    stamp: u64,
    values: [f32; 12],
}

const _: () = assert!(std::mem::size_of::<Msg64>() == 64);

/// One-way latency of a typed `BusyPoll` ping-pong: `send(&T)` there, `recv()` in place
/// back, while the child echoes each value with a loan written in place.
pub fn latency(batches: usize, per: usize) -> Summary {
    let (ping, pong) = (
        super::channel::unique("tping"),
        super::channel::unique("tpong"),
    );
    let typed = || {
        let mut o = channel::typed::<Msg64>();
        o.capacity(1 << 20).wait_strategy(WaitStrategy::BusyPoll);
        o
    };
    let mut tx = typed().create_producer(&ping).unwrap();
    let mut rx = typed().create_consumer(&pong).unwrap();
    let total = ((batches + 1) * per).to_string();
    let mut child = crate::channel::spawn("typed-echo", &[&ping, &pong, &total], Stdio::inherit());
    let msg = Msg64 {
        seq: 7,
        stamp: 7,
        values: [7.0; 12],
    };
    // As the byte bench: send a constant message, receive without reading the payload.
    let s = super::channel::one_way(batches, per, || {
        tx.send(&msg).unwrap();
        drop(black_box(rx.recv().unwrap()));
    });
    assert!(child.wait().unwrap().success());
    s
}

/// The child side of [`latency`]; false for a role that is not this module's.
pub fn child(role: &str, args: &[String]) -> bool {
    if role != "typed-echo" {
        return false;
    }
    let typed = || {
        let mut o = channel::typed::<Msg64>();
        o.wait_strategy(WaitStrategy::BusyPoll);
        o
    };
    let mut rx = typed().open_consumer(&args[0]).unwrap();
    let mut tx = typed().open_producer(&args[1]).unwrap();
    for _ in 0..args[2].parse::<usize>().unwrap() {
        let m = rx.recv().unwrap();
        let loan = tx.loan().unwrap().write(*m);
        drop(m);
        loan.commit();
    }
    true
}
