//! `waitset_256`: the wake-up latency of one ready channel among 256, through a `WaitSet`,
//! vs a single channel in `Blocking` mode, cross-process.
//!
//! Wake-up latency (Unix): the sender pauses (300 µs, so that the receiver is surely asleep),
//! stamps the message with `CLOCK_MONOTONIC` (one clock for all processes) and sends it on
//! channel `k`; the receiver — `recv` on its one channel, or a `WaitSet` over all 256 — takes
//! the difference when it has the message. Which `k` a message uses: spread over all 256,
//! only the first 127 (what one `futex_waitv` call watches on Linux), or only the others
//! (served by a helper thread: one more wake-up).
//!
//! Also a ping-pong (half a round trip), both sides waiting the same way, as the other latency
//! tables measure. It understates a wait set's wake-up cost: after a send, arming a wait on
//! 256 words takes long enough that the answer is often there before the wait set sleeps.

use std::hint::black_box;
use std::process::Stdio;

use shmkit::channel::{self, Consumer, Producer, WaitStrategy};
use shmkit::WaitSet;

use crate::channel::{one_way, rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;
#[cfg(unix)]
use std::io::{BufRead, BufReader};
#[cfg(unix)]
use std::time::Duration;

pub const BENCH: &str = "waitset_256";
pub const TITLE: &str =
    "wake-up latency, one ready channel among 256 (WaitSet) vs one channel (Blocking)";

const CHANNELS: usize = 256;
/// The members one `futex_waitv` call watches on Linux beside the helpers' word.
const FIRST: usize = 127;

/// The channel of round `i` for `which` ("spread", "first", "helper") among `channels`.
fn pick(channels: usize, which: &str, i: u64) -> usize {
    // A stride coprime to every power of two: every channel in turn, out of order.
    let i = i as usize * 97;
    match which {
        "first" => i % FIRST,
        "helper" => FIRST + i % (channels - FIRST),
        _ => i % channels,
    }
}

fn names(tag: &str) -> Vec<String> {
    (0..CHANNELS)
        .map(|k| unique(&format!("{tag}{k}")))
        .collect()
}

fn waitset_latency(which: &'static str, batches: usize, per: usize) -> Summary {
    let (pings, pongs) = (names("wsping"), names("wspong"));
    let mut tx: Vec<Producer> = pings
        .iter()
        .map(|n| {
            channel::options()
                .capacity(4096)
                .wait_strategy(WaitStrategy::Blocking)
                .create_producer(n)
                .unwrap()
        })
        .collect();
    let mut rx: Vec<Consumer> = pongs
        .iter()
        .map(|n| {
            channel::options()
                .capacity(4096)
                .wait_strategy(WaitStrategy::Blocking)
                .create_consumer(n)
                .unwrap()
        })
        .collect();
    let total = ((batches + 1) * per).to_string();
    let prefix_ping = unique("wsping");
    let prefix_pong = unique("wspong");
    let mut child = spawn(
        "waitset-echo",
        &[&prefix_ping, &prefix_pong, &total],
        Stdio::inherit(),
    );
    let mut set = WaitSet::new();
    let msg = [7u8; 64];
    let mut i = 0u64;
    let s = one_way(batches, per, || {
        let k = pick(CHANNELS, which, i);
        i += 1;
        tx[k].send(&msg).unwrap();
        loop {
            let ready = set.wait(&rx).unwrap();
            if ready.contains(&k) {
                break;
            }
        }
        black_box(rx[k].try_recv().unwrap().len());
    });
    assert!(child.wait().unwrap().success());
    s
}

/// Monotonic nanoseconds, the same clock in every process.
#[cfg(unix)]
fn now_ns() -> u64 {
    let t = monotonic();
    t.0 * 1_000_000_000 + t.1
}

#[cfg(unix)]
fn monotonic() -> (u64, u64) {
    let mut ts = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, ts.as_mut_ptr()) };
    // SAFETY: clock_gettime filled it.
    let ts = unsafe { ts.assume_init() };
    (ts.tv_sec as u64, ts.tv_nsec as u64)
}

/// The pause before each stamped message: long enough for the receiver to be asleep.
#[cfg(unix)]
const GAP: Duration = Duration::from_micros(300);

/// Wake-up latency: `which` is "one" (a single channel, `recv` in `Blocking` mode) or a
/// channel choice of [`pick`] for a `WaitSet` over 256.
#[cfg(unix)]
fn wake_latency(which: &'static str, n: usize) -> Summary {
    wake_latency_among(if which == "one" { 1 } else { CHANNELS }, which, n)
}

