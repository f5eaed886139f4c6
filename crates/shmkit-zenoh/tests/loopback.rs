//! Both bridges in one process, two Zenoh sessions on loopback: the quick checks of the
//! forwarding logic. The two-machine tests (tests/it) run them in separate processes and
//! separate /dev/shm.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shmkit::channel::broadcast;
use shmkit_zenoh::{Congestion, ExportOptions, ImportOptions, SessionConfig, Source};

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "zl-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two sessions, one listening and one connecting, no multicast.
fn sessions() -> (zenoh::Session, zenoh::Session) {
    let ep = format!("tcp/127.0.0.1:{}", free_port());
    let a = SessionConfig {
        listen: vec![ep.clone()],
        no_multicast_scouting: true,
        ..Default::default()
    };
    let b = SessionConfig {
        connect: vec![ep],
        no_multicast_scouting: true,
        ..Default::default()
    };
    (a.open().unwrap(), b.open().unwrap())
}

fn msg(i: u64) -> Vec<u8> {
    let len = 8 + (i as usize * 37) % 3000;
    let mut v = vec![(i % 251) as u8; len];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v
}

#[test]
fn a_broadcast_crosses_in_order_with_boundaries() {
    let (za, zb) = sessions();
    let (src, dst, key) = (unique("src"), unique("dst"), unique("key"));
    let mut publ = broadcast::options()
        .slots(16)
        .create_publisher(&src)
        .unwrap();
    let out = shmkit_zenoh::export(
        &za,
        &key,
        broadcast::options().open_subscriber(&src).unwrap(),
        &ExportOptions::default(),
    )
    .unwrap();
    let inn =
        shmkit_zenoh::import(&zb, &key, &dst, &ImportOptions::default().resume(false)).unwrap();
    let mut sub = broadcast::options().open_subscriber(&dst).unwrap();
    const N: u64 = 2000;
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            publ.send(&msg(i)).unwrap();
        }
        publ
    });
    let mut buf = Vec::new();
    for i in 0..N {
        sub.recv_into_timeout(&mut buf, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("message {i}: {e}; {:?} {:?}", out.stats(), inn.stats()));
        assert_eq!(buf, msg(i), "message {i}");
    }
    let _publ = sender.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.stats().messages < N && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (o, i) = (out.stop().unwrap(), inn.stop().unwrap());
    assert_eq!((o.messages, o.dropped, o.refused), (N, 0, 0), "{o:?}");
    assert_eq!(
        (i.messages, i.lost, i.dropped, i.refused),
        (N, 0, 0, 0),
        "{i:?}"
    );
}

