//! `publish`, `subscribe`, `hz`, `bw`, `call` and `serve` between real processes.

use std::io::Write;
use std::process::Child;
use std::time::Duration;

use super::*;

/// Starts `shmkit ARGS` with piped standard output and error (and input, if `stdin`).
fn spawn(args: &[&str], stdin: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shmkit")
}

/// Runs `shmkit ARGS` with `input` on its standard input.
fn with_input(args: &[&str], input: &[u8]) -> Output {
    let mut c = spawn(args, true);
    c.stdin.take().unwrap().write_all(input).unwrap();
    c.wait_with_output().unwrap()
}

/// Runs a subscriber and a publisher (with `input` on its standard input) side by side; the
/// publisher is killed if it is still running 30 s after the subscriber ended (it may wait
/// for a subscriber that failed: the subscriber's output then says why).
fn side_by_side(sub: &[&str], publ: &[&str], input: &[u8]) -> (Output, Output) {
    let sub = spawn(sub, false);
    let mut p = spawn(publ, true);
    let _ = p.stdin.take().unwrap().write_all(input);
    let s = sub.wait_with_output().unwrap();
    let start = std::time::Instant::now();
    while p.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            let _ = p.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (s, p.wait_with_output().unwrap())
}

/// Standard output as JSON lines.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// A publisher that waits for its subscriber, and a subscriber that ends when the publisher
/// does (the end of a topic is a clean exit): for a broadcast and a channel, lines of text
/// and a line that is not UTF-8.
#[test]
fn publish_then_subscribe_round_trips_lines_of_both_kinds_as_json() {
    for kind in ["broadcast", "channel"] {
        let name = Name::new(kind);
        let (o, publ) = side_by_side(
            &["subscribe", &name, "--wait=30s", "--json"],
            &[
                "publish",
                &name,
                "--kind",
                kind,
                "--wait-for-subscribers",
                "1",
            ],
            b"one\ntwo\n\xff\xfe\n\nlast",
        );
        assert_code(&o, 0);
        assert_code(&publ, 0);
        let got = json_lines(&o);
        assert_eq!(got.len(), 5, "{kind}: {}", stdout(&o));
        let expect = [
            ("text", "one"),
            ("text", "two"),
            ("hex", "fffe"),
            ("text", ""),
            ("text", "last"),
        ];
        for (i, (m, (field, data))) in got.iter().zip(expect).enumerate() {
            assert_eq!(m[field], data, "{kind} {m}");
            assert_eq!(m["seq"], i as u64, "{kind} {m}");
            assert_eq!(m["len"], data.len() / if field == "hex" { 2 } else { 1 });
            assert!(m["time"].as_f64().unwrap() > 1.6e9, "{m}");
            assert!(m.get("layout").is_none(), "untyped: {m}");
        }
        assert!(
            shmkit::inspect::inspect(&name).is_err(),
            "{kind}: the publisher that created {} removes it",
            &*name
        );
    }
}

/// A typed broadcast: frames of exactly the layout's size, the layout in every JSON line,
/// `--count` ending the subscriber early.
#[test]
fn typed_messages_carry_their_layout_and_count_stops_the_subscriber() {
    for kind in ["broadcast", "channel"] {
        let name = Name::new("typed");
        // Bytes of 0x80 and more: not UTF-8, so JSON gives them as hex.
        let mut frames = Vec::new();
        for i in 0..5u8 {
            frames.extend_from_slice(&8u32.to_le_bytes());
            frames.extend_from_slice(&[0x80 | i; 8]);
        }
        let (o, publ) = side_by_side(
            &["subscribe", &name, "--wait=30s", "--json", "--count", "2"],
            &[
                "publish",
                &name,
                "--kind",
                kind,
                "--layout",
                "8:8:tick v1",
                "--length-delimited",
                "--wait-for-subscribers",
                "1",
            ],
            &frames,
        );
        assert_code(&o, 0);
        assert_code(&publ, 0);
        let got = json_lines(&o);
        assert_eq!(got.len(), 2, "{kind}: {}", stdout(&o));
        for (i, m) in got.iter().enumerate() {
            let layout = &m["layout"];
            assert_eq!(
                (&layout["size"], &layout["align"], &layout["tag"]),
                (&8.into(), &8.into(), &"tick v1".into()),
                "{m}"
            );
            assert_eq!(m["len"], 8);
            assert_eq!(m["hex"], format!("{:02x}", 0x80 | i).repeat(8), "{m}");
        }
    }
    // A message of another size than the layout's is refused, naming both.
    let name = Name::new("typedbad");
    let o = shmkit(&[
        "publish",
        &name,
        "--layout",
        "8:4:pair",
        "--text",
        "123456789",
    ]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("9 bytes") && err.contains("8 bytes, align 4"),
        "{err}"
    );
}

