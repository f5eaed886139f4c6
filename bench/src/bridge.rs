//! The Zenoh tables' "through shmkit bridges" rows: the same two processes and the same
//! Zenoh sessions as the direct rows, with the application on each side talking to a local
//! shmkit broadcast and the bridge (`shmkit_zenoh`, embedded in the same process, as the
//! library API is used) forwarding it:
//!
//! ```text
//! direct:   sender --put--> Zenoh --> subscriber                          (2 processes)
//! bridged:  publisher -> broadcast -> exporter --put--> Zenoh --> importer -> broadcast -> subscriber
//!           |------------- sender process -------------|       |---------- receiver process ----------|
//! ```
//!
//! So a bridged message costs, beyond the direct route, a copy out of shared memory on the
//! sending side, a copy into it on the receiving side, two local broadcast hops (a thread
//! wake-up each, when the other side sleeps), and the bridges' acknowledgements (`Block`).
//! The receiver checks every byte of every message, as in the direct rows.

use std::io::BufReader;
use std::process::Stdio;
use std::time::{Duration, Instant};

use shmkit::channel::broadcast::{self, Publisher, Subscriber};
use shmkit_zenoh::{ExportOptions, ImportOptions, Source};

use crate::channel::spawn;
use crate::stats::Summary;
use crate::throughput::{check, fill};
use crate::zenoh::{
    endpoint, free_port, parse_summary, ping_message, read_summary, say_ready, say_summary, seq_of,
    spawn_ready, time_round_trips, time_stream, zenoh_open, PingPong, Stream, GUARD, STOP,
};

/// Slots of the local broadcasts (16 × 1 MiB at most: the ring of the SPSC baseline is 4 MiB).
const SLOTS: usize = 16;

/// The child roles of this module; false if `role` is not one of them.
pub fn child(role: &str, args: &[String]) -> bool {
    let num = |i: usize| -> usize { args[i].parse().expect("number") };
    match role {
        "zenoh-bridge-recv" => bridge_recv(
            &args[0],
            &Stream {
                size: num(1),
                count: num(2),
                warm: num(3),
            },
        ),
        "zenoh-bridge-send" => bridge_send(&args[0], num(1), num(2)),
        "zenoh-bridge-pong" => bridge_pong(&args[0]),
        "zenoh-bridge-ping" => bridge_ping(
            &args[0],
            &PingPong {
                size: num(1),
                count: num(2),
                warm: num(3),
            },
        ),
        _ => return false,
    }
    true
}

/// A name for a local broadcast of this process.
fn local(tag: &str) -> String {
    format!("shmkit-bench-zb-{}-{tag}", std::process::id())
}

/// A local broadcast of messages up to `size` bytes.
fn create(name: &str, size: usize) -> Publisher {
    broadcast::options()
        .slots(SLOTS)
        .slot_size(size)
        .max_subscribers(2)
        .create_publisher(name)
        .expect("create the local broadcast")
}

/// Subscribes to `name` once its importer has created it.
fn subscribe(name: &str) -> Subscriber {
    let deadline = Instant::now() + GUARD;
    loop {
        match broadcast::options().open_subscriber(name) {
            Ok(s) => return s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("subscribe to {name}: {e}"),
        }
    }
}

fn import_opts(size: usize) -> ImportOptions {
    let mut o = ImportOptions::default();
    o.slots(SLOTS).max_message(size).resume(false);
    o
}

/// Receiver: an importer into a local broadcast, and the application subscribed to it.
fn bridge_recv(listen: &str, plan: &Stream) {
    let z = zenoh_open(Some(listen), None);
    let name = local("in");
    let bridge = shmkit_zenoh::import(&z, "shmkit/bench/bridge", &name, &import_opts(plan.size))
        .expect("start the importer");
    let mut sub = subscribe(&name);
    say_ready();
    let s = time_stream(plan, |i| {
        let m = sub
            .recv_timeout(GUARD)
            .expect("a message within the guard time");
        assert_eq!(m.len(), plan.size, "message {i} has the wrong size");
        check(&m, i);
    });
    drop(sub);
    bridge.stop().expect("the importer ran without error");
    say_summary(&s);
}

/// Sender: the application publishes on a local broadcast, an exporter forwards it. Stays
/// until killed (the exporter keeps messages until the importer has acknowledged them).
fn bridge_send(connect: &str, size: usize, count: usize) {
    let z = zenoh_open(None, Some(connect));
    let name = local("out");
    let mut publ = create(&name, size);
    let _bridge = shmkit_zenoh::export(
        &z,
        "shmkit/bench/bridge",
        Source::broadcast(&name),
        &ExportOptions::default(),
    )
    .expect("start the exporter");
    while publ.subscribers() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..count {
        let mut loan = publ.loan(size).expect("loan");
        fill(&mut loan, i);
        loan.commit();
    }
    std::thread::sleep(GUARD);
}

