//! Async waits (`shmkit::aio`, feature `tokio`): a cross-process stream through
//! `recv().await`, futures dropped at random points (nothing lost or duplicated), `select!`
//! over two channels, events and semaphores, timeouts, a killed peer, on the current-thread
//! and the multi-thread runtime.

use std::time::{Duration, Instant};

use shmkit::aio::Async;
use shmkit::channel::{self, broadcast};
use shmkit::sync::{Event, Reset, Semaphore};
use shmkit::Error;

use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("aio_stream", child_stream),
    ("aio_post", child_post),
    ("aio_subscribe", child_subscribe),
    ("aio_post_many", child_post_many),
    ("aio_echo_server", child_echo_server),
];

/// A hang guard, not a performance assertion.
const WAIT: Duration = Duration::from_secs(60);

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// args: name, count, seed — opens the producer of `name` and sends `count` numbered
/// messages of varying length, pausing now and then (so that the receiver falls asleep),
/// then closes its side.
fn child_stream(a: &[String]) {
    let count: u64 = a[1].parse().unwrap();
    let mut rng = Rng(a[2].parse().unwrap());
    let mut tx = channel::options().open_producer(&a[0]).unwrap();
    for i in 0..count {
        let len = 8 + (rng.next() % 200) as usize;
        let mut m = vec![(i % 251) as u8; len];
        m[..8].copy_from_slice(&i.to_le_bytes());
        tx.send_timeout(&m, WAIT).unwrap();
        match rng.next() % 16 {
            0 => std::thread::sleep(Duration::from_micros(200 + rng.next() % 2_000)),
            1 => std::thread::yield_now(),
            _ => {}
        }
    }
}

/// args: semaphore, event — posts the semaphore three times, then sets the event.
fn child_post(a: &[String]) {
    let sem = Semaphore::open(&a[0]).unwrap();
    let ev = Event::open(&a[1]).unwrap();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(5));
        sem.post().unwrap();
    }
    std::thread::sleep(Duration::from_millis(5));
    ev.set().unwrap();
}

