//! `send` and `recv`: streams between processes, between pid namespaces, and when one side
//! goes away.

use super::*;

#[test]
fn send_and_recv_move_100_mib_intact_between_processes() {
    let name = Name::new("stream");
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    random_file(&input, 100 << 20);
    let recv = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["recv", &name, "-o", output.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let send = shmkit(&["send", &name, input.to_str().unwrap(), "--wait=30s"]);
    assert_code(&send, 0);
    let r = recv.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        r.stderr.is_empty(),
        "no progress bar when not on a terminal"
    );
    assert_eq!(std::fs::metadata(&output).unwrap().len(), 100 << 20);
    assert_eq!(digest(&input), digest(&output));
}

/// The container set-up: `recv` in this pid namespace, `send` in another that shares
/// `/dev/shm` (`unshare --pid --fork`, as root). With pid liveness each side took the other
/// for dead and the stream died after some MiB; ignored where `unshare` is not allowed (CI is
/// root).
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_pid_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for pid namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn send_and_recv_work_between_pid_namespaces() {
    let unshare = ["unshare", "--pid", "--fork", "--kill-child"];
    let probe = Command::new(unshare[0])
        .args(&unshare[1..])
        .arg("true")
        .output()
        .expect("run unshare");
    assert!(
        probe.status.success(),
        "`unshare --pid --fork` failed ({}): {}\nThis test needs root (CAP_SYS_ADMIN); the \
         build found it could run (or SHMKIT_TEST_ROOT=1 said so). \
         `SHMKIT_TEST_ROOT=0 cargo test` ignores it.",
        probe.status,
        stderr(&probe).trim()
    );
    let name = Name::new("nsstream");
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    random_file(&input, 50 << 20);
    let recv = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args([
            "recv",
            &name,
            "--capacity",
            "1MiB",
            "-o",
            output.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let send = Command::new(unshare[0])
        .args(&unshare[1..])
        .arg(env!("CARGO_BIN_EXE_shmkit"))
        .args(["send", &name, input.to_str().unwrap(), "--wait=30s"])
        .output()
        .unwrap();
    assert_code(&send, 0);
    let r = recv.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(digest(&input), digest(&output));
}

#[test]
fn a_killed_receiver_gives_the_sender_a_clean_error() {
    let name = Name::new("killrecv");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    random_file(&input, 64 << 20);
    let mut recv = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["recv", &name, "--capacity", "64KiB", "-o"])
        .arg(dir.path().join("out.bin"))
        .spawn()
        .unwrap();
    let send = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["send", &name, input.to_str().unwrap(), "--wait=30s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    recv.kill().unwrap();
    recv.wait().unwrap();
    let out = send.wait_with_output().unwrap();
    // Either the sender finished before the kill, or it reports the receiver's departure.
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("went away") || err.contains("disconnected"),
            "{err}"
        );
    }
}

#[test]
fn send_without_a_receiver_says_what_to_do() {
    let name = Name::new("norecv");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, b"x").unwrap();
    let o = shmkit(&["send", &name, input.to_str().unwrap(), "--wait=50ms"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("shmkit recv"), "{}", stderr(&o));
}
