//! C ↔ Rust across processes, on typed layouts: the C publisher example
//! (`examples/c/publisher.c`) to a Rust subscriber of the same `#[repr(C)]` struct and tag,
//! and a Rust producer to a C consumer (`tests/cross/consumer.c`) on a typed channel; in
//! both, a side with another layout is refused with the layout error naming both; and a C
//! client (`tests/cross/client.c`) of a Rust typed service.
//! (`crates/shmkit-py/tests/test_c_api.py` runs the C publisher to a Python subscriber.)
#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use shmkit::channel::{self, broadcast};
use shmkit::sync::{Pod, Zeroable};
use shmkit::Error;

/// The record of `examples/c/publisher.c`, declared as C declares it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[bytemuck(crate = "shmkit::bytemuck")]
struct Reading {
    seq: u64,
    value: f64,
    sensor: u32,
    flags: u32,
}

const TAG: &str = "reading v1";

/// Record `i`, as the C programs make and check it.
fn record(i: u64) -> Reading {
    Reading {
        seq: i,
        value: i as f64 * 0.5,
        sensor: (i % 7) as u32,
        flags: 0xC0FFEE ^ i as u32,
    }
}

fn unique(what: &str) -> String {
    format!("cross-{what}-{}", std::process::id())
}

#[test]
fn a_c_publisher_to_a_rust_subscriber_of_the_same_struct() {
    let exe = common::compile(&common::crate_dir().join("examples/c/publisher.c"));
    let name = unique("pub");
    let count = 2000u64;
    let publisher = common::command(&exe)
        .args([&name, &count.to_string(), "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the C publisher");
    let wait = Duration::from_secs(30);

    // Another struct, or another tag, is refused before anything is received.
    let other = broadcast::typed::<[u32; 5]>()
        .tag(TAG)
        .open_timeout(wait)
        .open_subscriber(&name);
    match other {
        Err(e @ Error::LayoutMismatch { .. }) => {
            let e = e.to_string();
            assert!(
                e.contains("24-byte messages, align 8, tag \"reading v1\"")
                    && e.contains("20-byte messages, align 4, tag \"reading v1\"")
                    && e.contains("[u32; 5]"),
                "{e}"
            );
        }
        other => panic!("expected LayoutMismatch, got {other:?}"),
    }
    let other = broadcast::typed::<Reading>()
        .tag("reading v2")
        .open_subscriber(&name);
    assert!(
        matches!(other, Err(Error::LayoutMismatch { .. })),
        "{other:?}"
    );

    let mut sub = broadcast::typed::<Reading>()
        .tag(TAG)
        .open_subscriber(&name)
        .expect("subscribe");
    // It receives from where it joined: the publisher counts it as attached a moment before
    // it fixes that, so under load it may start after record 0. From there on, under
    // back-pressure, it gets every one in order.
    let start = {
        let first = sub.recv_timeout(wait).expect("recv");
        assert_eq!(*first, record(first.seq()));
        first.seq()
    };
    for i in start + 1..count {
        if i % 2 == 0 {
            assert_eq!(*sub.recv_timeout(wait).expect("recv"), record(i));
        } else {
            assert_eq!(sub.recv_copy_timeout(wait).expect("recv"), record(i));
        }
    }
    assert!(matches!(
        sub.recv_timeout(wait),
        Err(Error::Disconnected { .. })
    ));
    let out = publisher.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "publisher: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("published 2000 records"));
}

#[test]
fn a_rust_producer_to_a_c_consumer_on_a_typed_channel() {
    let exe = common::compile(&common::crate_dir().join("tests/cross/consumer.c"));
    let name = unique("chan");
    let count = 5000u64;
    let mut tx = channel::typed::<Reading>()
        .tag(TAG)
        .capacity(1 << 12)
        .create_producer(&name)
        .expect("create");
    let consumer = common::command(&exe)
        .args([&name, &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the C consumer");
    for i in 0..count {
        if i % 2 == 0 {
            tx.send(&record(i)).expect("send");
        } else {
            tx.loan().expect("loan").write(record(i)).commit();
        }
    }
    drop(tx);
    let out = consumer.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "consumer: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_c_client_calls_a_rust_typed_service() {
    let exe = common::compile(&common::crate_dir().join("tests/cross/client.c"));
    let name = unique("svc");
    let count = 2000usize;
    let mut server = shmkit::service::typed::<[u64; 2], u64>()
        .tag("add v1")
        .create_server(&name)
        .expect("create server");
    let client = common::command(&exe)
        .args([&name, &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the C client");
    for _ in 0..count {
        let r = server
            .recv_timeout(Duration::from_secs(30))
            .expect("a request");
        let [a, b] = r.value;
        server.respond(r.handle(), &(a + b)).expect("respond");
    }
    let out = client.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "client: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
