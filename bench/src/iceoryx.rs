//! iceoryx2 as a baseline (Linux only; the dependency is large):
//!
//! * in the busy-poll latency table: two publish-subscribe services (ping, pong) with a 64-byte
//!   payload, loaned and written in place, the receivers spinning on `receive` — the same shape
//!   as the shmkit channel ping-pong;
//! * in `broadcast_1MiB`: one publish-subscribe service of `[u8]` slices, one publisher
//!   writing every byte of each 1 MiB message into a loan, `n` subscriber processes checking
//!   every byte in place (see [`Broadcast`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

/// One-way latency (half a round trip) of `batches * per` round trips, each timed.
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
    // Timed per message, as the shmkit rows.
    let s = crate::channel::one_way(batches, per, || {
        seq += 1;
        send(&p, seq);
        receive(&p, Some(seq), None);
    });
    send(&p, STOP);
    assert!(child.wait().expect("wait child").success());
    s
}

/// How many messages a subscriber's queue holds: as the shmkit rows' 8 slots, the publisher
/// may run this many messages ahead of the slowest subscriber before `send` waits.
const BCAST_BUFFER: usize = 8;

/// The publisher side of `broadcast_1MiB`'s iceoryx2 rows: a publish-subscribe service of
/// `[u8]` slices for `n` subscribers, no history, no safe overflow (a full subscriber queue is
/// not overwritten), and a publisher whose `send` retries until every subscriber's queue has
/// room (`BackpressureStrategy::RetryUntilDelivered`: iceoryx2 yields, then after 10 000 yields
/// sleeps 100 µs and longer) — back-pressure, so no message is dropped.
pub struct Broadcast {
    /// The service's name, for the subscriber processes.
    pub name: String,
    size: usize,
    publisher: iceoryx2::port::publisher::Publisher<ipc::Service, [u8], ()>,
    _service:
        iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, [u8], ()>,
    _node: Node<ipc::Service>,
}

impl Broadcast {
    /// Creates a new service (a fresh name per call) for `n` subscribers of `size`-byte messages.
    pub fn create(n: usize, size: usize) -> Broadcast {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        set_log_level(LogLevel::Error);
        let name = format!(
            "shmkit-bench/{}/bcast-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let node = NodeBuilder::new()
            .create::<ipc::Service>()
            .expect("iceoryx2 node");
        let service = node
            .service_builder(&name.as_str().try_into().expect("service name"))
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(n)
            .subscriber_max_buffer_size(BCAST_BUFFER)
            .subscriber_max_borrowed_samples(1)
            .history_size(0)
            .enable_safe_overflow(false)
            .create()
            .expect("iceoryx2 service");
        let publisher = service
            .publisher_builder()
            .initial_max_slice_len(size)
            .max_loaned_samples(1)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .expect("publisher");
        Broadcast {
            name,
            size,
            publisher,
            _service: service,
            _node: node,
        }
    }

    /// Sends message `i`: loans a slice, writes every byte with `pattern(i)` (the shmkit rows'
    /// `fill`), sends it; waits while a subscriber's queue is full.
    pub fn send(&self, i: usize, pattern: impl Fn(usize) -> u8) {
        let p = pattern(i);
        let sample = self.publisher.loan_slice_uninit(self.size).expect("loan");
        sample.write_from_fn(|_| p).send().expect("send");
    }
}

/// The subscriber side: opens the service `name`, calls `subscribed` once its subscriber
/// exists, then receives `count` messages in order, checking each in place with `check(bytes,
/// i)`. An empty queue is polled again after a `yield` (as iceoryx2's own adaptive wait starts
/// out; iceoryx2 blocks a reader only through a separate event service). Panics if a message
/// does not come within 30 s, so a dropped message fails the run rather than hanging it.
pub fn broadcast_subscriber(
    name: &str,
    count: usize,
    subscribed: impl FnOnce(),
    check: impl Fn(&[u8], usize),
) {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service = node
        .service_builder(&name.try_into().expect("service name"))
        .publish_subscribe::<[u8]>()
        .open()
        .expect("iceoryx2 service");
    let subscriber = service.subscriber_builder().create().expect("subscriber");
    subscribed();
    for i in 0..count {
        let give_up = Instant::now() + Duration::from_secs(30);
        let sample = loop {
            if let Some(s) = subscriber.receive().expect("receive") {
                break s;
            }
            assert!(Instant::now() < give_up, "message {i} never arrived");
            std::thread::yield_now();
        };
        check(sample.payload(), i);
    }
}

/// The server side of `request_response_64B`'s iceoryx2 row: a request-response service of
/// `[u64; 8]` both ways; every request is answered with a response loaned and written in
/// place holding the same payload, until a request starting with `STOP`.
pub fn rr_server(name: &str) {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service = node
        .service_builder(&name.try_into().expect("service name"))
        .request_response::<Payload, Payload>()
        .open_or_create()
        .expect("iceoryx2 service");
    let server = service.server_builder().create().expect("server");
    loop {
        match server.receive().expect("receive") {
            Some(request) => {
                let v = *request.payload();
                let response = request.loan_uninit().expect("loan");
                response.write_payload(v).send().expect("send");
                if v[0] == STOP {
                    return;
                }
            }
            None => std::hint::spin_loop(),
        }
    }
}

/// Round trips (not halved) of `request_response_64B`'s iceoryx2 row: the client sends a
/// copy of each request (`send_copy`) and spins on its pending response's `receive`.
pub fn rr_latency(
    batches: usize,
    per: usize,
    spawn: impl FnOnce(&str) -> std::process::Child,
) -> Summary {
    set_log_level(LogLevel::Error);
    let name = format!("shmkit-bench/{}/rr", std::process::id());
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service = node
        .service_builder(&name.as_str().try_into().expect("service name"))
        .request_response::<Payload, Payload>()
        .open_or_create()
        .expect("iceoryx2 service");
    let client = service.client_builder().create().expect("client");
    let mut child = spawn(&name);
    let call = |seq: u64, give_up: Option<Instant>| -> bool {
        let pending = client.send_copy([seq; 8]).expect("send request");
        loop {
            if let Some(r) = pending.receive().expect("receive response") {
                assert_eq!(r.payload()[0], seq, "a response to another request");
                return true;
            }
            if give_up.is_some_and(|t| Instant::now() > t) {
                return false;
            }
            std::hint::spin_loop();
        }
    };
    // Until the child's server is connected, requests go unanswered: retry until one is.
    let mut seq = 0u64;
    while !call(seq, Some(Instant::now() + Duration::from_millis(5))) {
        seq += 1;
    }
    for _ in 0..per {
        seq += 1;
        call(seq, None);
    }
    let mut v = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            seq += 1;
            call(seq, None);
        }
        v.push(t.elapsed() / per as u32);
    }
    let _ = client.send_copy([STOP; 8]).expect("send stop");
    assert!(child.wait().expect("wait child").success());
    Summary::of(&mut v)
}

