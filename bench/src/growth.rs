//! `growth`: how the costs that depend on a number of peers grow with it, cross-process.
//!
//! * **Subscribers.** A publisher's own `loan` + `commit` of a 64 B message (the broadcast
//!   1 MiB table's "publisher's own" measure, at 64 B, where the protocol is all there is to
//!   time) with 1, 4, 16 and 64 subscriber processes attached and receiving (waiting
//!   adaptively, so a commit may have sleepers to wake), under the overwrite policy, so that
//!   the publisher never waits for one of them. Per message, each as a ratio to 1 subscriber.
//! * **Clients.** A service's 64 B `BusyPoll` round trip (the `request_response_64B` table's)
//!   with 1, 16 and 64 clients connected: this process calls, the others are idle processes
//!   that hold a connected client. What grows is the server's receive, which looks at every
//!   client's request ring for the next request. Per round trip, each as a ratio to 1 client.
//! * **Wait-set members.** The `waitset_256` table's wake-up latency (the sender pauses, so the
//!   receiver is asleep; a `CLOCK_MONOTONIC` stamp in the message) with the message on any
//!   member of a `WaitSet` of 16, 256 and 1 024 channels, each as a ratio to 16 (Unix only).
//!
//! The machine this runs on decides what "more peers" costs beyond the protocol: on 2 CPUs,
//! 64 woken subscribers share one CPU with each other, so the publisher's rows also carry the
//! scheduler's work of waking them (the publisher wakes them all with one call).

use std::io::Write;
use std::process::{Child, Stdio};

use shmkit::service;

use crate::channel::{rotate, unique};
use crate::stats::{Row, Summary};
use crate::sync::pin;

pub const BENCH: &str = "growth";
pub const TITLE: &str = "cost of growth: a publisher's 64 B message by subscribers, a 64 B service round trip by clients, a wake-up by wait-set members";

/// The publisher rows: subscribers and labels.
const SUBSCRIBERS: [(usize, &str); 4] = [
    (1, "publisher's loan + commit, 64 B, 1 subscriber"),
    (4, "publisher's loan + commit, 64 B, 4 subscribers"),
    (16, "publisher's loan + commit, 64 B, 16 subscribers"),
    (64, "publisher's loan + commit, 64 B, 64 subscribers"),
];

/// The service rows: connected clients and labels.
const CLIENTS: [(usize, &str); 3] = [
    (1, "service round trip, BusyPoll, 1 client"),
    (16, "service round trip, BusyPoll, 16 clients (15 idle)"),
    (64, "service round trip, BusyPoll, 64 clients (63 idle)"),
];

/// The wait-set rows: members and labels.
#[cfg(unix)]
const MEMBERS: [(usize, &str); 3] = [
    (16, "wake-up: WaitSet of 16, any channel"),
    (256, "wake-up: WaitSet of 256, any channel"),
    (1024, "wake-up: WaitSet of 1024, any channel"),
];

/// The child side: `growth-idle-client <name>` connects, says "ready", and holds its client
/// until its stdin closes.
pub fn child(role: &str, args: &[String]) -> bool {
    if role != "growth-idle-client" {
        return false;
    }
    let client = service::options()
        .open_client(&args[0])
        .expect("idle client connects");
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
    drop(client);
    true
}

/// Starts `role` with `args`, stdin and stdout piped, and waits for its "ready" line.
fn spawn_held(role: &str, args: &[&str]) -> Child {
    let child = crate::child_command()
        .arg(role)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn bench child");
    crate::service::ready(child)
}

/// The `BusyPoll` service round trip with `clients` connected: this process's one calling,
/// `clients - 1` idle processes holding theirs.
fn service_round_trip(clients: usize, batches: usize, per: usize) -> Summary {
    let name = unique(&format!("grsvc{clients}"));
    let total = ((batches + 1) * per).to_string();
    let clients_arg = clients.to_string();
    let server = crate::service::spawn_server(&name, "busy", &total, &clients_arg);
    let idle: Vec<Child> = (1..clients)
        .map(|_| spawn_held("growth-idle-client", &[&name]))
        .collect();
    let s = crate::service::busy_round_trips(&name, batches, per);
    crate::service::reap_server(server);
    for mut c in idle {
        drop(c.stdin.take()); // its cue to leave
        assert!(c.wait().expect("wait idle client").success());
    }
    s
}

/// The `growth` table.
pub fn run(quick: bool) -> Vec<Row> {
    pin(0);
    type Variant = Box<dyn Fn() -> Summary>;
    let (count, warm) = if quick { (400, 100) } else { (20_000, 2_000) };
    let (batches, per) = if quick { (10, 100) } else { (100, 1000) };
    let mut variants: Vec<Variant> = Vec::new();
    for (n, _) in SUBSCRIBERS {
        variants.push(Box::new(move || {
            crate::broadcast::publisher_own(n, "overwrite", 64, count, warm)
        }));
    }
    for (n, _) in CLIENTS {
        variants.push(Box::new(move || service_round_trip(n, batches, per)));
    }
    #[cfg(unix)]
    {
        let wakes = if quick { 200 } else { 2000 };
        for (n, _) in MEMBERS {
            variants.push(Box::new(move || {
                crate::waitset::wake_latency_among(n, "spread", wakes)
            }));
        }
    }
    let got = rotate(&variants, if quick { 1 } else { 3 });
    let mut rows = Vec::new();
    let mut family = |labels: &[(usize, &'static str)], got: &[Summary]| {
        let base = Row::base(BENCH, labels[0].1, got[0]);
        for (k, (_, label)) in labels.iter().enumerate().skip(1) {
            rows.push(Row::vs(BENCH, label, got[k], &base));
        }
        rows.push(base);
    };
    let (subs, rest) = got.split_at(SUBSCRIBERS.len());
    family(&SUBSCRIBERS, subs);
    let (svc, _rest) = rest.split_at(CLIENTS.len());
    family(&CLIENTS, svc);
    #[cfg(unix)]
    family(&MEMBERS, _rest);
    rows
}
