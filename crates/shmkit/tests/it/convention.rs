//! The API convention (crate docs, "Conventions"), enforced at compile time: for each kind a
//! function that is never called but names every form — the options entry point and verbs,
//! `open_timeout`, `try_x` / `x` / `x_timeout` / `x_deadline` of every wait,
//! `set_wait_strategy` / `wait_strategy` — and `is_waitable::<Side>()` for every side that
//! waits. A kind that leaves the convention (a missing form, a renamed verb) fails to compile
//! this file. The one test only makes the table count as used.
#![allow(
    dead_code,
    unused_must_use,
    clippy::let_underscore_future,
    clippy::result_map_unit_fn
)]

use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast, MessageLayout, WaitStrategy};
use shmkit::service::{self, Pending};
use shmkit::sync::{Event, Mutex, Semaphore, Shared, SharedBytes};
use shmkit::{FileMapping, Segment, WaitSet, Waitable};

const D: Duration = Duration::ZERO;
const S: WaitStrategy = WaitStrategy::Adaptive;

fn now() -> Instant {
    Instant::now()
}

fn is_waitable<T: Waitable>() {}

fn segment(n: &str) {
    let o = Segment::options().open_timeout(D).clone();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
}

fn file_mapping(n: &str) {
    let o = FileMapping::options();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
}

fn mutex(n: &str, m: &Mutex) {
    let o = Mutex::options()
        .mode(0o600)
        .keep(false)
        .open_timeout(D)
        .clone();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
    m.lock();
    m.try_lock();
    m.lock_timeout(D);
    m.lock_deadline(now());
}

fn shared(n: &str, s: &Shared<u64>) {
    let o = Shared::<u64>::options().open_timeout(D).clone();
    o.create(n, 0);
    o.open(n);
    o.open_or_create(n, 0);
    s.lock();
    s.try_lock();
    s.lock_timeout(D);
    s.lock_deadline(now());
}

fn shared_bytes(n: &str, s: &SharedBytes) {
    let o = SharedBytes::options()
        .layout(8, 8)
        .tag("u64")
        .mode(0o600)
        .keep(false)
        .open_timeout(D)
        .clone();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
    s.lock();
    s.try_lock();
    s.lock_timeout(D);
    s.lock_deadline(now());
}

fn event(n: &str, e: &Event) {
    let o = Event::options().open_timeout(D).clone();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
    e.wait();
    e.try_wait();
    e.wait_timeout(D);
    e.wait_deadline(now());
    is_waitable::<Event>();
}

fn semaphore(n: &str, s: &Semaphore) {
    let o = Semaphore::options().open_timeout(D).clone();
    o.create(n);
    o.open(n);
    o.open_or_create(n);
    s.wait();
    s.try_wait();
    s.wait_timeout(D);
    s.wait_deadline(now());
    is_waitable::<Semaphore>();
}

fn channel_bytes(n: &str, p: &mut channel::Producer, c: &mut channel::Consumer) {
    let o = channel::options()
        .capacity(4096)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_producer(n);
    o.create_producer_with_layout(n, &shmkit::channel::MessageLayout::new(8, 8, None));
    let l = shmkit::channel::MessageLayout::new(8, 8, None);
    o.create_consumer_with_layout(n, &l);
    o.open_producer_with_layout(n, &l);
    o.open_consumer_with_layout(n, &l);
    o.open_or_create_producer_with_layout(n, &l);
    o.open_or_create_consumer_with_layout(n, &l);
    o.create_consumer(n);
    o.open_producer(n);
    o.open_consumer(n);
    o.open_or_create_producer(n);
    o.open_or_create_consumer(n);
    channel::create_producer(n, 4096);
    channel::open_consumer(n);

    p.loan(1).map(drop);
    p.try_loan(1).map(drop);
    p.loan_timeout(1, D).map(drop);
    p.loan_deadline(1, now()).map(drop);
    p.send(b"");
    p.try_send(b"");
    p.send_timeout(b"", D);
    p.send_deadline(b"", now());
    p.set_wait_strategy(p.wait_strategy());

    let mut buf = Vec::new();
    c.recv().map(drop);
    c.try_recv().map(drop);
    c.recv_timeout(D).map(drop);
    c.recv_deadline(now()).map(drop);
    c.recv_into(&mut buf);
    c.try_recv_into(&mut buf);
    c.recv_into_timeout(&mut buf, D);
    c.recv_into_deadline(&mut buf, now());
    c.set_wait_strategy(c.wait_strategy());

    is_waitable::<channel::Producer>();
    is_waitable::<channel::Consumer>();
}

