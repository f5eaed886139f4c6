//! Both bridges in one process, two Zenoh sessions on loopback: the quick checks of the
//! forwarding logic. The two-machine tests (tests/it) run them in separate processes and
//! separate /dev/shm.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shmkit::channel::broadcast;
use shmkit_zenoh::{Congestion, ExportOptions, ImportOptions, SessionConfig};

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
    let mut publ = broadcast::options().slots(16).create(&src).unwrap();
    let out = shmkit_zenoh::export(
        &za,
        &key,
        broadcast::options().subscribe(&src).unwrap(),
        &ExportOptions::default(),
    )
    .unwrap();
    let inn =
        shmkit_zenoh::import(&zb, &key, &dst, &ImportOptions::default().resume(false)).unwrap();
    let mut sub = broadcast::options().subscribe(&dst).unwrap();
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
    let mut publ = broadcast::options().slots(4).create(&src).unwrap();
    let opts = ExportOptions::default().congestion(Congestion::Drop);
    let out = shmkit_zenoh::export(
        &za,
        &key,
        broadcast::options().subscribe(&src).unwrap(),
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
    let iopts = ImportOptions::default()
        .congestion(Congestion::Drop)
        .resume(false);
    let inn = shmkit_zenoh::import(&zb, &key, &dst, &iopts).unwrap();
    let mut sub = broadcast::options().subscribe(&dst).unwrap();
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
