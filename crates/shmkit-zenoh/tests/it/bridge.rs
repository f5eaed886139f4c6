//! Bridges between two machines (private `/dev/shm` each, loopback network between them):
//! a 100 MiB stream through an exporter on A and an importer on B; request/response across;
//! the importer killed and restarted mid-stream, under Block (nothing lost, nothing twice) and
//! under Drop (every missing message counted), and under Drop killed near the end and
//! restarted after it (what it missed counted from the exporter's tail).
//!
//! Each bridge is this test binary in the role `bridge` (the library, as a program would embed
//! it), printing its stats as JSON lines; the streams are the checked `stream_pub` /
//! `stream_sub` programs; the service ends are roles too.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shmkit_zenoh::{Congestion, ExportOptions, ImportOptions, ServiceOptions, SessionConfig};

use crate::machine::{Machine, Pair};
use crate::streams::assert_whole;
use crate::util::{as_role, example, say, unique, Running};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("bridge", child_bridge),
    ("echo_server", child_echo_server),
    ("caller", child_caller),
];

/// `key=value` arguments of a role.
fn arg<'a>(args: &'a [String], key: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn stats_json(s: &shmkit_zenoh::Stats, last: bool) -> String {
    json!({
        "messages": s.messages, "bytes": s.bytes, "dropped": s.dropped, "lost": s.lost,
        "refused": s.refused, "reconnects": s.reconnects, "local_restarts": s.local_restarts,
        "last_error": s.last_error, "final": last,
    })
    .to_string()
}

/// A bridge: `kind=export|import|serve|offer key=K local=NAME congestion=block|drop
/// listen=EP | connect=EP stop=PATH [max=BYTES]`. Prints its stats every 100 ms and once
/// more when `stop` exists (then it stops gracefully).
fn child_bridge(args: &[String]) {
    let get = |k: &str| arg(args, k).unwrap_or_else(|| panic!("bridge: no {k}= in {args:?}"));
    let mut z = SessionConfig {
        no_multicast_scouting: true,
        ..Default::default()
    };
    z.listen.extend(arg(args, "listen").map(str::to_owned));
    z.connect.extend(arg(args, "connect").map(str::to_owned));
    let session = z.open().expect("zenoh session");
    let congestion = match arg(args, "congestion") {
        Some("drop") => Congestion::Drop,
        _ => Congestion::Block,
    };
    let (key, local) = (get("key"), get("local"));
    let bridge = match get("kind") {
        "export" => {
            let mut o = ExportOptions::default();
            o.congestion(congestion);
            shmkit_zenoh::export(&session, key, shmkit_zenoh::Source::broadcast(local), &o)
        }
        "import" => {
            let max = arg(args, "max").map_or(64 << 10, |m| m.parse().unwrap());
            let mut o = ImportOptions::default();
            o.congestion(congestion).max_message(max);
            shmkit_zenoh::import(&session, key, local, &o)
        }
        "serve" => shmkit_zenoh::serve(&session, key, local, &ServiceOptions::default()),
        "offer" => shmkit_zenoh::offer(&session, key, local, &ServiceOptions::default()),
        k => panic!("bridge kind {k}"),
    }
    .expect("start the bridge");
    say("started");
    let stop = PathBuf::from(get("stop"));
    while !stop.exists() {
        std::thread::sleep(Duration::from_millis(100));
        say(&stats_json(&bridge.stats(), false));
        assert!(!bridge.is_finished(), "the bridge stopped by itself");
    }
    let s = bridge.stop().expect("the bridge ran without error");
    say(&stats_json(&s, true));
}

