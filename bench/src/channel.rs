//! Channel benchmarks, all cross-process (the child is this binary, re-executed):
//!
//! * one-way latency of a 64-byte message (half a round trip), busy-poll: shmkit channels
//!   in `BusyPoll` vs raw C-style spin ping-pongs (see [`Spin`]): one cache line and no
//!   payload (the yardstick), one line per direction, the classic one-slot recipe
//!   carrying the 64 bytes, and a ring of 72-byte frames (the floor of any ring), and vs
//!   iceoryx2;
//! * the same, blocking: shmkit channels in `Blocking` mode vs a raw futex ping-pong;
//!
//! Throughput is in `throughput.rs`.

use std::hint::black_box;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use shmkit::channel::{self, WaitStrategy};

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

fn mode_name(m: WaitStrategy) -> &'static str {
    match m {
        WaitStrategy::BusyPoll => "busy",
        _ => "blocking",
    }
}

fn mode_of(s: &str) -> WaitStrategy {
    if s == "busy" {
        WaitStrategy::BusyPoll
    } else {
        WaitStrategy::Blocking
    }
}

/// Times `batches * per` round trips one by one ([`crate::stats::each`]: one clock read per
/// round trip) and reports half of each (one way), so the tail is the messages' own, not
/// hidden in a batch mean. The `latency_64B_busy_poll` table compares this to
/// [`one_way_batched`] on the same channel: what the clock read adds to the median.
pub(crate) fn one_way(batches: usize, per: usize, round_trip: impl FnMut()) -> Summary {
    crate::stats::each(per, batches * per, round_trip).halved()
}