/// args: name, count — subscribes, says "ready", receives slowly (a pause now and then, so
/// that the publisher waits for room) until the publisher is gone, and checks that it got
/// messages 0..count in order.
fn child_subscribe(a: &[String]) {
    let count: u64 = a[1].parse().unwrap();
    let mut sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    util::say("ready");
    let mut i = 0u64;
    loop {
        match sub.recv_timeout(WAIT) {
            Ok(m) => {
                assert_eq!(u64::from_le_bytes(m[..8].try_into().unwrap()), i);
                i += 1;
            }
            Err(Error::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        if i % 7 == 0 {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    assert_eq!(i, count, "lost or duplicated messages");
}

/// args: semaphore, count — posts `count` permits, pausing now and then.
fn child_post_many(a: &[String]) {
    let sem = Semaphore::open(&a[0]).unwrap();
    let mut rng = Rng(5);
    for _ in 0..a[1].parse::<u32>().unwrap() {
        while let Err(Error::Full { .. }) = sem.post() {
            std::thread::sleep(Duration::from_micros(100));
        }
        if rng.next() % 8 == 0 {
            std::thread::sleep(Duration::from_micros(rng.next() % 500));
        }
    }
}

/// args: name, count — serves `count` requests of the service `name`, answering each with its
/// own bytes, after a pause now and then.
fn child_echo_server(a: &[String]) {
    let mut server = crate::service::options().create_server(&a[0]).unwrap();
    util::say("ready");
    let mut rng = Rng(23);
    for _ in 0..a[1].parse::<u32>().unwrap() {
        let r = server.recv_timeout(WAIT).unwrap();
        if rng.next() % 4 == 0 {
            std::thread::sleep(Duration::from_micros(rng.next() % 400));
        }
        server.respond(r.handle(), &r).unwrap();
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Checks message `i` of `child_stream`.
fn check(i: u64, m: &[u8]) {
    assert!(m.len() >= 8, "message {i}: {} bytes", m.len());
    assert_eq!(
        u64::from_le_bytes(m[..8].try_into().unwrap()),
        i,
        "out of order"
    );
    assert!(
        m[8..].iter().all(|&b| b == (i % 251) as u8),
        "message {i}: bad bytes"
    );
}

/// Receives a whole stream from a child process with `recv().await`, in place.
fn stream(rt: tokio::runtime::Runtime, tag: &str) {
    const COUNT: u64 = 5_000;
    let name = NameGuard::new(tag);
    let rx = channel::options()
        .capacity(4096)
        .create_consumer(&name.0)
        .unwrap();
    let child = util::spawn("aio_stream", &[&name.0, &COUNT.to_string(), "7"]);
    let got = rt.block_on(async move {
        let mut rx = Async::new(rx);
        let mut i = 0u64;
        loop {
            match tokio::time::timeout(WAIT, rx.recv()).await.expect("hang") {
                Ok(m) => {
                    check(i, &m);
                    i += 1;
                }
                Err(Error::Disconnected { .. }) => return i,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(got, COUNT);
    child.wait().assert_success();
}

#[test]
fn a_stream_from_another_process_through_recv_await_on_the_current_thread_runtime() {
    stream(current_thread(), "aio-stream-ct");
}

#[test]
fn a_stream_from_another_process_through_recv_await_on_the_multi_thread_runtime() {
    stream(multi_thread(), "aio-stream-mt");
}

/// Drops `recv` futures at random points (a `select!` against a random short timer, or
/// against an always-ready branch): every message still arrives once, in order.
fn cancellation(rt: tokio::runtime::Runtime, tag: &str, seed: u64) {
    const COUNT: u64 = 3_000;
    let name = NameGuard::new(tag);
    let rx = channel::options()
        .capacity(4096)
        .create_consumer(&name.0)
        .unwrap();
    let child = util::spawn(
        "aio_stream",
        &[&name.0, &COUNT.to_string(), &seed.to_string()],
    );
    let (got, dropped) = rt.block_on(async move {
        let mut rx = Async::new(rx);
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut buf = Vec::new();
        let (mut i, mut dropped) = (0u64, 0u64);
        let t0 = Instant::now();
        loop {
            assert!(t0.elapsed() < WAIT, "hang");
            let r = match rng.next() % 4 {
                // Polled at most once (or never), then dropped.
                0 => tokio::select! {
                    biased;
                    _ = std::future::ready(()) => None,
                    r = rx.recv_into(&mut buf) => Some(r),
                },
                1 => tokio::select! {
                    biased;
                    r = rx.recv_into(&mut buf) => Some(r),
                    _ = std::future::ready(()) => None,
                },
                // Dropped after a random short time, usually while registered.
                2 => {
                    let pause = Duration::from_micros(rng.next() % 300);
                    tokio::select! {
                        r = rx.recv_into(&mut buf) => Some(r),
                        _ = tokio::time::sleep(pause) => None,
                    }
                }
                _ => Some(rx.recv_into(&mut buf).await),
            };
            match r {
                None => dropped += 1,
                Some(Ok(_)) => {
                    check(i, &buf);
                    i += 1;
                }
                Some(Err(Error::Disconnected { .. })) => return (i, dropped),
                Some(Err(e)) => panic!("{e}"),
            }
        }
    });
    assert_eq!(got, COUNT, "lost or duplicated messages");
    assert!(dropped > 0);
    child.wait().assert_success();
}

#[test]
fn recv_futures_dropped_at_random_points_lose_and_duplicate_nothing() {
    cancellation(current_thread(), "aio-cancel-ct", 11);
    cancellation(multi_thread(), "aio-cancel-mt", 12);
}

#[test]
fn select_over_two_channels_fed_by_two_processes() {
    const COUNT: u64 = 2_000;
    let (a, b) = (NameGuard::new("aio-sel-a"), NameGuard::new("aio-sel-b"));
    let open = |n: &NameGuard| {
        Async::new(
            channel::options()
                .capacity(4096)
                .create_consumer(&n.0)
                .unwrap(),
        )
    };
    let (mut ra, mut rb) = (open(&a), open(&b));
    let ca = util::spawn("aio_stream", &[&a.0, &COUNT.to_string(), "3"]);
    let cb = util::spawn("aio_stream", &[&b.0, &COUNT.to_string(), "5"]);
    let (na, nb) = multi_thread().block_on(async move {
        let (mut na, mut nb) = (0u64, 0u64);
        let (mut open_a, mut open_b) = (true, true);
        while open_a || open_b {
            tokio::select! {
                r = ra.recv(), if open_a => match r {
                    Ok(m) => { check(na, &m); na += 1; }
                    Err(Error::Disconnected { .. }) => open_a = false,
                    Err(e) => panic!("{e}"),
                },
                r = rb.recv(), if open_b => match r {
                    Ok(m) => { check(nb, &m); nb += 1; }
                    Err(Error::Disconnected { .. }) => open_b = false,
                    Err(e) => panic!("{e}"),
                },
                _ = tokio::time::sleep(WAIT) => panic!("hang"),
            }
        }
        (na, nb)
    });
    assert_eq!((na, nb), (COUNT, COUNT));
    ca.wait().assert_success();
    cb.wait().assert_success();
}

#[test]
fn semaphore_and_event_awaits_across_processes() {
    let (s, e) = (NameGuard::new("aio-sem"), NameGuard::new("aio-ev"));
    let sem = Async::new(Semaphore::create(&s.0, 0, 10).unwrap());
    let ev = Async::new(Event::create(&e.0, Reset::Manual).unwrap());
    let child = util::spawn("aio_post", &[&s.0, &e.0]);
    current_thread().block_on(async {
        for _ in 0..3 {
            sem.wait_timeout(WAIT).await.unwrap();
        }
        ev.wait_timeout(WAIT).await.unwrap();
        assert!(matches!(
            sem.wait_timeout(Duration::from_millis(20)).await,
            Err(Error::Timeout { .. })
        ));
    });
    assert_eq!(sem.value(), 0);
    child.wait().assert_success();
}

#[test]
fn a_timeout_expires_and_a_later_message_is_still_received() {
    let name = NameGuard::new("aio-timeout");
    let mut tx = channel::options()
        .capacity(4096)
        .create_producer(&name.0)
        .unwrap();
    let rx = channel::options().open_consumer(&name.0).unwrap();
    let mut rx = Async::new(rx);
    current_thread().block_on(async {
        let mut buf = Vec::new();
        let t0 = Instant::now();
        let r = rx
            .recv_into_timeout(&mut buf, Duration::from_millis(30))
            .await;
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(t0.elapsed() >= Duration::from_millis(30));
        tx.send(b"after").unwrap();
        rx.recv_into_timeout(&mut buf, WAIT).await.unwrap();
        assert_eq!(buf, b"after");
    });
}

/// Typed values and slices through the async forms: a slice loaned, written and committed
/// is received in place and by copy; a typed value by copy into a caller's `T`; an empty
/// typed subscriber's slice receive times out.
#[test]
fn typed_values_and_slices_through_async_forms() {
    let name = NameGuard::new("aio-typed");
    let mut tx = Async::new(
        channel::typed::<u32>()
            .capacity(4096)
            .create_producer(&name.0)
            .unwrap(),
    );
    let mut rx = Async::new(channel::typed::<u32>().open_consumer(&name.0).unwrap());
    current_thread().block_on(async {
        let loan = tx.loan_slice_timeout(3, WAIT).await.unwrap();
        loan.copy_from_slice(&[1, 2, 3]).commit();
        assert_eq!(
            &*rx.recv_slice_deadline(Instant::now() + WAIT).await.unwrap(),
            &[1, 2, 3]
        );
        tx.send_slice(&[4, 5]).await.unwrap();
        let mut buf = Vec::new();
        assert_eq!(rx.recv_slice_into(&mut buf).await.unwrap(), 2);
        assert_eq!(buf, [4, 5]);
        tx.send(&6).await.unwrap();
        let mut v = 0;
        rx.recv_into_timeout(&mut v, WAIT).await.unwrap();
        assert_eq!(v, 6);
        let r = rx
            .recv_slice_timeout(Duration::from_millis(20))
            .await
            .map(|s| s.len());
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    });
}

/// The `_timeout` and `_deadline` forms of every async wait (the crate's convention): each
/// gives up with `Timeout` naming the object, consumes nothing when it does, and a deadline
/// already past still gives the operation its one try.
#[test]
fn every_async_wait_has_timeout_and_deadline_forms_that_consume_nothing() {
    let name = NameGuard::new("aio-forms");
    let short = Duration::from_millis(20);
    let mut tx = Async::new(
        channel::options()
            .capacity(4096)
            .create_producer(&name.0)
            .unwrap(),
    );
    let mut rx = Async::new(channel::options().open_consumer(&name.0).unwrap());
    current_thread().block_on(async {
        let r = rx.recv_timeout(short).await.map(|m| m.len());
        assert!(
            matches!(&r, Err(Error::Timeout { name: n }) if *n == name.0),
            "{r:?}"
        );
        let r = rx
            .recv_deadline(Instant::now() + short)
            .await
            .map(|m| m.len());
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        // A deadline in the past: the message already there is still taken.
        tx.send_deadline(b"one", Instant::now()).await.unwrap();
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(&*rx.recv_deadline(past).await.unwrap(), b"one");
        // Fill the ring; the producer's loan and send then time out, publishing nothing.
        while tx.get_mut().try_send(&[7]).is_ok() {}
        let r = tx.send_timeout(b"lost", short).await;
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        let r = tx
            .loan_deadline(1, Instant::now() + short)
            .await
            .map(|l| l.len());
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        let mut n = 0;
        while let Ok(m) = rx.get_mut().try_recv() {
            assert_eq!(&*m, &[7][..]);
            n += 1;
        }
        assert!(n > 0);
        assert!(matches!(
            rx.get_mut().try_recv().map(|m| m.len()),
            Err(Error::WouldBlock { .. })
        ));
    });
}

#[test]
fn a_waiting_task_sees_a_killed_producer_as_disconnected() {
    let name = NameGuard::new("aio-killed");
    let rx = channel::options()
        .capacity(4096)
        .create_consumer(&name.0)
        .unwrap();
    let mut child = util::spawn("send_one_and_hang", &[&name.0]);
    child.wait_for_line("sent");
    let mut rx = Async::new(rx);
    current_thread().block_on(async {
        assert_eq!(&*rx.recv().await.unwrap(), b"last words");
        let waiting = rx.recv();
        child.kill();
        let r = tokio::time::timeout(WAIT, waiting).await.expect("hang");
        assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");
    });
}

#[test]
fn many_tasks_each_awaiting_its_own_channel_share_the_reactor() {
    const N: usize = 200; // more than one futex_waitv call takes
    let prefix = util::unique("aio-many");
    let names: Vec<NameGuard> = (0..N).map(|i| NameGuard(format!("{prefix}-{i}"))).collect();
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for n in &names {
        txs.push(
            channel::options()
                .capacity(4096)
                .create_producer(&n.0)
                .unwrap(),
        );
        rxs.push(Async::new(channel::options().open_consumer(&n.0).unwrap()));
    }
    let rt = multi_thread();
    let tasks: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, mut rx)| {
            rt.spawn(async move {
                let mut buf = Vec::new();
                rx.recv_into(&mut buf).await.unwrap();
                assert_eq!(buf, (i as u32).to_le_bytes());
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50)); // most tasks registered and asleep
    for (i, tx) in txs.iter_mut().enumerate().rev() {
        tx.send(&(i as u32).to_le_bytes()).unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            tokio::time::timeout(WAIT, t).await.expect("hang").unwrap();
        }
    });
}

#[test]
fn a_leaked_pending_future_does_not_outlive_its_handle_in_the_reactor() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let name = NameGuard::new("aio-leak");
    let mut tx = channel::options()
        .capacity(4096)
        .create_producer(&name.0)
        .unwrap();
    let mut rx = Async::new(channel::options().open_consumer(&name.0).unwrap());
    {
        let mut fut = Box::pin(rx.recv());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
        std::mem::forget(fut); // registered with the reactor, never dropped
    }
    drop(rx); // takes the leaked entry out of the reactor before unmapping
    drop(tx.send(b"x")); // the consumer is gone: Disconnected, or sent into the void
                         // The reactor still serves others.
    let other = NameGuard::new("aio-leak2");
    let mut tx2 = channel::options()
        .capacity(4096)
        .create_producer(&other.0)
        .unwrap();
    let mut rx2 = Async::new(channel::options().open_consumer(&other.0).unwrap());
    multi_thread().block_on(async {
        let waiting = tokio::spawn(async move {
            let mut buf = Vec::new();
            rx2.recv_into(&mut buf).await.map(|_| buf)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx2.send(b"still here").unwrap();
        let got = tokio::time::timeout(WAIT, waiting).await.expect("hang");
        assert_eq!(got.unwrap().unwrap(), b"still here");
    });
}

#[test]
fn a_publisher_awaits_room_under_back_pressure_and_dropped_sends_publish_nothing() {
    const COUNT: u64 = 1_000;
    let name = NameGuard::new("aio-publ");
    let publ = broadcast::options()
        .slot_size(64)
        .slots(4)
        .policy(broadcast::Policy::Block)
        .create_publisher(&name.0)
        .unwrap();
    let mut child = util::spawn("aio_subscribe", &[&name.0, &COUNT.to_string()]);
    child.wait_for_line("ready");
    current_thread().block_on(async move {
        let mut publ = Async::new(publ);
        let mut rng = Rng(99);
        let mut i = 0u64;
        while i < COUNT {
            let m = i.to_le_bytes();
            let pause = Duration::from_micros(rng.next() % 200);
            tokio::select! {
                r = publ.send(&m) => { r.unwrap(); i += 1; }
                _ = tokio::time::sleep(pause) => {} // dropped: published nothing
            }
        }
        // Drop: the subscriber drains and sees Disconnected.
    });
    child.wait().assert_success();
}

#[test]
fn semaphore_waits_dropped_at_random_points_take_no_permit() {
    const COUNT: u32 = 500;
    let name = NameGuard::new("aio-sem-cancel");
    let sem = Async::new(Semaphore::create(&name.0, 0, 4).unwrap());
    let rt = multi_thread();
    // No permit yet: this wait registers with the reactor, then is dropped.
    rt.block_on(async {
        tokio::select! {
            biased;
            r = sem.wait() => panic!("a permit from nowhere: {r:?}"),
            _ = std::future::ready(()) => {}
        }
    });
    let child = util::spawn("aio_post_many", &[&name.0, &COUNT.to_string()]);
    // How many waits were dropped matters not (the first one surely was): that no permit went
    // missing does.
    let (taken, _dropped) = rt.block_on(async {
        let mut rng = Rng(17);
        let (mut taken, mut dropped) = (0u32, 0u32);
        let t0 = Instant::now();
        while taken < COUNT {
            assert!(t0.elapsed() < WAIT, "hang");
            let pause = Duration::from_micros(rng.next() % 300);
            if rng.next() % 2 == 0 {
                // Polled once (registered if no permit), then dropped unless it took one.
                tokio::select! {
                    biased;
                    r = sem.wait() => { r.unwrap(); taken += 1; }
                    _ = std::future::ready(()) => dropped += 1,
                }
            } else {
                tokio::select! {
                    r = sem.wait() => { r.unwrap(); taken += 1; }
                    _ = tokio::time::sleep(pause) => dropped += 1,
                }
            }
        }
        (taken, dropped)
    });
    child.wait().assert_success();
    assert_eq!(taken, COUNT);
    assert_eq!(
        sem.value(),
        0,
        "a dropped wait took a permit, or one was counted twice"
    );
}

#[test]
fn a_client_awaits_responses_from_a_server_process_through_dropped_waits() {
    const COUNT: u32 = 300;
    let name = crate::service::ServiceGuard::new("aio-svc");
    let mut child = util::spawn("aio_echo_server", &[&name, &COUNT.to_string()]);
    child.wait_for_line("ready");
    let client = Async::new(crate::service::options().open_client(&name).unwrap());
    current_thread().block_on(async move {
        let mut client = client;
        let mut rng = Rng(29);
        let t0 = Instant::now();
        for i in 0..COUNT {
            let p = client.request(&i.to_le_bytes()).unwrap();
            loop {
                assert!(t0.elapsed() < WAIT, "hang");
                let pause = Duration::from_micros(rng.next() % 300);
                tokio::select! {
                    r = client.wait(p) => {
                        assert_eq!(&*r.unwrap(), i.to_le_bytes());
                        break;
                    }
                    _ = tokio::time::sleep(pause) => {} // dropped: the request stays outstanding
                }
            }
        }
    });
    child.wait().assert_success();
}

#[test]
fn a_server_task_awaits_requests() {
    let name = crate::service::ServiceGuard::new("aio-svc-server");
    let server = crate::service::options().create_server(&name).unwrap();
    let mut client = crate::service::options().open_client(&name).unwrap();
    let caller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20)); // the server task asleep first
        (0..50u8)
            .map(|i| client.call(&[i; 5]).unwrap().to_vec())
            .collect::<Vec<_>>()
    });
    multi_thread().block_on(async move {
        let mut server = Async::new(server);
        for _ in 0..50 {
            let r = tokio::time::timeout(WAIT, server.recv())
                .await
                .expect("hang")
                .unwrap();
            let doubled: Vec<u8> = r.iter().map(|b| b * 2).collect();
            server.respond(r.handle(), &doubled).unwrap();
        }
    });
    let got = caller.join().unwrap();
    assert!(got.iter().enumerate().all(|(i, r)| r == &[2 * i as u8; 5]));
}