/// A service `name=N` answering `count=N` requests with their bytes reversed.
fn child_echo_server(args: &[String]) {
    let name = arg(args, "name").unwrap();
    let count: usize = arg(args, "count").unwrap().parse().unwrap();
    let mut server = shmkit::service::options().create_server(name).unwrap();
    say("ready");
    for _ in 0..count {
        let req = server.recv_timeout(Duration::from_secs(60)).unwrap();
        let mut answer = req.to_vec();
        answer.reverse();
        server.respond(req.handle(), &answer).unwrap();
    }
    say(r#"{"served":true}"#);
}

/// A client of service `name=N` (waiting for it to exist) sending `count=N` requests, eight
/// in flight, checking each answer.
fn child_caller(args: &[String]) {
    let name = arg(args, "name").unwrap();
    let count: usize = arg(args, "count").unwrap().parse().unwrap();
    let start = Instant::now();
    let mut client = loop {
        match shmkit::service::open_client(name) {
            Ok(c) => break c,
            Err(e) if start.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("connect {name}: {e}"),
        }
    };
    let body = |i: usize| format!("request {i} {}", "x".repeat(i % 300)).into_bytes();
    let mut answered = 0;
    for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|&i| (i, client.request(&body(i)).unwrap()))
            .collect();
        for (i, p) in pending {
            let resp = client.wait_timeout(p, Duration::from_secs(30)).unwrap();
            let mut want = body(i);
            want.reverse();
            assert_eq!(&*resp, &want[..], "response {i}");
            answered += 1;
        }
    }
    say(&json!({ "answered": answered }).to_string());
}

/// A free TCP port on loopback (the machines share the host's network).
fn endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("tcp/127.0.0.1:{port}")
}

/// A file whose creation stops the bridges (visible in every machine: only /dev/shm differs).
struct StopFile(PathBuf);

impl StopFile {
    fn new() -> StopFile {
        StopFile(std::env::temp_dir().join(unique("stop")))
    }
    fn arg(&self) -> String {
        format!("stop={}", self.0.display())
    }
    fn set(&self) {
        std::fs::write(&self.0, b"").unwrap();
    }
}

impl Drop for StopFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The test binary in `machine` as a `bridge` with `args`.
fn bridge(machine: &Machine, what: &str, args: &[&str]) -> Running {
    let mut c = machine.command(std::env::current_exe().unwrap());
    as_role(&mut c, "bridge", args);
    let mut r = Running::spawn(what, c);
    r.wait_for_line("started");
    r
}

/// Stats lines until `pred` holds on one (panics after the hang guard).
#[track_caller]
fn until(r: &mut Running, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + crate::util::HANG_GUARD;
    while Instant::now() < deadline {
        let Some(line) = r.next_line(Duration::from_secs(5)) else {
            continue;
        };
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if pred(&v) {
                return v;
            }
        }
    }
    panic!("no stats line matched: {:#?}", r.finish());
}

/// The final stats line of a bridge stopped by its stop file.
#[track_caller]
fn final_stats(r: &mut Running) -> Value {
    until(r, |v| v["final"] == true)
}

fn program(machine: &Machine, name: &str, args: &[&str]) -> Command {
    let mut c = machine.command(example(name));
    c.args(args);
    c
}

