//! Channel benchmarks, all cross-process (the child is this binary, re-executed):
//!
//! * one-way latency of a 64-byte message (half a round trip), busy-poll: shmkit channels
//!   in `BusyPoll` vs raw C-style spin ping-pongs (see [`Spin`]): one cache line and no
//!   payload (the yardstick), one line per direction, the classic one-slot recipe
//!   carrying the 64 bytes, and a ring of 72-byte frames (the floor of any ring), and vs
//!   iceoryx2;
//! * the same, blocking: shmkit channels in `Blocking` mode vs a raw futex ping-pong;
//! * throughput of 1 MiB and 64 MiB messages. Every variant does the same application work:
//!   the producer writes every byte of message `i` (a pattern of `i`) and the consumer reads
//!   every byte back and checks it, so the data really crosses from one CPU to the other and
//!   the bench also proves it arrived intact. What differs is the transport: shmkit zero-copy
//!   (the producer writes into a loan, the consumer checks in place: no copy at all), shmkit
//!   copying (`send` from a buffer, `recv_into` a buffer: two copies in user space), a pipe,
//!   a Unix socket and TCP loopback (two copies through the kernel). The yardstick is one
//!   in-process `memcpy` of the same size.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use shmkit::channel::{self, WaitMode};

use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const LAT_BUSY: &str = "latency_64B_busy_poll";
pub const LAT_BUSY_TITLE: &str = "one-way latency, 64 B, busy-poll (half a round trip)";
pub const LAT_BLOCK: &str = "latency_64B_blocking";
pub const LAT_BLOCK_TITLE: &str = "one-way latency, 64 B, blocking (half a round trip)";

const MSG: usize = 64;

pub(crate) fn unique(tag: &str) -> String {
    format!("shmkit-bench-{}-{tag}", std::process::id())
}

pub(crate) fn spawn(role: &str, args: &[&str], stdout: Stdio) -> Child {
    crate::child_command()
        .arg(role)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .spawn()
        .expect("spawn bench child")
}

fn mode_name(m: WaitMode) -> &'static str {
    match m {
        WaitMode::BusyPoll => "busy",
        _ => "blocking",
    }
}

fn mode_of(s: &str) -> WaitMode {
    if s == "busy" {
        WaitMode::BusyPoll
    } else {
        WaitMode::Blocking
    }
}

/// Times round trips in `batches` batches of `per` and reports half of each (one way).
pub(crate) fn one_way(batches: usize, per: usize, mut round_trip: impl FnMut()) -> Summary {
    for _ in 0..per {
        round_trip();
    }
    let mut v = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            round_trip();
        }
        v.push(t.elapsed() / (2 * per as u32));
    }
    Summary::of(&mut v)
}

fn shmkit_latency(mode: WaitMode, batches: usize, per: usize) -> Summary {
    let (ping, pong) = (unique("lping"), unique("lpong"));
    let mut tx = channel::options()
        .capacity(1 << 20)
        .wait_mode(mode)
        .create_producer(&ping)
        .unwrap();
    let mut rx = channel::options()
        .capacity(1 << 20)
        .wait_mode(mode)
        .create_consumer(&pong)
        .unwrap();
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn(
        "chan-echo",
        &[&ping, &pong, mode_name(mode), &total],
        Stdio::inherit(),
    );
    let msg = [7u8; MSG];
    let s = one_way(batches, per, || {
        tx.send(&msg).unwrap();
        black_box(rx.recv().unwrap().len());
    });
    assert!(child.wait().unwrap().success());
    s
}

