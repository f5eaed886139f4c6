//! The payload sweep (`latency_sweep`): one-way latency (half a round trip, busy-poll where
//! the transport can poll) at 64 B, 1 KiB, 16 KiB, 256 KiB, 1 MiB and 4 MiB, for the shmkit
//! channel, the typed channel, a broadcast with one subscriber, iceoryx2 (with its feature)
//! and a Unix socket.
//!
//! What the application does per message, the same for every transport and on both sides of
//! the ping-pong: the sender writes **every byte** of the payload (a `memset` with the
//! message's number: an application produces its data; into the loan for the zero-copy
//! transports, into its own buffer for the socket, whose kernel then copies it twice), and the
//! receiver reads the **first and last byte** in place (for the socket: after `read_exact`
//! into its buffer). The echo answers each message with a fresh one of the same size, written
//! the same way. So no line is flat: a zero-copy transport still pays the sender's writing and
//! the lines' moving to the other CPU; what differs is the copies. The socket is non-blocking
//! and both its sides poll it (`WouldBlock` → spin), as the shmkit sides spin: the row is the
//! kernel's copies and system calls, not a sleeping reader's wake-up.
//!
//! Each row is timed per message ([`crate::channel::one_way`]); the ratio is of medians, to the
//! shmkit channel at the same size.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::Stdio;

use shmkit::channel::{self, broadcast, WaitStrategy};
use shmkit::sync::{Pod, Zeroable};

use crate::channel::{one_way, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const BENCH: &str = "latency_sweep";
pub const TITLE: &str = "one-way latency by payload size, busy-poll (half a round trip; the sender writes every byte, the receiver reads the first and last in place)";

/// The sizes of the full run.
pub const SIZES: [usize; 6] = [64, 1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20];
/// The sizes of `--quick`.
const QUICK_SIZES: [usize; 3] = [64, 16 << 10, 1 << 20];

/// Round trips as `(batches, per)` for `size`: about the same time per size, at least 1 000
/// messages so p99.9 means something.
fn plan(size: usize, quick: bool) -> (usize, usize) {
    if quick {
        return (2, 50);
    }
    match size {
        s if s <= 16 << 10 => (20, 1000),
        s if s <= 256 << 10 => (10, 300),
        _ => (10, 100),
    }
}

/// Which transport a side uses (the child's first argument).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Typed,
    Broadcast,
    Unix,
}

impl Kind {
    fn arg(self) -> &'static str {
        match self {
            Kind::Channel => "channel",
            Kind::Typed => "typed",
            Kind::Broadcast => "broadcast",
            Kind::Unix => "unix",
        }
    }

    fn of(s: &str) -> Kind {
        match s {
            "channel" => Kind::Channel,
            "typed" => Kind::Typed,
            "broadcast" => Kind::Broadcast,
            _ => Kind::Unix,
        }
    }
}

/// Ring capacity for messages of `size`: room for two frames at least.
fn capacity(size: usize) -> usize {
    (2 * (size + 64)).max(1 << 16)
}

/// Writes every byte of a payload: the application's work on the sending side.
#[inline]
fn produce(buf: &mut [u8], i: usize) {
    buf.fill(i as u8);
}

/// Reads the first and last byte of a payload in place: the receiving side's work.
#[inline]
fn consume(buf: &[u8]) {
    black_box(buf[0]);
    black_box(buf[buf.len() - 1]);
}

/// A typed message of `N` bytes.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct Bytes<const N: usize>([u8; N]);

// SAFETY: a transparent wrapper of `[u8; N]`, which is zeroable, has no padding, and every bit
// pattern of which is valid.
unsafe impl<const N: usize> Zeroable for Bytes<N> {}
// SAFETY: as above; `Bytes<N>` is `Copy + 'static`.
unsafe impl<const N: usize> Pod for Bytes<N> {}

/// Writes every byte of a typed loan in place and commits it.
fn typed_send<const N: usize>(tx: &mut channel::typed::Producer<Bytes<N>>, i: usize) {
    let mut loan = tx.loan().unwrap();
    // SAFETY: `as_uninit` is the loan's `N` bytes, writable and this loan's alone; writing all
    // of them initialises the `Bytes<N>` (no padding), as `assume_init` requires.
    let written = unsafe {
        loan.as_uninit()
            .as_mut_ptr()
            .cast::<u8>()
            .write_bytes(i as u8, N);
        loan.assume_init()
    };
    written.commit();
}