/// A 100 MiB stream of checked messages of mixed sizes (16 B to 64 KiB) from a publisher on
/// A to a subscriber on B, through an exporter on A and an importer on B. With a network
/// namespace per machine joined by a veth pair where `ip` can make one (else the machines
/// share the host's loopback).
#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_100_mib_stream_crosses_two_machines_intact_and_in_order() {
    let pair = Pair::new(9);
    let ep = match pair.veth {
        true => format!("tcp/{}:7447", pair.a_addr),
        false => endpoint(),
    };
    eprintln!("A listens on {ep} (veth: {})", pair.veth);
    let (a, b) = (&pair.a, &pair.b);
    let (name, key, stop) = (unique("s"), unique("k"), StopFile::new());
    let (stop_arg, key_arg, local) = (stop.arg(), format!("key={key}"), format!("local={name}"));
    // 4200 mixed messages average ~25 KiB: over 100 MiB (checked below).
    let count = "4200";
    let sub = Running::spawn(
        "subscriber on B",
        program(
            b,
            "stream_sub",
            &["--name", &name, "--count", count, "--timeout", "60s"],
        ),
    );
    let listen = format!("listen={ep}");
    let connect = format!("connect={ep}");
    let mut exporter = bridge(
        a,
        "exporter on A",
        &["kind=export", &key_arg, &local, &listen, &stop_arg],
    );
    let mut importer = bridge(
        b,
        "importer on B",
        &["kind=import", &key_arg, &local, &connect, &stop_arg],
    );
    let publ = Running::spawn(
        "publisher on A",
        program(
            a,
            "stream_pub",
            &[
                "--name",
                &name,
                "--count",
                count,
                "--size",
                "64KiB",
                "--sizes",
                "mixed",
                "--wait-subscribers",
                "1",
            ],
        ),
    );
    let p = publ.success().summary();
    let s = sub.success().summary();
    assert_whole(&s, 0, 4200);
    assert_eq!(s["bytes"], p["bytes"]);
    assert!(p["bytes"].as_u64().unwrap() >= 100 << 20, "{p}");
    stop.set();
    let (e, i) = (final_stats(&mut exporter), final_stats(&mut importer));
    assert_eq!(
        (&e["messages"], &e["dropped"], &e["refused"]),
        (&json!(4200), &json!(0), &json!(0)),
        "{e}"
    );
    assert_eq!(
        (&i["messages"], &i["lost"], &i["dropped"], &i["refused"]),
        (&json!(4200), &json!(0), &json!(0), &json!(0)),
        "{i}"
    );
    assert_eq!(i["bytes"], p["bytes"]);
}

/// A client on B calls a server on A: B's `offer` turns requests into Zenoh queries, A's
/// `serve` answers them from the local server.
#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn request_response_crosses_two_machines() {
    let (a, b) = (Machine::new(), Machine::new());
    let (svc, key, ep, stop) = (unique("svc"), unique("k"), endpoint(), StopFile::new());
    let (stop_arg, key_arg, local) = (stop.arg(), format!("key={key}"), format!("local={svc}"));
    let name_arg = format!("name={svc}");
    let mut server = {
        let mut c = a.command(std::env::current_exe().unwrap());
        as_role(&mut c, "echo_server", &[&name_arg, "count=200"]);
        Running::spawn("server on A", c)
    };
    server.wait_for_line("ready");
    let listen = format!("listen={ep}");
    let connect = format!("connect={ep}");
    let mut serve = bridge(
        &a,
        "serve on A",
        &["kind=serve", &key_arg, &local, &listen, &stop_arg],
    );
    let mut offer = bridge(
        &b,
        "offer on B",
        &["kind=offer", &key_arg, &local, &connect, &stop_arg],
    );
    let caller = {
        let mut c = b.command(std::env::current_exe().unwrap());
        as_role(&mut c, "caller", &[&name_arg, "count=200"]);
        Running::spawn("client on B", c)
    };
    assert_eq!(caller.success().summary()["answered"], 200);
    server.success();
    stop.set();
    let (s, o) = (final_stats(&mut serve), final_stats(&mut offer));
    assert_eq!(
        (&s["messages"], &s["refused"]),
        (&json!(200), &json!(0)),
        "{s}"
    );
    assert_eq!(
        (&o["messages"], &o["refused"]),
        (&json!(200), &json!(0)),
        "{o}"
    );
}

/// What the subscriber on B does when the broadcast it reads is replaced (by a restarted
/// importer): follows the new one (`--follow`), or ends.
enum OnReplaced {
    Follow,
    End,
}

/// Machine B, and the arguments its stream's importer was started with (to start it again).
struct MachineB {
    machine: Machine,
    import_args: Vec<String>,
}

impl MachineB {
    /// An importer on B for the stream; `what` names it in failure messages.
    fn importer(&self, what: &str) -> Running {
        let args: Vec<&str> = self.import_args.iter().map(String::as_str).collect();
        bridge(&self.machine, what, &args)
    }
}

