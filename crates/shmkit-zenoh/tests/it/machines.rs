//! The machine harness itself: two machines do not share `/dev/shm` with each other nor with
//! the host, and processes in one machine do share it.

use std::process::Command;

use shmkit::{Access, Error, Segment};

use crate::machine::Machine;
use crate::util::{as_role, say, unique, Running};

const PATTERN: &[u8] = b"made in machine A";

pub const ROLES: &[(&str, crate::Role)] = &[
    ("create_segment", create_segment),
    ("probe_segment", probe_segment),
];

/// Creates segment `args[0]` holding `PATTERN`, says "created", and keeps it until killed.
fn create_segment(args: &[String]) {
    let seg = Segment::create(&args[0], 4096).expect("create the segment");
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, PATTERN)
        .unwrap();
    say("created");
    loop {
        std::thread::park();
    }
}

/// Opens segment `args[0]`; says "found <its first bytes>" or "not found".
fn probe_segment(args: &[String]) {
    say(&probe(&args[0]));
}

fn probe(name: &str) -> String {
    match Segment::open(name) {
        Ok(seg) => {
            let mut buf = vec![0u8; PATTERN.len()];
            seg.map(Access::ReadOnly)
                .unwrap()
                .read_at(0, &mut buf)
                .unwrap();
            format!("found {}", String::from_utf8_lossy(&buf))
        }
        Err(Error::NotFound { .. }) => "not found".to_owned(),
        Err(e) => panic!("open {name:?}: {e}"),
    }
}

/// This test binary, playing `role`, inside `machine`.
fn role_in(machine: &Machine, role: &str, args: &[&str]) -> Command {
    let mut c = machine.command(std::env::current_exe().expect("current_exe"));
    as_role(&mut c, role, args);
    c
}

/// What `probe_segment` says in `machine`.
fn probe_in(machine: &Machine, name: &str) -> String {
    let f = Running::spawn("probe", role_in(machine, "probe_segment", &[name])).success();
    f.stdout.last().cloned().unwrap_or_default()
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_segment_made_in_one_machine_is_seen_only_there() {
    let (a, b) = (Machine::new(), Machine::new());
    let name = unique("iso");
    let mut creator = Running::spawn("creator", role_in(&a, "create_segment", &[&name]));
    creator.wait_for_line("created");

    let expected = format!("found {}", String::from_utf8_lossy(PATTERN));
    assert_eq!(
        probe_in(&a, &name),
        expected,
        "another process in machine A"
    );
    assert_eq!(probe_in(&b, &name), "not found", "machine B");
    assert_eq!(probe(&name), "not found", "the host");
    assert!(
        !std::path::Path::new("/dev/shm").join(&name).exists(),
        "the host's /dev/shm"
    );
    drop(creator);
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_machine_does_not_see_the_hosts_segments() {
    let name = unique("host");
    let seg = Segment::create(&name, 4096).unwrap();
    seg.map(Access::ReadWrite)
        .unwrap()
        .write_at(0, PATTERN)
        .unwrap();
    let a = Machine::new();
    assert_eq!(probe_in(&a, &name), "not found");
    assert!(probe(&name).starts_with("found"), "the host still has it");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_machines_dev_shm_is_its_own_tmpfs_and_goes_with_it() {
    let a = Machine::new();
    let pid = a.pid();
    let out = a
        .command("findmnt")
        .args([
            "--noheadings",
            "--output",
            "SOURCE,FSTYPE",
            "--mountpoint",
            "/dev/shm",
        ])
        .output()
        .expect("run findmnt in the machine");
    let mounts = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        mounts
            .lines()
            .last()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["shmkit-machine", "tmpfs"]),
        "{mounts}"
    );
    drop(a);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the holder outlived its Machine"
    );
}
