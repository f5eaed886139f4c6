//! The real `shmkit` binary, run as a user would: happy paths, error paths and exit codes.
//!
//! Segments that must outlive one invocation are created by this test process with the
//! library (so the tests also run on Windows, where a segment dies with its last handle).

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use shmkit::{Access, Segment};

fn shmkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run shmkit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// A unique name, removed (if it still exists) when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!(
            "shmkit-cli-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

#[test]
fn write_read_and_hex_dump_round_trip() {
    let name = Name::new("rw");
    let seg = Segment::create(&name, 4096).unwrap();
    assert_code(
        &shmkit(&[
            "write",
            &name,
            "--offset",
            "16",
            "--text",
            "hello, shared memory!",
        ]),
        0,
    );
    let view = seg.map(Access::ReadOnly).unwrap();
    assert_eq!(view.read_vec(16, 21).unwrap(), b"hello, shared memory!");

    let raw = shmkit(&["read", &name, "--offset", "16", "--len", "21"]);
    assert_code(&raw, 0);
    assert_eq!(raw.stdout, b"hello, shared memory!");

    // Golden: the same layout as `xxd -s 16 -l 23`.
    let hex = shmkit(&["read", &name, "--offset", "16", "--len", "23", "--hex"]);
    assert_code(&hex, 0);
    assert_eq!(
        stdout(&hex),
        "00000010: 6865 6c6c 6f2c 2073 6861 7265 6420 6d65  hello, shared me\n\
         00000020: 6d6f 7279 2100 00                        mory!..\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.bin");
    std::fs::write(&f, [1u8, 2, 3]).unwrap();
    assert_code(
        &shmkit(&[
            "write",
            &name,
            "--offset",
            "4093",
            "--file",
            f.to_str().unwrap(),
        ]),
        0,
    );
    assert_eq!(view.read_vec(4093, 3).unwrap(), [1, 2, 3]);
}