/// Which raw spin ping-pong to run.
#[derive(Clone, Copy)]
enum Spin {
    /// One u64 on one cache line carries both directions: each side finds the line it writes
    /// already in its cache (it just read it), so one line crosses per hop. No pair of
    /// one-way channels can do this: the floor of the target.
    OneLine,
    /// One u64 per direction, on lines 128 bytes apart: the shape of any pair of one-way
    /// channels (each line has one writer; the other side polls it), so a hop moves the line
    /// twice: the writer must take it from the poller, then the poller reads it back.
    LinePerDirection,
    /// The classic C recipe carrying this table's 64-byte message: each direction has a fixed
    /// slot, the message on one line and the word on the next; the sender writes the message
    /// then raises the word, and the child copies the message across, as the shmkit echo
    /// does. No framing, ring or bookkeeping — but the same two lines every time.
    MessagePerDirection,
    /// The 64-byte message as a frame: the word, then the message right after it (the
    /// channel's frame: an 8-byte header and the payload, 72 bytes over two lines) in one
    /// fixed slot; the sender writes the message then the word, the receiver polls the word
    /// then reads the message.
    Frame,
    /// Frames of the same shape moving through a 64 KiB ring, as a byte ring's do: round `i`
    /// uses slot `i % RING_SLOTS`, 72 bytes further on. The word holds the round's number, so
    /// an earlier lap's never matches; no zeroing, no positions, no bookkeeping. A byte
    /// ring's data path with no software: the floor of a zero-copy ring that publishes a
    /// contiguous payload with a header word (the one-slot variants are not channels: the
    /// sender may not write again until the receiver answers).
    Ring,
}

/// Slots of the raw ring: 900 frames of 72 bytes, a 64 KiB ring like the shmkit channel's.
const RING_SLOTS: usize = 900;

/// Where one side of a raw spin ping-pong writes: its word and, maybe, its 64-byte message;
/// in round `i`, both `(i % slots) * step` bytes further on.
struct SpinSide {
    word: usize,
    msg: Option<usize>,
    slots: usize,
    step: usize,
}

impl SpinSide {
    /// The word and the message offset of round `i`.
    fn at<'v>(&self, view: &'v shmkit::View, i: u64) -> (&'v AtomicU64, Option<usize>) {
        let shift = (i as usize % self.slots) * self.step;
        let word = view.atomic_u64(self.word + shift).unwrap();
        (word, self.msg.map(|m| m + shift))
    }
}

impl Spin {
    fn arg(self) -> &'static str {
        match self {
            Spin::OneLine => "one",
            Spin::LinePerDirection => "two",
            Spin::MessagePerDirection => "msg",
            Spin::Frame => "frame",
            Spin::Ring => "ring",
        }
    }

    /// What the parent and the child write.
    fn sides(arg: &str) -> (SpinSide, SpinSide) {
        let side = |word, msg: bool| SpinSide {
            word,
            msg: msg.then_some(word - 64),
            slots: 1,
            step: 0,
        };
        let frame = |word, slots, step| SpinSide {
            word,
            msg: Some(word + 8),
            slots,
            step,
        };
        match arg {
            "one" => (side(64, false), side(64, false)),
            "two" => (side(64, false), side(192, false)),
            "frame" => (frame(64, 1, 0), frame(320, 1, 0)),
            "ring" => (
                frame(4096, RING_SLOTS, 72),
                frame(4096 + (1 << 16), RING_SLOTS, 72),
            ),
            _ => (side(64, true), side(320, true)),
        }
    }
}

/// The size of the raw ping-pongs' segment: room for both sides' rings.
const SPIN_SEGMENT: usize = 4096 + (2 << 16);

/// A raw busy-poll ping-pong (the baselines of the busy-poll table): round `i` sends `2i + 1`
/// and waits for `2i + 2`.
fn spin_latency(kind: Spin, batches: usize, per: usize) -> Summary {
    let name = unique("spin");
    let seg = shmkit::Segment::create(&name, SPIN_SEGMENT).unwrap();
    let view = seg.map(shmkit::Access::ReadWrite).unwrap();
    let (me, them) = Spin::sides(kind.arg());
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn("spin-echo", &[&name, &total, kind.arg()], Stdio::inherit());
    let mut i = 0u64;
    let msg = [7u8; MSG];
    let s = one_way(batches, per, || {
        let (mine, at) = me.at(&view, i);
        if let Some(at) = at {
            copy_message(&view, msg.as_ptr(), at);
        }
        mine.store(2 * i + 1, Ordering::Release);
        spin_wait(them.at(&view, i).0, 2 * i + 2);
        i += 1;
    });
    assert!(child.wait().unwrap().success());
    s
}

