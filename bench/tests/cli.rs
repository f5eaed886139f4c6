//! The real `shmkit-bench` binary (what `shmkit bench` runs), in its seconds-long smoke mode.

use std::process::{Command, Output, Stdio};

fn bench(args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shmkit-bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .output()
        .expect("run shmkit-bench")
}

#[test]
fn quick_prints_every_table_as_json() {
    let o = bench(
        &["--quick", "--json", "segment", "throughput"],
        Stdio::piped(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    for bench in [
        "segment_lifecycle_1MiB",
        "throughput_1MiB",
        "throughput_64MiB",
    ] {
        assert!(v.iter().any(|r| r["bench"] == bench), "{bench} missing");
    }
    assert!(v
        .iter()
        .all(|r| r["median_ns"].as_u64().is_some_and(|n| n > 0)));
    assert_eq!(bench(&["nonsense"], Stdio::null()).status.code(), Some(2));
}

/// A closed standard output (`| head`) ends the program quietly, never with a panic.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_pipe_is_a_quiet_end() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which has room for two.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    for json in [false, true] {
        let mut args = vec!["--quick", "segment"];
        args.extend(json.then_some("--json"));
        let o = bench(&args, Stdio::from(write.try_clone().unwrap()));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.is_empty(), "{err}");
    }
}

/// The payload sweep's rows carry the tail (p99.9 and max, ordered), and `plot` draws SVGs
/// from the JSON.
#[test]
fn the_sweep_has_tails_and_plots_draw() {
    let o = bench(&["--quick", "--json", "sweep"], Stdio::piped());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let sweep: Vec<_> = v.iter().filter(|r| r["bench"] == "latency_sweep").collect();
    assert!(sweep.len() >= 3, "{sweep:?}");
    for r in &sweep {
        let at = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert!(at("median_ns") <= at("p99_ns"), "{r}");
        assert!(at("p99_ns") <= at("p999_ns"), "{r}");
        assert!(at("p999_ns") <= at("max_ns"), "{r}");
    }
    let dir = std::env::temp_dir().join(format!("shmkit-bench-plot-{}", std::process::id()));
    let json = dir.with_extension("json");
    std::fs::write(&json, &o.stdout).unwrap();
    let p = bench(
        &["plot", json.to_str().unwrap(), dir.to_str().unwrap()],
        Stdio::piped(),
    );
    assert_eq!(
        p.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&p.stderr)
    );
    for f in ["latency_sweep.svg", "throughput_sweep.svg"] {
        let svg = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("shmkit channel"),
            "{f}"
        );
    }
    assert!(!dir.join("broadcast_fanout.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&json);
}