/// Ports of the payload sweep: `[u8]` slices of `size` bytes each way.
struct SlicePorts {
    _node: Node<ipc::Service>,
    size: usize,
    publisher: iceoryx2::port::publisher::Publisher<ipc::Service, [u8], ()>,
    subscriber: iceoryx2::port::subscriber::Subscriber<ipc::Service, [u8], ()>,
}

fn slice_ports(send_on: &str, receive_on: &str, size: usize) -> SlicePorts {
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node");
    let service = |name: &str| {
        node.service_builder(&name.try_into().expect("service name"))
            .publish_subscribe::<[u8]>()
            .open_or_create()
            .expect("iceoryx2 service")
    };
    let (tx, rx) = (service(send_on), service(receive_on));
    SlicePorts {
        publisher: tx
            .publisher_builder()
            .initial_max_slice_len(size)
            .create()
            .expect("publisher"),
        subscriber: rx.subscriber_builder().create().expect("subscriber"),
        size,
        _node: node,
    }
}

impl SlicePorts {
    /// Loans a slice, writes every byte (the sweep's `produce`), with `seq` in its first 8
    /// bytes to tell the handshake's pings apart, and sends it.
    fn send(&self, seq: u64) {
        let mut sample = self.publisher.loan_slice_uninit(self.size).expect("loan");
        let bytes = sample.payload_mut();
        assert!(bytes.len() >= 8);
        // SAFETY: `bytes` is the loan's `size` writable bytes (at least 8: checked); writing
        // all of them initialises the slice, as `assume_init` requires.
        let sample = unsafe {
            let p = bytes.as_mut_ptr().cast::<u8>();
            p.write_bytes(seq as u8, bytes.len());
            p.cast::<[u8; 8]>().write_unaligned(seq.to_le_bytes());
            sample.assume_init()
        };
        sample.send().expect("send");
    }

    /// Spins until a message arrives; reads its first and last byte in place (the sweep's
    /// `consume`) and returns its number, or `None` after `give_up`.
    fn receive(&self, want: Option<u64>, give_up: Option<Instant>) -> Option<u64> {
        loop {
            if let Some(s) = self.subscriber.receive().expect("receive") {
                let p = s.payload();
                std::hint::black_box(p[p.len() - 1]);
                let got = u64::from_le_bytes(p[..8].try_into().expect("8 bytes"));
                if want.is_none_or(|w| w == got) {
                    return Some(got);
                }
            } else if give_up.is_some_and(|t| Instant::now() > t) {
                return None;
            }
            std::hint::spin_loop();
        }
    }
}

/// The payload sweep's iceoryx2 row: as [`latency`], with `size`-byte slices written whole.
pub fn sweep_latency(size: usize, batches: usize, per: usize) -> Summary {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = std::process::id();
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    let (ping, pong) = (
        format!("shmkit-bench/{id}/sweep-ping-{k}"),
        format!("shmkit-bench/{id}/sweep-pong-{k}"),
    );
    let p = slice_ports(&ping, &pong, size);
    let mut child = crate::channel::spawn(
        "iceoryx2-sweep-echo",
        &[&ping, &pong, &size.to_string()],
        std::process::Stdio::inherit(),
    );
    let mut seq = 0u64;
    loop {
        p.send(seq);
        let soon = Instant::now() + Duration::from_millis(5);
        if p.receive(Some(seq), Some(soon)).is_some() {
            break;
        }
        seq += 1;
    }
    let s = crate::channel::one_way(batches, per, || {
        seq += 1;
        p.send(seq);
        p.receive(Some(seq), None);
    });
    p.send(STOP);
    assert!(child.wait().expect("wait child").success());
    s
}

/// The child side of [`sweep_latency`]: echo every ping as a fresh pong until STOP.
pub fn sweep_echo(ping: &str, pong: &str, size: usize) {
    let p = slice_ports(pong, ping, size);
    loop {
        let seq = p.receive(None, None).expect("ping");
        if seq == STOP {
            return;
        }
        p.send(seq);
    }
}
