//! The C API's cost: the channel's 64 B busy-poll hop and its 1 MiB zero-copy stream, through
//! `libshmkit_c`'s entry points, as ratios to the same work through the Rust API in the same
//! run (issue 22's goal: within 5 %).
//!
//! Both processes of the C rows call the C entry points (`shmkit_producer_loan`,
//! `shmkit_consumer_recv`, …): the exact functions a C program calls, linked statically here
//! (a C program calling `libshmkit_c.so` pays one more indirect jump per call, through the
//! PLT, on top). What is measured is therefore what the C layer adds to a message: the status
//! and panic handling of each call, the handle checks, the loan and message held in the
//! handle. The work per message is the Rust rows' work: the hop sends a constant 64 B message
//! and the echo copies it into a loan; the stream fills every byte and checks every byte.

use std::ffi::{c_void, CString};
use std::hint::black_box;
use std::process::Stdio;

use shmkit_c::*;

use crate::channel::{one_way, rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;
use crate::throughput::{check, fill, stream_capacity};

/// The table's key.
pub const BENCH: &str = "c_api";
/// The table's title.
pub const TITLE: &str =
    "the C API vs the Rust API, same work (64 B busy-poll hop, 1 MiB zero-copy stream)";

/// Panics with the C API's message unless `s` is `SHMKIT_OK`.
fn ok(s: shmkit_status, what: &str) {
    if s != shmkit_status::SHMKIT_OK {
        // SAFETY: shmkit_last_error returns a NUL-terminated string valid until the next call.
        let msg = unsafe { std::ffi::CStr::from_ptr(shmkit_last_error()) };
        panic!("{what}: {s:?}: {}", msg.to_string_lossy());
    }
}

fn options(capacity: usize, busy: bool) -> shmkit_channel_options {
    let mut o = shmkit_channel_options_default();
    o.capacity = capacity;
    o.open_timeout_ns = 10_000_000_000;
    if busy {
        o.wait_strategy = shmkit_wait_strategy::SHMKIT_WAIT_BUSY_POLL as i32;
    }
    o
}

/// A producer made through the C API; closed on drop.
struct Producer(*mut shmkit_producer);
/// A consumer made through the C API; closed on drop.
struct Consumer(*mut shmkit_consumer);

impl Producer {
    fn create(name: &str, o: &shmkit_channel_options) -> Producer {
        let (name, mut p) = (CString::new(name).unwrap(), std::ptr::null_mut());
        // SAFETY: a C string, valid options, a writable out-parameter.
        ok(
            unsafe { shmkit_channel_create_producer(name.as_ptr(), o, &mut p) },
            "create producer",
        );
        Producer(p)
    }

    fn open(name: &str, o: &shmkit_channel_options) -> Producer {
        let (name, mut p) = (CString::new(name).unwrap(), std::ptr::null_mut());
        // SAFETY: as in `create`.
        ok(
            unsafe { shmkit_channel_open_producer(name.as_ptr(), o, &mut p) },
            "open producer",
        );
        Producer(p)
    }

    /// Loans `len` bytes, lets `write` fill them in place, commits.
    fn loan_commit(&mut self, len: usize, write: impl FnOnce(&mut [u8])) {
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live producer handle, used by this thread alone; a writable out-parameter.
        ok(
            unsafe { shmkit_producer_loan(self.0, len, SHMKIT_FOREVER, &mut data) },
            "loan",
        );
        // SAFETY: the loan is `len` writable bytes, this side's alone until the commit below.
        write(unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), len) });
        // SAFETY: the live handle, which holds the loan.
        ok(unsafe { shmkit_producer_commit(self.0, len) }, "commit");
    }

    fn send(&mut self, msg: &[u8]) {
        // SAFETY: a live handle; `msg` is `msg.len()` readable bytes.
        let s =
            unsafe { shmkit_producer_send(self.0, msg.as_ptr().cast(), msg.len(), SHMKIT_FOREVER) };
        ok(s, "send");
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // SAFETY: the handle this value owns, not used again.
        unsafe { shmkit_producer_close(self.0) }
    }
}

impl Consumer {
    fn create(name: &str, o: &shmkit_channel_options) -> Consumer {
        let (name, mut c) = (CString::new(name).unwrap(), std::ptr::null_mut());
        // SAFETY: a C string, valid options, a writable out-parameter.
        ok(
            unsafe { shmkit_channel_create_consumer(name.as_ptr(), o, &mut c) },
            "create consumer",
        );
        Consumer(c)
    }

    fn open(name: &str, o: &shmkit_channel_options) -> Consumer {
        let (name, mut c) = (CString::new(name).unwrap(), std::ptr::null_mut());
        // SAFETY: as in `create`.
        ok(
            unsafe { shmkit_channel_open_consumer(name.as_ptr(), o, &mut c) },
            "open consumer",
        );
        Consumer(c)
    }

