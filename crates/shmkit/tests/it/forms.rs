//! The four forms of every wait (`x`, `try_x`, `x_timeout`, `x_deadline`): the deadline form
//! gives `Timeout` when nothing comes and returns at once when something is there; a
//! broadcast publisher is a wait set member, ready when `try_loan` would find a slot.

use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use shmkit::service;
use shmkit::sync::{Event, Mutex, Reset, Semaphore, Shared};
use shmkit::{Error, WaitSet};

use crate::service::ServiceGuard;
use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[("forms_slow_subscriber", child_slow_subscriber)];

/// A hang guard, not a performance bound.
const GUARD: Duration = Duration::from_secs(60);

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(20)
}

fn timed_out<T: std::fmt::Debug>(r: shmkit::Result<T>) -> bool {
    matches!(r, Err(Error::Timeout { .. }))
}

#[test]
fn deadline_forms_time_out_and_succeed() {
    let name = NameGuard::new("forms-chan");
    let mut tx = channel::create_producer(&name, 4096).unwrap();
    let mut rx = channel::open_consumer(&name).unwrap();
    assert!(timed_out(rx.recv_deadline(soon()).map(|s| s.len())));
    let mut buf = Vec::new();
    assert!(timed_out(rx.recv_into_deadline(&mut buf, soon())));
    tx.send_deadline(b"one", soon()).unwrap();
    let mut loan = tx.loan_deadline(3, soon()).unwrap();
    loan.copy_from_slice(b"two");
    loan.commit();
    assert_eq!(&*rx.recv_deadline(soon()).unwrap(), b"one");
    rx.recv_into_deadline(&mut buf, soon()).unwrap();
    assert_eq!(buf, b"two");

    let tname = NameGuard::new("forms-typed");
    let mut ttx = channel::typed::<u64>().create_producer(&tname).unwrap();
    let mut trx = channel::typed::<u64>().open_consumer(&tname).unwrap();
    assert!(timed_out(trx.recv_copy_deadline(soon())));
    ttx.send_deadline(&7, soon()).unwrap();
    assert_eq!(*trx.recv_deadline(soon()).unwrap(), 7);

    let bname = NameGuard::new("forms-bcast");
    let mut publ = broadcast::options()
        .slot_size(64)
        .create_publisher(&bname)
        .unwrap();
    let mut sub = broadcast::open_subscriber(&bname).unwrap();
    assert!(timed_out(sub.recv_deadline(soon()).map(|s| s.len())));
    publ.send_deadline(b"hi", soon()).unwrap();
    assert_eq!(&*sub.recv_deadline(soon()).unwrap(), b"hi");

    let ename = NameGuard::new("forms-event");
    let event = Event::create(&ename, Reset::Manual).unwrap();
    assert!(timed_out(event.wait_deadline(soon())));
    event.set().unwrap();
    event.wait_deadline(soon()).unwrap();

    let sname = NameGuard::new("forms-sem");
    let sem = Semaphore::create(&sname, 0, 1).unwrap();
    assert!(timed_out(sem.wait_deadline(soon())));
    sem.post().unwrap();
    sem.wait_deadline(soon()).unwrap();

    let mname = NameGuard::new("forms-mutex");
    let mutex = Mutex::create(&mname).unwrap();
    drop(mutex.lock_deadline(soon()).unwrap());
    let shname = NameGuard::new("forms-shared");
    let shared = Shared::create(&shname, 3u64).unwrap();
    assert_eq!(shared.lock_deadline(soon()).unwrap().get(), 3);

    let mut set = WaitSet::new();
    assert!(timed_out(
        set.wait_deadline(&[&sem], soon()).map(|r| r.len())
    ));
}

#[test]
fn service_deadline_forms() {
    let name = ServiceGuard::new("forms-svc");
    let mut server = service::options()
        .max_clients(2)
        .create_server(&name)
        .unwrap();
    let mut client = service::open_client(&name).unwrap();
    assert!(timed_out(server.recv_deadline(soon()).map(|r| r.len())));
    let far = Instant::now() + GUARD;
    let p = client.request(b"x").unwrap();
    let req = server.recv_deadline(far).unwrap();
    server.respond(req.handle(), b"y").unwrap();
    assert_eq!(&*client.wait_deadline(p, far).unwrap(), b"y");
    let q = client.request(b"z").unwrap();
    assert!(timed_out(client.wait_deadline(q, soon()).map(|r| r.len())));
}

/// args: broadcast name. Subscribes, says "joined", receives one message after a pause (so
/// the publisher's one slot is held until then), says "released" and stays until the
/// publisher is gone.
fn child_slow_subscriber(a: &[String]) {
    let mut sub = broadcast::open_subscriber(&a[0]).unwrap();
    util::say("joined");
    let first = sub.recv_timeout(GUARD).unwrap();
    assert_eq!(&*first, b"first");
    std::thread::sleep(Duration::from_millis(200));
    drop(first);
    util::say("released");
    loop {
        match sub.recv_timeout(GUARD) {
            Ok(_) => {}
            Err(Error::Disconnected { .. }) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_publisher_in_a_wait_set_is_ready_when_a_subscriber_in_another_process_releases() {
    let name = NameGuard::new("forms-pubready");
    let mut publ = broadcast::options()
        .slots(1)
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    let mut set = WaitSet::new();
    // No subscriber: room.
    assert_eq!(set.try_wait(&[&publ]).unwrap(), &[0]);
    let mut child = util::spawn("forms_slow_subscriber", &[&name]);
    child.wait_for_line("joined");
    publ.send(b"first").unwrap();
    // The one slot is the subscriber's until it moves on: not ready, and try_loan agrees.
    // (Until the child has received, the message is unread, which also holds the slot.)
    assert!(matches!(
        set.try_wait(&[&publ]),
        Err(Error::WouldBlock { .. })
    ));
    assert!(matches!(publ.try_loan(5), Err(Error::WouldBlock { .. })));
    let ready = set.wait_timeout(&[&publ], GUARD).unwrap().to_vec();
    assert_eq!(ready, [0]);
    publ.try_send(b"second").unwrap();
    drop(publ);
    child.wait().assert_success();
}

#[test]
fn a_typed_publisher_is_a_wait_set_member() {
    let name = NameGuard::new("forms-tpub");
    let publ = broadcast::typed::<u64>()
        .slots(1)
        .create_publisher(&name)
        .unwrap();
    let mut set = WaitSet::new();
    assert_eq!(set.try_wait(&[&publ]).unwrap(), &[0]);
}
