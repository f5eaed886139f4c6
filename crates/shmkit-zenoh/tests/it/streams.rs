//! The checked stream programs (`examples/stream_pub.rs`, `examples/stream_sub.rs`) inside
//! machines: both in one machine get every message intact; a subscriber in another machine
//! finds nothing.

use std::process::Command;

use serde_json::{json, Value};

use crate::machine::Machine;
use crate::util::{example, unique, Running};

/// `stream_pub` in `machine` with `args`.
fn publisher(machine: &Machine, args: &[&str]) -> Command {
    let mut c = machine.command(example("stream_pub"));
    c.args(args);
    c
}

/// `stream_sub` in `machine` with `args`.
fn subscriber(machine: &Machine, args: &[&str]) -> Command {
    let mut c = machine.command(example("stream_sub"));
    c.args(args);
    c
}

/// The summary fields that say a stream of `count` messages from `first` came through whole.
#[track_caller]
pub fn assert_whole(summary: &Value, first: u64, count: u64) {
    let got: Value = [
        "received",
        "first_seq",
        "last_seq",
        "gaps",
        "duplicates",
        "corrupt",
    ]
    .iter()
    .map(|k| (k.to_string(), summary[k].clone()))
    .collect::<serde_json::Map<_, _>>()
    .into();
    assert_eq!(
        got,
        json!({
            "received": count, "first_seq": first, "last_seq": first + count - 1,
            "gaps": 0, "duplicates": 0, "corrupt": 0,
        }),
        "{summary}"
    );
}

/// Publisher and subscriber in one machine, `count` messages with `size`/`sizes`.
fn one_machine(count: u64, size: &str, sizes: &str) {
    let m = Machine::new();
    let name = unique("stream");
    let n = count.to_string();
    let common = ["--name", &name, "--size", size, "--sizes", sizes];
    let sub = Running::spawn(
        "stream_sub",
        subscriber(
            &m,
            &[&common[..], &["--count", &n, "--timeout", "60s"]].concat(),
        ),
    );
    let publ = Running::spawn(
        "stream_pub",
        publisher(
            &m,
            &[&common[..], &["--count", &n, "--wait-subscribers", "1"]].concat(),
        ),
    );
    let p = publ.success().summary();
    assert_eq!(
        (p["sent"].as_u64(), p["subscribers"].as_u64()),
        (Some(count), Some(1)),
        "{p}"
    );
    let s = sub.success().summary();
    assert_whole(&s, 0, count);
    assert_eq!(s["end"], "count");
    assert_eq!(s["bytes"], p["bytes"], "{s}\n{p}");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_stream_of_small_messages_arrives_whole_in_one_machine() {
    one_machine(5000, "16", "fixed");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_stream_of_1_mib_messages_arrives_whole_in_one_machine() {
    one_machine(64, "1MiB", "fixed");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_stream_of_mixed_lengths_keeps_its_boundaries_in_one_machine() {
    one_machine(3000, "70000", "mixed");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_following_subscriber_goes_on_with_a_replacement_publisher() {
    let m = Machine::new();
    let name = unique("follow");
    let sub = Running::spawn(
        "stream_sub",
        subscriber(
            &m,
            &[
                "--name",
                &name,
                "--count",
                "400",
                "--follow",
                "--timeout",
                "60s",
            ],
        ),
    );
    let common = ["--name", &name, "--count", "200", "--wait-subscribers", "1"];
    Running::spawn("first stream_pub", publisher(&m, &common)).success();
    let second = [&common[..], &["--start-seq", "200"]].concat();
    Running::spawn("second stream_pub", publisher(&m, &second)).success();
    let s = sub.success().summary();
    assert_whole(&s, 0, 400);
    assert_eq!(s["subscriptions"], 2, "{s}");
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn a_subscriber_in_another_machine_does_not_find_the_broadcast() {
    let (a, b) = (Machine::new(), Machine::new());
    let name = unique("elsewhere");
    let publ = Running::spawn(
        "stream_pub in A",
        publisher(
            &a,
            &["--name", &name, "--count", "10", "--wait-subscribers", "1"],
        ),
    );
    let mut in_b = Running::spawn(
        "stream_sub in B",
        subscriber(&b, &["--name", &name, "--timeout", "1s"]),
    );
    let f = in_b.finish();
    assert_eq!(f.status.code(), Some(1), "{f:#?}");
    assert_eq!(f.summary()["end"], "not_found", "{f:#?}");
    assert_eq!(f.summary()["received"], 0, "{f:#?}");

    // The broadcast is there all the while, for a subscriber in A.
    let in_a = Running::spawn(
        "stream_sub in A",
        subscriber(&a, &["--name", &name, "--count", "10", "--timeout", "60s"]),
    );
    assert_whole(&in_a.success().summary(), 0, 10);
    publ.success();
}

#[test]
#[cfg_attr(
    not(shmkit_test_mount_ns),
    ignore = "needs root (CAP_SYS_ADMIN, for mount namespaces); run as root or set SHMKIT_TEST_ROOT=1"
)]
fn the_subscriber_fails_on_messages_of_unexpected_length() {
    let m = Machine::new();
    let name = unique("mismatch");
    // It expects 4000-byte messages; the publisher sends mixed lengths up to 4000.
    let mut sub = Running::spawn(
        "stream_sub",
        subscriber(
            &m,
            &[
                "--name",
                &name,
                "--count",
                "24",
                "--size",
                "4000",
                "--timeout",
                "60s",
            ],
        ),
    );
    let publ = Running::spawn(
        "stream_pub",
        publisher(
            &m,
            &[
                "--name",
                &name,
                "--count",
                "24",
                "--size",
                "4000",
                "--sizes",
                "mixed",
                "--wait-subscribers",
                "1",
            ],
        ),
    );
    publ.success();
    let f = sub.finish();
    assert_eq!(f.status.code(), Some(1), "{f:#?}");
    let s = f.summary();
    // Of every 12 lengths, at least 16, 17, size - 1 and 64 are not 4000 bytes.
    assert_eq!(s["received"], 24, "{s}");
    assert!(s["corrupt"].as_u64().unwrap() >= 2 * 4, "{s}");
    assert!(f.stderr.contains("Unexpected"), "{f:#?}");
}
