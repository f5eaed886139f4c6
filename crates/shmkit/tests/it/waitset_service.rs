//! Request/response sides as `WaitSet` members: a server served only when the wait set says
//! a request is there, beside an event, with client processes hammering it; and a client
//! that learns of its responses, and of its server's end, from a wait set.

use std::time::Duration;

use shmkit::sync::{Event, Reset};
use shmkit::{Error, WaitSet, Waitable};

use crate::service::{answer, options, request, ServiceGuard};
use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[("waitset_serve", child_serve)];

/// A hang guard, not a performance assertion.
const WAIT: Duration = Duration::from_secs(60);

/// args: name, count — creates the service, says so, answers `count` requests (the request
/// reversed), and exits, which ends the service.
fn child_serve(a: &[String]) {
    let mut server = options().create_server(&a[0]).unwrap();
    println!("ready");
    for _ in 0..a[1].parse::<u64>().unwrap() {
        let r = server.recv_timeout(WAIT).unwrap();
        server.respond(r.handle(), &answer(&r)).unwrap();
    }
}

#[test]
fn a_wait_set_serves_a_server_beside_an_event() {
    let name = ServiceGuard::new("wssrv");
    let ev = NameGuard::new("wssrvev");
    let mut server = options().create_server(&name).unwrap();
    let event = Event::create(&ev, Reset::Manual).unwrap();
    let (clients, each) = (3u64, 150u64);
    let children: Vec<_> = (0..clients)
        .map(|seed| util::spawn("svc_hammer", &[&name, &each.to_string(), &seed.to_string()]))
        .collect();
    let mut set = WaitSet::new();
    let mut answered = 0;
    while answered < clients * each {
        let ready = set
            .wait_timeout(&[&server as &dyn Waitable, &event], WAIT)
            .unwrap()
            .to_vec();
        assert!(!ready.contains(&1), "the event was never set");
        assert_eq!(ready, [0]);
        loop {
            match server.try_recv() {
                Ok(r) => {
                    server.respond(r.handle(), &answer(&r)).unwrap();
                    answered += 1;
                }
                Err(Error::WouldBlock { .. }) => break,
                Err(e) => panic!("server: {e}"),
            }
        }
    }
    for c in children {
        c.wait().assert_success();
    }
    // Every request answered: now only the event can wake the set.
    assert!(matches!(
        set.try_wait(&[&server as &dyn Waitable, &event]),
        Err(Error::WouldBlock { .. })
    ));
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            event.set().unwrap();
        });
        let ready = set
            .wait_timeout(&[&server as &dyn Waitable, &event], WAIT)
            .unwrap();
        assert_eq!(ready, [1]);
    });
}

#[test]
fn a_wait_set_tells_a_client_of_its_responses_and_of_its_servers_end() {
    let name = ServiceGuard::new("wscli");
    let count = 20u64;
    let mut child = util::spawn("waitset_serve", &[&name, &count.to_string()]);
    child.wait_for_line("ready");
    let mut client = options().open_client(&name).unwrap();
    let mut set = WaitSet::new();
    for i in 0..count {
        let req = request(7, i);
        let pending = client.request(&req).unwrap();
        // Ready is a hint: wait again until the answer is there.
        let response = loop {
            set.wait_timeout(&[&client], WAIT).unwrap();
            match client.try_wait(pending) {
                Ok(r) => break r.to_vec(),
                Err(Error::WouldBlock { .. }) => continue,
                Err(e) => panic!("request {i}: {e}"),
            }
        };
        assert_eq!(response, answer(&req), "request {i}");
    }
    child.wait().assert_success();
    // The server is gone: the set says the client is ready, and the client says why.
    let pending = client.request(b"anyone?");
    set.wait_timeout(&[&client], WAIT).unwrap();
    let got = pending.and_then(|p| client.try_wait(p).map(|r| r.to_vec()));
    assert!(
        matches!(got, Err(Error::Disconnected { .. })),
        "after the server's end: {got:?}"
    );
}
