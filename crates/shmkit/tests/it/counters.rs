//! The counters each object keeps in shared memory, read by `inspect` from outside (no role
//! taken), with the other roles in other processes: exact counts after known traffic.

use shmkit::channel::{self, broadcast};
use shmkit::inspect::{self, Details};
use shmkit::service;
use shmkit::sync::{Event, Reset};

use crate::util::{claim_header, say, segment_of, spawn, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("counters_consumer", child_consumer),
    ("counters_subscriber", child_subscriber),
    ("counters_client", child_client),
];

fn details(name: &str) -> Details {
    let info = inspect::inspect(name).unwrap();
    assert_eq!(info.details_error, None, "{info:?}");
    info.details.expect("an object has details")
}

/// Receives `args[1]` messages from channel `args[0]`, then ends.
fn child_consumer(args: &[String]) {
    let mut c = channel::options().open_consumer(&args[0]).unwrap();
    let n: usize = args[1].parse().unwrap();
    for _ in 0..n {
        c.recv().unwrap();
    }
}

#[test]
fn a_channel_counts_what_each_side_sent_and_received() {
    let name = NameGuard::new("cnt-chan");
    let mut p = channel::options()
        .capacity(1 << 16)
        .create_producer(&name)
        .unwrap();
    for i in 0..100u32 {
        p.send(&i.to_le_bytes()).unwrap();
    }
    let Details::Channel(d) = details(&name) else {
        panic!("not a channel")
    };
    assert_eq!((d.capacity, d.sent, d.received), (1 << 16, 100, 0));
    assert_eq!(d.bytes_sent, 100 * 4, "payload bytes, not frames");
    assert_eq!(d.fill, 100 * 16, "100 frames of 8 + 8 bytes");
    assert_eq!(d.layout, None);
    spawn("counters_consumer", &[&name, "60"])
        .wait()
        .assert_success();
    let Details::Channel(d) = details(&name) else {
        panic!("not a channel")
    };
    assert_eq!((d.sent, d.received, d.fill), (100, 60, 40 * 16));
    // A second consumer goes on from the stored count.
    spawn("counters_consumer", &[&name, "40"])
        .wait()
        .assert_success();
    let Details::Channel(d) = details(&name) else {
        panic!("not a channel")
    };
    assert_eq!((d.sent, d.received, d.fill), (100, 100, 0));
}

#[test]
fn a_typed_channel_shows_its_layout() {
    let name = NameGuard::new("cnt-tchan");
    let mut p = channel::typed::<[u32; 4]>()
        .tag("quad")
        .create_producer(&name)
        .unwrap();
    p.send(&[1, 2, 3, 4]).unwrap();
    let Details::Channel(d) = details(&name) else {
        panic!("not a channel")
    };
    let layout = d.layout.expect("a typed channel records its layout");
    assert_eq!(
        (layout.size(), layout.align(), layout.tag()),
        (16, 4, Some("quad"))
    );
    assert_eq!(d.sent, 1);
}

