//! Zenoh baselines, all between two processes (this binary, re-executed twice): the rows that
//! shmkit's Zenoh bridges will be compared to.
//!
//! A row is a [`Route`]: a function that starts a sender process and a receiver process for a
//! plan ([`Stream`] or [`PingPong`]) and returns the receiver's (or the pinger's) measurement.
//! The parent only orchestrates: it starts the receiving side, waits for its `ready` line, starts
//! the sending side and reads the measurement back from the measuring child's standard output.
//! A later row ("through shmkit bridges") is one more such function.
//!
//! The children are not pinned to CPUs (they undo any pinning inherited from the parent), so
//! the numbers do not depend on which benches ran before.
//!
//! Zenoh runs in peer mode on loopback with explicit TCP endpoints (one side listens on
//! `tcp/127.0.0.1:<free port>`, the other connects to it), multicast scouting off, so nothing
//! depends on the network. The same work over a bare TCP connection is the yardstick.
//!
//! - `zenoh_throughput_64KiB` / `_1MiB`: the sender puts messages (reliable, the default, and
//!   `CongestionControl::Block`), each filled with its pattern; the receiver checks every byte
//!   of every message, so a lost or reordered message fails the bench. Time per message is
//!   measured over batches of [`BATCH`] messages (Zenoh delivers in bursts) and reported as
//!   the median and p99 of those batch averages; messages/s and MB/s follow from the median.
//! - `zenoh_latency_64B`: ping-pong of 64-byte messages (key `ping` one way, `pong` the other);
//!   median and p99 of the round trip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use ::zenoh::qos::CongestionControl;
use ::zenoh::{Config, Session, Wait};

use crate::channel::{rotate, spawn};
use crate::stats::{Row, Summary};
use crate::throughput::{check, fill};

/// Name of the 64 KiB throughput table.
pub const TPUT_64K: &str = "zenoh_throughput_64KiB";
/// Name of the 1 MiB throughput table.
pub const TPUT_1M: &str = "zenoh_throughput_1MiB";
/// Name of the latency table.
pub const LATENCY: &str = "zenoh_latency_64B";
/// Titles of the tables.
pub const TITLES: [(&str, &str); 3] = [
    (
        TPUT_64K,
        "Zenoh throughput, 64 KiB messages, sender process -> receiver process (time per message, batch averages)",
    ),
    (
        TPUT_1M,
        "Zenoh throughput, 1 MiB messages, sender process -> receiver process (time per message, batch averages)",
    ),
    (
        LATENCY,
        "Zenoh latency, 64-byte ping-pong between two processes (round trip)",
    ),
];

/// Messages per timed batch in the throughput benches.
pub(crate) const BATCH: usize = 8;

/// The key the throughput benches publish on.
const DATA_KEY: &str = "shmkit/bench/data";
/// The keys of the ping-pong.
const PING_KEY: &str = "shmkit/bench/ping";
const PONG_KEY: &str = "shmkit/bench/pong";
/// Size of a ping-pong message.
pub(crate) const PING_SIZE: usize = 64;
/// The ping sequence number that tells the ponger to stop.
pub(crate) const STOP: u64 = u64::MAX;
/// How long a child waits for its peer before giving up (a guard against hangs only).
pub(crate) const GUARD: Duration = Duration::from_secs(60);

/// A one-way stream of `count` messages of `size` bytes; the first `warm` are not timed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    pub size: usize,
    pub count: usize,
    pub warm: usize,
}

/// `count` timed round trips of `size`-byte messages after `warm` untimed ones.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PingPong {
    pub size: usize,
    pub count: usize,
    pub warm: usize,
}

/// A row: starts a sender process and a receiver process for the plan and returns the
/// measurement.
pub(crate) type Route<P> = fn(&P) -> Summary;