#[test]
fn text_repeated_count_times_reaches_a_lines_subscriber() {
    let name = Name::new("count");
    let (o, publ) = side_by_side(
        &[
            "echo",
            &name,
            "--wait=30s",
            "--format",
            "lines",
            "--count",
            "3",
        ],
        &[
            "publish",
            &name,
            "--text",
            "hi there",
            "--count",
            "3",
            "--rate",
            "200",
            "--wait-for-subscribers",
            "1",
        ],
        b"",
    );
    assert_code(&o, 0);
    assert_code(&publ, 0);
    assert_eq!(stdout(&o), "hi there\nhi there\nhi there\n");
}

/// The test: `hz` on a publisher paced at 50 Hz reports 50 Hz within 10 % (a check
/// of the measured rate, not of speed: the publisher keeps a fixed schedule).
#[test]
fn hz_measures_a_paced_publisher_within_ten_percent() {
    let name = Name::new("hz");
    let hz = spawn(
        &["hz", &name, "--wait=30s", "--json", "--count", "3"],
        false,
    );
    let bw = spawn(
        &[
            "bw",
            &name,
            "--wait=30s",
            "--count",
            "2",
            "--interval",
            "1s",
        ],
        false,
    );
    let mut publ = spawn(
        &[
            "publish",
            &name,
            "--text",
            "0123456789",
            "--rate",
            "50",
            "--count",
            "1000",
            "--wait-for-subscribers",
            "2",
        ],
        false,
    );
    let o = hz.wait_with_output().unwrap();
    let b = bw.wait_with_output().unwrap();
    let _ = publ.kill();
    let _ = publ.wait();
    assert_code(&o, 0);
    let reports = json_lines(&o);
    assert_eq!(reports.len(), 3, "{}", stdout(&o));
    let last = &reports[2];
    let rate = last["rate"].as_f64().unwrap();
    assert!((45.0..=55.0).contains(&rate), "rate {rate}: {last}");
    assert_eq!(last["size_min"], 10);
    assert_eq!(last["size_max"], 10);
    assert!(last["messages"].as_u64().unwrap() >= 50, "{last}");
    assert_eq!(last["lost"], 0);
    assert_code(&b, 0);
    assert!(stdout(&b).contains("/s from "), "{}", stdout(&b));
    assert!(
        stdout(&b).contains("message size mean: 10 B"),
        "{}",
        stdout(&b)
    );
}

/// On a channel `hz` and `bw` read its counters: they take nothing from its one reader.
#[test]
fn hz_on_a_channel_reads_its_counters_and_takes_nothing() {
    let name = Name::new("hzchan");
    let mut tx = shmkit::channel::options()
        .capacity(1 << 16)
        .create_producer(&name)
        .unwrap();
    let mut rx = shmkit::channel::options().open_consumer(&name).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                tx.send(b"0123456789").unwrap();
                sent += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        })
    };
    let receiver = std::thread::spawn(move || {
        let mut got = 0u64;
        let mut buf = Vec::new();
        while rx
            .recv_into_timeout(&mut buf, Duration::from_secs(5))
            .is_ok()
        {
            got += 1;
        }
        got // the sender went away
    });
    let hz = shmkit(&["hz", &name, "--json", "--count", "2", "--interval", "300ms"]);
    let bw = shmkit(&["bw", &name, "--count", "1", "--interval", "300ms"]);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender.join().unwrap();
    assert_eq!(
        receiver.join().unwrap(),
        sent,
        "hz took none of the messages"
    );
    assert_code(&hz, 0);
    let reports = json_lines(&hz);
    assert_eq!(reports.len(), 2, "{}", stdout(&hz));
    let last = &reports[1];
    assert!(last["rate"].as_f64().unwrap() > 0.0, "{last}");
    assert_eq!(last["size_mean"], 10.0, "{last}");
    assert!(last["min"].is_null(), "no inter-arrival times: {last}");
    assert_code(&bw, 0);
    assert!(
        stdout(&bw).contains("message size mean: 10 B"),
        "{}",
        stdout(&bw)
    );
}