/// A checked stream of `count` 8 KiB messages, one a millisecond, from a publisher on machine
/// A to a subscriber on machine B, through an exporter on A and an importer on B, both under
/// one congestion. The fields drop in order: the programs are killed before the stop file
/// and the machines go.
struct Stream {
    publ: Running,
    sub: Running,
    importer: Running,
    exporter: Running,
    stop: StopFile,
    b: MachineB,
    /// Machine A, kept until its programs are gone.
    _a: Machine,
}

impl Stream {
    /// Starts the subscriber on B, the exporter and the importer (`congestion=block|drop`),
    /// then, once the importer has attached, the publisher of `count` messages.
    fn start(count: u64, congestion: &str, on_replaced: OnReplaced) -> Stream {
        let (a, b) = (Machine::new(), Machine::new());
        let (name, key, ep, stop) = (unique("s"), unique("k"), endpoint(), StopFile::new());
        let (stop_arg, key_arg, local) =
            (stop.arg(), format!("key={key}"), format!("local={name}"));
        let cong = format!("congestion={congestion}");
        let count = count.to_string();
        let mut sub_args = vec!["--name", &name, "--count", &count, "--timeout", "20s"];
        if let OnReplaced::Follow = on_replaced {
            sub_args.push("--follow");
        }
        sub_args.extend(["--size", "8KiB"]);
        let sub = Running::spawn("subscriber on B", program(&b, "stream_sub", &sub_args));
        let (listen, connect) = (format!("listen={ep}"), format!("connect={ep}"));
        let b = MachineB {
            machine: b,
            import_args: vec![
                "kind=import".into(),
                key_arg.clone(),
                local.clone(),
                connect,
                stop_arg.clone(),
                cong.clone(),
            ],
        };
        let mut exporter = bridge(
            &a,
            "exporter on A",
            &["kind=export", &key_arg, &local, &listen, &stop_arg, &cong],
        );
        let importer = b.importer("importer on B");
        // Under Drop nothing waits for the importer: let it attach before the stream starts, so
        // the subscriber's first message is the stream's first.
        until(&mut exporter, |_| true);
        std::thread::sleep(Duration::from_millis(500));
        let publ = Running::spawn(
            "publisher on A",
            program(
                &a,
                "stream_pub",
                &[
                    "--name",
                    &name,
                    "--count",
                    &count,
                    "--size",
                    "8KiB",
                    "--wait-subscribers",
                    "1",
                    "--interval",
                    "1ms",
                ],
            ),
        );
        Stream {
            publ,
            sub,
            importer,
            exporter,
            stop,
            b,
            _a: a,
        }
    }
}