/// The child side of the Zenoh benches; false if `role` is not one of them.
pub fn child(role: &str, args: &[String]) -> bool {
    if !role.starts_with("zenoh-") {
        return false;
    }
    // Every side runs on all CPUs, whatever the parent was pinned to by the benches before:
    // Zenoh spreads its work over runtime threads, and one CPU would serialise them.
    crate::sync::unpin();
    let num = |i: usize| -> usize { args[i].parse().expect("number") };
    match role {
        "zenoh-recv" => {
            let plan = Stream {
                size: num(1),
                count: num(2),
                warm: num(3),
            };
            zenoh_recv(&args[0], &plan);
        }
        "zenoh-send" => zenoh_send(&args[0], num(1), num(2)),
        "zenoh-pong" => zenoh_pong(&args[0]),
        "zenoh-ping" => {
            let plan = PingPong {
                size: num(1),
                count: num(2),
                warm: num(3),
            };
            zenoh_ping(&args[0], &plan);
        }
        "zenoh-tcp-recv" => {
            let plan = Stream {
                size: num(1),
                count: num(2),
                warm: num(3),
            };
            tcp_recv(&args[0], &plan);
        }
        "zenoh-tcp-send" => tcp_send(&args[0], num(1), num(2)),
        "zenoh-tcp-pong" => tcp_pong(&args[0], num(1)),
        "zenoh-tcp-ping" => {
            let plan = PingPong {
                size: num(1),
                count: num(2),
                warm: num(3),
            };
            tcp_ping(&args[0], &plan);
        }
        _ => return false,
    }
    true
}

// ---- plumbing shared by every route ----

/// A loopback TCP port that was free a moment ago (the OS picks it; there is a small window in
/// which another program could take it).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts child `role` with `args`, its standard output piped, and waits for its `ready` line.
pub(crate) fn spawn_ready(role: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = spawn(role, args, Stdio::piped());
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    out.read_line(&mut line)
        .expect("read the child's ready line");
    assert_eq!(line.trim(), "ready", "child {role} did not start");
    (child, out)
}

/// Tells the parent this child is ready.
pub(crate) fn say_ready() {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
}

/// Writes a measurement to standard output for [`read_summary`].
pub(crate) fn say_summary(s: &Summary) {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {} {} {} {}",
        s.median.as_nanos(),
        s.p99.as_nanos(),
        s.p999.as_nanos(),
        s.max.as_nanos(),
        s.samples
    )
    .unwrap();
    out.flush().unwrap();
}

/// Reads the measurement a child wrote with [`say_summary`], then waits for it to succeed.
pub(crate) fn read_summary(mut child: Child, out: &mut BufReader<ChildStdout>) -> Summary {
    let s = parse_summary(out);
    assert!(
        child.wait().unwrap().success(),
        "the measuring child failed"
    );
    s
}

/// Reads the measurement a child wrote with [`say_summary`].
pub(crate) fn parse_summary(out: &mut BufReader<ChildStdout>) -> Summary {
    let mut line = String::new();
    out.read_line(&mut line)
        .expect("read the child's measurement");
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().expect("a measurement"))
        .collect();
    assert_eq!(f.len(), 5, "malformed measurement {line:?}");
    Summary {
        median: Duration::from_nanos(f[0]),
        p99: Duration::from_nanos(f[1]),
        p999: Duration::from_nanos(f[2]),
        max: Duration::from_nanos(f[3]),
        samples: f[4] as usize,
    }
}

/// Receives the stream's messages with `recv_one(i)` (which receives and checks message `i`)
/// and summarises the time per message, averaged over batches of [`BATCH`], after the warm-up.
pub(crate) fn time_stream(plan: &Stream, mut recv_one: impl FnMut(usize)) -> Summary {
    for i in 0..plan.warm {
        recv_one(i);
    }
    let mut v = Vec::with_capacity((plan.count - plan.warm) / BATCH + 1);
    let mut i = plan.warm;
    while i < plan.count {
        let n = BATCH.min(plan.count - i);
        let t = Instant::now();
        for k in i..i + n {
            recv_one(k);
        }
        v.push(t.elapsed() / n as u32);
        i += n;
    }
    Summary::of(&mut v)
}

/// `plan.warm` untimed round trips, then `plan.count` timed ones: `round_trip(seq)` sends ping
/// `seq` (numbered from 0) and waits for its pong.
pub(crate) fn time_round_trips(plan: &PingPong, mut round_trip: impl FnMut(u64)) -> Summary {
    for seq in 0..plan.warm as u64 {
        round_trip(seq);
    }
    let mut v = Vec::with_capacity(plan.count);
    for seq in 0..plan.count as u64 {
        let t = Instant::now();
        round_trip(plan.warm as u64 + seq);
        v.push(t.elapsed());
    }
    Summary::of(&mut v)
}