#[test]
fn call_and_serve_with_echo_and_with_a_command() {
    let name = Name::new("svc");
    let serve = spawn(&["serve", &name, "--echo", "--count", "2"], false);
    let o = shmkit(&["call", &name, "--wait=30s", "--text", "ping"]);
    assert_code(&o, 0);
    assert_eq!(o.stdout, b"ping");
    let o = shmkit(&["call", &name, "--json", "--text", "\u{e9}t\u{e9}"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&v["len"], &v["text"]),
        (&5.into(), &"\u{e9}t\u{e9}".into())
    );
    assert_code(&serve.wait_with_output().unwrap(), 0);

    #[cfg(unix)]
    {
        let name = Name::new("svccmd");
        let serve = spawn(
            &["serve", &name, "--count", "2", "--", "tr", "a-z", "A-Z"],
            false,
        );
        let o = with_input(&["call", &name, "--wait=30s"], b"from stdin");
        assert_code(&o, 0);
        assert_eq!(stdout(&o), "FROM STDIN");
        let o = shmkit(&["call", &name, "--text", "again"]);
        assert_eq!(stdout(&o), "AGAIN");
        assert_code(&serve.wait_with_output().unwrap(), 0);

        // A failing command: an empty answer, and a word on serve's standard error.
        let name = Name::new("svcfail");
        let serve = spawn(&["serve", &name, "--count", "1", "--", "false"], false);
        let o = shmkit(&["call", &name, "--wait=30s", "--text", "x"]);
        assert_code(&o, 0);
        assert!(o.stdout.is_empty());
        let s = serve.wait_with_output().unwrap();
        assert_code(&s, 0);
        assert!(
            stderr(&s).contains("answered with an empty response"),
            "{}",
            stderr(&s)
        );
    }
}

