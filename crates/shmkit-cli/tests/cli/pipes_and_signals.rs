//! A closed standard output (`| head`) is a quiet end, never a panic; SIGTERM and SIGHUP
//! end a command like Ctrl-C.

use super::*;

#[cfg(unix)]
#[test]
fn a_closed_pipe_is_not_an_error() {
    let name = Name::new("pipe");
    let _s = Segment::create(&name, 8 << 20).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["read", &name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut one = [0u8; 1];
    child.stdout.as_mut().unwrap().read_exact(&mut one).unwrap();
    drop(child.stdout.take()); // like `| head -c1`
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- a closed standard output (`| head`) is a quiet end, never a panic ----

#[cfg(target_os = "linux")]
#[test]
fn every_printing_command_ends_quietly_on_a_closed_pipe() {
    let name = Name::new("closed");
    let _s = Segment::create(&name, 64 << 10).unwrap();
    let ev = Name::new("closedev");
    let _e = shmkit::sync::Event::create(&ev, shmkit::sync::Reset::Auto).unwrap();
    let kept = Name::new("closedkept");
    let demo = Name::new("closeddemo");
    let runs: [&[&str]; 12] = [
        &["read", &name],
        &["read", &name, "--hex"],
        &["info", &name],
        &["info", &ev, "--json"],
        &["ls"],
        &["ls", "--json"],
        &["gc", "--dry-run"],
        &["watch", &name, "--interval", "1ms", "--count", "3"],
        &["completions", "bash"],
        &["--help"],
        &["create", &kept, "--size", "4KiB", "--keep"],
        &["demo", "--name", &demo],
    ];
    for args in runs {
        let o = shmkit_closed_stdout(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
    // create --keep still created; the demo still ran to the end and removed its segment.
    assert_eq!(shmkit::inspect::inspect(&kept).unwrap().len, 4096);
    assert!(matches!(
        Segment::open(&demo),
        Err(shmkit::Error::NotFound { .. })
    ));
}

#[cfg(target_os = "linux")]
#[test]
fn rm_removes_every_name_when_nobody_reads_its_output() {
    let names: Vec<Name> = (0..20).map(|_| Name::new("rmclosed")).collect();
    for n in &names {
        drop(Segment::options().size(64).keep(true).create(n).unwrap());
    }
    let missing = Name::new("rmclosedmissing");
    let mut args = vec!["rm"];
    args.extend(names.iter().map(|n| &**n));
    let o = shmkit_closed_stdout(&args);
    assert_code(&o, 0);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    for n in &names {
        assert!(
            matches!(Segment::open(n), Err(shmkit::Error::NotFound { .. })),
            "{} was not removed",
            &**n
        );
        drop(Segment::options().size(64).keep(true).create(n).unwrap());
    }
    // A failure among them: the others are still removed, and the status says 1.
    args.insert(10, &missing);
    let o = shmkit_closed_stdout(&args);
    assert_code(&o, 1);
    assert!(stderr(&o).contains(&*missing), "{}", stderr(&o));
    for n in &names {
        assert!(matches!(
            Segment::open(n),
            Err(shmkit::Error::NotFound { .. })
        ));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn recv_to_a_closed_pipe_ends_quietly_and_removes_its_channel() {
    let name = Name::new("recvclosed");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    random_file(&input, 3 << 20);
    let recv = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["recv", &name])
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let send = shmkit(&["send", &name, input.to_str().unwrap(), "--wait=30s"]);
    let r = recv.wait_with_output().unwrap();
    assert_code(&r, 0);
    assert!(r.stderr.is_empty(), "{}", stderr(&r));
    // The sender either finished or saw the receiver go; it never panics.
    assert!(
        matches!(send.status.code(), Some(0 | 1)),
        "{}",
        stderr(&send)
    );
    assert!(matches!(
        Segment::open(&name),
        Err(shmkit::Error::NotFound { .. })
    ));
}

// ---- SIGTERM and SIGHUP end a command like Ctrl-C ----

#[cfg(unix)]
#[test]
fn sigterm_and_sighup_end_create_and_remove_its_segment() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        let name = Name::new("createsig");
        let mut child = Killed(
            Command::new(env!("CARGO_BIN_EXE_shmkit"))
                .args(["create", &name, "--size", "4KiB"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let line = first_line(&mut child.0);
        assert!(line.contains("holding it"), "{line}");
        assert!(Segment::open(&name).is_ok());
        signal(&child.0, sig);
        let status = child.0.wait().unwrap();
        assert_eq!(status.code(), Some(0), "signal {sig}: {status:?}");
        let err = rest_of_stderr(&mut child.0);
        assert_eq!(err, format!("removed {}\n", &*name));
        assert!(
            matches!(Segment::open(&name), Err(shmkit::Error::NotFound { .. })),
            "signal {sig} left {} behind",
            &*name
        );
    }
}

#[cfg(unix)]
#[test]
fn sigterm_ends_a_waiting_recv_and_removes_its_channel() {
    let name = Name::new("recvsig");
    let dir = tempfile::tempdir().unwrap();
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["recv", &name, "-o"])
            .arg(dir.path().join("out.bin"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for_kind(&name, "channel"); // the handler is installed before the channel exists
    signal(&child.0, libc::SIGTERM);
    let mut child = child;
    let status = child.0.wait().unwrap();
    let err = rest_of_stderr(&mut child.0);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("interrupted") && !err.contains("panicked"),
        "{err}"
    );
    assert!(matches!(
        Segment::open(&name),
        Err(shmkit::Error::NotFound { .. })
    ));
}

#[cfg(unix)]
#[test]
fn sigterm_ends_watch_cleanly() {
    let name = Name::new("watchsig");
    let _s = Segment::create(&name, 64).unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["watch", &name, "--interval", "1h"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let line = first_line(&mut child.0);
    assert!(line.contains(&*name), "{line}");
    signal(&child.0, libc::SIGTERM); // mid-sleep: an hour-long interval does not delay it
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let err = rest_of_stderr(&mut child.0);
    assert!(err.is_empty(), "{err}");
}

#[cfg(unix)]
#[test]
fn a_terminated_sender_ends_the_stream_and_leaks_nothing() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let name = Name::new("sendsig");
    let mut recv = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["recv", &name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut send = Killed(
        Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .args(["send", &name, "-", "--wait=30s"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // One full chunk (1 MiB) through, so the stream is established; then the sender waits
    // for more standard input, which never comes.
    let chunk = vec![b'x'; 1 << 20];
    send.0.stdin.as_mut().unwrap().write_all(&chunk).unwrap();
    let mut got = vec![0u8; chunk.len()];
    recv.0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut got)
        .unwrap();
    assert_eq!(got, chunk);
    signal(&send.0, libc::SIGTERM);
    let status = send.0.wait().unwrap();
    // The sender owns no name and keeps the default disposition: SIGTERM ends it at once.
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let status = recv.0.wait().unwrap();
    let mut err = String::new();
    recv.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("went away after 1048576 bytes"), "{err}");
    assert!(matches!(
        Segment::open(&name),
        Err(shmkit::Error::NotFound { .. })
    ));
}
