//! `waitset_256`: the wake-up latency of one ready channel among 256, through a `WaitSet`,
//! vs a single channel in `Blocking` mode (half a round trip, both cross-process).
//!
//! Both sides wait the same way in each variant: in the WaitSet variants the parent sends on
//! ping channel `k` of 256 and waits on all 256 pong channels with a `WaitSet`; the child
//! waits on all 256 ping channels with a `WaitSet` and answers on pong channel `k`. Which `k`
//! a round uses: spread over all 256, only the first 127 (what one `futex_waitv` call
//! watches on Linux), or only the others (served by a helper thread, one more wake-up).

use std::hint::black_box;
use std::process::Stdio;

use shmkit::channel::{self, Consumer, Producer, WaitMode};
use shmkit::WaitSet;

use crate::channel::{one_way, rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const BENCH: &str = "waitset_256";
pub const TITLE: &str =
    "wake-up latency, one ready channel among 256 (WaitSet) vs one channel (Blocking), half a round trip";

const CHANNELS: usize = 256;
/// The members one `futex_waitv` call watches on Linux beside the helpers' word.
const FIRST: usize = 127;

/// The channel of round `i` for `which` ("spread", "first", "helper").
fn pick(which: &str, i: u64) -> usize {
    let i = i as usize * 97; // a stride coprime to 256: every channel in turn, out of order
    match which {
        "first" => i % FIRST,
        "helper" => FIRST + i % (CHANNELS - FIRST),
        _ => i % CHANNELS,
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
                .wait_mode(WaitMode::Blocking)
                .create_producer(n)
                .unwrap()
        })
        .collect();
    let mut rx: Vec<Consumer> = pongs
        .iter()
        .map(|n| {
            channel::options()
                .capacity(4096)
                .wait_mode(WaitMode::Blocking)
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
        let k = pick(which, i);
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

/// The child side: `waitset-echo <ping prefix> <pong prefix> <count>`.
pub fn child(role: &str, args: &[String]) -> bool {
    if role != "waitset-echo" {
        return false;
    }
    let mut rx: Vec<Consumer> = (0..CHANNELS)
        .map(|k| {
            channel::options()
                .wait_mode(WaitMode::Blocking)
                .open_consumer(&format!("{}{k}", args[0]))
                .unwrap()
        })
        .collect();
    let mut tx: Vec<Producer> = (0..CHANNELS)
        .map(|k| {
            channel::options()
                .wait_mode(WaitMode::Blocking)
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
    let variants: Vec<Variant> = vec![
        Box::new(move || crate::channel::blocking_latency(batches, per)),
        Box::new(move || waitset_latency("spread", batches, per)),
        Box::new(move || waitset_latency("first", batches, per)),
        Box::new(move || waitset_latency("helper", batches, per)),
    ];
    let got = rotate(&variants, if quick { 1 } else { 5 });
    let base = Row::base(BENCH, "shmkit channel, Blocking (1 channel)", got[0]);
    vec![
        Row::vs(BENCH, "WaitSet of 256, any channel", got[1], &base),
        Row::vs(BENCH, "WaitSet of 256, channel 0..127", got[2], &base),
        Row::vs(BENCH, "WaitSet of 256, channel 127..256", got[3], &base),
        base,
    ]
}