#[test]
fn call_without_a_service_or_on_something_else_says_so() {
    let name = Name::new("nosvc");
    let o = shmkit(&["call", &name, "--text", "x"]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(err.contains(&format!("no service {:?}", &*name)), "{err}");
    assert!(err.contains("shmkit serve"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = shmkit(&["call", &name, "--text", "x", "--wait=200ms"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("after 200ms"), "{}", stderr(&o));
    let _seg = Segment::create(&name, 64).unwrap();
    let o = shmkit(&["call", &name, "--text", "x"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("a segment of raw bytes, not a service"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn subscribe_and_publish_on_other_kinds_say_what_they_are() {
    let name = Name::new("event");
    let _ev = shmkit::sync::Event::options().create(&name).unwrap();
    let o = shmkit(&["subscribe", &name]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("is an event, not a channel or broadcast"),
        "{}",
        stderr(&o)
    );

    let name = Name::new("raw");
    let _seg = Segment::create(&name, 64).unwrap();
    for args in [
        &["subscribe", &name][..],
        &["publish", &name, "--text", "x"],
    ] {
        let o = shmkit(args);
        assert_code(&o, 1);
        assert!(
            stderr(&o).contains("is a segment of raw bytes"),
            "{}",
            stderr(&o)
        );
    }

    // A broadcast has one publisher: its creator.
    let name = Name::new("twopub");
    let _p = shmkit::channel::broadcast::options()
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let o = shmkit(&["publish", &name, "--text", "x"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("already has its publisher"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_message_larger_than_the_slot_names_both_sizes() {
    let name = Name::new("big");
    let o = shmkit(&[
        "publish",
        &name,
        "--slot-size",
        "16",
        "--text",
        &"x".repeat(17),
    ]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("17 bytes") && err.contains("largest is 16 bytes"),
        "{err}"
    );
}

/// A subscriber waiting for messages ends cleanly on SIGTERM, and serve removes its service.
#[cfg(unix)]
#[test]
fn sigterm_ends_subscribe_and_serve_cleanly() {
    let name = Name::new("termsub");
    let _p = shmkit::channel::broadcast::options()
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let mut sub = Killed(spawn(&["subscribe", &name, "--format", "lines"], false));
    let svc = Name::new("termsvc");
    let mut serve = Killed(spawn(&["serve", &svc, "--echo"], false));
    wait_for_kind(&svc, "service");
    let mut p = _p;
    p.wait_for_subscribers_timeout(1, std::time::Duration::from_secs(30))
        .unwrap();
    // Once a message is printed, subscribe is in its loop, past the handler's installation.
    p.send(b"ready").unwrap();
    assert_eq!(first_line(&mut sub.0), "ready\n");
    // Past the handler's installation: a call answered means serve is in its loop.
    assert_code(&shmkit(&["call", &svc, "--text", "x"]), 0);
    for c in [&mut sub, &mut serve] {
        signal(&c.0, libc::SIGTERM);
        let status = c.0.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", rest_of_stderr(&mut c.0));
    }
    assert!(
        shmkit::inspect::inspect(&svc).is_err(),
        "serve removed its service"
    );
}

/// A CMD that does not finish is killed after `--timeout` (its client gets an empty
/// response, the next request is served), and SIGTERM ends `serve` while a CMD runs, killing
/// it, rather than after it.
#[cfg(unix)]
#[test]
fn serve_kills_a_stuck_command_on_its_timeout_and_on_sigterm() {
    let svc = Name::new("stucksvc");
    let mut serve = Killed(spawn(
        &["serve", &svc, "--timeout", "300ms", "--", "sleep", "600"],
        false,
    ));
    wait_for_kind(&svc, "service");
    for _ in 0..2 {
        let o = shmkit(&["call", &svc, "--text", "x", "--timeout", "60s"]);
        assert_code(&o, 0);
        assert!(o.stdout.is_empty(), "{o:?}");
    }
    // A third call, whose CMD is still sleeping when SIGTERM comes.
    let call = spawn(&["call", &svc, "--text", "x", "--timeout", "60s"], false);
    let svc2 = Name::new("stucksvc2");
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let script = format!("touch '{}'; sleep 600", started.display());
    let mut slow = Killed(spawn(&["serve", &svc2, "--", "sh", "-c", &script], false));
    wait_for_kind(&svc2, "service");
    let call2 = spawn(&["call", &svc2, "--text", "x", "--timeout", "60s"], false);
    let start = std::time::Instant::now();
    while !started.exists() {
        assert!(start.elapsed().as_secs() < 60, "the CMD never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    signal(&slow.0, libc::SIGTERM);
    let status = slow.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", rest_of_stderr(&mut slow.0));
    let out = call2.wait_with_output().unwrap();
    assert_code(&out, 0); // answered (empty) as serve ended, not left to time out
    signal(&serve.0, libc::SIGTERM);
    assert_eq!(serve.0.wait().unwrap().code(), Some(0));
    let _ = call.wait_with_output();
}

/// `subscribe … | head -1`, `hz … | head -1`: the reader going away is a quiet end.
#[cfg(target_os = "linux")]
#[test]
fn subscribe_and_hz_end_quietly_on_a_closed_pipe() {
    let name = Name::new("topicpipe");
    let mut p = shmkit::channel::broadcast::options()
        .slot_size(64)
        .policy(shmkit::channel::broadcast::Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    for args in [
        &["subscribe", &name, "--format", "lines"][..],
        &["hz", &name, "--interval", "10ms"],
    ] {
        let child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        p.wait_for_subscribers_timeout(1, std::time::Duration::from_secs(30))
            .unwrap();
        // Until it has tried to print and gone (its place is freed as it exits).
        let start = std::time::Instant::now();
        while p.subscribers() > 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "{args:?}"
            );
            p.send(b"x").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

/// What `publish` sent to nobody is said, not lost in silence: a broadcast's messages sent
/// while it had no subscriber, a channel's left unread with no consumer as it goes.
#[test]
fn publish_says_what_reached_nobody() {
    let (bc, ch) = (Name::new("nobody-bc"), Name::new("nobody-ch"));
    let o = shmkit(&["publish", &bc, "--text", "x", "--count", "3"]);
    assert_code(&o, 0);
    assert!(
        stderr(&o).contains("3 message(s) were published to")
            && stderr(&o).contains("no subscriber"),
        "{}",
        stderr(&o)
    );
    let o = shmkit(&["publish", &ch, "--kind", "channel", "--text", "x"]);
    assert_code(&o, 0);
    assert!(
        stderr(&o).contains("1 message(s) sent to") && stderr(&o).contains("were never read"),
        "{}",
        stderr(&o)
    );
}
