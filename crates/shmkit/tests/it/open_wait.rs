//! Waiting for an object to appear: every options builder with an open verb takes
//! `open_timeout`, and its open waits that long for another process to create the object;
//! when the time is up the error is the `NotFound` the open returns without a wait. A
//! broadcast publisher waits for subscribers to join (`wait_for_subscribers`).

use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use shmkit::service;
use shmkit::sync::{Event, Mutex, Reset, Semaphore, Shared};
use shmkit::{Error, Segment};

use crate::service::ServiceGuard;
use crate::util::{self, NameGuard};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("create_later", child_create_later),
    ("subscribe_later", child_subscribe_later),
];

/// Every kind whose options have an open verb, by the name the child uses.
const KINDS: &[&str] = &[
    "segment",
    "mutex",
    "event",
    "semaphore",
    "shared",
    "channel",
    "typed_channel",
    "broadcast",
    "typed_broadcast",
    "service",
    "typed_service",
];

/// How long the child waits before it creates (or joins): long enough that the parent's open
/// is surely waiting, not a bound on anything.
const LATER: &str = "300";
/// A hang guard, not a performance bound.
const GUARD: Duration = Duration::from_secs(60);

/// A handle of any kind, kept alive while the child waits (never read, hence the allow).
#[allow(dead_code)]
enum Made {
    Segment(Segment),
    Mutex(Mutex),
    Event(Event),
    Semaphore(Semaphore),
    Shared(Shared<u64>),
    Channel(channel::Producer),
    TypedChannel(channel::typed::Producer<u64>),
    Broadcast(broadcast::Publisher),
    TypedBroadcast(broadcast::typed::Publisher<u64>),
    Server(service::Server),
    TypedServer(service::typed::Server<u64, u64>),
}

fn create(kind: &str, name: &str) -> shmkit::Result<Made> {
    Ok(match kind {
        "segment" => Made::Segment(Segment::create(name, 4096)?),
        "mutex" => Made::Mutex(Mutex::create(name)?),
        "event" => Made::Event(Event::create(name, Reset::Manual)?),
        "semaphore" => Made::Semaphore(Semaphore::create(name, 1, 1)?),
        "shared" => Made::Shared(Shared::create(name, 7u64)?),
        "channel" => Made::Channel(channel::options().capacity(4096).create_producer(name)?),
        "typed_channel" => Made::TypedChannel(
            channel::typed::<u64>()
                .capacity(4096)
                .create_producer(name)?,
        ),
        "broadcast" => Made::Broadcast(broadcast::options().slot_size(64).create_publisher(name)?),
        "typed_broadcast" => {
            Made::TypedBroadcast(broadcast::typed::<u64>().create_publisher(name)?)
        }
        "service" => Made::Server(service::options().max_clients(2).create_server(name)?),
        "typed_service" => Made::TypedServer({
            let mut o = service::typed::<u64, u64>();
            o.max_clients(2);
            o.create_server(name)?
        }),
        k => panic!("unknown kind {k}"),
    })
}

/// Opens `name` of `kind`, waiting up to `timeout` for it to appear; `Ok` drops it at once.
fn open(kind: &str, name: &str, timeout: Duration) -> shmkit::Result<()> {
    match kind {
        "segment" => Segment::options()
            .open_timeout(timeout)
            .open(name)
            .map(drop),
        "mutex" => Mutex::options().open_timeout(timeout).open(name).map(drop),
        "event" => Event::options().open_timeout(timeout).open(name).map(drop),
        "semaphore" => Semaphore::options()
            .open_timeout(timeout)
            .open(name)
            .map(drop),
        "shared" => Shared::<u64>::options()
            .open_timeout(timeout)
            .open(name)
            .map(drop),
        "channel" => channel::options()
            .open_timeout(timeout)
            .open_consumer(name)
            .map(drop),
        "typed_channel" => channel::typed::<u64>()
            .open_timeout(timeout)
            .open_consumer(name)
            .map(drop),
        "broadcast" => broadcast::options()
            .open_timeout(timeout)
            .open_subscriber(name)
            .map(drop),
        "typed_broadcast" => broadcast::typed::<u64>()
            .open_timeout(timeout)
            .open_subscriber(name)
            .map(drop),
        "service" => service::options()
            .open_timeout(timeout)
            .open_client(name)
            .map(drop),
        "typed_service" => service::typed::<u64, u64>()
            .open_timeout(timeout)
            .open_client(name)
            .map(drop),
        k => panic!("unknown kind {k}"),
    }
}