fn channel_typed(
    n: &str,
    p: &mut channel::typed::Producer<u64>,
    c: &mut channel::typed::Consumer<u64>,
) {
    let o = channel::typed::<u64>()
        .capacity(4096)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_producer(n);
    o.create_consumer(n);
    o.open_producer(n);
    o.open_consumer(n);
    o.open_or_create_producer(n);
    o.open_or_create_consumer(n);

    p.loan().map(drop);
    p.try_loan().map(drop);
    p.loan_timeout(D).map(drop);
    p.loan_deadline(now()).map(drop);
    p.loan_slice(1).map(drop);
    p.try_loan_slice(1).map(drop);
    p.loan_slice_timeout(1, D).map(drop);
    p.loan_slice_deadline(1, now()).map(drop);
    p.send(&0);
    p.try_send(&0);
    p.send_timeout(&0, D);
    p.send_deadline(&0, now());
    p.send_slice(&[0]);
    p.try_send_slice(&[0]);
    p.send_slice_timeout(&[0], D);
    p.send_slice_deadline(&[0], now());
    p.set_wait_strategy(p.wait_strategy());

    let (mut v, mut buf) = (0u64, Vec::new());
    c.recv().map(drop);
    c.try_recv().map(drop);
    c.recv_timeout(D).map(drop);
    c.recv_deadline(now()).map(drop);
    c.recv_into(&mut v);
    c.try_recv_into(&mut v);
    c.recv_into_timeout(&mut v, D);
    c.recv_into_deadline(&mut v, now());
    c.recv_copy();
    c.try_recv_copy();
    c.recv_copy_timeout(D);
    c.recv_copy_deadline(now());
    c.recv_slice().map(drop);
    c.try_recv_slice().map(drop);
    c.recv_slice_timeout(D).map(drop);
    c.recv_slice_deadline(now()).map(drop);
    c.recv_slice_into(&mut buf);
    c.try_recv_slice_into(&mut buf);
    c.recv_slice_into_timeout(&mut buf, D);
    c.recv_slice_into_deadline(&mut buf, now());
    c.set_wait_strategy(c.wait_strategy());

    is_waitable::<channel::typed::Producer<u64>>();
    is_waitable::<channel::typed::Consumer<u64>>();
}

fn broadcast_bytes(
    n: &str,
    l: &MessageLayout,
    p: &mut broadcast::Publisher,
    s: &mut broadcast::Subscriber,
) {
    let o = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(2)
        .policy(broadcast::Policy::Block)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_publisher(n);
    o.create_publisher_with_layout(n, l);
    o.open_subscriber_with_layout(n, l);
    o.open_subscriber(n);
    broadcast::open_subscriber(n);

    p.loan(1).map(drop);
    p.try_loan(1).map(drop);
    p.loan_timeout(1, D).map(drop);
    p.loan_deadline(1, now()).map(drop);
    p.send(b"");
    p.try_send(b"");
    p.send_timeout(b"", D);
    p.send_deadline(b"", now());
    p.subscribers();
    p.wait_for_subscribers(1);
    p.try_wait_for_subscribers(1);
    p.wait_for_subscribers_timeout(1, D);
    p.wait_for_subscribers_deadline(1, now());
    p.set_wait_strategy(p.wait_strategy());

    let mut buf = Vec::new();
    s.recv().map(drop);
    s.try_recv().map(drop);
    s.recv_timeout(D).map(drop);
    s.recv_deadline(now()).map(drop);
    s.recv_into(&mut buf);
    s.try_recv_into(&mut buf);
    s.recv_into_timeout(&mut buf, D);
    s.recv_into_deadline(&mut buf, now());
    s.set_wait_strategy(s.wait_strategy());

    is_waitable::<broadcast::Publisher>();
    is_waitable::<broadcast::Subscriber>();
}

fn broadcast_typed(
    n: &str,
    p: &mut broadcast::typed::Publisher<u64>,
    s: &mut broadcast::typed::Subscriber<u64>,
) {
    let o = broadcast::typed::<u64>()
        .slots(4)
        .max_subscribers(2)
        .policy(broadcast::Policy::Block)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_publisher(n);
    o.open_subscriber(n);

    p.loan().map(drop);
    p.try_loan().map(drop);
    p.loan_timeout(D).map(drop);
    p.loan_deadline(now()).map(drop);
    p.send(&0);
    p.try_send(&0);
    p.send_timeout(&0, D);
    p.send_deadline(&0, now());
    p.subscribers();
    p.wait_for_subscribers(1);
    p.try_wait_for_subscribers(1);
    p.wait_for_subscribers_timeout(1, D);
    p.wait_for_subscribers_deadline(1, now());
    p.set_wait_strategy(p.wait_strategy());

    let mut v = 0u64;
    s.recv().map(drop);
    s.try_recv().map(drop);
    s.recv_timeout(D).map(drop);
    s.recv_deadline(now()).map(drop);
    s.recv_into(&mut v);
    s.try_recv_into(&mut v);
    s.recv_into_timeout(&mut v, D);
    s.recv_into_deadline(&mut v, now());
    s.set_wait_strategy(s.wait_strategy());

    is_waitable::<broadcast::typed::Publisher<u64>>();
    is_waitable::<broadcast::typed::Subscriber<u64>>();
}

