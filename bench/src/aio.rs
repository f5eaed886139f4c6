//! `async_hop_64B`: one hop of a 64-byte ping-pong whose parent side receives with
//! `recv().await` in a tokio task (`shmkit::aio`), vs the same ping-pong with both sides
//! blocking (`WaitStrategy::Blocking`). The child echoes in `Blocking` mode in both. The async
//! receiver's wake-up goes to shmkit's reactor thread, which then wakes the runtime's thread:
//! one more thread wake-up per hop than a blocked `recv`.
//!
//! Also the synchronous fast path with and without async waiters in the process: a `send`
//! plus a `try_recv` of 64 bytes in one thread (nobody sleeps on that channel), alone, and
//! while 64 tasks await 64 other channels (the reactor thread asleep on their words).

use std::hint::black_box;
use std::process::Stdio;
use std::time::{Duration, Instant};

use shmkit::aio::Async;
use shmkit::channel::{self, WaitStrategy};

use crate::channel::{blocking_latency, rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const BENCH: &str = "async_hop_64B";
pub const TITLE: &str = "one-way latency, 64 B: tokio recv().await vs a blocking recv";

const MSG: usize = 64;

/// Which runtime the async receiver runs on.
#[derive(Clone, Copy)]
enum Rt {
    CurrentThread,
    MultiThread,
}

fn async_latency(rt: Rt, batches: usize, per: usize) -> Summary {
    let (ping, pong) = (unique("aping"), unique("apong"));
    let mut tx = channel::options()
        .capacity(1 << 20)
        .wait_strategy(WaitStrategy::Blocking)
        .create_producer(&ping)
        .unwrap();
    let rx = channel::options()
        .capacity(1 << 20)
        .wait_strategy(WaitStrategy::Blocking)
        .create_consumer(&pong)
        .unwrap();
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn(
        "chan-echo",
        &[&ping, &pong, "blocking", &total],
        Stdio::inherit(),
    );
    let work = async move {
        let mut rx = Async::new(rx);
        let msg = [7u8; MSG];
        let mut hop = async || {
            tx.send(&msg).unwrap();
            black_box(rx.recv().await.unwrap().len());
        };
        for _ in 0..per {
            hop().await;
        }
        let mut v = Vec::with_capacity(batches);
        for _ in 0..batches {
            let t = Instant::now();
            for _ in 0..per {
                hop().await;
            }
            v.push(t.elapsed() / (2 * per as u32));
        }
        Summary::of(&mut v)
    };
    let s = match rt {
        Rt::CurrentThread => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(work),
        Rt::MultiThread => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            rt.block_on(rt.spawn(work)).unwrap()
        }
    };
    assert!(child.wait().unwrap().success());
    s
}

/// A `send` plus a `try_recv` of 64 bytes in one thread, per pair; with `waiters` tasks
/// awaiting other channels meanwhile (registered with the reactor, which sleeps on them).
fn sync_path(waiters: usize, batches: usize, per: usize) -> Summary {
    let name = unique(&format!("async-sync{waiters}"));
    let mut tx = channel::options()
        .capacity(1 << 16)
        .create_producer(&name)
        .unwrap();
    let mut rx = channel::options().open_consumer(&name).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut idle = Vec::new();
    for k in 0..waiters {
        let n = unique(&format!("async-idle{k}"));
        let p = channel::options()
            .capacity(4096)
            .create_producer(&n)
            .unwrap();
        let c = Async::new(channel::options().open_consumer(&n).unwrap());
        let task = rt.spawn(async move {
            let mut c = c;
            let _ = c.recv().await.map(|m| m.len());
        });
        idle.push((p, task));
    }
    std::thread::sleep(Duration::from_millis(20)); // the tasks registered, the reactor asleep
    let msg = [7u8; MSG];
    let mut v = Vec::with_capacity(batches);
    for b in 0..=batches {
        let t = Instant::now();
        for _ in 0..per {
            tx.send(&msg).unwrap();
            black_box(rx.try_recv().unwrap().len());
        }
        if b > 0 {
            v.push(t.elapsed() / per as u32);
        }
    }
    for (p, task) in idle {
        drop(p); // the task's recv reports Disconnected
        rt.block_on(task).unwrap();
    }
    Summary::of(&mut v)
}

/// The `async_hop_64B` table.
pub fn run(quick: bool) -> Vec<Row> {
    pin(0);
    let (batches, per) = if quick { (5, 50) } else { (40, 500) };
    let variants: Vec<Box<dyn Fn() -> Summary>> = vec![
        Box::new(move || blocking_latency(batches, per)),
        Box::new(move || async_latency(Rt::CurrentThread, batches, per)),
        Box::new(move || async_latency(Rt::MultiThread, batches, per)),
        Box::new(move || sync_path(0, batches, per * 20)),
        Box::new(move || sync_path(64, batches, per * 20)),
    ];
    let got = rotate(&variants, if quick { 1 } else { 3 });
    let base = Row::base(BENCH, "shmkit, Blocking", got[0]);
    let sync_base = Row::base(
        BENCH,
        "send + try_recv in one thread, no async waiter",
        got[3],
    );
    vec![
        Row::vs(
            BENCH,
            "shmkit tokio recv, current-thread runtime",
            got[1],
            &base,
        ),
        Row::vs(
            BENCH,
            "shmkit tokio recv, multi-thread runtime",
            got[2],
            &base,
        ),
        base,
        Row::vs(
            BENCH,
            "send + try_recv in one thread, 64 tasks awaiting other channels",
            got[4],
            &sync_base,
        ),
        sync_base,
    ]
}
