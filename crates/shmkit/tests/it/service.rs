//! Request/response: answers reach their request in any order and from any thread; limits
//! and timeouts are typed errors; eight client processes hammer one server; a client killed
//! mid-request frees its place; a killed server disconnects its clients and a new one serves
//! them once they reconnect; foreign, damaged and future segments are typed errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shmkit::channel::{self, WaitStrategy};
use shmkit::service::{self, Server};
use shmkit::sync::{Pod, Zeroable};
use shmkit::{Error, Segment};

use crate::util::{self, raw_view};
use crate::Role;

pub const ROLES: &[(&str, Role)] = &[
    ("svc_hammer", child_hammer),
    ("svc_request_and_hang", child_request_and_hang),
    ("svc_serve_and_hang", child_serve_and_hang),
    ("svc_typed_client", child_typed_client),
    ("svc_connect_and_hang", child_connect_and_hang),
];

/// A hang guard, not a performance bound.
const WAIT: Duration = Duration::from_secs(30);
/// Client slots of the services these tests make (the guard removes that many channels).
const CLIENTS: u32 = 9;

/// Removes a service's names (the segment and every slot's two channels) when dropped, so a
/// failing test leaves nothing behind.
pub(crate) struct ServiceGuard(String);

impl ServiceGuard {
    pub(crate) fn new(tag: &str) -> Self {
        ServiceGuard(util::unique(tag))
    }
}

impl std::ops::Deref for ServiceGuard {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
        for i in 0..16 {
            let _ = Segment::remove(&format!("{}.q{i}", self.0));
            let _ = Segment::remove(&format!("{}.r{i}", self.0));
        }
    }
}

pub(crate) fn options() -> service::Options {
    let mut o = service::options();
    o.max_clients(CLIENTS)
        .max_outstanding(4)
        .max_request_len(256)
        .max_response_len(256);
    o
}

/// What the test server answers: the request reversed.
pub(crate) fn answer(req: &[u8]) -> Vec<u8> {
    req.iter().rev().copied().collect()
}

/// Request `i` of client `seed`: its length and bytes depend on both.
pub(crate) fn request(seed: u64, i: u64) -> Vec<u8> {
    let len = ((seed * 131 + i * 17) % 200) as usize + 1;
    (0..len)
        .map(|j| (seed as usize * 7 + i as usize * 3 + j) as u8)
        .collect()
}

/// Serves `name` in a thread until `stop`: answers every batch of requests that arrived
/// together in reverse order (so answers overtake each other), alternating copied and
/// in-place answers. Returns how many it answered.
fn serve_in_thread(server: Server, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut server = server;
        let mut answered = 0u64;
        let mut held = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(20)) {
                Ok(r) => held.push(r),
                Err(Error::Timeout { .. }) => {}
                Err(e) => panic!("server: {e}"),
            }
            while held.len() < 8 {
                match server.try_recv() {
                    Ok(r) => held.push(r),
                    Err(Error::WouldBlock { .. }) => break,
                    Err(e) => panic!("server: {e}"),
                }
            }
            for r in held.drain(..).rev() {
                let a = answer(&r);
                let done = if answered % 2 == 0 {
                    server.respond(r.handle(), &a)
                } else {
                    server.respond_with(r.handle(), a.len(), |b| b.copy_from_slice(&a))
                };
                match done {
                    Ok(()) | Err(Error::Disconnected { .. }) => answered += 1,
                    Err(e) => panic!("server answering: {e}"),
                }
            }
        }
        answered
    })
}

