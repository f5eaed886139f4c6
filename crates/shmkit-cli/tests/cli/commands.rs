//! The segment commands (write, read, info, rm, watch, demo, completions, ls --json), size
//! and duration arguments, and the `bench` launcher.

use super::*;

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

/// `info --json` names every kind of object the library makes, `service` too (issue 20), as
/// an identifier; `ls --json` (Linux) lists them with the same kinds.
#[test]
fn json_kinds_cover_every_kind_of_object() {
    use shmkit::{channel, service, sync};
    let names: Vec<Name> = [
        "kmutex", "kevent", "ksem", "kshared", "kchan", "kbcast", "ksvc",
    ]
    .into_iter()
    .map(Name::new)
    .collect();
    let _mutex = sync::Mutex::create(&names[0]).unwrap();
    let _event = sync::Event::create(&names[1], sync::Reset::Manual).unwrap();
    let _semaphore = sync::Semaphore::create(&names[2], 0, 1).unwrap();
    let _shared = sync::Shared::create(&names[3], 7u64).unwrap();
    let _channel = channel::create_producer(&names[4], 4096).unwrap();
    let _broadcast = channel::broadcast::options()
        .create_publisher(&names[5])
        .unwrap();
    let _server = service::create_server(&names[6]).unwrap();

    let mut kinds = Vec::new();
    for name in &names {
        let o = shmkit(&["info", name, "--json"]);
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        kinds.push(v["kind"].as_str().expect("kind").to_owned());
    }
    let every: Vec<String> = shmkit::inspect::OBJECT_KINDS
        .iter()
        .map(|k| k.replace(' ', "_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "mutex",
            "event",
            "semaphore",
            "shared_value",
            "channel",
            "broadcast_channel",
            "service"
        ]
    );
    assert_eq!(kinds, every, "one object of each kind the library has");

    if cfg!(target_os = "linux") {
        let o = shmkit(&["ls", "--json"]);
        assert_code(&o, 0);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let listed = v["segments"].as_array().unwrap();
        for (name, kind) in names.iter().zip(&kinds) {
            let e = listed.iter().find(|e| e["name"] == **name).expect("listed");
            assert_eq!(e["kind"], **kind, "{e}");
        }
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
    // Change the byte only once the first frame is out (a slow start — Wine, a loaded
    // machine — must not make the change come before it).
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    while !out.contains("00000000:") {
        let before = out.len();
        std::io::BufRead::read_line(&mut stdout, &mut out).unwrap();
        assert!(
            out.len() > before,
            "watch ended before its first frame: {out}"
        );
    }
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, b"Z")
        .unwrap();
    stdout.read_to_string(&mut out).unwrap();
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
///
/// Running a file just written can fail with ETXTBSY ("text file busy"): a process that
/// another test thread forks while the copy's descriptor is open holds a copy of that
/// descriptor until it execs (rust-lang/rust#114554). That lasts an instant, so it is retried
/// — also when it is `shmkit` that meets it, running the `shmkit-bench` a test wrote.
fn shmkit_alone(dir: &std::path::Path, args: &[&str]) -> Output {
    let exe = dir.join(format!("shmkit{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_shmkit"), &exe).unwrap();
    }
    let mut tries = 0;
    loop {
        match Command::new(&exe)
            .args(args)
            .env("PATH", dir)
            .stdin(Stdio::null())
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(o) if tries < 50 && String::from_utf8_lossy(&o.stderr).contains("os error 26") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.expect("run shmkit"),
        }
    }
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

/// `info` shows a broadcast's shape and counters, read from the object without joining it:
/// slots, policy, published, and each subscriber's position and lag (issue 21).
#[test]
fn info_shows_a_broadcasts_slots_policy_published_and_subscriber_lag() {
    use shmkit::channel::broadcast;
    let name = Name::new("infobc");
    let mut publ = broadcast::options()
        .slots(8)
        .slot_size(128)
        .max_subscribers(4)
        .policy(broadcast::Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut fast = broadcast::options().open_subscriber(&name).unwrap();
    let _slow = broadcast::options().open_subscriber(&name).unwrap();
    for i in 0..5u8 {
        publ.send(&[i; 16]).unwrap();
        fast.recv().unwrap();
    }
    let o = shmkit(&["info", &name, "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &v["details"];
    assert_eq!(d["kind"], "broadcast", "{v}");
    assert_eq!(
        (d["slots"].as_u64(), d["slot_size"].as_u64()),
        (Some(8), Some(128))
    );
    assert_eq!(d["policy"], "overwrite");
    assert_eq!(d["max_subscribers"], 4);
    assert_eq!(d["published"], 5);
    assert_eq!(d["overwritten"], 0);
    assert!(d["layout"].is_null());
    let subs = d["subscribers"].as_array().expect("subscribers");
    let lags: Vec<(u64, u64, u64)> = subs
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            (n("position"), n("lag"), n("received"))
        })
        .collect();
    assert_eq!(lags, [(5, 0, 5), (0, 5, 0)], "{d}");
    assert!(subs.iter().all(|s| s["pid"] == std::process::id()));

    let o = shmkit(&["info", &name]);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(
        text.contains("slots:    8 x 128 bytes, overwrite"),
        "{text}"
    );
    assert!(text.contains("published: 5 (80 B of payload)\n"), "{text}");
    assert!(text.contains("at 0, lag 5, received 0, lost 0"), "{text}");
}
