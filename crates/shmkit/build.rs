//! Decides, before the tests are compiled, which tests that need root can run here, and turns
//! each answer into a cfg that the tests read as
//! `#[cfg_attr(not(shmkit_test_pid_ns), ignore = "needs root …")]`: libtest has no way for a
//! running test to say "skipped", but it lists an ignored test as `ignored, <reason>`.
//!
//! Each cfg, what its tests need, and the probe that must succeed for it:
//!
//! - `shmkit_test_pid_ns`: pid namespaces (CAP_SYS_ADMIN);
//!   `unshare --pid --fork --kill-child true`.
//! - `shmkit_test_mount_ns`: a private `/dev/shm` per simulated machine (CAP_SYS_ADMIN);
//!   `unshare --mount` running `mount -t tmpfs … /dev/shm`, and `nsenter --version`.
//! - `shmkit_test_veth`: a veth pair between network namespaces (CAP_NET_ADMIN, iproute2);
//!   `unshare --net ip link add … type veth peer …`.
//! - `shmkit_test_setuid`: a child process as another user (CAP_SETUID, CAP_SETGID);
//!   `setpriv --reuid=65534 --regid=65534 --clear-groups true`.
//!
//! Nothing a probe does outlives it: the namespaces it makes, and the tmpfs or veth pair in
//! them, go when it exits.
//!
//! `SHMKIT_TEST_ROOT=1` turns every cfg on without probing (the tests then fail, saying why,
//! where they cannot run), `SHMKIT_TEST_ROOT=0` turns every one off; unset or empty, the probes
//! decide. Only Linux targets get the cfgs (the tests are Linux-only).
//!
//! Cargo keeps the answer until this script runs again: when it changes, when
//! `SHMKIT_TEST_ROOT` changes, or when `USER` changes (so `sudo cargo test` after a build as
//! yourself probes again as root). A rerun rebuilds the crate and the workspace crates that
//! depend on it, not their dependencies. A test binary built where the tests could run and
//! then started by a user who cannot run them fails them, saying why.
//!
//! This script is for this repository's tests only: the published packages leave it out
//! (`exclude` in each crate's manifest), so no one who depends on shmkit runs these probes.
//! shmkit-cli's and shmkit-zenoh's build scripts include this file as a module and call
//! [`emit`] with the cfgs their own tests use. The cfgs are declared in the workspace's
//! `[workspace.lints.rust]`.

use std::process::{Command, Stdio};

/// The variable that forces the tests that need root on (`1`) or off (`0`).
const FORCE_ENV: &str = "SHMKIT_TEST_ROOT";

/// Every cfg, with the command lines whose success says the tests gated by it can run.
const PROBES: &[(&str, &[&[&str]])] = &[
    (
        "shmkit_test_pid_ns",
        &[&["unshare", "--pid", "--fork", "--kill-child", "true"]],
    ),
    (
        "shmkit_test_mount_ns",
        &[
            &[
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "size=1m",
                "shmkit-probe",
                "/dev/shm",
            ],
            &["nsenter", "--version"],
        ],
    ),
    (
        "shmkit_test_veth",
        &[&[
            "unshare",
            "--net",
            "ip",
            "link",
            "add",
            "shmkit-probe-a",
            "type",
            "veth",
            "peer",
            "name",
            "shmkit-probe-b",
        ]],
    ),
    (
        "shmkit_test_setuid",
        &[&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "true",
        ]],
    ),
];

/// shmkit's own tests: pid namespaces (liveness across containers) and another user (modes).
#[allow(dead_code)] // unused where another crate's build script includes this file
fn main() {
    emit(&["shmkit_test_pid_ns", "shmkit_test_setuid"]);
}

/// Prints `cargo::rustc-cfg=<cfg>` for each of `cfgs` whose tests can run here (or all of
/// them, or none, as `SHMKIT_TEST_ROOT` says), and what should make cargo run this again.
pub fn emit(cfgs: &[&str]) {
    println!("cargo::rerun-if-env-changed={FORCE_ENV}");
    println!("cargo::rerun-if-env-changed=USER");
    let force = match std::env::var(FORCE_ENV).as_deref() {
        Ok("1") => Some(true),
        Ok("0") => Some(false),
        Ok("") | Err(std::env::VarError::NotPresent) => None,
        Ok(other) => panic!(
            "{FORCE_ENV} must be 1 (run the tests that need root) or 0 (ignore them), \
             not {other:?}"
        ),
        Err(e) => panic!("{FORCE_ENV}: {e}"),
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    for &(cfg, probes) in PROBES.iter().filter(|(cfg, _)| cfgs.contains(cfg)) {
        if force.unwrap_or_else(|| probes.iter().all(|argv| succeeds(argv))) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// Whether `argv` runs and exits with 0.
fn succeeds(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