/// The contents of ping `seq`: the sequence number, then a filler.
pub(crate) fn ping_message(seq: u64, size: usize) -> Vec<u8> {
    let mut m = vec![0xa5u8; size.max(8)];
    m[..8].copy_from_slice(&seq.to_le_bytes());
    m
}

pub(crate) fn seq_of(m: &[u8]) -> u64 {
    u64::from_le_bytes(m[..8].try_into().expect("at least 8 bytes"))
}

// ---- Zenoh ----

/// A peer-mode configuration on loopback TCP: listen on `listen` or connect to `connect`
/// (`tcp/127.0.0.1:<port>`), multicast scouting off.
pub(crate) fn zenoh_config(listen: Option<&str>, connect: Option<&str>) -> Config {
    let mut c = Config::default();
    let list = |e: Option<&str>| e.map_or_else(|| String::from("[]"), |e| format!(r#"["{e}"]"#));
    c.insert_json5("mode", r#""peer""#).unwrap();
    c.insert_json5("listen/endpoints", &list(listen)).unwrap();
    c.insert_json5("connect/endpoints", &list(connect)).unwrap();
    c.insert_json5("scouting/multicast/enabled", "false")
        .unwrap();
    c
}

pub(crate) fn zenoh_open(listen: Option<&str>, connect: Option<&str>) -> Session {
    ::zenoh::open(zenoh_config(listen, connect))
        .wait()
        .expect("open a Zenoh session")
}

pub(crate) fn endpoint(port: u16) -> String {
    format!("tcp/127.0.0.1:{port}")
}

/// Waits until `publisher` has a matching subscriber (a put before that is dropped).
fn wait_matching(publisher: &::zenoh::pubsub::Publisher<'_>) {
    let deadline = Instant::now() + GUARD;
    while !publisher.matching_status().wait().unwrap().matching() {
        assert!(Instant::now() < deadline, "no subscriber matched");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Receiver: listens on `listen`, subscribes, says ready, checks every message and reports.
fn zenoh_recv(listen: &str, plan: &Stream) {
    let session = zenoh_open(Some(listen), None);
    let sub = session.declare_subscriber(DATA_KEY).wait().unwrap();
    say_ready();
    let s = time_stream(plan, |i| {
        let sample = sub
            .recv_timeout(GUARD)
            .unwrap()
            .expect("a message within the guard time");
        let payload = sample.payload();
        assert_eq!(payload.len(), plan.size, "message {i} has the wrong size");
        // Checked slice by slice, in place: a message larger than a batch (64 KiB) arrives in
        // fragments, which `to_bytes` would copy into one buffer.
        for slice in payload.slices() {
            check(slice, i);
        }
    });
    drop(sub);
    session.close().wait().unwrap();
    say_summary(&s);
}

/// Sender: connects to `connect`, waits for the subscriber, puts `count` messages of `size`
/// bytes (message `i` filled with its pattern), then stays until the subscriber is gone, so
/// closing the session cannot cut off what is still queued.
fn zenoh_send(connect: &str, size: usize, count: usize) {
    let session = zenoh_open(None, Some(connect));
    let publisher = session
        .declare_publisher(DATA_KEY)
        .congestion_control(CongestionControl::Block)
        .wait()
        .unwrap();
    wait_matching(&publisher);
    for i in 0..count {
        let mut msg = vec![0u8; size];
        fill(&mut msg, i);
        publisher.put(msg).wait().unwrap();
    }
    let deadline = Instant::now() + GUARD;
    while publisher.matching_status().wait().unwrap().matching() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Ponger: listens on `listen`, answers every ping with the same bytes on `pong` until the
/// stop message.
fn zenoh_pong(listen: &str) {
    let session = zenoh_open(Some(listen), None);
    let publisher = session
        .declare_publisher(PONG_KEY)
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .unwrap();
    let sub = session.declare_subscriber(PING_KEY).wait().unwrap();
    say_ready();
    loop {
        let sample = sub
            .recv_timeout(GUARD)
            .unwrap()
            .expect("a ping within the guard time");
        let bytes = sample.payload().to_bytes();
        if seq_of(&bytes) == STOP {
            break;
        }
        publisher.put(bytes.into_owned()).wait().unwrap();
    }
}

/// Pinger: connects to `connect`, then times round trips. A ping sent before the ponger's
/// publisher has seen this side's subscriber is lost, so the first one is retried until it is
/// answered; sequence numbers discard any late duplicate.
fn zenoh_ping(connect: &str, plan: &PingPong) {
    let session = zenoh_open(None, Some(connect));
    let sub = session.declare_subscriber(PONG_KEY).wait().unwrap();
    let publisher = session
        .declare_publisher(PING_KEY)
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .unwrap();
    wait_matching(&publisher);
    let round_trip = |seq: u64, patience: Duration| -> bool {
        publisher.put(ping_message(seq, plan.size)).wait().unwrap();
        let deadline = Instant::now() + patience;
        loop {
            match sub.recv_deadline(deadline).unwrap() {
                Some(s) if seq_of(&s.payload().to_bytes()) == seq => return true,
                Some(_) => {}
                None => return false,
            }
        }
    };
    let deadline = Instant::now() + GUARD;
    while !round_trip(0, Duration::from_millis(100)) {
        assert!(Instant::now() < deadline, "no pong");
    }
    for seq in 1..=plan.warm as u64 {
        assert!(round_trip(seq, GUARD), "no pong");
    }
    let mut v = Vec::with_capacity(plan.count);
    for seq in 0..plan.count as u64 {
        let t = Instant::now();
        assert!(round_trip(plan.warm as u64 + 1 + seq, GUARD), "no pong");
        v.push(t.elapsed());
    }
    publisher.put(ping_message(STOP, plan.size)).wait().unwrap();
    // Let the stop message leave before the session closes.
    let guard = Instant::now() + GUARD;
    while publisher.matching_status().wait().unwrap().matching() && Instant::now() < guard {
        std::thread::sleep(Duration::from_millis(1));
    }
    say_summary(&Summary::of(&mut v));
}

/// Direct Zenoh, peer to peer over TCP loopback: a subscriber process and a publisher process.
pub(crate) fn zenoh_stream(plan: &Stream) -> Summary {
    let at = endpoint(free_port());
    let (size, count, warm) = (
        plan.size.to_string(),
        plan.count.to_string(),
        plan.warm.to_string(),
    );
    let (receiver, mut out) = spawn_ready("zenoh-recv", &[&at, &size, &count, &warm]);
    let mut sender = spawn("zenoh-send", &[&at, &size, &count], Stdio::null());
    let s = read_summary(receiver, &mut out);
    assert!(sender.wait().unwrap().success(), "the sender failed");
    s
}

/// Direct Zenoh ping-pong, peer to peer over TCP loopback.
pub(crate) fn zenoh_pingpong(plan: &PingPong) -> Summary {
    let at = endpoint(free_port());
    let (mut ponger, _out) = spawn_ready("zenoh-pong", &[&at]);
    let (size, count, warm) = (
        plan.size.to_string(),
        plan.count.to_string(),
        plan.warm.to_string(),
    );
    let mut pinger = spawn("zenoh-ping", &[&at, &size, &count, &warm], Stdio::piped());
    let mut out = BufReader::new(pinger.stdout.take().expect("piped stdout"));
    let s = read_summary(pinger, &mut out);
    assert!(ponger.wait().unwrap().success(), "the ponger failed");
    s
}

// ---- bare TCP, the yardstick ----

fn tcp_recv(listen: &str, plan: &Stream) {
    let listener = TcpListener::bind(listen).unwrap();
    say_ready();
    let (mut conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; plan.size];
    let s = time_stream(plan, |i| {
        conn.read_exact(&mut buf).unwrap();
        check(&buf, i);
    });
    say_summary(&s);
}

fn tcp_send(connect: &str, size: usize, count: usize) {
    let mut conn = TcpStream::connect(connect).unwrap();
    for i in 0..count {
        // The same application work as the Zenoh sender: a new buffer per message, filled.
        let mut msg = vec![0u8; size];
        fill(&mut msg, i);
        conn.write_all(&msg).unwrap();
    }
    conn.flush().unwrap();
}

fn tcp_pong(listen: &str, size: usize) {
    let listener = TcpListener::bind(listen).unwrap();
    say_ready();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; size];
    loop {
        conn.read_exact(&mut buf).unwrap();
        if seq_of(&buf) == STOP {
            break;
        }
        conn.write_all(&buf).unwrap();
    }
}

fn tcp_ping(connect: &str, plan: &PingPong) {
    let mut conn = TcpStream::connect(connect).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; plan.size];
    let s = time_round_trips(plan, |seq| {
        conn.write_all(&ping_message(seq, plan.size)).unwrap();
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(seq_of(&buf), seq, "pong out of order");
    });
    conn.write_all(&ping_message(STOP, plan.size)).unwrap();
    say_summary(&s);
}

/// Bare TCP loopback stream between two processes (no Zenoh).
pub(crate) fn tcp_stream(plan: &Stream) -> Summary {
    let at = format!("127.0.0.1:{}", free_port());
    let (size, count, warm) = (
        plan.size.to_string(),
        plan.count.to_string(),
        plan.warm.to_string(),
    );
    let (receiver, mut out) = spawn_ready("zenoh-tcp-recv", &[&at, &size, &count, &warm]);
    let mut sender = spawn("zenoh-tcp-send", &[&at, &size, &count], Stdio::null());
    let s = read_summary(receiver, &mut out);
    assert!(sender.wait().unwrap().success(), "the sender failed");
    s
}

/// Bare TCP loopback ping-pong between two processes (no Zenoh), `TCP_NODELAY` on both ends.
pub(crate) fn tcp_pingpong(plan: &PingPong) -> Summary {
    let at = format!("127.0.0.1:{}", free_port());
    let size = plan.size.to_string();
    let (mut ponger, _out) = spawn_ready("zenoh-tcp-pong", &[&at, &size]);
    let (count, warm) = (plan.count.to_string(), plan.warm.to_string());
    let mut pinger = spawn(
        "zenoh-tcp-ping",
        &[&at, &size, &count, &warm],
        Stdio::piped(),
    );
    let mut out = BufReader::new(pinger.stdout.take().expect("piped stdout"));
    let s = read_summary(pinger, &mut out);
    assert!(ponger.wait().unwrap().success(), "the ponger failed");
    s
}

// ---- tables ----

/// Runs `routes` on `plan` `rounds` times in rotating order; each route's median round.
fn run_routes<P: Copy + 'static>(routes: &[Route<P>], plan: P, rounds: usize) -> Vec<Summary> {
    let variants: Vec<Box<dyn Fn() -> Summary>> = routes
        .iter()
        .map(|&r| Box::new(move || r(&plan)) as Box<dyn Fn() -> Summary>)
        .collect();
    rotate(&variants, rounds)
}

/// The Zenoh tables.
pub fn run(quick: bool) -> Vec<Row> {
    let rounds = if quick { 1 } else { 3 };
    let mut rows = Vec::new();
    for (bench, size, count) in [(TPUT_64K, 64usize << 10, 4000), (TPUT_1M, 1 << 20, 400)] {
        let count = if quick { count / 10 } else { count };
        let plan = Stream {
            size,
            count,
            warm: (count / 8).max(BATCH),
        };
        let routes: [Route<Stream>; 3] = [tcp_stream, zenoh_stream, crate::bridge::bridge_stream];
        let got = run_routes(&routes, plan, rounds);
        let tcp = Row::base(bench, "TCP loopback, bare (no Zenoh)", got[0]).moving(size as u64);
        let direct = Row::base(bench, "Zenoh direct (peer, TCP loopback)", got[1]);
        rows.push(
            Row::vs(
                bench,
                "through shmkit bridges (Block), vs Zenoh direct",
                got[2],
                &direct,
            )
            .moving(size as u64)
            .rates(),
        );
        rows.push(
            Row::vs(bench, "Zenoh direct (peer, TCP loopback)", got[1], &tcp)
                .moving(size as u64)
                .rates(),
        );
        rows.push(tcp.rates());
    }
    let plan = PingPong {
        size: PING_SIZE,
        count: if quick { 500 } else { 10_000 },
        warm: if quick { 50 } else { 1000 },
    };
    let routes: [Route<PingPong>; 3] =
        [tcp_pingpong, zenoh_pingpong, crate::bridge::bridge_pingpong];
    let got = run_routes(&routes, plan, rounds);
    let tcp = Row::base(LATENCY, "TCP loopback, bare (no Zenoh, NODELAY)", got[0]);
    let direct = Row::base(LATENCY, "Zenoh direct", got[1]);
    rows.push(Row::vs(
        LATENCY,
        "through shmkit bridges (Block, express), vs Zenoh direct",
        got[2],
        &direct,
    ));
    rows.push(Row::vs(
        LATENCY,
        "Zenoh direct (peer, TCP loopback, express)",
        got[1],
        &tcp,
    ));
    rows.push(tcp);
    rows
}