/// args: kind, name, delay in ms, the name of a manual event to wait for before exiting.
/// Sleeps, creates the object, says "created" and keeps it until the event is set.
fn child_create_later(a: &[String]) {
    let done = Event::open(&a[3]).unwrap();
    std::thread::sleep(Duration::from_millis(a[2].parse().unwrap()));
    let _made = create(&a[0], &a[1]).unwrap();
    util::say("created");
    done.wait_timeout(GUARD).unwrap();
}

/// args: name of a broadcast, delay in ms, the name of a manual event to wait for. Sleeps,
/// subscribes, says "subscribed" and stays until the event is set.
fn child_subscribe_later(a: &[String]) {
    let done = Event::open(&a[2]).unwrap();
    std::thread::sleep(Duration::from_millis(a[1].parse().unwrap()));
    let _sub = broadcast::options().open_subscriber(&a[0]).unwrap();
    util::say("subscribed");
    done.wait_timeout(GUARD).unwrap();
}

#[test]
fn open_waits_for_another_process_to_create_each_kind() {
    for kind in KINDS {
        let name = ServiceGuard::new(&format!("ow-{kind}"));
        let done = NameGuard::new("ow-done");
        let done_event = Event::create(&done, Reset::Manual).unwrap();
        // Without a wait: not there yet.
        assert!(
            matches!(
                open(kind, &name, Duration::ZERO),
                Err(Error::NotFound { .. })
            ),
            "{kind}"
        );
        let child = util::spawn("create_later", &[kind, &name, LATER, &done]);
        let got = open(kind, &name, GUARD);
        done_event.set().unwrap();
        child.wait().assert_success();
        assert!(got.is_ok(), "{kind}: {got:?}");
    }
}

#[test]
fn open_timeout_gives_not_found_when_the_object_never_appears() {
    for kind in KINDS {
        let name = ServiceGuard::new(&format!("ow-none-{kind}"));
        let start = Instant::now();
        let got = open(kind, &name, Duration::from_millis(50));
        assert!(
            matches!(got, Err(Error::NotFound { .. })),
            "{kind}: {got:?}"
        );
        // It did wait (a minimum only: tests never bound a duration from above).
        assert!(start.elapsed() >= Duration::from_millis(50), "{kind}");
    }
}

#[test]
fn open_or_create_does_not_wait() {
    let name = NameGuard::new("ow-ooc");
    let sem = Semaphore::options()
        .open_timeout(Duration::MAX)
        .open_or_create(&name)
        .unwrap();
    assert!(sem.is_creator());
}

#[test]
fn publisher_waits_for_subscribers_in_other_processes() {
    let name = NameGuard::new("ow-subs");
    let done = NameGuard::new("ow-subs-done");
    let done_event = Event::create(&done, Reset::Manual).unwrap();
    let publ = broadcast::options()
        .slot_size(64)
        .create_publisher(&name)
        .unwrap();
    assert_eq!(publ.subscribers(), 0);
    assert!(matches!(
        publ.try_wait_for_subscribers(1),
        Err(Error::WouldBlock { .. })
    ));
    assert!(matches!(
        publ.wait_for_subscribers_timeout(1, Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        publ.wait_for_subscribers_deadline(1, Instant::now() + Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    let children: Vec<_> = (0..2)
        .map(|_| util::spawn("subscribe_later", &[&name, LATER, &done]))
        .collect();
    let got = publ.wait_for_subscribers_timeout(2, GUARD);
    let after = publ.subscribers();
    done_event.set().unwrap();
    for c in children {
        c.wait().assert_success();
    }
    assert_eq!(got.unwrap(), 2);
    assert_eq!(after, 2);
    assert_eq!(
        publ.try_wait_for_subscribers(0).unwrap(),
        publ.subscribers()
    );
}

#[test]
fn typed_publisher_waits_for_subscribers() {
    let name = NameGuard::new("ow-tsubs");
    let publ = broadcast::typed::<u64>().create_publisher(&name).unwrap();
    assert!(matches!(
        publ.try_wait_for_subscribers(1),
        Err(Error::WouldBlock { .. })
    ));
    let _sub = broadcast::typed::<u64>().open_subscriber(&name).unwrap();
    assert_eq!(publ.wait_for_subscribers(1).unwrap(), 1);
    assert_eq!(
        publ.wait_for_subscribers_deadline(1, Instant::now())
            .unwrap(),
        1
    );
}