/// args: name, count, seed — connects, keeps up to four requests outstanding, waits for them
/// in a changing order, and checks every answer.
fn child_hammer(a: &[String]) {
    let count: u64 = a[1].parse().unwrap();
    let seed: u64 = a[2].parse().unwrap();
    let mut c = options().open_client(&a[0]).unwrap();
    let mut pending = std::collections::VecDeque::new();
    let mut sent = 0;
    let mut checked = 0;
    while checked < count {
        while sent < count && pending.len() < 4 {
            let req = request(seed, sent);
            let p = if sent % 3 == 0 {
                let mut loan = c.loan(req.len()).unwrap();
                loan.copy_from_slice(&req);
                loan.commit()
            } else {
                c.request(&req).unwrap()
            };
            pending.push_back((p, sent));
            sent += 1;
        }
        // Oldest first, or newest first, so both in-order and stashed answers are used.
        let (p, i) = if checked % 2 == 0 {
            pending.pop_front().unwrap()
        } else {
            pending.pop_back().unwrap()
        };
        let r = c.wait_timeout(p, WAIT).unwrap();
        assert_eq!(*r, answer(&request(seed, i)), "client {seed} request {i}");
        checked += 1;
    }
    println!("checked {checked}");
}

/// args: name — connects, sends a request, says so, and waits to be killed.
fn child_request_and_hang(a: &[String]) {
    let mut c = options().open_client(&a[0]).unwrap();
    let _p = c.request(b"never read").unwrap();
    println!("sent");
    std::thread::sleep(Duration::from_secs(120));
}

/// args: name — connects, says so, and waits to be killed.
fn child_connect_and_hang(a: &[String]) {
    let _c = options().open_client(&a[0]).unwrap();
    println!("connected");
    std::thread::sleep(Duration::from_secs(120));
}

