//! iceoryx2 in the busy-poll latency table: two publish-subscribe services (ping, pong) with a
//! 64-byte payload, loaned and written in place, the receivers spinning on `receive` — the same
//! shape as the shmkit channel ping-pong. Linux only (the dependency is large).

use std::time::Instant;

use iceoryx2::prelude::*;

use crate::stats::Summary;

type Payload = [u64; 8];
const STOP: u64 = u64::MAX;

struct Ports {
    _node: Node<ipc::Service>,
    publisher: iceoryx2::port::publisher::Publisher<ipc::Service, Payload, ()>,
    subscriber: iceoryx2::port::subscriber::Subscriber<ipc::Service, Payload, ()>,
}

fn ports(send_on: &str, receive_on: &str) -> Ports {
    // Its default configuration is what we measure; the warning that no config file was
    // found, printed by every process, is noise in the table.
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service = |name: &str| {
        node.service_builder(&name.try_into().expect("service name"))
            .publish_subscribe::<Payload>()
            .open_or_create()
            .expect("iceoryx2 service")
    };
    let (tx, rx) = (service(send_on), service(receive_on));
    Ports {
        publisher: tx.publisher_builder().create().expect("publisher"),
        subscriber: rx.subscriber_builder().create().expect("subscriber"),
        _node: node,
    }
}

fn send(p: &Ports, seq: u64) {
    let sample = p.publisher.loan_uninit().expect("loan");
    sample.write_payload([seq; 8]).send().expect("send");
}

/// Spins until a message with `seq` arrives (dropping stale ones); `None` to accept any.
fn receive(p: &Ports, want: Option<u64>, give_up: Option<Instant>) -> Option<u64> {
    loop {
        if let Some(s) = p.subscriber.receive().expect("receive") {
            let got = s.payload()[0];
            if want.is_none_or(|w| w == got) {
                return Some(got);
            }
        } else if give_up.is_some_and(|t| Instant::now() > t) {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// The child side: echo every ping as a pong until STOP.
pub fn echo(ping: &str, pong: &str) {
    let p = ports(pong, ping);
    loop {
        let seq = receive(&p, None, None).expect("ping");
        if seq == STOP {
            return;
        }
        send(&p, seq);
    }
}

/// One-way latency (half a round trip) over `batches` batches of `per` round trips.
pub fn latency(
    batches: usize,
    per: usize,
    spawn: impl FnOnce(&str, &str) -> std::process::Child,
) -> Summary {
    let id = std::process::id();
    let (ping, pong) = (
        format!("shmkit-bench/{id}/ping"),
        format!("shmkit-bench/{id}/pong"),
    );
    let p = ports(&ping, &pong);
    let mut child = spawn(&ping, &pong);
    // Until the child's subscriber is connected, pings are lost: resend until one comes back.
    let mut seq = 0u64;
    loop {
        send(&p, seq);
        let soon = Instant::now() + std::time::Duration::from_millis(5);
        if receive(&p, Some(seq), Some(soon)).is_some() {
            break;
        }
        seq += 1;
    }
    let mut v = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            seq += 1;
            send(&p, seq);
            receive(&p, Some(seq), None);
        }
        v.push(t.elapsed() / (2 * per as u32));
    }
    send(&p, STOP);
    assert!(child.wait().expect("wait child").success());
    Summary::of(&mut v)
}