/// [`wake_latency`] with `channels` members (1 for "one").
#[cfg(unix)]
pub(crate) fn wake_latency_among(channels: usize, which: &'static str, n: usize) -> Summary {
    let prefix = unique(&format!("wswake{which}"));
    let mut tx: Vec<Producer> = (0..channels)
        .map(|k| {
            channel::options()
                .capacity(4096)
                .wait_strategy(WaitStrategy::Blocking)
                .create_producer(&format!("{prefix}{k}"))
                .unwrap()
        })
        .collect();
    let mut child = spawn(
        "waitset-wake",
        &[&prefix, &channels.to_string(), &n.to_string()],
        Stdio::piped(),
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    for i in 0..n as u64 {
        std::thread::sleep(GAP);
        let k = if which == "one" {
            0
        } else {
            pick(channels, which, i)
        };
        tx[k].send(&now_ns().to_le_bytes()).unwrap();
    }
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    let mut v: Vec<Duration> = line
        .split_whitespace()
        .map(|s| Duration::from_nanos(s.parse().unwrap()))
        .collect();
    Summary::of(&mut v)
}

/// The child side of `wake_latency`: `waitset-wake <prefix> <channels> <count>`; prints
/// "ready" once attached, then every latency in ns on one line.
#[cfg(unix)]
fn wake_child(args: &[String]) {
    let channels: usize = args[1].parse().unwrap();
    let n: usize = args[2].parse().unwrap();
    let mut rx: Vec<Consumer> = (0..channels)
        .map(|k| {
            channel::options()
                .wait_strategy(WaitStrategy::Blocking)
                .open_consumer(&format!("{}{k}", args[0]))
                .unwrap()
        })
        .collect();
    println!("ready");
    let mut got: Vec<u64> = Vec::with_capacity(n);
    let mut take = |m: &[u8]| {
        let now = now_ns();
        got.push(now.saturating_sub(u64::from_le_bytes(m[..8].try_into().unwrap())));
    };
    if channels == 1 {
        for _ in 0..n {
            take(&rx[0].recv().unwrap());
        }
    } else {
        let mut set = WaitSet::new();
        let mut left = n;
        while left > 0 {
            let ready = set.wait(&rx).unwrap().to_vec();
            for k in ready {
                while let Ok(m) = rx[k].try_recv() {
                    take(&m);
                    left -= 1;
                }
            }
        }
    }
    let text: Vec<String> = got.iter().map(u64::to_string).collect();
    println!("{}", text.join(" "));
}

/// The child sides: `waitset-echo <ping prefix> <pong prefix> <count>` (ping-pong) and
/// `waitset-wake` (wake-up latency).
pub fn child(role: &str, args: &[String]) -> bool {
    #[cfg(unix)]
    if role == "waitset-wake" {
        wake_child(args);
        return true;
    }
    if role != "waitset-echo" {
        return false;
    }
    let mut rx: Vec<Consumer> = (0..CHANNELS)
        .map(|k| {
            channel::options()
                .wait_strategy(WaitStrategy::Blocking)
                .open_consumer(&format!("{}{k}", args[0]))
                .unwrap()
        })
        .collect();
    let mut tx: Vec<Producer> = (0..CHANNELS)
        .map(|k| {
            channel::options()
                .wait_strategy(WaitStrategy::Blocking)
                .open_producer(&format!("{}{k}", args[1]))
                .unwrap()
        })
        .collect();
    let mut set = WaitSet::new();
    let mut left = args[2].parse::<usize>().unwrap();
    while left > 0 {
        let ready = set.wait(&rx).unwrap().to_vec();
        for k in ready {
            while let Ok(m) = rx[k].try_recv() {
                let mut loan = tx[k].loan(m.len()).unwrap();
                loan.copy_from_slice(&m);
                drop(m);
                loan.commit();
                left -= 1;
            }
        }
    }
    true
}

/// The `waitset_256` table.
pub fn run(quick: bool) -> Vec<Row> {
    pin(0);
    let (batches, per) = if quick { (5, 50) } else { (40, 500) };
    type Variant = Box<dyn Fn() -> Summary>;
    #[allow(unused_mut)] // extended on Unix below
    let mut variants: Vec<Variant> = vec![
        Box::new(move || crate::channel::blocking_latency(batches, per)),
        Box::new(move || waitset_latency("spread", batches, per)),
        Box::new(move || waitset_latency("first", batches, per)),
        Box::new(move || waitset_latency("helper", batches, per)),
    ];
    #[cfg(unix)]
    {
        let n = if quick { 200 } else { 2000 };
        variants.push(Box::new(move || wake_latency("one", n)));
        variants.push(Box::new(move || wake_latency("spread", n)));
        variants.push(Box::new(move || wake_latency("first", n)));
        variants.push(Box::new(move || wake_latency("helper", n)));
    }
    let got = rotate(&variants, if quick { 1 } else { 3 });
    let mut rows = Vec::new();
    #[cfg(unix)]
    {
        let base = Row::base(BENCH, "wake-up: one channel, Blocking", got[4]);
        rows.push(Row::vs(
            BENCH,
            "wake-up: WaitSet of 256, any channel",
            got[5],
            &base,
        ));
        rows.push(Row::vs(
            BENCH,
            "wake-up: WaitSet of 256, channel 0..127",
            got[6],
            &base,
        ));
        rows.push(Row::vs(
            BENCH,
            "wake-up: WaitSet of 256, channel 127..256",
            got[7],
            &base,
        ));
        rows.push(base);
    }
    let base = Row::base(BENCH, "ping-pong: one channel, Blocking", got[0]);
    rows.push(Row::vs(
        BENCH,
        "ping-pong: WaitSet of 256, any channel",
        got[1],
        &base,
    ));
    rows.push(Row::vs(
        BENCH,
        "ping-pong: WaitSet of 256, channel 0..127",
        got[2],
        &base,
    ));
    rows.push(Row::vs(
        BENCH,
        "ping-pong: WaitSet of 256, channel 127..256",
        got[3],
        &base,
    ));
    rows.push(base);
    rows
}
