//! `create --keep`, `ls` and `gc`: what is listed, what is collected, and a failing removal.

use super::*;

/// `gc` exits 1 when it cannot remove an unused object (here: another user's, read-only to
/// it), and still removes the others.
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(
    not(shmkit_test_setuid),
    ignore = "needs root (CAP_SETUID, to run `gc` as another user); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn gc_fails_loudly_when_a_removal_fails() {
    let _one_gc_at_a_time = GC.lock().unwrap_or_else(|e| e.into_inner());
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .output()
        .expect("run setpriv");
    assert!(
        probe.status.success(),
        "cannot run as another user ({}): {}\nThis test needs root and setpriv; the build found \
         it could run (or SHMKIT_TEST_ROOT=1 said so). `SHMKIT_TEST_ROOT=0 cargo test` ignores it.",
        probe.status,
        stderr(&probe).trim()
    );
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
    // And one whose creator is killed while another process (this one) still has it open:
    // gc goes by who has an object open, not by whether its creator runs.
    let orphan = Name::new("gcorphan");
    let mut d = spawn_recv(&dead);
    let _l = spawn_recv(&live);
    let mut o = spawn_recv(&orphan);
    for n in [&*dead, &*live, &*orphan] {
        wait_for_kind(n, "channel");
    }
    let _producer = shmkit::channel::options().open_producer(&orphan).unwrap();
    for killed in [&mut d, &mut o] {
        killed.0.kill().unwrap();
        killed.0.wait().unwrap();
    }

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
        assert!(
            !said.contains(&*live) && !said.contains(&*kept) && !said.contains(&*orphan),
            "{said}"
        );
        assert!(matches!(
            shmkit::inspect::inspect(&dead),
            Err(shmkit::Error::NotFound { .. })
        ));
        assert!(shmkit::inspect::inspect(&live).is_ok() && shmkit::inspect::inspect(&kept).is_ok());
        let orphan_info = shmkit::inspect::inspect(&orphan).expect("kept: a producer has it open");
        assert_eq!(
            (orphan_info.creator_alive, orphan_info.in_use),
            (Some(false), Some(true))
        );

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

/// `gc --help` says what gc does: it removes the shmkit objects no process has open (asked of
/// the kernel), never raw segments; it says nothing of creator pids (issue 20).
#[test]
fn gc_help_says_what_gc_removes() {
    let o = shmkit(&["gc", "--help"]);
    assert_code(&o, 0);
    let help = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    for said in [
        "Remove shmkit objects",
        "that no process has open",
        "asked of the kernel",
        "Never touches raw segments",
    ] {
        assert!(help.contains(said), "{said:?} missing from: {help}");
    }
    assert!(
        !help.contains("pid no longer runs") && !help.contains("creator process is dead"),
        "{help}"
    );
}