/// One ping-pong of `kind` at `size`: the parent side.
fn measure(kind: Kind, size: usize, quick: bool) -> Summary {
    let (batches, per) = plan(size, quick);
    let total = ((batches + 1) * per).to_string();
    let (ping, pong) = (unique("sping"), unique("spong"));
    let sz = size.to_string();
    let args = [kind.arg(), &ping, &pong, &sz, &total];
    match kind {
        Kind::Channel => {
            let o = || {
                let mut o = channel::options();
                o.capacity(capacity(size))
                    .wait_strategy(WaitStrategy::BusyPoll);
                o
            };
            let mut tx = o().create_producer(&ping).unwrap();
            let mut rx = o().create_consumer(&pong).unwrap();
            let mut child = spawn("sweep-echo", &args, Stdio::inherit());
            let mut i = 0;
            let s = one_way(batches, per, || {
                let mut loan = tx.loan(size).unwrap();
                produce(&mut loan, i);
                loan.commit();
                consume(&rx.recv().unwrap());
                i += 1;
            });
            assert!(child.wait().unwrap().success());
            s
        }
        Kind::Typed => typed_sizes(size, &ping, &pong, &args, batches, per),
        Kind::Broadcast => {
            let o = || {
                let mut o = broadcast::options();
                o.slot_size(size)
                    .slots(4)
                    .max_subscribers(1)
                    .wait_strategy(WaitStrategy::BusyPoll);
                o
            };
            let mut publ = o().create_publisher(&ping).unwrap();
            let children = crate::broadcast::subscribers(1, "sweep-echo", &args);
            let mut sub = o().open_subscriber(&pong).unwrap();
            let mut i = 0;
            let s = one_way(batches, per, || {
                let mut loan = publ.loan(size).unwrap();
                produce(&mut loan, i);
                loan.commit();
                consume(&sub.recv().unwrap());
                i += 1;
            });
            crate::broadcast::reap(children);
            s
        }
        Kind::Unix => unix(size, &args, batches, per),
    }
}

#[cfg(unix)]
fn unix(size: usize, args: &[&str], batches: usize, per: usize) -> Summary {
    let path = std::env::temp_dir().join(args[1]);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut a: Vec<&str> = args.to_vec();
    a[1] = path.to_str().unwrap();
    let mut child = spawn("sweep-echo", &a, Stdio::inherit());
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; size];
    let mut i = 0;
    let s = one_way(batches, per, || {
        produce(&mut buf, i);
        spin_write(&mut conn, &buf);
        spin_read(&mut conn, &mut buf);
        consume(&buf);
        i += 1;
    });
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_file(&path);
    s
}

/// `read_exact` on a non-blocking socket, polling (`WouldBlock`) as the shmkit sides spin.
fn spin_read(conn: &mut impl Read, buf: &mut [u8]) {
    let mut at = 0;
    while at < buf.len() {
        match conn.read(&mut buf[at..]) {
            Ok(0) => panic!("the peer closed the socket"),
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("socket read: {e}"),
        }
    }
}

/// `write_all` on a non-blocking socket, polling while its buffer is full.
fn spin_write(conn: &mut impl Write, buf: &[u8]) {
    let mut at = 0;
    while at < buf.len() {
        match conn.write(&buf[at..]) {
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("socket write: {e}"),
        }
    }
}

#[cfg(not(unix))]
fn unix(_: usize, _: &[&str], _: usize, _: usize) -> Summary {
    unreachable!("no Unix socket row off Unix")
}

/// The typed rows: one message type per size.
fn typed_sizes(
    size: usize,
    ping: &str,
    pong: &str,
    args: &[&str],
    batches: usize,
    per: usize,
) -> Summary {
    fn run<const N: usize>(
        ping: &str,
        pong: &str,
        args: &[&str],
        batches: usize,
        per: usize,
    ) -> Summary {
        let o = || {
            let mut o = channel::typed::<Bytes<N>>();
            o.capacity(capacity(N))
                .wait_strategy(WaitStrategy::BusyPoll);
            o
        };
        let mut tx = o().create_producer(ping).unwrap();
        let mut rx = o().create_consumer(pong).unwrap();
        let mut child = spawn("sweep-echo", args, Stdio::inherit());
        let mut i = 0;
        let s = one_way(batches, per, || {
            typed_send(&mut tx, i);
            consume(&rx.recv().unwrap().0);
            i += 1;
        });
        assert!(child.wait().unwrap().success());
        s
    }
    match size {
        64 => run::<64>(ping, pong, args, batches, per),
        1024 => run::<1024>(ping, pong, args, batches, per),
        16384 => run::<16384>(ping, pong, args, batches, per),
        262144 => run::<262144>(ping, pong, args, batches, per),
        1048576 => run::<1048576>(ping, pong, args, batches, per),
        4194304 => run::<4194304>(ping, pong, args, batches, per),
        _ => unreachable!("no typed message of {size} bytes"),
    }
}