#[test]
fn drop_mode_counts_what_it_drops() {
    let (za, zb) = sessions();
    let (src, dst, key) = (unique("src"), unique("dst"), unique("key"));
    let mut publ = broadcast::options()
        .slots(4)
        .create_publisher(&src)
        .unwrap();
    let mut opts = ExportOptions::default();
    opts.congestion(Congestion::Drop);
    let out = shmkit_zenoh::export(
        &za,
        &key,
        broadcast::options().open_subscriber(&src).unwrap(),
        &opts,
    )
    .unwrap();
    // No importer yet: the exporter drops and counts.
    for i in 0..10 {
        publ.send(&msg(i)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.stats().dropped < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(out.stats().dropped, 10);
    let mut iopts = ImportOptions::default();
    iopts.congestion(Congestion::Drop).resume(false);
    let inn = shmkit_zenoh::import(&zb, &key, &dst, &iopts).unwrap();
    let mut sub = broadcast::options().open_subscriber(&dst).unwrap();
    // Wait until the exporter sees the importer, then send more.
    std::thread::sleep(Duration::from_millis(300));
    for i in 10..110 {
        publ.send(&msg(i)).unwrap();
    }
    let mut buf = Vec::new();
    let mut got = 0;
    while sub
        .recv_into_timeout(&mut buf, Duration::from_secs(2))
        .is_ok()
    {
        got += 1;
    }
    let (o, i) = (out.stop().unwrap(), inn.stop().unwrap());
    assert_eq!(o.messages + o.dropped, 110, "{o:?}");
    assert_eq!(got, i.messages);
    assert_eq!(i.messages + i.dropped + i.lost, o.messages, "{o:?} {i:?}");
}

#[test]
fn a_request_crosses_both_ways() {
    use shmkit_zenoh::ServiceOptions;
    let (za, zb) = sessions();
    let (here, there, key) = (unique("svc-a"), unique("svc-b"), unique("key"));
    let mut server = shmkit::service::options().create_server(&here).unwrap();
    let served = shmkit_zenoh::serve(&za, &key, &here, &ServiceOptions::default()).unwrap();
    let offered = shmkit_zenoh::offer(&zb, &key, &there, &ServiceOptions::default()).unwrap();
    let worker = std::thread::spawn(move || {
        for _ in 0..50 {
            let req = server.recv_timeout(Duration::from_secs(10)).unwrap();
            let mut answer = req.to_vec();
            answer.reverse();
            server.respond(req.handle(), &answer).unwrap();
        }
    });
    let mut client = shmkit::service::open_client(&there).unwrap();
    // Several in flight at once, answered in any order.
    for round in 0..10 {
        let pending: Vec<_> = (0..5)
            .map(|i| client.request(format!("r{round}-{i}").as_bytes()).unwrap())
            .collect();
        for (i, p) in pending.into_iter().enumerate() {
            let resp = client.wait_timeout(p, Duration::from_secs(10)).unwrap();
            let mut want = format!("r{round}-{i}").into_bytes();
            want.reverse();
            assert_eq!(&*resp, &want[..]);
        }
    }
    worker.join().unwrap();
    let (s, o) = (served.stop().unwrap(), offered.stop().unwrap());
    assert_eq!((s.messages, s.refused), (50, 0), "{s:?}");
    assert_eq!((o.messages, o.refused), (50, 0), "{o:?}");
}

#[test]
fn a_typed_importer_refuses_another_layout() {
    use shmkit::channel::MessageLayout;
    let (za, zb) = sessions();
    let (src, dst, key) = (unique("src"), unique("dst"), unique("key"));
    let mut publ = broadcast::typed::<[u32; 4]>()
        .tag("v1")
        .create_publisher(&src)
        .unwrap();
    let out = shmkit_zenoh::export(
        &za,
        &key,
        broadcast::options().open_subscriber(&src).unwrap(),
        &ExportOptions::default(),
    )
    .unwrap();
    let v2 = MessageLayout::of::<[u32; 4]>(Some("v2"));
    let mut opts = ImportOptions::default();
    opts.layout(v2.clone()).resume(false);
    let inn = shmkit_zenoh::import(&zb, &key, &dst, &opts).unwrap();
    // The importer's broadcast records its layout: typed subscribers of it join.
    let _sub = broadcast::typed::<[u32; 4]>()
        .tag("v2")
        .open_subscriber(&dst)
        .unwrap();
    for i in 0..5 {
        publ.send(&[i; 4]).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while inn.stats().refused < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let i = inn.stop().unwrap();
    drop(out);
    assert_eq!((i.messages, i.refused), (0, 5), "{i:?}");
    let why = i.last_error.unwrap();
    assert!(
        why.contains("layout mismatch") && why.contains("v2"),
        "{why}"
    );
}

#[test]
fn bad_samples_are_counted_and_skipped() {
    use zenoh::Wait;
    let (za, zb) = sessions();
    let (dst, key) = (unique("dst"), unique("key"));
    let inn =
        shmkit_zenoh::import(&zb, &key, &dst, &ImportOptions::default().resume(false)).unwrap();
    let _sub = broadcast::options().open_subscriber(&dst).unwrap();
    // A plain Zenoh publisher on the key, once the importer's subscriber is there.
    let publ = za.declare_publisher(key.clone()).wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !publ.matching_status().wait().unwrap().matching() {
        assert!(Instant::now() < deadline, "the importer never subscribed");
        std::thread::sleep(Duration::from_millis(5));
    }
    publ.put("no attachment").wait().unwrap();
    publ.put("a foreign attachment")
        .attachment(vec![7u8; 40])
        .wait()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while inn.stats().refused < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let i = inn.stop().unwrap();
    assert_eq!((i.messages, i.refused), (0, 2), "{i:?}");
}

#[test]
fn an_exporter_follows_a_new_local_publisher() {
    let (za, zb) = sessions();
    let (src, dst, key) = (unique("src"), unique("dst"), unique("key"));
    let mut publ = broadcast::options().create_publisher(&src).unwrap();
    let out = shmkit_zenoh::export(
        &za,
        &key,
        shmkit_zenoh::Source::broadcast(&src),
        &ExportOptions::default(),
    )
    .unwrap();
    let inn =
        shmkit_zenoh::import(&zb, &key, &dst, &ImportOptions::default().resume(false)).unwrap();
    let mut sub = broadcast::options().open_subscriber(&dst).unwrap();
    let mut buf = Vec::new();
    publ.send(&msg(1)).unwrap();
    sub.recv_into_timeout(&mut buf, Duration::from_secs(10))
        .unwrap();
    assert_eq!(buf, msg(1));
    drop(publ); // the local publisher goes (and its name with it)
    let mut publ = broadcast::options().create_publisher(&src).unwrap();
    // The exporter joins the new broadcast within its retry period; until then a message
    // published there reaches nobody, so keep publishing until one arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 2;
    loop {
        publ.try_send(&msg(i)).ok();
        if sub
            .recv_into_timeout(&mut buf, Duration::from_millis(50))
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", out.stats());
        i += 1;
    }
    let j = u64::from_le_bytes(buf[..8].try_into().unwrap());
    assert!(
        (2..=i).contains(&j) && buf == msg(j),
        "message {j} of 2..={i}"
    );
    // At least once: it may also have joined the old broadcast in the moment between its
    // publisher leaving and its name going, and met its end again there.
    assert!(out.stop().unwrap().local_restarts >= 1);
    drop(inn);
}

/// A local subscriber behind the importer stops reading for longer than Zenoh's own block
/// timeout (5 s: then Zenoh drops what it cannot queue, and says nothing): under Block the
/// bridges still deliver every message, in order, once it reads again.
#[test]
fn block_survives_a_subscriber_that_stalls_past_zenohs_block_timeout() {
    let (za, zb) = sessions();
    let (src, dst, key) = (unique("src"), unique("dst"), unique("key"));
    const N: u64 = 600;
    const SIZE: usize = 64 << 10;
    let mut publ = broadcast::options()
        .slots(8)
        .slot_size(SIZE)
        .create_publisher(&src)
        .unwrap();
    let out = shmkit_zenoh::export(
        &za,
        &key,
        Source::broadcast(&src),
        &ExportOptions::default(),
    )
    .unwrap();
    let mut opts = ImportOptions::default();
    opts.slots(4).max_message(SIZE).resume(false);
    let inn = shmkit_zenoh::import(&zb, &key, &dst, &opts).unwrap();
    let mut sub = broadcast::options().open_subscriber(&dst).unwrap();
    let body = |i: u64| {
        let mut v = vec![(i % 253) as u8; SIZE];
        v[..8].copy_from_slice(&i.to_le_bytes());
        v
    };
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            publ.send(&body(i)).unwrap();
        }
        publ
    });
    let mut buf = Vec::new();
    sub.recv_into_timeout(&mut buf, Duration::from_secs(20))
        .unwrap();
    assert_eq!(buf, body(0));
    std::thread::sleep(Duration::from_secs(6)); // stalled, with ~37 MiB on the way
    for i in 1..N {
        sub.recv_into_timeout(&mut buf, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("message {i}: {e}; {:?} {:?}", out.stats(), inn.stats()));
        assert_eq!(buf[..8], i.to_le_bytes(), "message {i}");
        assert_eq!(buf, body(i), "message {i}");
    }
    let _publ = sender.join().unwrap();
    let i = inn.stop().unwrap();
    assert_eq!((i.messages, i.lost, i.dropped), (N, 0, 0), "{i:?}");
    eprintln!("exporter {:?}\nimporter {i:?}", out.stop().unwrap());
}