/// args: name — creates the service, says so, receives one request without answering it,
/// says so, and waits to be killed.
fn child_serve_and_hang(a: &[String]) {
    let mut s = options().create_server(&a[0]).unwrap();
    println!("ready");
    let r = s.recv_timeout(WAIT).unwrap();
    assert_eq!(&*r, b"unanswered");
    println!("got");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn answers_reach_their_requests_in_any_order_and_from_any_thread() {
    let name = ServiceGuard::new("svcorder");
    let mut server = options().create_server(&name).unwrap();
    let mut client = options().open_client(&name).unwrap();
    let p: Vec<_> = (0..4u8).map(|i| client.request(&[i; 3]).unwrap()).collect();
    let reqs: Vec<_> = (0..4).map(|_| server.try_recv().unwrap()).collect();
    assert!(matches!(server.try_recv(), Err(Error::WouldBlock { .. })));
    // Answer 3 from another thread, then 2 in place, then 1 and 0.
    let responder = server.responder();
    let h3 = *reqs[3].handle();
    std::thread::spawn(move || responder.respond(&h3, b"three").unwrap())
        .join()
        .unwrap();
    server
        .respond_with(reqs[2].handle(), 3, |b| b.copy_from_slice(b"two"))
        .unwrap();
    server.respond(reqs[1].handle(), b"one").unwrap();
    server.respond(reqs[0].handle(), b"zero").unwrap();
    assert_eq!(&*client.wait(p[0]).unwrap(), b"zero");
    assert_eq!(&*client.wait(p[2]).unwrap(), b"two");
    assert_eq!(&*client.wait(p[3]).unwrap(), b"three");
    assert_eq!(&*client.wait(p[1]).unwrap(), b"one");
    assert!(matches!(
        client.wait(p[1]),
        Err(Error::NotOutstanding { .. })
    ));
    assert_eq!(client.outstanding(), 0);
    // A call, zero-copy both ways.
    let mut loan = client.loan(4).unwrap();
    loan.copy_from_slice(b"ping");
    let p = loan.commit();
    let r = server.recv().unwrap();
    assert_eq!((&*r, r.handle().id()), (&b"ping"[..], p.id()));
    server
        .respond_with(r.handle(), 4, |b| b.copy_from_slice(b"pong"))
        .unwrap();
    assert_eq!(&*client.wait(p).unwrap(), b"pong");
}

#[test]
fn limits_are_typed_errors() {
    let name = ServiceGuard::new("svclimits");
    let mut o = options();
    o.max_clients(2)
        .max_outstanding(2)
        .max_request_len(8)
        .max_response_len(8);
    let server = o.create_server(&name).unwrap();
    let mut a = o.open_client(&name).unwrap();
    let _b = o.open_client(&name).unwrap();
    assert!(matches!(
        o.open_client(&name),
        Err(Error::Full { max: 2, .. })
    ));
    assert!(matches!(a.request(&[0; 9]), Err(Error::SizeInvalid { .. })));
    let p = a.request(&[0; 8]).unwrap();
    let _q = a.request(&[]).unwrap();
    assert!(matches!(a.request(b"x"), Err(Error::Full { max: 2, .. })));
    assert!(a.cancel(p));
    let _r = a.request(b"x").unwrap();
    let mut server = server;
    let r = server.try_recv().unwrap();
    assert!(matches!(
        server.respond(r.handle(), &[0; 9]),
        Err(Error::SizeInvalid { .. })
    ));
    // A dropped client frees its slot.
    drop(a);
    let _c = o.open_client(&name).unwrap();
    // Limits out of range are refused before anything is created.
    let other = ServiceGuard::new("svcbadlimits");
    for bad in [
        service::options().max_clients(0).clone(),
        service::options()
            .max_clients(service::MAX_CLIENTS + 1)
            .clone(),
        service::options().max_outstanding(0).clone(),
        service::options().max_request_len(u32::MAX).clone(),
    ] {
        assert!(matches!(
            bad.create_server(&other),
            Err(Error::SizeInvalid { .. })
        ));
    }
    assert!(matches!(Segment::open(&other), Err(Error::NotFound { .. })));
}

/// A client that cancels its requests and never reads the answers fills its response ring:
/// the server's `respond` then says `Full` (a limit, as for requests), never `WouldBlock`
/// (the server never waits for a client, so nothing would unblock it), and serves on.
#[test]
fn a_client_that_never_reads_makes_respond_full_not_would_block() {
    let name = ServiceGuard::new("svcnoread");
    let mut o = options();
    o.max_clients(2).max_outstanding(1).max_response_len(8);
    let mut server = o.create_server(&name).unwrap();
    let mut lazy = o.open_client(&name).unwrap();
    let mut other = o.open_client(&name).unwrap();
    let mut full = false;
    for i in 0..10_000u32 {
        let p = lazy.request(&i.to_le_bytes()).unwrap();
        assert!(lazy.cancel(p)); // the answer will stay in the ring, unread
        let r = server.recv_timeout(WAIT).unwrap();
        match server.respond(r.handle(), &[0; 8]) {
            Ok(()) => {}
            Err(Error::Full { max: 1, .. }) => {
                full = true;
                break;
            }
            Err(e) => panic!("answer {i}: {e:?}"),
        }
    }
    assert!(full, "the response ring never filled");
    // The server goes on serving the others.
    let p = other.request(b"hi").unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    server.respond(r.handle(), b"ok").unwrap();
    assert_eq!(&*other.wait_timeout(p, WAIT).unwrap(), b"ok");
}

#[test]
fn timeouts_expire_on_the_monotonic_clock() {
    let name = ServiceGuard::new("svctime");
    let mut server = options()
        .wait_strategy(WaitStrategy::Blocking)
        .create_server(&name)
        .unwrap();
    let mut client = options()
        .wait_strategy(WaitStrategy::Blocking)
        .open_client(&name)
        .unwrap();
    for (t, _mode) in [(30, "blocking"), (10, "again")] {
        let start = Instant::now();
        assert!(matches!(
            server.recv_timeout(Duration::from_millis(t)),
            Err(Error::Timeout { .. })
        ));
        assert!(start.elapsed() >= Duration::from_millis(t));
    }
    assert!(matches!(server.try_recv(), Err(Error::WouldBlock { .. })));
    let p = client.request(b"slow").unwrap();
    assert!(matches!(client.try_wait(p), Err(Error::WouldBlock { .. })));
    let start = Instant::now();
    assert!(matches!(
        client.wait_timeout(p, Duration::from_millis(30)),
        Err(Error::Timeout { .. })
    ));
    assert!(start.elapsed() >= Duration::from_millis(30));
    // The request is still outstanding and its answer still arrives.
    let r = server.recv_timeout(WAIT).unwrap();
    server.respond(r.handle(), b"late").unwrap();
    assert_eq!(&*client.wait_timeout(p, WAIT).unwrap(), b"late");
}

#[test]
fn eight_client_processes_hammer_one_server() {
    let name = ServiceGuard::new("svchammer");
    let server = options().create_server(&name).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = serve_in_thread(server, Arc::clone(&stop));
    let count = "400";
    let children: Vec<_> = (1..=8)
        .map(|seed| util::spawn("svc_hammer", &[&name, count, &seed.to_string()]))
        .collect();
    for c in children {
        let f = c.wait();
        f.assert_success();
        assert!(f.stdout.contains("checked 400"), "{f:?}");
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(thread.join().unwrap(), 8 * 400);
}

#[test]
fn a_client_killed_mid_request_frees_its_place() {
    let name = ServiceGuard::new("svckill");
    let mut o = options();
    o.max_clients(1);
    let mut server = o.create_server(&name).unwrap();
    let mut child = util::spawn("svc_request_and_hang", &[&name]);
    child.wait_for_line("sent");
    // The only slot is taken by a live client.
    assert!(matches!(o.open_client(&name), Err(Error::Full { .. })));
    let r = server.recv_timeout(WAIT).unwrap();
    assert_eq!(&*r, b"never read");
    child.kill();
    // Answering the dead client does not trouble the server...
    let _ = server.respond(r.handle(), b"to nobody");
    // ...and the next client takes its place (the kernel says the holder is gone).
    let mut client = o.open_client(&name).unwrap();
    assert_eq!(client.slot(), 0);
    let p = client.request(b"hello").unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    assert_eq!(&*r, b"hello");
    // The answer to the dead client's request, left in the ring, is not taken for this one.
    server.respond(r.handle(), b"world").unwrap();
    assert_eq!(&*client.wait_timeout(p, WAIT).unwrap(), b"world");
}

#[test]
fn a_killed_server_disconnects_its_clients_and_a_new_one_serves_them_after_reconnect() {
    let name = ServiceGuard::new("svcrestart");
    let mut child = util::spawn("svc_serve_and_hang", &[&name]);
    child.wait_for_line("ready");
    let mut client = options().open_client(&name).unwrap();
    let p = client.request(b"unanswered").unwrap();
    child.wait_for_line("got");
    // A second server while the first lives is refused.
    assert!(matches!(
        options().create_server(&name),
        Err(Error::InUse { role: "server", .. })
    ));
    child.kill();
    let start = Instant::now();
    assert!(matches!(
        client.wait_timeout(p, WAIT),
        Err(Error::Disconnected { .. })
    ));
    assert!(start.elapsed() < WAIT);
    // Nobody serves the name now: a new client is told so.
    assert!(matches!(
        options().open_client(&name),
        Err(Error::Disconnected { .. })
    ));
    // A new server takes the name over; the old client is told to reconnect.
    let mut server = options().create_server(&name).unwrap();
    assert!(!server.is_creator());
    assert!(matches!(
        client.request(b"again"),
        Err(Error::Disconnected { .. })
    ));
    let mut client = client.reconnect().unwrap();
    let p = client.request(b"again").unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    assert_eq!(&*r, b"again");
    server.respond(r.handle(), b"served").unwrap();
    assert_eq!(&*client.wait_timeout(p, WAIT).unwrap(), b"served");
    // Dropping the server disconnects the client; the names go with the server.
    drop(server);
    assert!(matches!(
        client.request(b"x"),
        Err(Error::Disconnected { .. })
    ));
    drop(client);
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn a_waiting_client_hears_of_a_server_that_took_over() {
    // The new server puts a restart frame in the old clients' response rings, so a client
    // waiting when the takeover happens is told at once.
    let name = ServiceGuard::new("svctakeover");
    let mut child = util::spawn("svc_serve_and_hang", &[&name]);
    child.wait_for_line("ready");
    let mut client = options().open_client(&name).unwrap();
    let p = client.request(b"unanswered").unwrap();
    child.wait_for_line("got");
    child.kill();
    let _server = options().create_server(&name).unwrap();
    assert!(matches!(
        client.wait_timeout(p, WAIT),
        Err(Error::Disconnected { .. })
    ));
}

#[test]
fn inspect_names_the_server_and_the_clients() {
    let name = ServiceGuard::new("svcinspect");
    // Kept, so that the name outlives the server for the last look (the guard removes it).
    let server = options().keep(true).create_server(&name).unwrap();
    let _a = options().open_client(&name).unwrap();
    let b = options().open_client(&name).unwrap();
    let roles = |name: &str| -> Vec<String> {
        let info = shmkit::inspect::inspect(name).unwrap();
        assert_eq!(info.kind.label(), "service");
        info.holders.into_iter().map(|h| h.role).collect()
    };
    assert_eq!(roles(&name), ["server", "client 0", "client 1"]);
    drop(b);
    drop(server);
    assert_eq!(roles(&name), ["client 0"]);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
struct Add {
    a: u64,
    b: u32,
    pad: u32,
}

/// args: name — connects to a typed service and checks a hundred sums, two outstanding at
/// a time.
fn child_typed_client(a: &[String]) {
    let mut c = service::typed::<Add, u64>()
        .tag("add v1")
        .open_client(&a[0])
        .unwrap();
    for i in 0..100u64 {
        let p = c.request(&Add { a: i, b: 7, pad: 0 }).unwrap();
        let q = c
            .request(&Add {
                a: i << 20,
                b: 1,
                pad: 0,
            })
            .unwrap();
        assert_eq!(c.wait_timeout(q, WAIT).unwrap(), (i << 20) + 1);
        assert_eq!(c.wait_timeout(p, WAIT).unwrap(), i + 7);
    }
    println!("summed");
}

#[test]
fn a_typed_service_serves_another_process() {
    let name = ServiceGuard::new("svctypedproc");
    let mut server = service::typed::<Add, u64>()
        .tag("add v1")
        .create_server(&name)
        .unwrap();
    let child = util::spawn("svc_typed_client", &[&name]);
    for _ in 0..200 {
        let r = server.recv_timeout(WAIT).unwrap();
        server
            .respond(r.handle(), &(r.value.a + u64::from(r.value.b)))
            .unwrap();
    }
    let f = child.wait();
    f.assert_success();
    assert!(f.stdout.contains("summed"));
}

#[test]
fn typed_services_check_both_types() {
    let name = ServiceGuard::new("svctyped");
    let mut server = service::typed::<Add, u64>()
        .tag("add v1")
        .create_server(&name)
        .unwrap();
    let mut client = service::typed::<Add, u64>()
        .tag("add v1")
        .open_client(&name)
        .unwrap();
    let p = client
        .request(&Add {
            a: 40,
            b: 2,
            pad: 0,
        })
        .unwrap();
    let q = client.request(&Add { a: 1, b: 1, pad: 0 }).unwrap();
    let (r1, r2) = (server.recv().unwrap(), server.recv().unwrap());
    server
        .responder()
        .respond(r2.handle(), &(r2.value.a + u64::from(r2.value.b)))
        .unwrap();
    server
        .respond(r1.handle(), &(r1.value.a + u64::from(r1.value.b)))
        .unwrap();
    assert_eq!(client.wait(p).unwrap(), 42);
    assert_eq!(client.wait(q).unwrap(), 2);
    for wrong in [
        service::typed::<Add, u64>()
            .tag("add v2")
            .open_client(&name)
            .err(),
        service::typed::<Add, u32>()
            .tag("add v1")
            .open_client(&name)
            .err(),
        service::typed::<u64, u64>()
            .tag("add v1")
            .open_client(&name)
            .err(),
    ] {
        assert!(
            matches!(wrong, Some(Error::LayoutMismatch { .. })),
            "{wrong:?}"
        );
    }
    // A byte client may talk to a typed service; a wrong-sized request is dropped.
    let mut bytes = options().open_client(&name).unwrap();
    let _ = bytes.request(b"short").unwrap();
    assert!(matches!(server.try_recv(), Err(Error::WouldBlock { .. })));
    // A byte service is not a typed one.
    let plain = ServiceGuard::new("svcplain");
    let _s = options().create_server(&plain).unwrap();
    assert!(matches!(
        service::typed::<Add, u64>().open_client(&plain),
        Err(Error::LayoutMismatch { .. })
    ));
}

#[test]
fn a_service_created_with_layouts_is_the_typed_service_of_those_types() {
    use shmkit::channel::MessageLayout;
    let name = ServiceGuard::new("svclayouts");
    let typed = service::typed::<Add, u64>().tag("add v1").clone();
    let (req, resp) = typed.layouts();
    assert_eq!(req.tag(), Some("add v1 request"));
    assert_eq!(resp.tag(), Some("add v1 response"));
    let mut server = options()
        .max_request_len(4096) // ignored: the layouts' sizes are the limits
        .create_server_with_layouts(&name, req.clone(), resp.clone())
        .unwrap();
    assert_eq!(server.max_request_len(), std::mem::size_of::<Add>());
    assert_eq!(server.max_response_len(), 8);
    // A typed Rust client is served by it...
    let mut client = typed.open_client(&name).unwrap();
    let p = client
        .request(&Add {
            a: 40,
            b: 2,
            pad: 0,
        })
        .unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    let add: Add = shmkit::bytemuck::pod_read_unaligned(&r);
    server
        .respond(r.handle(), &(add.a + u64::from(add.b)).to_ne_bytes())
        .unwrap();
    assert_eq!(client.wait(p).unwrap(), 42);
    // ...so is a byte client that gives the same layouts.
    let mut raw = options()
        .open_client_with_layouts(&name, req.clone(), resp.clone())
        .unwrap();
    let p = raw.request(&[0; std::mem::size_of::<Add>()]).unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    server.respond(r.handle(), &7u64.to_ne_bytes()).unwrap();
    assert_eq!(&*raw.wait_timeout(p, WAIT).unwrap(), &7u64.to_ne_bytes());
    // Other layouts, a tag given without the suffix, and a byte opener are refused.
    for wrong in [
        MessageLayout::new(req.size(), req.align(), Some("add v1")),
        MessageLayout::new(req.size() + 8, req.align(), Some("add v1 request")),
    ] {
        assert!(matches!(
            options().open_client_with_layouts(&name, wrong, resp.clone()),
            Err(Error::LayoutMismatch { .. })
        ));
    }
    assert!(matches!(
        service::typed::<Add, u32>()
            .tag("add v1")
            .open_client(&name),
        Err(Error::LayoutMismatch { .. })
    ));
    // A Rust typed server is served to a client that gives its layouts; a byte service is
    // not a typed one.
    let other = ServiceGuard::new("svclayouts2");
    let _typed_server = typed.create_server(&other).unwrap();
    options()
        .open_client_with_layouts(&other, req.clone(), resp.clone())
        .unwrap();
    let plain = ServiceGuard::new("svclayouts3");
    let _s = options().create_server(&plain).unwrap();
    assert!(matches!(
        options().open_client_with_layouts(&plain, req, resp),
        Err(Error::LayoutMismatch { .. })
    ));
}

#[test]
fn foreign_damaged_and_future_segments_are_typed_errors() {
    // Nothing there.
    let missing = ServiceGuard::new("svcmissing");
    assert!(matches!(
        service::open_client(&missing),
        Err(Error::NotFound { .. })
    ));
    // A raw segment of garbage, and one of zeros (never initialised).
    let raw = ServiceGuard::new("svcraw");
    let seg = Segment::create(&raw, 4096).unwrap();
    raw_view(&raw).write_at(0, &[0xa5; 4096]).unwrap();
    assert!(matches!(
        service::open_client(&raw),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(
        options().create_server(&raw),
        Err(Error::Corrupt { .. })
    ));
    drop(seg);
    // A channel opened as a service.
    let chan = ServiceGuard::new("svcchan");
    let _tx = channel::create_producer(&chan, 4096).unwrap();
    assert!(matches!(
        service::open_client(&chan),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        options().create_server(&chan),
        Err(Error::KindMismatch { .. })
    ));
    // A service from another layout version, and one with impossible limits.
    let name = ServiceGuard::new("svcbad");
    let server = options().create_server(&name).unwrap();
    let mut view = raw_view(&name);
    let version = view.read_vec(8, 4).unwrap();
    view.write_at(8, &99u32.to_ne_bytes()).unwrap();
    assert!(matches!(
        service::open_client(&name),
        Err(Error::VersionMismatch { found: 99, .. })
    ));
    view.write_at(8, &version).unwrap();
    let params = view.read_vec(32, 16).unwrap();
    for bad in [[0u8; 16], [0xff; 16]] {
        view.write_at(32, &bad).unwrap();
        assert!(matches!(
            service::open_client(&name),
            Err(Error::Corrupt { .. })
        ));
    }
    view.write_at(32, &params).unwrap();
    // Garbage in a client's request ring: the server skips it, never panics, and serves
    // the other clients.
    let mut server = server;
    let mut a = options().open_client(&name).unwrap();
    let mut b = options().open_client(&name).unwrap();
    let _ = a.request(b"from a").unwrap();
    raw_view(&format!("{}.q{}", &*name, a.slot()))
        .write_at(384, &[0xff; 64])
        .unwrap();
    let p = b.request(b"from b").unwrap();
    let r = server.recv_timeout(WAIT).unwrap();
    assert_eq!(&*r, b"from b");
    server.respond(r.handle(), b"ok").unwrap();
    assert_eq!(&*b.wait_timeout(p, WAIT).unwrap(), b"ok");
    assert!(matches!(server.try_recv(), Err(Error::WouldBlock { .. })));
}

/// A request committed to its ring by a client that is then killed before it rings the
/// service's bell (forged here: the killed client's request ring, re-attached, gets a valid
/// frame of its slot, and only the channel's own bell rings). A server blocked in
/// `receive` with no deadline still finds it: it scans the rings again every liveness slice
/// instead of sleeping on the bell until some other client rings (issue 19, item 5).
#[test]
fn a_request_whose_client_died_before_ringing_is_still_received() {
    let name = ServiceGuard::new("svcnoring");
    let server = options()
        .wait_strategy(WaitStrategy::Blocking)
        .create_server(&name)
        .unwrap();
    let mut child = util::spawn("svc_connect_and_hang", &[&name]);
    child.wait_for_line("connected");
    child.kill();
    let (tx, rx) = std::sync::mpsc::channel();
    // Not scoped: without the fix the thread never returns, and the test must still end.
    std::thread::spawn(move || {
        let mut server = server;
        let r = server.recv().map(|r| r.to_vec());
        let _ = tx.send(r);
        server
    });
    std::thread::sleep(Duration::from_millis(200)); // the server sleeps on its bell now
    let view = raw_view(&name);
    let epoch = u32::from_le_bytes(view.read_vec(72, 4).unwrap().try_into().unwrap());
    let word = u64::from_le_bytes(view.read_vec(384, 8).unwrap().try_into().unwrap());
    assert_eq!(word & 0xff, 1, "the killed client still holds slot 0");
    let gen = (word as u32 >> 8) & 0xff_ffff;
    let mut frame = Vec::new();
    frame.extend_from_slice(&7u64.to_le_bytes());
    frame.extend_from_slice(&epoch.to_le_bytes());
    frame.extend_from_slice(&gen.to_le_bytes());
    frame.extend_from_slice(b"committed, never rung");
    let mut ring = channel::options()
        .open_producer(&format!("{}.q0", &*name))
        .unwrap();
    ring.send(&frame).unwrap();
    let got = rx
        .recv_timeout(WAIT)
        .expect("the server never saw the request");
    assert_eq!(got.unwrap(), b"committed, never rung");
}

/// A request ring holding a corrupt frame (a hostile client) is skipped by the server, so it
/// must not make the server ready either: a wait set that reported it ready while
/// `try_recv` says `WouldBlock` would spin (issue 19, item 3). Other clients are still
/// served, and reported ready exactly when there is a request.
#[test]
fn a_corrupt_request_ring_does_not_make_the_server_ready() {
    let name = ServiceGuard::new("svccorrupt");
    let mut server = options().create_server(&name).unwrap();
    let mut hostile = options().open_client(&name).unwrap();
    let mut honest = options().open_client(&name).unwrap();
    // The hostile client's ring (slot 0): a frame header of an unknown kind at its head.
    let _ = hostile.request(b"first").unwrap();
    let mut q0 = raw_view(&format!("{}.q0", &*name));
    q0.write_at(384, &(0xdead_u64 << 32 | 8).to_le_bytes())
        .unwrap();
    let mut set = shmkit::WaitSet::new();
    for _ in 0..3 {
        assert!(matches!(
            set.wait_timeout(&[&server], Duration::from_millis(100)),
            Err(Error::Timeout { .. })
        ));
        assert!(matches!(server.try_recv(), Err(Error::WouldBlock { .. })));
    }
    let p = honest.request(b"hello").unwrap();
    assert_eq!(set.wait_timeout(&[&server], WAIT).unwrap(), [0]);
    let r = server.try_recv().unwrap();
    assert_eq!(&*r, b"hello");
    server.respond(r.handle(), b"hi").unwrap();
    assert_eq!(&*honest.wait_timeout(p, WAIT).unwrap(), b"hi");
    assert!(matches!(
        set.try_wait(&[&server]),
        Err(Error::WouldBlock { .. })
    ));
}

/// A request left in its ring by a client killed before it was served, whose slot a new
/// client then took over, is dropped unread by `receive`: it must not make the server ready
/// either (readiness agrees with `try_recv`, issue 19, item 3). The new client is served.
#[test]
fn a_request_of_a_replaced_client_does_not_make_the_server_ready() {
    let name = ServiceGuard::new("svcstale");
    let mut server = options().create_server(&name).unwrap();
    let mut child = util::spawn("svc_request_and_hang", &[&name]);
    child.wait_for_line("sent");
    child.kill();
    let mut client = options().open_client(&name).unwrap(); // takes the dead client's slot
    let mut set = shmkit::WaitSet::new();
    for _ in 0..3 {
        let waited = set.wait_timeout(&[&server], Duration::from_millis(100));
        let got = server.try_recv();
        assert!(
            matches!(waited, Err(Error::Timeout { .. }))
                && matches!(got, Err(Error::WouldBlock { .. })),
            "wait set said {waited:?}, try_recv {got:?}"
        );
    }
    let p = client.request(b"new").unwrap();
    assert_eq!(set.wait_timeout(&[&server], WAIT).unwrap(), [0]);
    let r = server.try_recv().unwrap();
    assert_eq!((&*r, r.handle().client_slot()), (&b"new"[..], 0));
    server.respond(r.handle(), b"ok").unwrap();
    assert_eq!(&*client.wait_timeout(p, WAIT).unwrap(), b"ok");
}