#[test]
fn writes_and_reads_past_the_end_fail_and_change_nothing() {
    // A page-sized segment: Windows reports sizes rounded up to a page to other processes.
    let name = Name::new("end");
    let seg = Segment::create(&name, 4096).unwrap();
    let o = shmkit(&["write", &name, "--offset", "4091", "--text", "too long"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(
        seg.map(Access::ReadOnly)
            .unwrap()
            .read_vec(4086, 10)
            .unwrap(),
        [0; 10]
    );
    assert_code(&shmkit(&["read", &name, "--offset", "4097"]), 1);
    assert_code(
        &shmkit(&["read", &name, "--offset", "50", "--len", "4047"]),
        1,
    );
    let o = shmkit(&["read", &name, "--offset", "4096"]);
    assert_code(&o, 0);
    assert!(o.stdout.is_empty());
}

#[test]
fn errors_are_one_line_with_the_name_and_a_hint() {
    let missing = Name::new("missing");
    let o = shmkit(&["read", &missing]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("shmkit: ") && err.contains(&*missing) && err.contains("shmkit ls"),
        "{err}"
    );
    assert_code(&shmkit(&["info", &missing]), 1);
    assert_code(&shmkit(&["write", &missing, "--text", "x"]), 1);

    let o = shmkit(&["create", "a/b", "--size", "1"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("must not contain `/`"),
        "{}",
        stderr(&o)
    );
    let zero = Name::new("zero");
    assert_code(&shmkit(&["create", &zero, "--size", "0", "--keep"]), 1);
    assert!(matches!(
        Segment::open(&zero),
        Err(shmkit::Error::NotFound { .. })
    ));

    // Usage errors: exit 2.
    assert_code(&shmkit(&["create", &zero, "--size", "12parsecs"]), 2);
    assert_code(&shmkit(&["create", &zero, "--size", "99999999999T"]), 2);
    assert_code(&shmkit(&["frobnicate"]), 2);
    assert_code(&shmkit(&["write", &zero, "--text", "a", "--file", "b"]), 2);
    assert_code(&shmkit(&[]), 2);
}

#[test]
fn info_reports_kind_size_and_creator() {
    let raw = Name::new("inforaw");
    let _s = Segment::create(&raw, 8192).unwrap();
    let o = shmkit(&["info", &raw, "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["name"], *raw);
    assert_eq!(v["size"], 8192);
    assert_eq!(v["kind"], "raw");
    if cfg!(unix) {
        // RFC 3339 in UTC to the second, beside the age.
        let t = v["modified"].as_str().expect("modified");
        assert!(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
        assert!(v["age_seconds"].is_u64(), "{v}");
    }
    // Kinds are identifiers.
    let shared = Name::new("infoshared");
    let _v = shmkit::sync::Shared::create(&shared, 7u64).unwrap();
    let o = shmkit(&["info", &shared, "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "shared_value");
    let ev = Name::new("infoev");
    let _e = shmkit::sync::Event::create(&ev, shmkit::sync::Reset::Auto).unwrap();
    let o = shmkit(&["info", &ev]);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("kind:     event"), "{text}");
    assert!(
        text.contains(&format!("pid {} (still has it open)", std::process::id())),
        "{text}"
    );
    if cfg!(target_os = "linux") {
        assert!(text.contains("in use:   yes"), "{text}");
    }
}

#[test]
fn rm_removes_and_reports_each_name() {
    let a = Name::new("rma");
    let missing = Name::new("rmmissing");
    let seg = Segment::options().size(64).keep(true).create(&a).unwrap();
    drop(seg);
    let o = shmkit(&["rm", &a, &missing]);
    assert_code(&o, 1); // one of them failed, the other was still removed
    assert!(stderr(&o).contains(&*missing));
    if cfg!(unix) {
        assert!(matches!(
            Segment::open(&a),
            Err(shmkit::Error::NotFound { .. })
        ));
    }
}

#[test]
fn watch_prints_frames_and_highlights_changes() {
    let name = Name::new("watch");
    let seg = Segment::create(&name, 64).unwrap();
    let o = shmkit(&[
        "watch",
        &name,
        "--len",
        "16",
        "--interval",
        "10ms",
        "--count",
        "2",
    ]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).matches("00000000:").count(), 2, "{}", stdout(&o));
    // A byte that changes between frames is marked (with brackets when not on a terminal).
    let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args([
            "watch",
            &name,
            "--len",
            "16",
            "--interval",
            "200ms",
            "--count",
            "3",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, b"Z")
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(out.contains("[5a]"), "{out}");
}

#[test]
fn demo_and_completions_work() {
    let name = Name::new("demo");
    let o = shmkit(&["demo", "--name", &name]);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("[client] 6."), "{text}");
    assert!(
        text.contains("the client replied: \"Hello back from the client process.\""),
        "{text}"
    );
    let o = shmkit(&["completions", "bash"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("shmkit"));
}

/// A random file of `len` bytes (xorshift, so it needs no dependency).
fn random_file(path: &std::path::Path, len: usize) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    std::fs::write(path, v).unwrap();
}

fn digest(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    // FNV-1a over the bytes: enough to tell two 100 MiB files apart in a test.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

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
    let send = shmkit(&["send", &name, input.to_str().unwrap(), "--wait", "30s"]);
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

/// Held by tests that run `gc`, which collects every unused object on the machine: one
/// test's orphan must not be collected by another test's `gc`.
static GC: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The container set-up: `recv` in this pid namespace, `send` in another that shares
/// `/dev/shm` (`unshare --pid --fork`, as root). With pid liveness each side took the other
/// for dead and the stream died after some MiB; run where `unshare` is allowed (CI is root).
#[cfg(target_os = "linux")]
#[test]
fn send_and_recv_work_between_pid_namespaces() {
    let unshare = ["unshare", "--pid", "--fork", "--kill-child"];
    let possible = Command::new(unshare[0])
        .args(&unshare[1..])
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if !possible {
        eprintln!("skipped: `unshare --pid --fork` is not possible here (it needs root)");
        return;
    }
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
        .args(["send", &name, input.to_str().unwrap(), "--wait", "30s"])
        .output()
        .unwrap();
    assert_code(&send, 0);
    let r = recv.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(digest(&input), digest(&output));
}

/// `gc` exits 1 when it cannot remove an unused object (here: another user's, read-only to
/// it), and still removes the others.
#[cfg(target_os = "linux")]
#[test]
fn gc_fails_loudly_when_a_removal_fails() {
    let _one_gc_at_a_time = GC.lock().unwrap_or_else(|e| e.into_inner());
    if !Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: cannot run as another user here (needs root and setpriv)");
        return;
    }
    // A channel left behind by a killed `recv`: unused, so `gc` wants to remove it.
    let theirs = Name::new("gcperm");
    let mut recv = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["recv", &theirs, "-o", "/dev/null"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_kind(&theirs, "channel");
    recv.kill().unwrap();
    recv.wait().unwrap();
    // Readable by everyone (so `gc` sees it), writable only by its owner (root).
    std::fs::set_permissions(
        format!("/dev/shm/{}", &*theirs),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let gc = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_shmkit"))
        .arg("gc")
        .output()
        .unwrap();
    assert_code(&gc, 1);
    assert!(stderr(&gc).contains(&*theirs), "{}", stderr(&gc));
    shmkit::inspect::inspect(&theirs).expect("still there");
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
        .args(["send", &name, input.to_str().unwrap(), "--wait", "30s"])
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
    let o = shmkit(&["send", &name, input.to_str().unwrap(), "--wait", "50ms"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("shmkit recv"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn create_keep_ls_json_and_gc() {
    let _one_gc_at_a_time = GC.lock().unwrap_or_else(|e| e.into_inner());
    let kept = Name::new("kept");
    let o = shmkit(&["create", &kept, "--size", "4KiB", "--mode", "640", "--keep"]);
    assert_code(&o, 0);
    let info = shmkit::inspect::inspect(&kept).unwrap();
    assert_eq!((info.len, info.mode), (4096, Some(0o640)));
    assert_code(&shmkit(&["create", &kept, "--size", "1", "--keep"]), 1); // exists

    // A shmkit object whose creator is killed, and one whose creator lives.
    let dead = Name::new("gcdead");
    let live = Name::new("gclive");
    let spawn_recv = |n: &str| {
        Killed(
            Command::new(env!("CARGO_BIN_EXE_shmkit"))
                .args(["recv", n, "-o", "/dev/null"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut d = spawn_recv(&dead);
    let _l = spawn_recv(&live);
    for n in [&*dead, &*live] {
        wait_for_kind(n, "channel");
    }
    d.0.kill().unwrap();
    d.0.wait().unwrap();

    #[cfg(target_os = "linux")]
    {
        let o = shmkit(&["ls", "--json"]);
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema"], 1);
        let v = v["segments"].as_array().unwrap();
        let find = |n: &str| v.iter().find(|e| e["name"] == n).cloned();
        assert_eq!(find(&kept).unwrap()["kind"], "raw");
        assert_eq!(find(&kept).unwrap()["mode"], "640");
        assert_eq!(find(&dead).unwrap()["creator_alive"], false);
        assert_eq!(find(&dead).unwrap()["in_use"], false);
        assert_eq!(find(&live).unwrap()["kind"], "channel");
        assert_eq!(find(&live).unwrap()["creator_alive"], true);
        assert_eq!(find(&live).unwrap()["in_use"], true);
        assert_eq!(find(&live).unwrap()["holders"][0]["role"], "consumer");
        assert_eq!(find(&kept).unwrap()["in_use"], serde_json::Value::Null);
        let table = stdout(&shmkit(&["ls"]));
        assert!(
            table.starts_with("NAME") && table.contains(&*kept),
            "{table}"
        );

        let dry = shmkit(&["gc", "--dry-run"]);
        assert!(
            stdout(&dry).contains(&format!("would remove {}", &*dead)),
            "{}",
            stdout(&dry)
        );
        assert!(
            shmkit::inspect::inspect(&dead).is_ok(),
            "dry run removed it"
        );
        let gc = shmkit(&["gc"]);
        assert_code(&gc, 0);
        let said = stdout(&gc);
        assert!(said.contains(&format!("removed {}", &*dead)), "{said}");
        assert!(!said.contains(&*live) && !said.contains(&*kept), "{said}");
        assert!(matches!(
            shmkit::inspect::inspect(&dead),
            Err(shmkit::Error::NotFound { .. })
        ));
        assert!(shmkit::inspect::inspect(&live).is_ok() && shmkit::inspect::inspect(&kept).is_ok());

        // With nobody reading its output, gc still collects.
        let dead2 = Name::new("gcdead2");
        let mut d2 = spawn_recv(&dead2);
        wait_for_kind(&dead2, "channel");
        d2.0.kill().unwrap();
        d2.0.wait().unwrap();
        let gc = shmkit_closed_stdout(&["gc"]);
        assert_code(&gc, 0);
        assert!(gc.stderr.is_empty(), "{}", stderr(&gc));
        assert!(matches!(
            shmkit::inspect::inspect(&dead2),
            Err(shmkit::Error::NotFound { .. })
        ));
    }
    #[cfg(not(target_os = "linux"))]
    assert_code(&shmkit(&["ls"]), 1);
}

/// Waits until `name` exists with a header of `kind` (a segment exists before its header is
/// written). The 30 s limit only guards against a hang.
#[track_caller]
fn wait_for_kind(name: &str, kind: &str) {
    let start = std::time::Instant::now();
    while !shmkit::inspect::inspect(name).is_ok_and(|i| i.kind.label() == kind) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{name} never became a {kind}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves none behind.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

#[test]
fn ls_json_lists_a_segment_this_process_created() {
    let name = Name::new("ls");
    let _s = Segment::create(&name, 4096).unwrap();
    let o = shmkit(&["ls", "--json"]);
    if cfg!(target_vendor = "apple") {
        assert_code(&o, 1);
        return;
    }
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    let e = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == *name)
        .expect("listed");
    assert_eq!(e["kind"], "raw");
    assert_eq!(e["size"], 4096);
}

#[test]
fn read_has_no_raw_flag_raw_is_the_default() {
    // `--raw` was accepted and ignored; raw bytes are what `read` writes unless --hex.
    let name = Name::new("noraw");
    let _s = Segment::create(&name, 4096).unwrap();
    let o = shmkit(&["read", &name, "--raw"]);
    assert_code(&o, 2);
    let o = shmkit(&["read", &name, "--len", "3"]);
    assert_code(&o, 0);
    assert_eq!(o.stdout, [0, 0, 0]);
}

#[test]
fn sizes_and_durations_take_fractions_and_compound_forms() {
    let name = Name::new("units");
    assert_code(
        &shmkit(&["create", &name, "--size", "1.5KiB", "--keep"]),
        if cfg!(windows) { 1 } else { 0 },
    );
    if cfg!(unix) {
        assert_eq!(shmkit::inspect::inspect(&name).unwrap().len, 1536);
    }
    let o = shmkit(&[
        "watch",
        &name,
        "--len",
        "1KB",
        "--interval",
        "0m0s1ms",
        "--count",
        "1",
    ]);
    if cfg!(unix) {
        assert_code(&o, 0);
        assert!(stdout(&o).contains("1000 bytes"), "{}", stdout(&o));
    }
    assert_code(&shmkit(&["watch", &name, "--interval", "soon"]), 2);
}

/// Runs a copy of `shmkit` from a directory of its own, with PATH naming only that directory,
/// so what `shmkit bench` finds is what the test put there.
fn shmkit_alone(dir: &std::path::Path, args: &[&str]) -> Output {
    let exe = dir.join(format!("shmkit{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_shmkit"), &exe).unwrap();
    }
    Command::new(&exe)
        .args(args)
        .env("PATH", dir)
        .stdin(Stdio::null())
        .output()
        .expect("run shmkit")
}

#[test]
fn bench_without_the_benchmark_program_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = shmkit_alone(dir.path(), &["bench", "--quick"]);
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("shmkit-bench") && err.contains("cargo install --path bench"),
        "{err}"
    );
    assert_code(&shmkit(&["bench", "nonsense"]), 2);
}

#[cfg(unix)]
#[test]
fn bench_runs_the_benchmark_program_next_to_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("shmkit-bench");
    std::fs::write(&fake, "#!/bin/sh\necho \"args: $*\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = shmkit_alone(dir.path(), &["bench", "--quick", "--json", "segment"]);
    assert_code(&o, 3); // its exit status is passed on
    assert_eq!(stdout(&o), "args: segment --quick --json\n");
}

// ---- a closed standard output (`| head`) is a quiet end, never a panic ----

/// The write end of a pipe whose read end is already closed: every write to it fails with
/// EPIPE, as when `head` has exited. (A pipe read by this process and closed later would let
/// a small output slip into its buffer before the close.)
#[cfg(target_os = "linux")]
fn closed_pipe() -> Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which has room for two; O_CLOEXEC
    // keeps other tests' children from inheriting them.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// Runs shmkit with standard output going to a pipe nobody reads.
#[cfg(target_os = "linux")]
fn shmkit_closed_stdout(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .output()
        .expect("run shmkit");
    assert!(
        !stderr(&o).contains("panicked") && o.status.code() != Some(101),
        "shmkit {args:?} panicked: {}",
        stderr(&o)
    );
    o
}

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
    let send = shmkit(&["send", &name, input.to_str().unwrap(), "--wait", "30s"]);
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
fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory-safety preconditions; `pid` is our own unreaped child.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Reads one line of a child's standard output (it prints it once its handler is in place).
#[cfg(unix)]
fn first_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

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

/// Everything a finished child wrote to its (piped) standard error.
#[cfg(unix)]
fn rest_of_stderr(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    let mut pipe = child.stderr.take().expect("stderr is piped");
    pipe.read_to_string(&mut err).expect("read stderr");
    err
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
            .args(["send", &name, "-", "--wait", "30s"])
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
