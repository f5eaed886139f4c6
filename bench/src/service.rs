//! Request/response round trips of 64 bytes (`request_response_64B`), cross-process: the
//! parent is the client, the child (this binary, re-executed) the server, which echoes each
//! request's bytes back. One round trip per operation, not halved.
//!
//! * shmkit, `BusyPoll`: `Client::call` (request copied into the ring, response read in
//!   place) against a server that receives (copies the request out) and `respond`s a copy;
//! * shmkit, `Blocking`: the same with both sides sleeping at once;
//! * a Unix stream socket round trip: `write_all` 64 bytes, `read_exact` 64 bytes back, the
//!   server blocking in `read` (the kernel path of a socketpair: a connected `AF_UNIX`
//!   stream, made here with a listener so that the child needs no inherited descriptor);
//! * a raw futex round trip: the `sync` bench's two-hop futex ping-pong on one word, a wake
//!   syscall per hop (the floor of any blocking round trip);
//! * iceoryx2 0.10 request-response (Linux, `iceoryx2` feature): `[u64; 8]` request and
//!   response, `send_copy` and the response loaned and written in place, both sides
//!   spinning on `receive` (see `iceoryx.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::Instant;

use shmkit::channel::WaitStrategy;
use shmkit::service;

use crate::channel::{rotate, spawn, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const BENCH: &str = "request_response_64B";
pub const TITLE: &str =
    "request/response round trip, 64 B each way, client process <-> server process";

const MSG: usize = 64;

/// Times `batches` batches of `per` round trips, after one batch of warm-up.
fn round_trips(batches: usize, per: usize, mut round_trip: impl FnMut()) -> Summary {
    for _ in 0..per {
        round_trip();
    }
    let mut v = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            round_trip();
        }
        v.push(t.elapsed() / per as u32);
    }
    Summary::of(&mut v)
}

/// Starts a child with piped stdout and waits for its first line (it is ready).
fn spawn_ready(role: &str, args: &[&str]) -> Child {
    ready(spawn(role, args, Stdio::piped()))
}

/// Waits for the "ready" line of `child`, started with piped stdout.
pub(crate) fn ready(mut child: Child) -> Child {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped"))
        .read_line(&mut line)
        .expect("child's ready line");
    assert_eq!(line.trim(), "ready", "bench child did not start");
    child
}

fn mode_arg(m: WaitStrategy) -> &'static str {
    if m == WaitStrategy::BusyPoll {
        "busy"
    } else {
        "blocking"
    }
}

fn shmkit_rr(mode: WaitStrategy, batches: usize, per: usize) -> Summary {
    let name = unique("svc");
    let total = ((batches + 1) * per).to_string();
    let child = spawn_server(&name, mode_arg(mode), &total, "1");
    let s = calls(&name, mode, batches, per);
    reap_server(child);
    s
}

/// Starts the echo server `name` (`mode` "busy" or "blocking") for `total` requests, with room
/// for `max_clients`; returns once it is ready.
pub(crate) fn spawn_server(name: &str, mode: &str, total: &str, max_clients: &str) -> Child {
    spawn_ready("svc-server", &[name, mode, total, max_clients])
}

/// Waits for a server of [`spawn_server`] to finish.
pub(crate) fn reap_server(mut child: Child) {
    assert!(child.wait().expect("wait child").success());
}

/// `BusyPoll` round trips to the server `name`, timed as this table's.
pub(crate) fn busy_round_trips(name: &str, batches: usize, per: usize) -> Summary {
    calls(name, WaitStrategy::BusyPoll, batches, per)
}

/// Connects to `name` and times `batches` batches of `per` calls of 64 B (after one batch
/// of warm-up), each answer checked to be its request's.
fn calls(name: &str, mode: WaitStrategy, batches: usize, per: usize) -> Summary {
    let mut client = service::options()
        .wait_strategy(mode)
        .open_client(name)
        .expect("connect");
    let mut msg = [7u8; MSG];
    let mut i = 0u8;
    round_trips(batches, per, || {
        msg[0] = i;
        let r = client.call(&msg).expect("call");
        assert_eq!(r[0], i, "a response to another request");
        i = i.wrapping_add(1);
    })
}