fn service_bytes(n: &str, s: &mut service::Server, c: &mut service::Client, p: [Pending; 4]) {
    let o = service::options()
        .max_clients(2)
        .max_outstanding(2)
        .max_request_len(8)
        .max_response_len(8)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_server(n);
    o.open_client(n);
    service::create_server(n);
    service::open_client(n);

    s.recv();
    s.try_recv();
    s.recv_timeout(D);
    s.recv_deadline(now());
    s.set_wait_strategy(s.wait_strategy());

    let [a, b, x, y] = p;
    c.request(b"");
    c.loan(1).map(|l| l.commit());
    c.wait(a).map(drop);
    c.try_wait(b).map(drop);
    c.wait_timeout(x, D).map(drop);
    c.wait_deadline(y, now()).map(drop);
    c.set_wait_strategy(c.wait_strategy());

    is_waitable::<service::Server>();
    is_waitable::<service::Client>();
}

fn service_typed(
    n: &str,
    s: &mut service::typed::Server<u64, u64>,
    c: &mut service::typed::Client<u64, u64>,
    p: [Pending; 4],
) {
    let o = service::typed::<u64, u64>()
        .max_clients(2)
        .max_outstanding(2)
        .wait_strategy(S)
        .open_timeout(D)
        .clone();
    o.create_server(n);
    o.open_client(n);

    s.recv();
    s.try_recv();
    s.recv_timeout(D);
    s.recv_deadline(now());
    s.set_wait_strategy(s.wait_strategy());

    let [a, b, x, y] = p;
    c.request(&0);
    c.wait(a);
    c.try_wait(b);
    c.wait_timeout(x, D);
    c.wait_deadline(y, now());
    c.set_wait_strategy(c.wait_strategy());

    is_waitable::<service::typed::Server<u64, u64>>();
    is_waitable::<service::typed::Client<u64, u64>>();
}

fn wait_set(set: &mut WaitSet, members: &[&dyn Waitable]) {
    set.wait(members).map(drop);
    set.try_wait(members).map(drop);
    set.wait_timeout(members, D).map(drop);
    set.wait_deadline(members, now()).map(drop);
}