/// Ponger: pings arrive through an importer; pongs leave through an exporter.
fn bridge_pong(listen: &str) {
    let z = zenoh_open(Some(listen), None);
    let (ping_in, pong_out) = (local("ping-in"), local("pong-out"));
    let mut publ = create(&pong_out, crate::zenoh::PING_SIZE);
    let mut opts = ExportOptions::default();
    opts.express(true);
    let _out = shmkit_zenoh::export(&z, "shmkit/bench/pong", Source::broadcast(&pong_out), &opts)
        .expect("start the exporter");
    let _in = shmkit_zenoh::import(
        &z,
        "shmkit/bench/ping",
        &ping_in,
        &import_opts(crate::zenoh::PING_SIZE),
    )
    .expect("start the importer");
    let mut sub = subscribe(&ping_in);
    say_ready();
    let mut buf = Vec::new();
    loop {
        sub.recv_into_timeout(&mut buf, GUARD)
            .expect("a ping within the guard time");
        if seq_of(&buf) == STOP {
            break;
        }
        publ.send(&buf).expect("send the pong");
    }
}

/// Pinger: pings leave through an exporter, pongs come back through an importer.
fn bridge_ping(connect: &str, plan: &PingPong) {
    let z = zenoh_open(None, Some(connect));
    let (ping_out, pong_in) = (local("ping-out"), local("pong-in"));
    let mut publ = create(&ping_out, plan.size);
    let mut opts = ExportOptions::default();
    opts.express(true);
    let _out = shmkit_zenoh::export(&z, "shmkit/bench/ping", Source::broadcast(&ping_out), &opts)
        .expect("start the exporter");
    let _in = shmkit_zenoh::import(&z, "shmkit/bench/pong", &pong_in, &import_opts(plan.size))
        .expect("start the importer");
    let mut sub = subscribe(&pong_in);
    while publ.subscribers() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut buf = Vec::new();
    let s = time_round_trips(plan, |seq| {
        publ.send(&ping_message(seq, plan.size))
            .expect("send the ping");
        sub.recv_into_timeout(&mut buf, GUARD).expect("a pong");
        assert_eq!(seq_of(&buf), seq, "pong out of order");
    });
    publ.send(&ping_message(STOP, plan.size))
        .expect("send the stop");
    say_summary(&s);
    // The exporter keeps the stop message until the ponger's importer has it; the parent
    // waits for the ponger, then ends this process.
    std::thread::sleep(GUARD);
}

/// Through shmkit bridges: publisher + exporter in one process, importer + subscriber in the
/// other (Block, the default).
pub(crate) fn bridge_stream(plan: &Stream) -> Summary {
    let at = endpoint(free_port());
    let (size, count, warm) = (
        plan.size.to_string(),
        plan.count.to_string(),
        plan.warm.to_string(),
    );
    let (receiver, mut out) = spawn_ready("zenoh-bridge-recv", &[&at, &size, &count, &warm]);
    let sender = spawn("zenoh-bridge-send", &[&at, &size, &count], Stdio::null());
    let s = read_summary(receiver, &mut out);
    end(sender);
    s
}

/// Ends a child that stays after its work (its exporter keeps messages for the importer),
/// and removes the local broadcasts it leaves.
fn end(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
    for tag in ["out", "in", "ping-out", "pong-in", "ping-in", "pong-out"] {
        let _ = shmkit::Segment::remove(&format!("shmkit-bench-zb-{}-{tag}", child.id()));
    }
}

/// Ping-pong through shmkit bridges (an exporter and an importer on each side).
pub(crate) fn bridge_pingpong(plan: &PingPong) -> Summary {
    let at = endpoint(free_port());
    let (mut ponger, _out) = spawn_ready("zenoh-bridge-pong", &[&at]);
    let (size, count, warm) = (
        plan.size.to_string(),
        plan.count.to_string(),
        plan.warm.to_string(),
    );
    let mut pinger = spawn(
        "zenoh-bridge-ping",
        &[&at, &size, &count, &warm],
        Stdio::piped(),
    );
    let mut out = BufReader::new(pinger.stdout.take().expect("piped stdout"));
    let s = parse_summary(&mut out);
    assert!(ponger.wait().unwrap().success(), "the ponger failed");
    end(pinger);
    s
}