/// Copies a 64-byte message into the segment at `to` with one `memcpy`, as the classic C
/// recipe does (`memcpy(shm->msg, buf, 64); shm->flag = n;`).
fn copy_message(view: &shmkit::View, from: *const u8, to: usize) {
    assert!(to + MSG <= view.len());
    // SAFETY: `to + MSG` is inside the mapping (checked); the peer reads these bytes only after
    // it sees the word this side stores next (Release), and does not write them, so nothing
    // accesses them concurrently; `from` is MSG readable bytes that do not overlap `to`.
    unsafe { std::ptr::copy_nonoverlapping(from, view.as_mut_ptr().add(to), MSG) };
}

fn spin_wait(word: &AtomicU64, want: u64) {
    while word.load(Ordering::Acquire) != want {
        std::hint::spin_loop();
    }
}

/// The child side of the latency and throughput benches.
pub fn child(role: &str, args: &[String]) -> bool {
    pin(1);
    match role {
        "chan-echo" => {
            let mode = mode_of(&args[2]);
            let mut rx = channel::options()
                .wait_mode(mode)
                .open_consumer(&args[0])
                .unwrap();
            let mut tx = channel::options()
                .wait_mode(mode)
                .open_producer(&args[1])
                .unwrap();
            for _ in 0..args[3].parse::<usize>().unwrap() {
                let m = rx.recv().unwrap();
                let mut loan = tx.loan(m.len()).unwrap();
                loan.copy_from_slice(&m);
                drop(m);
                loan.commit();
            }
        }
        "spin-echo" => {
            let seg = shmkit::Segment::open(&args[0]).unwrap();
            let view = seg.map(shmkit::Access::ReadWrite).unwrap();
            let (them, me) = Spin::sides(&args[2]);
            for i in 0..args[1].parse::<u64>().unwrap() {
                let ((theirs, from), (mine, to)) = (them.at(&view, i), me.at(&view, i));
                spin_wait(theirs, 2 * i + 1);
                if let (Some(from), Some(to)) = (from, to) {
                    assert!(from + MSG <= view.len());
                    // SAFETY: in bounds (checked); the parent wrote these bytes before the word
                    // this side just saw (Acquire) and does not touch them until answered.
                    copy_message(&view, unsafe { view.as_ptr().add(from) }, to);
                }
                mine.store(2 * i + 2, Ordering::Release);
            }
        }
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
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        "iceoryx2-echo" => crate::iceoryx::echo(&args[0], &args[1]),
        _ => {
            return crate::broadcast::child(role, args)
                || crate::typed::child(role, args)
                || crate::service::child(role, args)
        }
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
fn time_messages(count: usize, warm: usize, mut recv_one: impl FnMut(usize)) -> Summary {
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

fn shmkit_stream(size: usize, count: usize, warm: usize, zero_copy: bool) -> Summary {
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

/// Runs every variant `rounds` times in rotating order and returns, for each, the round with
/// the median median.
pub(crate) fn rotate(variants: &[Box<dyn Fn() -> Summary>], rounds: usize) -> Vec<Summary> {
    let mut got: Vec<Vec<Summary>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            got[v].push(variants[v]());
        }
    }
    got.into_iter()
        .map(|mut s| {
            s.sort_by_key(|x| x.median);
            s[s.len() / 2]
        })
        .collect()
}

/// The latency tables.
pub fn latency(quick: bool) -> Vec<Row> {
    pin(0);
    let (batches, per) = if quick { (10, 100) } else { (100, 1000) };
    // Several rounds in rotating order, each variant reporting its median round: on a VM the
    // two vCPUs' placement drifts, and one pass per variant swung the ratio from 3.6x to 8x.
    type Variant = Box<dyn Fn() -> Summary>;
    #[allow(unused_mut)] // extended per platform below
    let mut variants: Vec<Variant> = vec![
        Box::new(move || spin_latency(Spin::OneLine, batches, per)),
        Box::new(move || shmkit_latency(WaitMode::BusyPoll, batches, per)),
        Box::new(move || spin_latency(Spin::LinePerDirection, batches, per)),
        Box::new(move || spin_latency(Spin::MessagePerDirection, batches, per)),
        Box::new(move || spin_latency(Spin::Frame, batches, per)),
        Box::new(move || spin_latency(Spin::Ring, batches, per)),
        Box::new(move || crate::typed::latency(batches, per)),
        Box::new(move || crate::broadcast::latency(batches, per)),
    ];
    #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
    variants.push(Box::new(move || {
        crate::iceoryx::latency(batches, per, |ping, pong| {
            spawn("iceoryx2-echo", &[ping, pong], Stdio::inherit())
        })
    }));
    let got = rotate(&variants, if quick { 1 } else { 5 });
    let spin = Row::base(LAT_BUSY, "raw spin ping-pong (one line)", got[0]);
    let busy = got[1];
    let per_dir = Row::base(LAT_BUSY, "raw spin ping-pong (line per direction)", got[2]);
    let raw_msg = Row::base(LAT_BUSY, "raw spin ping-pong (64 B message)", got[3]);
    let raw_frame = Row::base(LAT_BUSY, "raw spin ping-pong (64 B frame)", got[4]);
    let raw_ring = Row::base(LAT_BUSY, "raw spin ping-pong (64 B frames, ring)", got[5]);
    let (bb, bp) = if quick { (5, 50) } else { (50, 500) };
    let byte_busy = Row::vs(LAT_BUSY, "shmkit channel, BusyPoll", busy, &spin);
    let typed_busy = Row::vs(
        LAT_BUSY,
        "shmkit typed channel, BusyPoll",
        got[6],
        &byte_busy,
    );
    let bcast_busy = Row::vs(
        LAT_BUSY,
        "shmkit broadcast, 1 subscriber, BusyPoll",
        got[7],
        &byte_busy,
    );
    let mut rows = vec![
        byte_busy,
        typed_busy,
        bcast_busy,
        Row::vs(
            LAT_BUSY,
            "shmkit channel vs line-per-direction",
            busy,
            &per_dir,
        ),
        Row::vs(
            LAT_BUSY,
            "shmkit channel vs raw 64 B message",
            busy,
            &raw_msg,
        ),
        Row::vs(
            LAT_BUSY,
            "shmkit channel vs raw 64 B frame",
            busy,
            &raw_frame,
        ),
        Row::vs(
            LAT_BUSY,
            "shmkit channel vs raw ring of frames",
            busy,
            &raw_ring,
        ),
    ];
    #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
    {
        let ice = Row::base(LAT_BUSY, "iceoryx2 publish-subscribe, spinning", got[8]);
        rows.push(Row::vs(LAT_BUSY, "shmkit channel vs iceoryx2", busy, &ice));
        rows.push(ice);
    }
    rows.push(spin);
    rows.push(per_dir);
    rows.push(raw_msg);
    rows.push(raw_frame);
    rows.push(raw_ring);
    #[cfg(target_os = "linux")]
    {
        let futex = Row::base(
            LAT_BLOCK,
            "raw futex ping-pong",
            crate::sync::raw_futex_one_way(bb, bp),
        );
        let blocking = shmkit_latency(WaitMode::Blocking, bb, bp);
        rows.push(Row::vs(
            LAT_BLOCK,
            "shmkit channel, Blocking",
            blocking,
            &futex,
        ));
        rows.push(futex);
    }
    #[cfg(not(target_os = "linux"))]
    rows.push(Row::base(
        LAT_BLOCK,
        "shmkit channel, Blocking",
        shmkit_latency(WaitMode::Blocking, bb, bp),
    ));
    rows
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