/// Joins broadcast `args[0]`, says "joined", waits for event `args[1]`, takes everything
/// there is, says "<received> <lost>", and waits for event `args[2]` before leaving.
fn child_subscriber(args: &[String]) {
    let mut s = broadcast::options().open_subscriber(&args[0]).unwrap();
    let go = Event::open(&args[1]).unwrap();
    let quit = Event::open(&args[2]).unwrap();
    say("joined");
    go.wait().unwrap();
    let (mut received, mut lost) = (0u64, 0u64);
    loop {
        match s.try_recv() {
            Ok(_) => received += 1,
            Err(shmkit::Error::Lagged { missed, .. }) => lost += missed,
            Err(shmkit::Error::WouldBlock { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    say(&format!("{received} {lost}"));
    quit.wait().unwrap();
}

#[test]
fn a_broadcast_counts_published_overwritten_and_each_subscribers_received_and_lost() {
    let name = NameGuard::new("cnt-bc");
    let (go, quit) = (NameGuard::new("cnt-bc-go"), NameGuard::new("cnt-bc-quit"));
    let go_ev = Event::create(&go, Reset::Manual).unwrap();
    let quit_ev = Event::create(&quit, Reset::Manual).unwrap();
    let mut p = broadcast::options()
        .slots(4)
        .slot_size(64)
        .max_subscribers(3)
        .policy(broadcast::Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut child = spawn("counters_subscriber", &[&name, &go, &quit]);
    child.wait_for_line("joined");
    for i in 0..10u8 {
        p.send(&[i; 8]).unwrap();
    }
    let Details::Broadcast(d) = details(&name) else {
        panic!("not a broadcast")
    };
    assert_eq!((d.slots, d.slot_size, d.max_subscribers), (4, 64, 3));
    assert_eq!(d.policy, broadcast::Policy::Overwrite);
    assert_eq!((d.published, d.published_bytes), (10, 80));
    // Messages 0..6 were overwritten before the subscriber (at 0) had them.
    assert_eq!(d.overwritten, 6);
    assert_eq!(d.subscribers.len(), 1, "{d:?}");
    let s = &d.subscribers[0];
    assert_eq!((s.position, s.lag, s.received, s.lost), (0, 10, 0, 0));
    assert_eq!(s.pid, child.id());

    go_ev.set().unwrap();
    assert_eq!(child.read_line(), "4 6");
    let Details::Broadcast(d) = details(&name) else {
        panic!("not a broadcast")
    };
    let s = &d.subscribers[0];
    assert_eq!((s.position, s.lag, s.received, s.lost), (10, 0, 4, 6));
    quit_ev.set().unwrap();
    child.wait().assert_success();
    let Details::Broadcast(d) = details(&name) else {
        panic!("not a broadcast")
    };
    assert!(
        d.subscribers.is_empty(),
        "a subscriber that left is not listed"
    );
}

/// A subscriber killed while holding nothing is found dead by the overwriting publisher (as
/// the kernel says, when a liveness test is due) and leaves the table: its frozen position
/// no longer counts every later message as overwritten.
#[test]
fn a_killed_subscriber_stops_counting_as_overwritten() {
    let name = NameGuard::new("cnt-bc-killed");
    let (go, quit) = (NameGuard::new("cnt-bck-go"), NameGuard::new("cnt-bck-quit"));
    let _go = Event::create(&go, Reset::Manual).unwrap();
    let _quit = Event::create(&quit, Reset::Manual).unwrap();
    let mut p = broadcast::options()
        .slots(4)
        .slot_size(64)
        .policy(broadcast::Policy::Overwrite)
        .create_publisher(&name)
        .unwrap();
    let mut child = spawn("counters_subscriber", &[&name, &go, &quit]);
    child.wait_for_line("joined");
    child.kill();
    // A guard against a hang only: liveness tests come every `liveness::CHECK_EVERY`.
    let start = std::time::Instant::now();
    loop {
        p.send(&[1]).unwrap();
        let Details::Broadcast(d) = details(&name) else {
            panic!("not a broadcast")
        };
        if d.subscribers.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the killed subscriber stayed: {d:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let before = p.published();
    let Details::Broadcast(d) = details(&name) else {
        panic!("not a broadcast")
    };
    for _ in 0..20 {
        p.send(&[2]).unwrap();
    }
    let Details::Broadcast(after) = details(&name) else {
        panic!("not a broadcast")
    };
    assert_eq!(after.published, before + 20);
    assert_eq!(
        after.overwritten, d.overwritten,
        "nobody is there to miss them"
    );
}

#[test]
fn a_back_pressure_broadcast_overwrites_nothing() {
    let name = NameGuard::new("cnt-bc-block");
    let mut p = broadcast::options()
        .slots(4)
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let mut s = broadcast::options().open_subscriber(&name).unwrap();
    for i in 0..10u8 {
        p.send(&[i]).unwrap();
        s.recv().unwrap();
    }
    let Details::Broadcast(d) = details(&name) else {
        panic!("not a broadcast")
    };
    assert_eq!((d.published, d.overwritten), (10, 0));
    assert_eq!(d.policy, broadcast::Policy::Block);
    let sub = &d.subscribers[0];
    assert_eq!((sub.received, sub.lost, sub.lag), (10, 0, 0));
}

/// Connects to service `args[0]`, makes `args[1]` requests and waits for each answer, says
/// "answered", then sleeps until killed.
fn child_client(args: &[String]) {
    let mut c = service::open_client(&args[0]).unwrap();
    let n: usize = args[1].parse().unwrap();
    for i in 0..n {
        let t = c.request(&[i as u8]).unwrap();
        c.wait(t).unwrap();
    }
    say("answered");
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
fn a_service_counts_requests_and_served_across_a_killed_client() {
    let name = NameGuard::new("cnt-svc");
    let mut server = service::options()
        .max_clients(1)
        .create_server(&name)
        .unwrap();
    let mut child = spawn("counters_client", &[&name, "3"]);
    for _ in 0..3 {
        let req = server.recv().unwrap();
        server.respond(req.handle(), b"ok").unwrap();
    }
    child.wait_for_line("answered");
    let Details::Service(d) = details(&name) else {
        panic!("not a service")
    };
    assert_eq!((d.max_clients, d.clients, d.epoch), (1, 1, 1));
    assert_eq!((d.requests, d.served, d.queued), (3, 3, 0));
    // The one slot is taken by a live client: a second is refused, and counted.
    assert!(matches!(
        service::open_client(&name),
        Err(shmkit::Error::Full { .. })
    ));
    child.kill();
    // The killed client's slot is taken over; the counts go on.
    let mut client = service::open_client(&name).unwrap();
    for _ in 0..2 {
        let t = client.request(b"again").unwrap();
        let req = server.recv().unwrap();
        server.respond(req.handle(), b"ok").unwrap();
        client.wait(t).unwrap();
    }
    let Details::Service(d) = details(&name) else {
        panic!("not a service")
    };
    assert_eq!((d.clients, d.requests, d.served, d.queued), (1, 5, 5, 0));
    assert_eq!(
        (
            d.refused_connections,
            d.refused_requests,
            d.refused_responses
        ),
        (1, 0, 0)
    );
    assert_eq!(d.max_request_len, server.max_request_len() as u32);

    // The counts come from the per-client channels, other segments: a hostile writer's
    // largest counts saturate the sums, never overflow them (a panic in `info`, `ls`, `top`).
    for channel in [format!("{}.q0", &*name), format!("{}.r0", &*name)] {
        let seg = shmkit::Segment::open(&channel).unwrap();
        let mut view = seg.map(shmkit::Access::ReadWrite).unwrap();
        view.write_at(128 + 16, &u64::MAX.to_ne_bytes()).unwrap(); // the producer's count
    }
    let Details::Service(d) = details(&name) else {
        panic!("not a service")
    };
    assert_eq!((d.requests, d.served), (u64::MAX, u64::MAX));
}

#[test]
fn sync_objects_show_their_state() {
    let ev = NameGuard::new("cnt-ev");
    let e = Event::create(&ev, Reset::Manual).unwrap();
    e.set().unwrap();
    let Details::Event(d) = details(&ev) else {
        panic!("not an event")
    };
    assert!(d.manual_reset && d.set);
    let sem = NameGuard::new("cnt-sem");
    let _s = shmkit::sync::Semaphore::create(&sem, 3, 5).unwrap();
    let Details::Semaphore(d) = details(&sem) else {
        panic!("not a semaphore")
    };
    assert_eq!((d.count, d.max), (3, 5));
    let mx = NameGuard::new("cnt-mx");
    let _m = shmkit::sync::Mutex::create(&mx).unwrap();
    let Details::Mutex(d) = details(&mx) else {
        panic!("not a mutex")
    };
    assert_eq!(d.state, "consistent");
}

/// Headers that claim every kind over bytes that cannot hold it, or with impossible
/// parameters: `inspect` says what it can and why the details are missing, never panics.
#[test]
fn inspecting_corrupt_or_truncated_objects_gives_an_error_not_a_panic() {
    let params: [[u64; 3]; 5] = [
        [0, 0, 0],
        [u64::MAX, u64::MAX, u64::MAX],
        [4, 64, 1],
        [1 << 40, 1, 1 | 1 << 32],
        [64, 0, 7 << 32],
    ];
    for kind in 1..=7u32 {
        for (i, p) in params.iter().enumerate() {
            for len in [64usize, 100, 384, 4096] {
                let name = NameGuard::new(&format!("cnt-bad-{kind}-{i}"));
                let mut bytes = vec![0xa5u8; len];
                claim_header(&mut bytes, kind);
                bytes[16..24].copy_from_slice(&(len as u64).to_ne_bytes());
                for (k, v) in p.iter().enumerate() {
                    bytes[32 + 8 * k..40 + 8 * k].copy_from_slice(&v.to_ne_bytes());
                }
                let _seg = segment_of(&name, &bytes);
                let info = inspect::inspect(&name).unwrap();
                assert!(
                    info.details.is_some() || info.details_error.is_some(),
                    "kind {kind}, params {p:?}, {len} bytes: {info:?}"
                );
                // A length the header claims beyond the segment (and beyond the page Windows
                // rounds a small segment up to).
                bytes[16..24].copy_from_slice(&(len as u64 + (1 << 20)).to_ne_bytes());
                drop(_seg);
                let _ = shmkit::Segment::remove(&name);
                let _seg = segment_of(&name, &bytes);
                let info = inspect::inspect(&name).unwrap();
                assert!(info.details.is_none() && info.details_error.is_some());
            }
        }
    }
}