    /// Receives the next message in place, gives it to `read`, releases it.
    fn recv_release<R>(&mut self, read: impl FnOnce(&[u8]) -> R) -> R {
        let (mut data, mut len): (*const c_void, usize) = (std::ptr::null(), 0);
        // SAFETY: a live consumer handle, used by this thread alone; writable out-parameters.
        ok(
            unsafe { shmkit_consumer_recv(self.0, SHMKIT_FOREVER, &mut data, &mut len) },
            "recv",
        );
        // SAFETY: the message is `len` bytes the producer no longer writes, held by this handle
        // until the release below (a cooperating peer: the benchmark's own child).
        let r = read(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) });
        // SAFETY: the live handle, which holds the message.
        ok(unsafe { shmkit_consumer_release(self.0) }, "release");
        r
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // SAFETY: the handle this value owns, not used again.
        unsafe { shmkit_consumer_close(self.0) }
    }
}

/// One-way latency of a `BusyPoll` ping-pong through the C API, as `channel.rs`'s Rust one.
fn hop(batches: usize, per: usize) -> Summary {
    let (ping, pong) = (unique("cping"), unique("cpong"));
    let o = options(1 << 20, true);
    let mut tx = Producer::create(&ping, &o);
    let mut rx = Consumer::create(&pong, &o);
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn("capi-echo", &[&ping, &pong, &total], Stdio::inherit());
    let msg = [7u8; 64];
    let s = one_way(batches, per, || {
        tx.send(&msg);
        rx.recv_release(|m| black_box(m.len()));
    });
    assert!(child.wait().unwrap().success());
    s
}

/// Time per 1 MiB message of a zero-copy stream through the C API, as `throughput.rs`'s
/// Rust one: the child fills each loan, the parent checks each message in place.
fn stream(size: usize, count: usize, warm: usize) -> Summary {
    let name = unique("cstream");
    let mut rx = Consumer::create(&name, &options(stream_capacity(size), false));
    let mut child = spawn(
        "capi-stream",
        &[&name, &size.to_string(), &count.to_string()],
        Stdio::inherit(),
    );
    let s = crate::throughput::time_messages(count, warm, |i| rx.recv_release(|m| check(m, i)));
    assert!(child.wait().unwrap().success());
    s
}

/// The child sides; false for a role that is not this module's.
pub fn child(role: &str, args: &[String]) -> bool {
    match role {
        "capi-echo" => {
            pin(1);
            let o = options(0, true);
            let rx = Consumer::open(&args[0], &o);
            let tx = Producer::open(&args[1], &o);
            for _ in 0..args[2].parse::<usize>().unwrap() {
                // As the Rust echo, in its order: the message is copied into a loan while it
                // is held, released, then the loan is committed.
                let (mut data, mut len): (*const c_void, usize) = (std::ptr::null(), 0);
                // SAFETY: a live handle; writable out-parameters.
                ok(
                    unsafe { shmkit_consumer_recv(rx.0, SHMKIT_FOREVER, &mut data, &mut len) },
                    "recv",
                );
                let mut out: *mut c_void = std::ptr::null_mut();
                // SAFETY: a live producer handle, used by this thread alone; a writable
                // out-parameter.
                ok(
                    unsafe { shmkit_producer_loan(tx.0, len, SHMKIT_FOREVER, &mut out) },
                    "loan",
                );
                // SAFETY: the held message is `len` bytes nobody writes until it is released
                // below; the loan is `len` writable bytes, this side's alone until the commit.
                unsafe { std::ptr::copy_nonoverlapping(data.cast::<u8>(), out.cast::<u8>(), len) };
                // SAFETY: the live handle, which holds the message.
                ok(unsafe { shmkit_consumer_release(rx.0) }, "release");
                // SAFETY: the live handle, which holds the loan.
                ok(unsafe { shmkit_producer_commit(tx.0, len) }, "commit");
            }
        }
        "capi-stream" => {
            let size: usize = args[1].parse().unwrap();
            let mut tx = Producer::open(&args[0], &options(0, false));
            for i in 0..args[2].parse::<usize>().unwrap() {
                tx.loan_commit(size, |loan| fill(loan, i));
            }
        }
        _ => return false,
    }
    true
}

/// The table: each C row as a ratio to its Rust twin, measured in rotating rounds.
pub fn run(quick: bool) -> Vec<Row> {
    pin(0);
    let (batches, per) = if quick { (10, 100) } else { (100, 1000) };
    let (size, count) = (1usize << 20, if quick { 50 } else { 400 });
    let warm = (count / 8).max(1);
    type Variant = Box<dyn Fn() -> Summary>;
    let variants: Vec<Variant> = vec![
        Box::new(move || crate::channel::busy_latency(batches, per)),
        Box::new(move || hop(batches, per)),
        Box::new(move || crate::throughput::shmkit_stream(size, count, warm, true)),
        Box::new(move || stream(size, count, warm)),
    ];
    let got = rotate(&variants, if quick { 1 } else { 5 });
    let rust_hop = Row::base(BENCH, "Rust API: channel 64 B hop, BusyPoll", got[0]);
    let rust_stream =
        Row::base(BENCH, "Rust API: 1 MiB zero-copy stream", got[2]).moving(size as u64);
    vec![
        Row::vs(
            BENCH,
            "C API: channel 64 B hop, BusyPoll",
            got[1],
            &rust_hop,
        ),
        Row::vs(BENCH, "C API: 1 MiB zero-copy stream", got[3], &rust_stream).moving(size as u64),
        rust_hop,
        rust_stream,
    ]
}