/// Every side that waits has async forms (`shmkit::aio`), each with its `_timeout` and
/// `_deadline` forms (the `try_` form is the handle's own).
#[cfg(feature = "tokio")]
#[allow(clippy::too_many_arguments)]
fn aio(
    p: &mut shmkit::aio::Async<channel::Producer>,
    c: &mut shmkit::aio::Async<channel::Consumer>,
    tp: &mut shmkit::aio::Async<channel::typed::Producer<u64>>,
    tc: &mut shmkit::aio::Async<channel::typed::Consumer<u64>>,
    bp: &mut shmkit::aio::Async<broadcast::Publisher>,
    bs: &mut shmkit::aio::Async<broadcast::Subscriber>,
    tbp: &mut shmkit::aio::Async<broadcast::typed::Publisher<u64>>,
    tbs: &mut shmkit::aio::Async<broadcast::typed::Subscriber<u64>>,
    sv: &mut shmkit::aio::Async<service::Server>,
    cl: &mut shmkit::aio::Async<service::Client>,
    tsv: &mut shmkit::aio::Async<service::typed::Server<u64, u64>>,
    tcl: &mut shmkit::aio::Async<service::typed::Client<u64, u64>>,
    e: &shmkit::aio::Async<Event>,
    sem: &shmkit::aio::Async<Semaphore>,
    [p1, p2, p3, p4, p5, p6]: [Pending; 6],
) {
    let mut buf = Vec::new();
    let _ = p.send(b"");
    let _ = p.send_timeout(b"", D);
    let _ = p.send_deadline(b"", now());
    let _ = p.loan(1);
    let _ = p.loan_timeout(1, D);
    let _ = p.loan_deadline(1, now());
    let _ = c.recv();
    let _ = c.recv_timeout(D);
    let _ = c.recv_deadline(now());
    let _ = c.recv_into(&mut buf);
    let _ = c.recv_into_timeout(&mut buf, D);
    let _ = c.recv_into_deadline(&mut buf, now());
    let _ = tp.send(&0);
    let _ = tp.send_timeout(&0, D);
    let _ = tp.send_deadline(&0, now());
    let _ = tp.loan();
    let _ = tp.loan_timeout(D);
    let _ = tp.loan_deadline(now());
    let _ = tc.recv();
    let _ = tc.recv_timeout(D);
    let _ = tc.recv_deadline(now());
    let _ = tc.recv_copy();
    let _ = tc.recv_copy_timeout(D);
    let _ = tc.recv_copy_deadline(now());
    let mut v = 0u64;
    let mut vs = Vec::new();
    let _ = tc.recv_into(&mut v);
    let _ = tc.recv_into_timeout(&mut v, D);
    let _ = tc.recv_into_deadline(&mut v, now());
    let _ = tc.recv_slice();
    let _ = tc.recv_slice_timeout(D);
    let _ = tc.recv_slice_deadline(now());
    let _ = tc.recv_slice_into(&mut vs);
    let _ = tc.recv_slice_into_timeout(&mut vs, D);
    let _ = tc.recv_slice_into_deadline(&mut vs, now());
    let _ = tp.loan_slice(1);
    let _ = tp.loan_slice_timeout(1, D);
    let _ = tp.loan_slice_deadline(1, now());
    let _ = tp.send_slice(&[0]);
    let _ = tp.send_slice_timeout(&[0], D);
    let _ = tp.send_slice_deadline(&[0], now());
    let _ = bp.send(b"");
    let _ = bp.send_timeout(b"", D);
    let _ = bp.send_deadline(b"", now());
    let _ = bp.loan(1);
    let _ = bp.loan_timeout(1, D);
    let _ = bp.loan_deadline(1, now());
    let _ = bs.recv();
    let _ = bs.recv_timeout(D);
    let _ = bs.recv_deadline(now());
    let _ = bs.recv_into(&mut buf);
    let _ = bs.recv_into_timeout(&mut buf, D);
    let _ = bs.recv_into_deadline(&mut buf, now());
    let _ = tbp.send(&0);
    let _ = tbp.send_timeout(&0, D);
    let _ = tbp.send_deadline(&0, now());
    let _ = tbp.loan();
    let _ = tbp.loan_timeout(D);
    let _ = tbp.loan_deadline(now());
    let _ = tbs.recv();
    let _ = tbs.recv_timeout(D);
    let _ = tbs.recv_deadline(now());
    let _ = tbs.recv_copy();
    let _ = tbs.recv_copy_timeout(D);
    let _ = tbs.recv_copy_deadline(now());
    let _ = tbs.recv_into(&mut v);
    let _ = tbs.recv_into_timeout(&mut v, D);
    let _ = tbs.recv_into_deadline(&mut v, now());
    let _ = tbs.recv_slice();
    let _ = tbs.recv_slice_timeout(D);
    let _ = tbs.recv_slice_deadline(now());
    let _ = tbs.recv_slice_into(&mut vs);
    let _ = tbs.recv_slice_into_timeout(&mut vs, D);
    let _ = tbs.recv_slice_into_deadline(&mut vs, now());
    let _ = tbp.loan_slice(1);
    let _ = tbp.loan_slice_timeout(1, D);
    let _ = tbp.loan_slice_deadline(1, now());
    let _ = tbp.send_slice(&[0]);
    let _ = tbp.send_slice_timeout(&[0], D);
    let _ = tbp.send_slice_deadline(&[0], now());
    let _ = sv.recv();
    let _ = sv.recv_timeout(D);
    let _ = sv.recv_deadline(now());
    let _ = cl.wait(p1);
    let _ = cl.wait_timeout(p2, D);
    let _ = cl.wait_deadline(p3, now());
    let _ = tsv.recv();
    let _ = tsv.recv_timeout(D);
    let _ = tsv.recv_deadline(now());
    let _ = tcl.wait(p4);
    let _ = tcl.wait_timeout(p5, D);
    let _ = tcl.wait_deadline(p6, now());
    let _ = e.wait();
    let _ = e.wait_timeout(D);
    let _ = e.wait_deadline(now());
    let _ = sem.wait();
    let _ = sem.wait_timeout(D);
    let _ = sem.wait_deadline(now());
}

#[test]
fn the_convention_table_compiles() {
    // Naming the functions is the test: they are never called.
    let _ = (
        segment as fn(&str),
        file_mapping as fn(&str),
        mutex as fn(&str, &Mutex),
        event as fn(&str, &Event),
        semaphore as fn(&str, &Semaphore),
        shared as fn(&str, &Shared<u64>),
        shared_bytes as fn(&str, &SharedBytes),
    );
    let _ = (
        channel_bytes as fn(&str, &mut channel::Producer, &mut channel::Consumer),
        channel_typed as fn(&str, &mut _, &mut _),
        broadcast_bytes as fn(&str, &MessageLayout, &mut _, &mut _),
        broadcast_typed as fn(&str, &mut _, &mut _),
        service_bytes as fn(&str, &mut _, &mut _, [Pending; 4]),
        service_typed as fn(&str, &mut _, &mut _, [Pending; 4]),
        wait_set as fn(&mut WaitSet, &[&dyn Waitable]),
    );
}