/// The importer on B is killed (SIGKILL) a third of the way through and started again; the
/// subscriber on B follows the new broadcast.
fn kill_and_restart_the_importer(congestion: &str) -> (Value, Value, Value, Value) {
    const COUNT: u64 = 3000;
    let mut stream = Stream::start(COUNT, congestion, OnReplaced::Follow);
    until(&mut stream.importer, |v| {
        v["messages"].as_u64().unwrap() >= COUNT / 3
    });
    drop(stream.importer); // SIGKILL, mid-stream
    std::thread::sleep(Duration::from_millis(300));
    stream.importer = stream.b.importer("importer on B, restarted");
    let p = stream.publ.success().summary();
    let s = stream.sub.success().summary();
    // Let the last messages through before stopping the bridges.
    until(&mut stream.importer, |v| {
        v["messages"].as_u64().unwrap()
            + v["lost"].as_u64().unwrap()
            + v["dropped"].as_u64().unwrap()
            > 0
    });
    std::thread::sleep(Duration::from_millis(500));
    stream.stop.set();
    let (e, i) = (
        final_stats(&mut stream.exporter),
        final_stats(&mut stream.importer),
    );
    assert_eq!(p["sent"], COUNT);
    (p, s, e, i)
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn under_block_a_restarted_importer_loses_nothing_and_repeats_nothing() {
    let (_, s, e, i) = kill_and_restart_the_importer("block");
    eprintln!("under Block: subscriber {s}\nexporter {e}\nimporter {i}");
    assert_whole(&s, 0, 3000);
    assert_eq!(s["subscriptions"], 2, "{s}");
    assert_eq!((&i["lost"], &i["dropped"]), (&json!(0), &json!(0)), "{i}");
    assert!(e["reconnects"].as_u64().unwrap() >= 1, "{e}");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn under_drop_every_message_a_restarted_importer_missed_is_counted() {
    let (_, s, e, i) = kill_and_restart_the_importer("drop");
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    // Everything the exporter took reached the subscriber or is counted by the importer (its
    // lost and dropped include its killed predecessor's, from its state segment).
    let first = n(&s, "first_seq");
    assert_eq!(
        first, 0,
        "the importer was attached before the stream started: {s}"
    );
    assert_eq!(n(&e, "messages") + n(&e, "dropped"), 3000, "{e}");
    assert_eq!(
        n(&s, "received") + n(&i, "lost") + n(&i, "dropped"),
        3000,
        "subscriber {s}\nexporter {e}\nimporter {i}"
    );
    assert_eq!(n(&s, "gaps"), n(&i, "lost") + n(&i, "dropped"), "{s} {i}");
    // The importer was gone for a while, with messages flowing: some were missed.
    assert!(n(&i, "lost") > 0, "{i}");
    eprintln!("under Drop: subscriber {s}\nexporter {e}\nimporter {i}");
    assert_eq!((n(&s, "duplicates"), n(&s, "corrupt")), (0, 0), "{s}");
}

/// Under Drop, the importer on B is killed (SIGKILL) near the end of the stream, the stream
/// ends while it is down, and it is started again only after that: no later message shows it
/// the gap. It learns where the stream ended from the exporter (asked on start, and told
/// while the exporter idles), and every message the subscriber did not get is counted once:
/// `published == received + lost + dropped`, exactly.
#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn under_drop_an_importer_restarted_after_the_stream_ended_counts_what_it_missed() {
    const COUNT: u64 = 2000;
    // Not following: it ends when the killed importer's broadcast is gone, with every
    // message that importer published.
    let mut stream = Stream::start(COUNT, "drop", OnReplaced::End);
    until(&mut stream.importer, |v| {
        v["messages"].as_u64().unwrap() >= COUNT * 3 / 4
    });
    drop(stream.importer); // SIGKILL, near the end
    let p = stream.publ.success().summary();
    assert_eq!(p["sent"], COUNT, "{p}");
    let s = stream.sub.success().summary();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    // The stream has ended: the exporter has taken every message.
    let e = until(&mut stream.exporter, |v| {
        n(v, "messages") + n(v, "dropped") == COUNT
    });
    std::thread::sleep(Duration::from_millis(300));
    stream.importer = stream.b.importer("importer on B, restarted");
    // A bounded wait for the restarted importer to learn the end (then the exact check).
    let missed = COUNT - n(&s, "received");
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        let Some(line) = stream.importer.next_line(Duration::from_secs(1)) else {
            continue;
        };
        match serde_json::from_str::<Value>(&line) {
            Ok(v) if n(&v, "lost") + n(&v, "dropped") >= missed => break,
            _ => {}
        }
    }
    stream.stop.set();
    let (e2, i) = (
        final_stats(&mut stream.exporter),
        final_stats(&mut stream.importer),
    );
    eprintln!("restarted after the end: subscriber {s}\nexporter {e2}\nimporter {i}");
    assert_eq!(n(&i, "messages"), 0, "nothing came after the restart: {i}");
    assert_eq!(
        n(&s, "received") + n(&i, "lost") + n(&i, "dropped"),
        COUNT,
        "published == received + lost + dropped\nsubscriber {s}\nexporter {e}\nimporter {i}"
    );
    assert_eq!(n(&s, "first_seq"), 0, "{s}");
    assert_eq!((n(&s, "duplicates"), n(&s, "corrupt")), (0, 0), "{s}");
    // The exporter's own account: every message put or dropped (those it dropped are in the
    // importer's lost too: not to be added twice).
    assert_eq!(n(&e2, "messages") + n(&e2, "dropped"), COUNT, "{e2}");
}