/// The echo side of the typed rows.
fn typed_echo<const N: usize>(ping: &str, pong: &str, count: usize) {
    let o = || {
        let mut o = channel::typed::<Bytes<N>>();
        o.wait_strategy(WaitStrategy::BusyPoll);
        o
    };
    let mut rx = o().open_consumer(ping).unwrap();
    let mut tx = o().open_producer(pong).unwrap();
    for i in 0..count {
        consume(&rx.recv().unwrap().0);
        typed_send(&mut tx, i);
    }
}

/// The child side; false for a role that is not this module's.
pub fn child(role: &str, args: &[String]) -> bool {
    if role != "sweep-echo" {
        return false;
    }
    let (kind, ping, pong) = (Kind::of(&args[0]), &args[1], &args[2]);
    let size: usize = args[3].parse().unwrap();
    let count: usize = args[4].parse().unwrap();
    match kind {
        Kind::Channel => {
            let o = || {
                let mut o = channel::options();
                o.wait_strategy(WaitStrategy::BusyPoll);
                o
            };
            let mut rx = o().open_consumer(ping).unwrap();
            let mut tx = o().open_producer(pong).unwrap();
            for i in 0..count {
                consume(&rx.recv().unwrap());
                let mut loan = tx.loan(size).unwrap();
                produce(&mut loan, i);
                loan.commit();
            }
        }
        Kind::Typed => match size {
            64 => typed_echo::<64>(ping, pong, count),
            1024 => typed_echo::<1024>(ping, pong, count),
            16384 => typed_echo::<16384>(ping, pong, count),
            262144 => typed_echo::<262144>(ping, pong, count),
            1048576 => typed_echo::<1048576>(ping, pong, count),
            _ => typed_echo::<4194304>(ping, pong, count),
        },
        Kind::Broadcast => {
            let o = || {
                let mut o = broadcast::options();
                o.slot_size(size)
                    .slots(4)
                    .max_subscribers(1)
                    .wait_strategy(WaitStrategy::BusyPoll);
                o
            };
            let mut sub = o().open_subscriber(ping).unwrap();
            let mut publ = o().create_publisher(pong).unwrap();
            crate::broadcast::subscribed();
            for i in 0..count {
                consume(&sub.recv().unwrap());
                let mut loan = publ.loan(size).unwrap();
                produce(&mut loan, i);
                loan.commit();
            }
        }
        Kind::Unix => {
            #[cfg(unix)]
            {
                let mut conn = std::os::unix::net::UnixStream::connect(ping).unwrap();
                conn.set_nonblocking(true).unwrap();
                let mut buf = vec![0u8; size];
                for i in 0..count {
                    spin_read(&mut conn, &mut buf);
                    consume(&buf);
                    produce(&mut buf, i);
                    spin_write(&mut conn, &buf);
                }
            }
        }
    }
    true
}

/// The `latency_sweep` table.
pub fn run(quick: bool) -> Vec<Row> {
    pin(0);
    let sizes: &[usize] = if quick { &QUICK_SIZES } else { &SIZES };
    let mut kinds = vec![
        ("shmkit channel", Kind::Channel),
        ("shmkit typed channel", Kind::Typed),
        ("shmkit broadcast, 1 subscriber", Kind::Broadcast),
    ];
    if cfg!(unix) {
        kinds.push(("Unix socket", Kind::Unix));
    }
    let mut rows = Vec::new();
    for &size in sizes {
        let label = |name: &str| -> &'static str {
            Box::leak(format!("{name}, {}", size_name(size)).into_boxed_str())
        };
        let base = Row::base(
            BENCH,
            label(kinds[0].0),
            measure(Kind::Channel, size, quick),
        )
        .moving(size as u64);
        let mut others = Vec::new();
        for &(name, kind) in &kinds[1..] {
            let s = measure(kind, size, quick);
            others.push(Row::vs(BENCH, label(name), s, &base).moving(size as u64));
        }
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        {
            let (batches, per) = plan(size, quick);
            let s = crate::iceoryx::sweep_latency(size, batches, per);
            others.push(Row::vs(BENCH, label("iceoryx2"), s, &base).moving(size as u64));
        }
        rows.push(base);
        rows.extend(others);
    }
    rows
}

/// "64 B", "16 KiB", "4 MiB".
pub fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}