#[cfg(unix)]
fn unix_rr(batches: usize, per: usize) -> Summary {
    let path = std::env::temp_dir().join(unique("rrsock"));
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let total = ((batches + 1) * per).to_string();
    let mut child = spawn(
        "unix-echo",
        &[path.to_str().expect("utf-8 path"), &total],
        Stdio::inherit(),
    );
    let (mut conn, _) = listener.accept().expect("accept");
    let msg = [7u8; MSG];
    let mut back = [0u8; MSG];
    let s = round_trips(batches, per, || {
        conn.write_all(&msg).expect("write");
        conn.read_exact(&mut back).expect("read");
    });
    assert!(child.wait().expect("wait child").success());
    let _ = std::fs::remove_file(&path);
    s
}

/// The child side of this bench; false if `role` is not one of its roles.
pub fn child(role: &str, args: &[String]) -> bool {
    match role {
        "svc-server" => {
            let mode = if args[1] == "busy" {
                WaitStrategy::BusyPoll
            } else {
                WaitStrategy::Blocking
            };
            let mut server = service::options()
                .max_clients(args[3].parse().expect("max clients"))
                .wait_strategy(mode)
                .create_server(&args[0])
                .expect("create server");
            println!("ready");
            let _ = std::io::stdout().flush();
            for _ in 0..args[2].parse::<usize>().expect("count") {
                let r = server.recv().expect("receive");
                server.respond(r.handle(), &r).expect("respond");
            }
        }
        #[cfg(unix)]
        "unix-echo" => {
            let mut conn = std::os::unix::net::UnixStream::connect(&args[0]).expect("connect");
            let mut buf = [0u8; MSG];
            for _ in 0..args[1].parse::<usize>().expect("count") {
                conn.read_exact(&mut buf).expect("read");
                conn.write_all(&buf).expect("write");
            }
        }
        #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
        "iceoryx2-rr-server" => crate::iceoryx::rr_server(&args[0]),
        _ => return false,
    }
    true
}

/// The `request_response_64B` table.
pub fn table(quick: bool) -> Vec<Row> {
    pin(0);
    let (batches, per) = if quick { (10, 100) } else { (100, 1000) };
    let (bb, bp) = if quick { (5, 50) } else { (50, 500) };
    type Variant = Box<dyn Fn() -> Summary>;
    #[allow(unused_mut)] // extended per platform below
    let mut variants: Vec<Variant> = vec![
        Box::new(move || shmkit_rr(WaitStrategy::BusyPoll, batches, per)),
        Box::new(move || shmkit_rr(WaitStrategy::Blocking, bb, bp)),
    ];
    #[cfg(unix)]
    variants.push(Box::new(move || unix_rr(bb, bp)));
    #[cfg(target_os = "linux")]
    variants.push(Box::new(move || {
        crate::sync::raw_futex(&crate::sync::Plan {
            batches: bb,
            per_batch: bp,
        })
    }));
    #[cfg(all(target_os = "linux", feature = "iceoryx2"))]
    variants.push(Box::new(move || {
        crate::iceoryx::rr_latency(batches, per, |name| {
            spawn("iceoryx2-rr-server", &[name], Stdio::inherit())
        })
    }));
    let got = rotate(&variants, if quick { 1 } else { 5 });
    let busy = got[0];
    let blocking = got[1];
    let mut rows = Vec::new();
    #[cfg(target_os = "linux")]
    {
        let unix = Row::base(BENCH, "Unix socket round trip", got[2]);
        let futex = Row::base(BENCH, "raw futex round trip", got[3]);
        rows.push(Row::vs(BENCH, "shmkit, BusyPoll", busy, &unix));
        #[cfg(feature = "iceoryx2")]
        {
            let ice = Row::base(BENCH, "iceoryx2 request-response, spinning", got[4]);
            rows.push(Row::vs(BENCH, "shmkit, BusyPoll vs iceoryx2", busy, &ice));
            rows.push(ice);
        }
        rows.push(Row::vs(BENCH, "shmkit, Blocking", blocking, &futex));
        rows.push(unix);
        rows.push(futex);
    }
    #[cfg(not(target_os = "linux"))]
    {
        rows.push(Row::base(BENCH, "shmkit, BusyPoll", busy));
        rows.push(Row::base(BENCH, "shmkit, Blocking", blocking));
        #[cfg(unix)]
        rows.push(Row::base(BENCH, "Unix socket round trip", got[2]));
    }
    rows
}
