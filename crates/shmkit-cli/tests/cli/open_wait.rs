//! `--wait[=DURATION]` on every command that opens an existing object: started before the
//! object exists, the command waits for it (as the library's `open_timeout`); without
//! `--wait` a missing object fails at once; when the time is up the error is the usual
//! "no segment" one. Also `--wait-strategy` and `--mode` of `send` / `recv`.

use std::time::{Duration, Instant};

use super::*;

/// Starts `shmkit ARGS` with its output captured.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shmkit")
}

/// Creates `name` (4 KiB, starting with `text`) after a moment, while `cmd` already waits
/// for it; returns `cmd`'s output. The segment lives until `cmd` has finished.
fn created_later(name: &str, cmd: std::process::Child, text: &[u8]) -> Output {
    std::thread::sleep(Duration::from_millis(300));
    let seg = Segment::create(name, 4096).unwrap();
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, text)
        .unwrap();
    let out = cmd.wait_with_output().unwrap();
    drop(seg);
    out
}

#[test]
fn read_write_info_and_watch_wait_for_a_segment_made_later() {
    let name = Name::new("late-read");
    let read = spawn(&["read", &name, "--len", "5", "--wait=30s"]);
    let o = created_later(&name, read, b"hello");
    assert_code(&o, 0);
    // The name appears before the text is written into it, so the read may come first and
    // see zeros: what matters here is that it waited and read 5 bytes.
    assert!(o.stdout == b"hello" || o.stdout == [0; 5], "{:?}", o.stdout);

    let name = Name::new("late-write");
    // --wait alone: until it appears. Before NAME, so NAME is not taken for its value.
    let write = spawn(&["write", "--wait", &name, "--text", "hi"]);
    let o = created_later(&name, write, b"");
    assert_code(&o, 0);

    let name = Name::new("late-info");
    let info = spawn(&["info", &name, "--wait"]);
    let o = created_later(&name, info, b"");
    assert_code(&o, 0);
    assert!(stdout(&o).contains(&*name), "{}", stdout(&o));

    if cfg!(unix) {
        let name = Name::new("late-watch");
        let watch = spawn(&["watch", &name, "--wait=30s", "--len", "4", "--count", "1"]);
        let o = created_later(&name, watch, b"abcd");
        assert_code(&o, 0);
        // As for `read`: the first view may be taken before the text is written.
        assert!(!stdout(&o).is_empty(), "{}", stdout(&o));
    }
}

#[test]
fn without_wait_a_missing_segment_fails_and_after_the_wait_it_is_not_found() {
    let missing = Name::new("never");
    for cmd in ["read", "info", "watch"] {
        let o = shmkit(&[cmd, &missing]);
        assert_code(&o, 1);
        assert!(stderr(&o).contains("shmkit ls"), "{cmd}: {}", stderr(&o));

        let start = Instant::now();
        let o = shmkit(&[cmd, &missing, "--wait=200ms"]);
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{cmd} did not wait"
        );
        assert_code(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains("after waiting 200ms") && err.contains("shmkit ls"),
            "{cmd}: {err}"
        );
    }
    let o = shmkit(&["write", &missing, "--text", "x", "--wait=1ms"]);
    assert_code(&o, 1);
}

#[test]
fn wait_takes_its_value_after_an_equals_sign_only() {
    let name = Name::new("equals");
    // `--wait 30s` would leave `30s` as a second name: a usage error, exit 2.
    assert_code(&shmkit(&["read", &name, "--wait", "30s"]), 2);
    assert_code(&shmkit(&["read", &name, "--wait=soon"]), 2);
}

#[test]
fn send_started_before_recv_waits_for_its_channel() {
    let name = Name::new("sendfirst");
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    random_file(&input, 3 << 20);
    // --wait alone (forever) and a wait strategy on each side.
    let send = spawn(&[
        "send",
        "--wait",
        &name,
        input.to_str().unwrap(),
        "--wait-strategy",
        "blocking",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let recv = shmkit(&[
        "recv",
        &name,
        "-o",
        output.to_str().unwrap(),
        "--wait-strategy",
        "busy-poll",
    ]);
    assert_code(&recv, 0);
    let s = send.wait_with_output().unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    assert_eq!(digest(&input), digest(&output));
}

#[test]
fn send_with_wait_zero_fails_at_once() {
    let name = Name::new("nowait");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, b"x").unwrap();
    let o = shmkit(&["send", &name, input.to_str().unwrap(), "--wait=0"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("shmkit recv"), "{}", stderr(&o));
    assert_code(
        &shmkit(&[
            "send",
            &name,
            input.to_str().unwrap(),
            "--wait-strategy",
            "sometimes",
        ]),
        2,
    );
}

#[cfg(unix)]
#[test]
fn recv_creates_its_channel_with_the_given_mode() {
    let name = Name::new("recvmode");
    let recv = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["recv", &name, "--mode", "640", "-o", "/dev/null"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_kind(&name, "channel");
    assert_eq!(shmkit::inspect::inspect(&name).unwrap().mode, Some(0o640));
    drop(recv);
}
