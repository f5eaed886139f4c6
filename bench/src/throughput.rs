//! Throughput benchmarks, all cross-process (the child is this binary, re-executed), of
//! 1 MiB and 64 MiB messages. Every variant does the same application work: the producer writes every byte of message `i` (a pattern of `i`) and the consumer reads
//! every byte back and checks it, so the data really crosses from one CPU to the other and
//! the bench also proves it arrived intact. What differs is the transport: shmkit zero-copy
//! (the producer writes into a loan, the consumer checks in place: no copy at all), shmkit
//! copying (`send` from a buffer, `recv_into` a buffer: two copies in user space), a pipe,
//! a Unix socket and TCP loopback (two copies through the kernel). The yardstick is one
//! in-process `memcpy` of the same size.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Instant;

use shmkit::channel;

use crate::channel::{rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

/// The child side of the throughput benches; false if `role` is not one of them.
pub fn child(role: &str, args: &[String]) -> bool {
    match role {
        "chan-stream" => {
            let size: usize = args[1].parse().unwrap();
            let mut tx = channel::options().open_producer(&args[0]).unwrap();
            let mut buf = vec![0u8; size];
            for i in 0..args[2].parse::<usize>().unwrap() {
                if args[3] == "zero-copy" {
                    let mut loan = tx.loan(size).unwrap();
                    fill(&mut loan, i);
                    loan.commit();
                } else {
                    fill(&mut buf, i);
                    tx.send(&buf).unwrap();
                }
            }
        }
        "pipe-stream" | "unix-stream" | "tcp-stream" => {
            let size: usize = args[1].parse().unwrap();
            let mut buf = vec![0u8; size];
            let mut out: Box<dyn Write> = match role {
                "pipe-stream" => Box::new(std::io::stdout().lock()),
                #[cfg(unix)]
                "unix-stream" => {
                    Box::new(std::os::unix::net::UnixStream::connect(&args[0]).unwrap())
                }
                _ => Box::new(std::net::TcpStream::connect(&args[0]).unwrap()),
            };
            for i in 0..args[2].parse::<usize>().unwrap() {
                fill(&mut buf, i);
                out.write_all(&buf).unwrap();
            }
            out.flush().unwrap();
        }
        _ => return false,
    }
    true
}

/// The byte every position of message `i` holds.
pub(crate) fn pattern(i: usize) -> u8 {
    (i % 251) as u8 + 1
}

/// The producer's work: writes every byte of message `i`.
pub(crate) fn fill(msg: &mut [u8], i: usize) {
    msg.fill(pattern(i));
}

/// The consumer's work: reads every byte of message `i` and checks it (a sum of u64 words,
/// which the compiler vectorises: this runs at memory speed, not byte by byte).
pub(crate) fn check(msg: &[u8], i: usize) {
    let words = msg.chunks_exact(8);
    let tail: u64 = words.remainder().iter().map(|&b| u64::from(b)).sum();
    let sum = words.fold(0u64, |a, w| {
        a.wrapping_add(u64::from_ne_bytes(w.try_into().unwrap()))
    });
    let p = u64::from(pattern(i));
    let want = ((msg.len() / 8) as u64)
        .wrapping_mul(p * 0x0101_0101_0101_0101)
        .wrapping_add(p * (msg.len() % 8) as u64);
    assert_eq!(
        sum.wrapping_add(tail),
        want,
        "message {i} arrived corrupted"
    );
}

/// Receives `count` messages with `recv_one(i)` and times each after the first `warm`.
pub(crate) fn time_messages(count: usize, warm: usize, mut recv_one: impl FnMut(usize)) -> Summary {
    for i in 0..warm {
        recv_one(i);
    }
    let mut v = Vec::with_capacity(count - warm);
    for i in warm..count {
        let t = Instant::now();
        recv_one(i);
        v.push(t.elapsed());
    }
    Summary::of(&mut v)
}

/// The ring capacity the streaming benches use for `size`-byte messages: room for two
/// messages at any ring offset (max message = capacity / 2 - 8).
pub(crate) fn stream_capacity(size: usize) -> usize {
    (2 * (size + 8)).next_power_of_two()
}

/// A new segment the size of the channel's ring for `size`-byte messages, mapped, and how
/// many message-sized slots the `_alone` benches rotate through in it.
fn ring_sized(tag: &str, size: usize) -> (shmkit::Segment, shmkit::View, usize) {
    let cap = stream_capacity(size);
    let seg = shmkit::Segment::create(&unique(tag), cap).unwrap();
    let view = seg.map(shmkit::Access::ReadWrite).unwrap();
    (seg, view, cap / size - 1)
}

/// The producer's own work with no channel and no consumer: fill message after message in a
/// shared-memory segment the size of the channel's ring, at rotating offsets. The zero-copy
/// rows cannot beat it — the producer does exactly this and more — so it shows how much of
/// their time is the application's writing rather than the transfer.
fn fill_alone(size: usize, count: usize, warm: usize) -> Summary {
    let (_seg, mut view, slots) = ring_sized("fill", size);
    time_messages(count, warm, |i| {
        view.fill((i % slots) * size, size, pattern(i)).unwrap();
        black_box(&mut view);
    })
}

/// The consumer's own work with no channel and no producer: check message after message in a
/// segment the size of the ring, each filled just before (untimed) by this same process — one
/// message behind, as the producer runs ahead in the stream. The floor of the zero-copy rows
/// on the consumer's side (a lower one than the real case at 1 MiB, where the bytes come from
/// the other CPU's cache rather than this one's).
fn check_alone(size: usize, count: usize, warm: usize) -> Summary {
    let (_seg, mut view, slots) = ring_sized("check", size);
    let at = |i: usize| (i % slots) * size;
    view.fill(at(0), size, pattern(0)).unwrap();
    let mut v = Vec::with_capacity(count - warm);
    for i in 0..count {
        view.fill(at(i + 1), size, pattern(i + 1)).unwrap();
        let t = Instant::now();
        // SAFETY: this process created the segment under a unique name and is its only user;
        // nothing writes it while the slice lives.
        check(unsafe { &view.as_slice()[at(i)..at(i) + size] }, i);
        if i >= warm {
            v.push(t.elapsed());
        }
    }
    Summary::of(&mut v)
}

pub(crate) fn shmkit_stream(size: usize, count: usize, warm: usize, zero_copy: bool) -> Summary {
    let name = unique("stream");
    let cap = stream_capacity(size);
    let mut rx = channel::options()
        .capacity(cap)
        .create_consumer(&name)
        .unwrap();
    let how = if zero_copy { "zero-copy" } else { "copy" };
    let mut child = spawn(
        "chan-stream",
        &[&name, &size.to_string(), &count.to_string(), how],
        Stdio::inherit(),
    );
    let mut buf = Vec::with_capacity(size);
    let s = time_messages(count, warm, |i| {
        if zero_copy {
            check(&rx.recv().unwrap(), i);
        } else {
            rx.recv_into(&mut buf).unwrap();
            check(&buf, i);
        }
    });
    assert!(child.wait().unwrap().success());
    s
}

fn read_stream(mut input: impl Read, size: usize, count: usize, warm: usize) -> Summary {
    let mut buf = vec![0u8; size];
    time_messages(count, warm, |i| {
        input.read_exact(&mut buf).unwrap();
        check(&buf, i);
    })
}

fn pipe_stream(size: usize, count: usize, warm: usize) -> Summary {
    let mut child = spawn(
        "pipe-stream",
        &["-", &size.to_string(), &count.to_string()],
        Stdio::piped(),
    );
    let s = read_stream(child.stdout.take().unwrap(), size, count, warm);
    assert!(child.wait().unwrap().success());
    s
}

#[cfg(unix)]
fn unix_stream(size: usize, count: usize, warm: usize) -> Summary {
    let path = std::env::temp_dir().join(unique("sock"));
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut child = spawn(
        "unix-stream",
        &[
            path.to_str().unwrap(),
            &size.to_string(),
            &count.to_string(),
        ],
        Stdio::inherit(),
    );
    let (conn, _) = listener.accept().unwrap();
    let s = read_stream(conn, size, count, warm);
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_file(&path);
    s
}

fn tcp_stream(size: usize, count: usize, warm: usize) -> Summary {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut child = spawn(
        "tcp-stream",
        &[&addr, &size.to_string(), &count.to_string()],
        Stdio::inherit(),
    );
    let (conn, _) = listener.accept().unwrap();
    let s = read_stream(conn, size, count, warm);
    assert!(child.wait().unwrap().success());
    s
}

fn memcpy(size: usize, count: usize) -> Summary {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let mut v = Vec::with_capacity(count);
    dst.copy_from_slice(&src);
    for _ in 0..count {
        let t = Instant::now();
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
        v.push(t.elapsed());
    }
    Summary::of(&mut v)
}

/// Throughput tables for 1 MiB and 64 MiB messages.
pub fn throughput(quick: bool) -> Vec<Row> {
    pin(0);
    let mut rows = Vec::new();
    for (size, count, bench) in [
        (1usize << 20, 400, "throughput_1MiB"),
        (64 << 20, 24, "throughput_64MiB"),
    ] {
        let count = if quick { count / 8 } else { count };
        let warm = (count / 8).max(1);
        let b = size as u64;
        type Variant = Box<dyn Fn() -> Summary>;
        #[allow(unused_mut)] // extended per platform below
        let mut variants: Vec<Variant> = vec![
            Box::new(move || memcpy(size, count)),
            Box::new(move || shmkit_stream(size, count, warm, true)),
            Box::new(move || shmkit_stream(size, count, warm, false)),
            Box::new(move || pipe_stream(size, count, warm)),
            Box::new(move || tcp_stream(size, count, warm)),
        ];
        variants.push(Box::new(move || fill_alone(size, count, warm)));
        variants.push(Box::new(move || check_alone(size, count, warm)));
        #[cfg(unix)]
        variants.push(Box::new(move || unix_stream(size, count, warm)));
        let got = rotate(&variants, if quick { 1 } else { 3 });
        let pick = |i: usize| got[i];
        let (mc, zc, cp) = (pick(0), pick(1), pick(2));
        let mc = Row::base(bench, "memcpy, one process", mc).moving(b);
        let pipe = Row::base(bench, "pipe", pick(3)).moving(b);
        let tcp = Row::base(bench, "TCP loopback", pick(4)).moving(b);
        let fill = Row::base(bench, "producer's fill alone, no transfer", pick(5)).moving(b);
        let check = Row::base(bench, "consumer's check alone, no transfer", pick(6)).moving(b);
        rows.push(Row::vs(bench, "shmkit zero-copy (loan, in place)", zc, &mc).moving(b));
        rows.push(Row::vs(bench, "shmkit vs the fill alone", zc, &fill).moving(b));
        rows.push(Row::vs(bench, "shmkit vs the check alone", zc, &check).moving(b));
        rows.push(Row::vs(bench, "shmkit vs pipe", zc, &pipe).moving(b));
        #[cfg(unix)]
        let unix = Row::base(bench, "Unix socket", pick(7)).moving(b);
        #[cfg(unix)]
        rows.push(Row::vs(bench, "shmkit vs Unix socket", zc, &unix).moving(b));
        rows.push(Row::vs(bench, "shmkit vs TCP loopback", zc, &tcp).moving(b));
        rows.push(Row::vs(bench, "shmkit copying (send, recv_into)", cp, &mc).moving(b));
        rows.push(mc);
        rows.push(fill);
        rows.push(check);
        rows.push(pipe);
        #[cfg(unix)]
        rows.push(unix);
        rows.push(tcp);
    }
    rows
}

/// Titles of the throughput tables.
pub const TPUT_TITLES: [(&str, &str); 2] = [
    (
        "throughput_1MiB",
        "throughput, 1 MiB messages, producer process -> consumer process (time per message)",
    ),
    (
        "throughput_64MiB",
        "throughput, 64 MiB messages, producer process -> consumer process (time per message)",
    ),
];