/// Times round trips in `batches` batches of `per` and reports half of each batch's mean (one
/// way): the way every latency bench measured before per-message timing; its p99 is a batch's.
pub(crate) fn one_way_batched(batches: usize, per: usize, mut round_trip: impl FnMut()) -> Summary {
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

fn shmkit_latency(mode: WaitStrategy, batches: usize, per: usize) -> Summary {
    shmkit_latency_timed(mode, batches, per, false)
}

/// [`shmkit_latency`], timed per message or (`batched`) by batch means.
fn shmkit_latency_timed(mode: WaitStrategy, batches: usize, per: usize, batched: bool) -> Summary {
    let (ping, pong) = (unique("lping"), unique("lpong"));
    let mut tx = channel::options()
        .capacity(1 << 20)
        .wait_strategy(mode)
        .create_producer(&ping)
        .unwrap();
    let mut rx = channel::options()
        .capacity(1 << 20)
        .wait_strategy(mode)
        .create_consumer(&pong)
        .unwrap();
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn(
        "chan-echo",
        &[&ping, &pong, mode_name(mode), &total],
        Stdio::inherit(),
    );
    let msg = [7u8; MSG];
    let round_trip = || {
        tx.send(&msg).unwrap();
        black_box(rx.recv().unwrap().len());
    };
    let s = if batched {
        one_way_batched(batches, per, round_trip)
    } else {
        one_way(batches, per, round_trip)
    };
    assert!(child.wait().unwrap().success());
    s
}

/// The one-way latency of a shmkit channel pair in `BusyPoll` mode (the C API's baseline).
pub(crate) fn busy_latency(batches: usize, per: usize) -> Summary {
    shmkit_latency(WaitStrategy::BusyPoll, batches, per)
}

/// The one-way latency of a shmkit channel pair in `Blocking` mode (the `waitset_256`
/// baseline).
pub(crate) fn blocking_latency(batches: usize, per: usize) -> Summary {
    shmkit_latency(WaitStrategy::Blocking, batches, per)
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
    /// [`Spin::Ring`] plus what shmkit's counters store per message (issue 21): after its
    /// word, the sender stores its messages-sent and bytes-sent counts, and after seeing the
    /// peer's word, the receiver stores its messages-received count (Relaxed stores of counts
    /// it keeps itself, each side on lines of its own). The library keeps these on the
    /// position lines it writes anyway; here they are extra lines, so the ratio to
    /// [`Spin::Ring`] is an upper bound of what the counters cost.
    CountedRing,
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
    /// Where this side keeps its counters ([`Spin::CountedRing`]): sent and bytes on one
    /// line, received on the next.
    counters: Option<usize>,
}

impl SpinSide {
    /// Stores this side's counts after it sent message `i` (the `i + 1`th).
    fn count_sent(&self, view: &shmkit::View, i: u64) {
        if let Some(c) = self.counters {
            view.atomic_u64(c).unwrap().store(i + 1, Ordering::Relaxed);
            let bytes = (i + 1) * MSG as u64;
            view.atomic_u64(c + 8)
                .unwrap()
                .store(bytes, Ordering::Relaxed);
        }
    }

    /// Stores this side's count after it received message `i`.
    fn count_received(&self, view: &shmkit::View, i: u64) {
        if let Some(c) = self.counters {
            view.atomic_u64(c + 128)
                .unwrap()
                .store(i + 1, Ordering::Relaxed);
        }
    }

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
            Spin::CountedRing => "counted-ring",
        }
    }

    /// What the parent and the child write.
    fn sides(arg: &str) -> (SpinSide, SpinSide) {
        let side = |word, msg: bool| SpinSide {
            word,
            msg: msg.then_some(word - 64),
            slots: 1,
            step: 0,
            counters: None,
        };
        let frame = |word, slots, step| SpinSide {
            word,
            msg: Some(word + 8),
            slots,
            step,
            counters: None,
        };
        let counted = |side: SpinSide, at| SpinSide {
            counters: Some(at),
            ..side
        };
        match arg {
            "one" => (side(64, false), side(64, false)),
            "two" => (side(64, false), side(192, false)),
            "frame" => (frame(64, 1, 0), frame(320, 1, 0)),
            "ring" => (
                frame(4096, RING_SLOTS, 72),
                frame(4096 + (1 << 16), RING_SLOTS, 72),
            ),
            "counted-ring" => (
                counted(frame(4096, RING_SLOTS, 72), 1024),
                counted(frame(4096 + (1 << 16), RING_SLOTS, 72), 2048),
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
        me.count_sent(&view, i);
        spin_wait(them.at(&view, i).0, 2 * i + 2);
        me.count_received(&view, i);
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
                .wait_strategy(mode)
                .open_consumer(&args[0])
                .unwrap();
            let mut tx = channel::options()
                .wait_strategy(mode)
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
                me.count_received(&view, i);
                if let (Some(from), Some(to)) = (from, to) {
                    assert!(from + MSG <= view.len());
                    // SAFETY: in bounds (checked); the parent wrote these bytes before the word
                    // this side just saw (Acquire) and does not touch them until answered.
                    copy_message(&view, unsafe { view.as_ptr().add(from) }, to);
                }
                mine.store(2 * i + 2, Ordering::Release);
                me.count_sent(&view, i);
            }
        }
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        "iceoryx2-echo" => crate::iceoryx::echo(&args[0], &args[1]),
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        "iceoryx2-sweep-echo" => {
            crate::iceoryx::sweep_echo(&args[0], &args[1], args[2].parse().unwrap())
        }
        _ => {
            return crate::throughput::child(role, args)
                || crate::broadcast::child(role, args)
                || crate::typed::child(role, args)
                || crate::sweep::child(role, args)
                || crate::service::child(role, args)
                || crate::waitset::child(role, args)
                || crate::capi::child(role, args)
                || crate::growth::child(role, args)
        }
    }
    true
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
        Box::new(move || shmkit_latency(WaitStrategy::BusyPoll, batches, per)),
        Box::new(move || spin_latency(Spin::LinePerDirection, batches, per)),
        Box::new(move || spin_latency(Spin::MessagePerDirection, batches, per)),
        Box::new(move || spin_latency(Spin::Frame, batches, per)),
        Box::new(move || spin_latency(Spin::Ring, batches, per)),
        Box::new(move || crate::typed::latency(batches, per)),
        Box::new(move || crate::broadcast::latency(batches, per)),
        Box::new(move || spin_latency(Spin::CountedRing, batches, per)),
        Box::new(move || shmkit_latency_timed(WaitStrategy::BusyPoll, batches, per, true)),
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
    let counted_ring = Row::vs(
        LAT_BUSY,
        "raw ring with the counters' stores vs without",
        got[8],
        &raw_ring,
    );
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
        let ice = Row::base(LAT_BUSY, "iceoryx2 publish-subscribe, spinning", got[10]);
        rows.push(Row::vs(LAT_BUSY, "shmkit channel vs iceoryx2", busy, &ice));
        rows.push(ice);
    }
    rows.push(spin);
    rows.push(per_dir);
    rows.push(raw_msg);
    rows.push(raw_frame);
    rows.push(raw_ring);
    rows.push(counted_ring);
    rows.push(Row::vs(
        LAT_BUSY,
        "shmkit channel timed per message vs by batch means",
        busy,
        &Row::base(LAT_BUSY, "batch means", got[9]),
    ));
    #[cfg(target_os = "linux")]
    {
        let futex = Row::base(
            LAT_BLOCK,
            "raw futex ping-pong",
            crate::sync::raw_futex_one_way(bb, bp),
        );
        let blocking = shmkit_latency(WaitStrategy::Blocking, bb, bp);
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
        shmkit_latency(WaitStrategy::Blocking, bb, bp),
    ));
    rows
}
