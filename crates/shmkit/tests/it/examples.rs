//! Every two-process example (`examples/<pattern>/`, registered in Cargo.toml) run as a user
//! runs it: both sides as real processes, each pair started in both orders (the side that
//! opens waits for the other with `open_timeout`). `cargo test` builds the examples.

use std::time::Duration;

use crate::util::{spawn_example, unique, Finished, NameGuard};

/// Starts `first`, then (a moment later, so that it is most likely already waiting)
/// `second`, both on `name`; returns their outputs once both succeeded.
fn run_pair(first: &str, second: &str, name: &str) -> [String; 2] {
    let a = spawn_example(first, &[name]);
    std::thread::sleep(Duration::from_millis(200));
    let b = spawn_example(second, &[name]);
    let (b, a): (Finished, Finished) = (b.wait(), a.wait());
    a.assert_success();
    b.assert_success();
    [a.stdout, b.stdout]
}

/// Runs the pair in both orders, on fresh names (`extra` suffixes: more names the pair
/// makes, removed at the end too); calls `check(output of a, output of b)` for each run.
fn both_orders(a: &str, b: &str, extra: &[&str], check: impl Fn(&str, &str)) {
    for a_first in [true, false] {
        let name = NameGuard::new("example");
        let _more: Vec<NameGuard> = extra
            .iter()
            .map(|s| NameGuard(format!("{}{s}", &*name)))
            .collect();
        let [out_a, out_b] = if a_first {
            run_pair(a, b, &name)
        } else {
            let [b_out, a_out] = run_pair(b, a, &name);
            [a_out, b_out]
        };
        check(&out_a, &out_b);
    }
}

fn count(out: &str, needle: &str) -> usize {
    out.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn channel_producer_and_consumer() {
    both_orders("channel_producer", "channel_consumer", &[], |tx, rx| {
        assert!(tx.contains("sent 6 messages"), "{tx}");
        assert_eq!(count(rx, "consumer: got"), 6, "{rx}");
        assert!(
            rx.contains("got \"done!\"") && rx.contains("the producer is done"),
            "{rx}"
        );
    });
}

#[test]
fn broadcast_publisher_and_subscriber() {
    both_orders(
        "broadcast_publisher",
        "broadcast_subscriber",
        &[],
        |_, sub| {
            assert_eq!(count(sub, "subscriber: got"), 5, "{sub}");
            assert!(sub.contains("\"tick 5\" (seq 4)"), "{sub}");
        },
    );
}

#[test]
fn service_server_and_client() {
    // The service makes a request and a response channel per client slot.
    let slots: Vec<String> = (0..4)
        .flat_map(|i| [format!(".q{i}"), format!(".r{i}")])
        .collect();
    let slots: Vec<&str> = slots.iter().map(String::as_str).collect();
    both_orders(
        "service_server",
        "service_client",
        &slots,
        |server, client| {
            assert!(server.contains("answered 3 requests"), "{server}");
            assert!(client.contains("\"memory\" -> \"MEMORY\""), "{client}");
        },
    );
}

#[test]
fn typed_producer_and_consumer() {
    both_orders("typed_producer", "typed_consumer", &[], |_, rx| {
        assert_eq!(count(rx, "consumer: reading"), 5, "{rx}");
        assert!(rx.contains("reading 5 = 22.5"), "{rx}");
    });
}

#[test]
fn waitset_waiter_and_sender() {
    both_orders(
        "waitset_sender",
        "waitset_waiter",
        &[".a", ".b"],
        |_, waiter| {
            assert_eq!(count(waiter, "waiter: a got"), 2, "{waiter}");
            assert_eq!(count(waiter, "waiter: b got"), 2, "{waiter}");
            assert_eq!(count(waiter, "is done"), 2, "{waiter}");
        },
    );
}

#[test]
fn sync_counter_twice() {
    let name = NameGuard(unique("example-counter"));
    let [one, two] = run_pair("sync_counter", "sync_counter", &name);
    for out in [&one, &two] {
        assert!(out.contains("total 2000"), "{out}");
    }
    assert_eq!(count(&format!("{one}{two}"), "created"), 1, "{one}{two}");
}

#[cfg(feature = "tokio")]
#[test]
fn async_consumer_and_channel_producer() {
    both_orders("channel_producer", "async_consumer", &[], |_, rx| {
        assert_eq!(count(rx, "consumer: got"), 6, "{rx}");
    });
}
