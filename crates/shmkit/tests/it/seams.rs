//! The seams matrix (issue 19): every waitable kind, waited on in every form, against peers
//! that are killed at chosen points, writers that corrupt what it waits on, and threads that
//! share one handle.
//!
//! Written as tables, not as copies: one `Kind` per waitable (how to make this process's side,
//! what its peer process does, how to take an item with `try_`, and how to wait for one
//! blocking or awaiting), one `Waiter` that waits in a given `Form` (blocking; a `WaitSet`
//! with a few members or with 200, so that a helper thread serves the side; a blocking wait
//! right after a large set left its helper queued; `Async` on tokio), and one function per
//! scenario. `matrix!` at the end turns (kind, scenario, forms) into tests named
//! `seams::<kind>::<scenario>::<form>`.
//!
//! What every cell asserts, by scenario:
//!
//! * `delivers_then_death`: the peer acts once (sends, makes room, answers, sets, posts) after a
//!   pause; the item arrives within `SOON` of the peer saying so, and the waiting thread used
//!   little CPU while it waited (no busy loop). Then the peer is SIGKILLed while the side waits:
//!   the side reports it within `SOON` (`Disconnected`; a back-pressure publisher gets room,
//!   the dead subscriber evicted), or — a server, which by design does not watch its clients —
//!   waits out its timeout without a busy loop.
//! * `killed_holding`: the peer is killed half-way through an act (a loan not committed, a
//!   sample held, a response half written): reported as above; nothing half-done is delivered.
//! * `killed_mid_stream`: the peer streams items and is killed at a random point: the items
//!   arrive in order, none twice or garbled, then the death is reported as above.
//! * `commit_never_rung`: an item is committed by hand into the segment and nobody rings the
//!   doorbell (a peer killed between its commit and its wake-up): the side still sees it within
//!   `SOON` (every wait re-checks once per liveness slice).
//! * `hostile_writer`: a process writes garbage where the side looks next (a frame header, a
//!   read position, a broadcast slot's stamp, a request ring): the side reports `Corrupt`
//!   within `SOON` — or, a server, skips that ring and waits without a busy loop.
//! * `two_threads`: two threads wait on one handle (events and semaphores, whose calls take
//!   `&self`); each gets its item.
//!
//! In every `WaitSet` form, whenever the set says the side is ready, the next `try_` call must
//! return something other than `WouldBlock` (the readiness contract of DESIGN.md). Timeouts are
//! hang guards; `SOON` (2 s) stands for "within a liveness slice" (200 ms) with room for a
//! loaded machine — it tells a lost wake-up (seen only at the deadline) from a delivered one.

#[cfg(feature = "tokio")]
use std::future::Future;
#[cfg(feature = "tokio")]
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast, WaitMode};
use shmkit::service::{self, Pending};
use shmkit::sync::{Event, Reset, Semaphore};
use shmkit::{Error, WaitSet, Waitable};

use crate::service::ServiceGuard;
use crate::util::{self, say};
use crate::Role;

#[cfg(feature = "tokio")]
use shmkit::aio::Async as H;

/// The handle wrapper: `Async` with the `tokio` feature (its `get_ref`/`get_mut` reach the
/// synchronous calls), a plain box of the same shape without.
#[cfg(not(feature = "tokio"))]
struct H<T>(T);

#[cfg(not(feature = "tokio"))]
impl<T> H<T> {
    fn new(t: T) -> Self {
        H(t)
    }
    fn get_ref(&self) -> &T {
        &self.0
    }
    fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

pub const ROLES: &[(&str, Role)] = &[("seams_peer", child_peer)];

/// "Soon": a liveness slice (200 ms) with a wide margin for a loaded machine.
const SOON: Duration = Duration::from_secs(2);
/// A hang guard for a wait that should end well before it.
const GUARD: Duration = Duration::from_secs(4);
/// How long a wait that should find nothing lasts (and over which its CPU use is measured).
const SILENT: Duration = Duration::from_millis(1000);
/// The pause before the peer's (or the hostile writer's) act, so that the side is asleep.
const PAUSE: Duration = Duration::from_millis(400);
/// Waits shorter than this are not judged by their CPU use (too little time to tell).
const MIN_JUDGED: Duration = Duration::from_millis(300);
/// Ring capacity of the byte and typed channels.
const CAP: usize = 4096;

// ---------------------------------------------------------------------------------------
// What a wait found.

/// The outcome of one wait or `try_` call, reduced to what the cells compare.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    /// An item: the number it carries (a message's first 8 bytes; this side's own count of
    /// sends for producers and publishers; 0 for events and semaphores).
    Item(u64),
    WouldBlock,
    Timeout,
    Gone,
    Corrupt(String),
    Lagged,
    Other(String),
}

fn got<T>(r: shmkit::Result<T>, item: impl FnOnce(T) -> u64) -> Got {
    match r {
        Ok(v) => Got::Item(item(v)),
        Err(Error::WouldBlock { .. }) => Got::WouldBlock,
        Err(Error::Timeout { .. }) => Got::Timeout,
        Err(Error::Disconnected { .. }) => Got::Gone,
        Err(Error::Corrupt { reason, .. }) => Got::Corrupt(reason),
        Err(Error::Lagged { .. }) => Got::Lagged,
        Err(e) => Got::Other(e.to_string()),
    }
}

/// The number a message carries in its first 8 bytes.
fn seq(m: &[u8]) -> u64 {
    m.get(..8)
        .map_or(u64::MAX, |b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// What a side must report after its peer's death or a hostile write.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// `Disconnected`, within `SOON`.
    Gone,
    /// An item, within `SOON` (a back-pressure publisher whose dead subscriber is evicted).
    Item,
    /// `Corrupt`, within `SOON`.
    Corrupt,
    /// Nothing: the wait lasts `SILENT` and uses little CPU.
    Silent,
}

impl Expect {
    fn timeout(self) -> Duration {
        match self {
            Expect::Silent => SILENT,
            _ => GUARD,
        }
    }
}

#[cfg(feature = "tokio")]
type Wait<'a> = Pin<Box<dyn Future<Output = Got> + 'a>>;

// ---------------------------------------------------------------------------------------
// The kinds.

/// One waitable kind: this process's side, its peer process, and the calls the forms use.
trait Kind {
    /// This process's side, with whatever it keeps between calls.
    type Side: Send;
    /// The kind's name in the peer child's arguments.
    const LABEL: &'static str;
    /// Whether the peer makes the object (then this side opens it once the peer is ready).
    const PEER_CREATES: bool = false;
    /// What the side reports once its peer is killed; `None`: it has no peer role.
    const ON_DEATH: Option<Expect>;
    /// What the side reports after `corrupt`.
    const ON_CORRUPT: Option<Expect>;

    fn local(name: &str) -> Self::Side;
    /// Readies the side to wait for the peer's next act (fills a ring, sends a request);
    /// returns what `commit_unrung` needs (a request's id).
    fn prime(_: &mut Self::Side) -> u64 {
        0
    }
    /// The peer, in the child.
    fn peer(name: &str) -> Box<dyn Peer>;
    /// Commits item 0 for this side by writing the segment, without waking anyone.
    fn commit_unrung(name: &str, token: u64);
    /// Writes garbage where this side looks next.
    fn corrupt(_name: &str) {
        unreachable!("{} has no hostile-writer cell", Self::LABEL)
    }

    /// The side as a wait set member; `None` if it is not one.
    fn member(s: &Self::Side) -> Option<&dyn Waitable>;
    fn take(s: &mut Self::Side) -> Got;
    fn block(s: &mut Self::Side, timeout: Duration) -> Got;
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_>;
}

/// A peer process's side.
trait Peer {
    /// Act `seq`: send message `seq`, take one (making room), answer a request with `seq`,
    /// set, post.
    fn act(&mut self, seq: u64);
    /// Half an act, never finished (a loan not committed, a sample held): says "held" and
    /// hangs until killed.
    fn hold(&mut self) -> !;
}

/// Hangs until killed (the parent kills every peer; the exit is a guard).
fn hang() -> ! {
    std::thread::sleep(Duration::from_secs(300));
    std::process::exit(3)
}

fn held() -> ! {
    say("held");
    hang()
}

fn channel_options() -> channel::Options {
    let mut o = channel::options();
    o.capacity(CAP).wait_mode(WaitMode::Blocking);
    o
}

fn broadcast_options() -> broadcast::Options {
    let mut o = broadcast::options();
    o.slots(4)
        .slot_size(64)
        .max_subscribers(4)
        .policy(broadcast::Policy::Block)
        .wait_mode(WaitMode::Blocking);
    o
}

fn service_options() -> service::Options {
    let mut o = crate::service::options();
    o.wait_mode(WaitMode::Blocking);
    o
}

/// A sender's side: the handle and how many items it sent since `prime`.
type Sending<T> = (H<T>, u64);

/// Counts a send of item `s.1`.
fn sent<T>(s: &mut Sending<T>, r: shmkit::Result<()>) -> Got {
    let g = got(r, |()| s.1);
    if let Got::Item(_) = g {
        s.1 += 1;
    }
    g
}

struct ChannelConsumer;

impl Peer for channel::Producer {
    fn act(&mut self, seq: u64) {
        self.send_timeout(&seq.to_le_bytes(), GUARD).unwrap();
    }
    fn hold(&mut self) -> ! {
        let _loan = self.loan(8).unwrap();
        held()
    }
}

impl Kind for ChannelConsumer {
    type Side = H<channel::Consumer>;
    const LABEL: &'static str = "consumer";
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(channel_options().create_consumer(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(channel::options().open_producer(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_frame(name, &0u64.to_le_bytes());
    }
    fn corrupt(name: &str) {
        raw::garbage_frame(name);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_mut().try_recv(), |m| seq(&m))
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_mut().recv_timeout(timeout), |m| seq(&m))
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.recv().await, |m| seq(&m)) })
    }
}

struct ChannelProducer;

impl Peer for channel::Consumer {
    fn act(&mut self, _: u64) {
        drop(self.recv_timeout(GUARD).unwrap());
    }
    fn hold(&mut self) -> ! {
        let _sample = self.recv_timeout(GUARD).unwrap();
        held()
    }
}

impl Kind for ChannelProducer {
    type Side = Sending<channel::Producer>;
    const LABEL: &'static str = "producer";
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        (H::new(channel_options().create_producer(name).unwrap()), 0)
    }
    fn prime(s: &mut Self::Side) -> u64 {
        while s.0.get_mut().try_send(&[0xee; 8]).is_ok() {}
        0
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(channel::options().open_consumer(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::release_all(name);
    }
    fn corrupt(name: &str) {
        raw::garbage_read_pos(name);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.0.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        let r = s.0.get_mut().try_send(&s.1.to_le_bytes());
        sent(s, r)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        let r = s.0.get_mut().send_timeout(&s.1.to_le_bytes(), timeout);
        sent(s, r)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            let m = s.1.to_le_bytes();
            let r = s.0.send(&m).await;
            sent(s, r)
        })
    }
}

struct Subscriber;

impl Peer for broadcast::Publisher {
    fn act(&mut self, seq: u64) {
        self.send_timeout(&seq.to_le_bytes(), GUARD).unwrap();
    }
    fn hold(&mut self) -> ! {
        let _loan = self.loan(8).unwrap();
        held()
    }
}

impl Kind for Subscriber {
    type Side = H<broadcast::Subscriber>;
    const LABEL: &'static str = "subscriber";
    const PEER_CREATES: bool = true;
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(broadcast_options().subscribe(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(broadcast_options().create(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_slot(name, |k| 2 * k + 2);
    }
    fn corrupt(name: &str) {
        raw::put_slot(name, |_| 1 << 62);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_mut().try_recv(), |m| seq(&m))
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_mut().recv_timeout(timeout), |m| seq(&m))
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.recv().await, |m| seq(&m)) })
    }
}

struct Publisher;

impl Peer for broadcast::Subscriber {
    fn act(&mut self, _: u64) {
        drop(self.recv_timeout(GUARD).unwrap());
    }
    fn hold(&mut self) -> ! {
        let _sample = self.recv_timeout(GUARD).unwrap();
        held()
    }
}

impl Kind for Publisher {
    type Side = Sending<broadcast::Publisher>;
    const LABEL: &'static str = "publisher";
    // The dead subscriber is evicted: room.
    const ON_DEATH: Option<Expect> = Some(Expect::Item);
    const ON_CORRUPT: Option<Expect> = None;
    fn local(name: &str) -> Self::Side {
        (H::new(broadcast_options().create(name).unwrap()), 0)
    }
    fn prime(s: &mut Self::Side) -> u64 {
        while s.0.get_mut().try_send(&[0xee; 8]).is_ok() {}
        0
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(broadcast_options().subscribe(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::subscriber_caught_up(name);
    }
    fn member(_: &Self::Side) -> Option<&dyn Waitable> {
        None
    }
    fn take(s: &mut Self::Side) -> Got {
        let r = s.0.get_mut().try_send(&s.1.to_le_bytes());
        sent(s, r)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        let r = s.0.get_mut().send_timeout(&s.1.to_le_bytes(), timeout);
        sent(s, r)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            let m = s.1.to_le_bytes();
            let r = s.0.send(&m).await;
            sent(s, r)
        })
    }
}

struct TypedConsumer;

impl Peer for channel::typed::Producer<u64> {
    fn act(&mut self, seq: u64) {
        self.send_timeout(&seq, GUARD).unwrap();
    }
    fn hold(&mut self) -> ! {
        let _loan = self.loan().unwrap();
        held()
    }
}

impl Kind for TypedConsumer {
    type Side = H<channel::typed::Consumer<u64>>;
    const LABEL: &'static str = "typed_consumer";
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        let mut o = channel::typed::<u64>();
        o.capacity(CAP).wait_mode(WaitMode::Blocking);
        H::new(o.create_consumer(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(channel::typed::<u64>().open_producer(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_frame(name, &0u64.to_le_bytes());
    }
    fn corrupt(name: &str) {
        raw::garbage_frame(name);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_mut().try_recv_copy(), |v| v)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_mut().recv_copy_timeout(timeout), |v| v)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.recv_copy().await, |v| v) })
    }
}

struct TypedSubscriber;

fn typed_broadcast() -> broadcast::typed::Options<u64> {
    let mut o = broadcast::typed::<u64>();
    o.slots(4)
        .max_subscribers(4)
        .policy(broadcast::Policy::Block)
        .wait_mode(WaitMode::Blocking);
    o
}

impl Peer for broadcast::typed::Publisher<u64> {
    fn act(&mut self, seq: u64) {
        self.send_timeout(&seq, GUARD).unwrap();
    }
    fn hold(&mut self) -> ! {
        let _loan = self.loan().unwrap();
        held()
    }
}

impl Kind for TypedSubscriber {
    type Side = H<broadcast::typed::Subscriber<u64>>;
    const LABEL: &'static str = "typed_subscriber";
    const PEER_CREATES: bool = true;
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(typed_broadcast().subscribe(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(typed_broadcast().create(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_slot(name, |k| 2 * k + 2);
    }
    fn corrupt(name: &str) {
        raw::put_slot(name, |_| 1 << 62);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_mut().try_recv_copy(), |v| v)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_mut().recv_copy_timeout(timeout), |v| v)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.recv_copy().await, |v| v) })
    }
}

struct Server;

/// A client peer: one request outstanding at a time.
struct ClientPeer(service::Client, Option<Pending>);

impl Peer for ClientPeer {
    fn act(&mut self, seq: u64) {
        if let Some(p) = self.1.take() {
            drop(self.0.wait_timeout(p, GUARD).unwrap());
        }
        self.1 = Some(self.0.request(&seq.to_le_bytes()).unwrap());
    }
    fn hold(&mut self) -> ! {
        let _loan = self.0.loan(8).unwrap();
        held()
    }
}

/// Answers a received request with its own bytes; the item is the number it carries.
fn served(s: &H<service::Server>, r: shmkit::Result<service::Request>) -> Got {
    got(r, |r| {
        let _ = s.get_ref().respond(r.handle(), &r);
        seq(&r)
    })
}

impl Kind for Server {
    type Side = H<service::Server>;
    const LABEL: &'static str = "server";
    // A server does not watch its clients (service docs): a dead one is not reported.
    const ON_DEATH: Option<Expect> = Some(Expect::Silent);
    // It skips a corrupt request ring: that client is no longer served.
    const ON_CORRUPT: Option<Expect> = Some(Expect::Silent);
    fn local(name: &str) -> Self::Side {
        H::new(service_options().create_server(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(ClientPeer(service_options().connect(name).unwrap(), None))
    }
    fn commit_unrung(name: &str, _: u64) {
        let (slot, head) = raw::connected_slot(name, 0);
        let mut frame = head.to_vec();
        frame.extend_from_slice(&0u64.to_le_bytes());
        raw::put_frame(&format!("{name}.q{slot}"), &frame);
    }
    fn corrupt(name: &str) {
        let (slot, _) = raw::connected_slot(name, 0);
        raw::garbage_frame(&format!("{name}.q{slot}"));
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        let r = s.get_mut().try_receive();
        served(s, r)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        let r = s.get_mut().receive_timeout(timeout);
        served(s, r)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            let r = s.receive().await;
            served(s, r)
        })
    }
}

struct Client;

/// A client and its outstanding request (one at a time: each answer sends the next).
struct ClientSide {
    c: H<service::Client>,
    pending: Option<Pending>,
}

impl ClientSide {
    /// The answer to the outstanding request, if `r` is one; sends the next request then.
    fn answered(&mut self, p: Pending, r: shmkit::Result<u64>) -> Got {
        let g = got(r, |v| v);
        match g {
            Got::WouldBlock | Got::Timeout => self.pending = Some(p),
            Got::Item(v) => self.pending = self.c.get_mut().request(&(v + 1).to_le_bytes()).ok(),
            _ => {}
        }
        g
    }

    /// The outstanding request, sending one if there is none; `Err`: what sending said.
    fn outstanding(&mut self) -> Result<Pending, Got> {
        match self.pending.take() {
            Some(p) => Ok(p),
            None => self
                .c
                .get_mut()
                .request(&0u64.to_le_bytes())
                .map_err(|e| got(Err::<(), _>(e), |()| 0)),
        }
    }
}

impl Peer for service::Server {
    fn act(&mut self, seq: u64) {
        let r = self.receive_timeout(GUARD).unwrap();
        self.respond(r.handle(), &seq.to_le_bytes()).unwrap();
    }
    fn hold(&mut self) -> ! {
        let r = self.receive_timeout(GUARD).unwrap();
        self.respond_with(r.handle(), 8, |_| held()).unwrap();
        unreachable!()
    }
}

impl Kind for Client {
    type Side = ClientSide;
    const LABEL: &'static str = "client";
    const PEER_CREATES: bool = true;
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        ClientSide {
            c: H::new(service_options().connect(name).unwrap()),
            pending: None,
        }
    }
    fn prime(s: &mut Self::Side) -> u64 {
        let p = s.c.get_mut().request(&0u64.to_le_bytes()).unwrap();
        s.pending = Some(p);
        p.id()
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(service_options().create_server(name).unwrap())
    }
    fn commit_unrung(name: &str, id: u64) {
        let (slot, head) = raw::connected_slot(name, id);
        let mut frame = head.to_vec();
        frame.extend_from_slice(&0u64.to_le_bytes());
        raw::put_frame(&format!("{name}.r{slot}"), &frame);
    }
    fn corrupt(name: &str) {
        let (slot, _) = raw::connected_slot(name, 0);
        raw::garbage_frame(&format!("{name}.r{slot}"));
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.c.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        let p = match s.outstanding() {
            Ok(p) => p,
            Err(g) => return g,
        };
        let r = s.c.get_mut().try_wait(p).map(|r| seq(&r));
        s.answered(p, r)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        let p = match s.outstanding() {
            Ok(p) => p,
            Err(g) => return g,
        };
        let r = s.c.get_mut().wait_timeout(p, timeout).map(|r| seq(&r));
        s.answered(p, r)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            let p = match s.outstanding() {
                Ok(p) => p,
                Err(g) => return g,
            };
            let r = s.c.wait(p).await.map(|r| seq(&r));
            s.answered(p, r)
        })
    }
}

struct AutoEvent;

impl Peer for Event {
    /// Sets the event once the previous set was taken (sets of an auto-reset event do not
    /// add up).
    fn act(&mut self, _: u64) {
        while self.is_set() {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.set().unwrap();
    }
    fn hold(&mut self) -> ! {
        unreachable!("an event has no half-done act")
    }
}

impl Kind for AutoEvent {
    type Side = Arc<H<Event>>;
    const LABEL: &'static str = "event";
    const ON_DEATH: Option<Expect> = None;
    const ON_CORRUPT: Option<Expect> = None;
    fn local(name: &str) -> Self::Side {
        Arc::new(H::new(Event::create(name, Reset::Auto).unwrap()))
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(Event::open(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::sync_word(name).store(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_ref().try_wait(), |()| 0)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_ref().wait_timeout(timeout), |()| 0)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.wait().await, |()| 0) })
    }
}

struct Sem;

impl Peer for Semaphore {
    fn act(&mut self, _: u64) {
        self.post().unwrap();
    }
    fn hold(&mut self) -> ! {
        unreachable!("a semaphore has no half-done act")
    }
}

impl Kind for Sem {
    type Side = Arc<H<Semaphore>>;
    const LABEL: &'static str = "semaphore";
    const ON_DEATH: Option<Expect> = None;
    const ON_CORRUPT: Option<Expect> = None;
    fn local(name: &str) -> Self::Side {
        Arc::new(H::new(Semaphore::create(name, 0, 16).unwrap()))
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(Semaphore::open(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::sync_word(name).fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        got(s.get_ref().try_wait(), |()| 0)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        got(s.get_ref().wait_timeout(timeout), |()| 0)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move { got(s.wait().await, |()| 0) })
    }
}

// ---------------------------------------------------------------------------------------
// Writing the segments by hand (layouts from the module docs: `channel/layout.rs`,
// `channel/broadcast/layout.rs`, `service/mod.rs`, `object.rs`).

mod raw {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

    use crate::util::raw_view;

    /// Object header: params[0..3] at 32, 40, 48.
    const PARAMS: usize = 32;
    /// Channel: producer line (write_pos), consumer line (read_pos), ring.
    const WRITE_POS: usize = 128;
    const READ_POS: usize = 256;
    const RING: usize = 384;
    /// Broadcast: the published count, the subscriber table (64-byte entries).
    const COUNT: usize = 128;
    const TABLE: usize = 384;
    /// Service: the epoch, the client table (8-byte role words).
    const EPOCH: usize = 72;
    const CLIENTS: usize = 384;

    fn u64_at(v: &shmkit::View, off: usize) -> &AtomicU64 {
        v.atomic_u64(off).unwrap()
    }

    /// The ring offset of the channel's read position (its capacity is params[0]).
    fn head(v: &shmkit::View) -> usize {
        let cap = u64_at(v, PARAMS).load(SeqCst);
        RING + (u64_at(v, READ_POS).load(SeqCst) & (cap - 1)) as usize
    }

    /// Publishes a frame holding `payload` at the channel's read position (as a producer's
    /// commit does), without ringing the doorbell.
    pub fn put_frame(name: &str, payload: &[u8]) {
        let mut v = raw_view(name);
        let at = head(&v);
        v.write_at(at + 8, payload).unwrap();
        u64_at(&v, at).store(payload.len() as u64 | 1 << 32, SeqCst);
    }

    /// A frame header no producer writes (kind 77) at the channel's read position.
    pub fn garbage_frame(name: &str) {
        let v = raw_view(name);
        u64_at(&v, head(&v)).store(77 << 32 | 8, SeqCst);
    }

    /// The consumer's position moved up to the producer's (everything released), without
    /// ringing the producer's doorbell.
    pub fn release_all(name: &str) {
        let v = raw_view(name);
        let w = u64_at(&v, WRITE_POS).load(SeqCst);
        u64_at(&v, READ_POS).store(w, SeqCst);
    }

    /// A read position no consumer writes: far ahead of the producer's.
    pub fn garbage_read_pos(name: &str) {
        u64_at(&raw_view(name), READ_POS).store(u64::MAX / 2, SeqCst);
    }

    /// (first slot, stride, index offset, slots) of a broadcast.
    fn geometry(v: &shmkit::View) -> (usize, usize, usize, u64) {
        let p = |i: usize| u64_at(v, PARAMS + 8 * i).load(SeqCst);
        let (slots, slot_size, subs) = (p(0), p(1) as usize, (p(2) & 0xffff_ffff) as usize);
        let stride = (16 + slot_size).next_multiple_of(64);
        let first = TABLE + subs * 64;
        (first, stride, first + slots as usize * stride, slots)
    }

    /// Publishes message `k` (the next one) of a broadcast by hand: 8 bytes `k`, its slot's
    /// stamp `stamp(k)`, its index entry, then the count; rings nothing.
    pub fn put_slot(name: &str, stamp: impl Fn(u64) -> u64) {
        let mut v = raw_view(name);
        let (first, stride, index, slots) = geometry(&v);
        let k = u64_at(&v, COUNT).load(SeqCst);
        let c = (k % slots) as usize;
        let at = first + c * stride;
        v.write_at(at + 16, &k.to_le_bytes()).unwrap();
        v.atomic_u32(at + 8).unwrap().store(8, SeqCst);
        u64_at(&v, at).store(stamp(k), SeqCst);
        u64_at(&v, index + c * 8).store(c as u64, SeqCst);
        u64_at(&v, COUNT).store(k + 1, SeqCst);
    }

    /// The one active subscriber of a broadcast has read everything (its next = the count),
    /// without ringing the publisher's doorbell.
    pub fn subscriber_caught_up(name: &str) {
        let v = raw_view(name);
        let (first, ..) = geometry(&v);
        let count = u64_at(&v, COUNT).load(SeqCst);
        let entry = (TABLE..first)
            .step_by(64)
            .find(|&e| u64_at(&v, e).load(SeqCst) & 0xff == 1)
            .expect("an active subscriber");
        u64_at(&v, entry + 8).store(count, SeqCst);
    }

    /// The slot of the one connected client of a service, and the 16 bytes a frame of
    /// request (or response) `id` starts with for it: id, epoch, generation.
    pub fn connected_slot(name: &str, id: u64) -> (usize, [u8; 16]) {
        let v = raw_view(name);
        let epoch = v.atomic_u32(EPOCH).unwrap().load(SeqCst);
        let (slot, word) = (0..16)
            .map(|i| (i, u64_at(&v, CLIENTS + 8 * i).load(SeqCst)))
            .find(|&(_, w)| w & 0xff == 1)
            .expect("a connected client");
        let gen = ((word >> 8) & 0xff_ffff) as u32;
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&id.to_le_bytes());
        head[8..12].copy_from_slice(&epoch.to_le_bytes());
        head[12..].copy_from_slice(&gen.to_le_bytes());
        (slot, head)
    }

    /// An event's "set" flag or a semaphore's count (offset 72 of a sync object).
    pub fn sync_word(name: &str) -> &'static AtomicU32 {
        // Leaked so the word outlives this call; a test makes a handful.
        let v: &'static shmkit::View = Box::leak(Box::new(raw_view(name)));
        v.atomic_u32(72).unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// The forms.

/// How a side is waited on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    /// The kind's blocking `_timeout` call.
    Blocking,
    /// A `WaitSet` of three members, the side in the middle.
    SetFew,
    /// A `WaitSet` of 201 members, the side at index 150: served by a helper thread.
    #[cfg(target_os = "linux")]
    SetMany,
    /// The blocking call, each time right after a 20 ms wait of a 201-member set on the
    /// same side (its helper may stay queued on the side's word).
    #[cfg(target_os = "linux")]
    BlockingAfterSet,
    /// `Async` on a current-thread tokio runtime.
    #[cfg(feature = "tokio")]
    Async,
}

/// Waits on a side in one `Form`, with what that needs (a set and its idle members, a
/// runtime).
struct Waiter {
    form: Form,
    set: WaitSet,
    idle: Vec<channel::Consumer>,
    _names: Vec<ServiceGuard>,
    #[cfg(feature = "tokio")]
    rt: Option<tokio::runtime::Runtime>,
}

impl Waiter {
    fn new(form: Form) -> Waiter {
        let idle_count = match form {
            Form::SetFew => 2,
            #[cfg(target_os = "linux")]
            Form::SetMany | Form::BlockingAfterSet => 200,
            _ => 0,
        };
        let names: Vec<ServiceGuard> = (0..idle_count)
            .map(|_| ServiceGuard::new("seams-idle"))
            .collect();
        let idle = names
            .iter()
            .map(|n| channel_options().create_consumer(n).unwrap())
            .collect();
        Waiter {
            form,
            set: WaitSet::new(),
            idle,
            _names: names,
            #[cfg(feature = "tokio")]
            rt: (form == Form::Async).then(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap()
            }),
        }
    }

    /// Where the side goes among the idle members.
    fn at(&self) -> usize {
        (self.idle.len() * 3 / 4).min(150)
    }

    /// One wait for the side, up to `timeout`: an item, an error, or `Timeout`.
    fn wait<K: Kind>(&mut self, s: &mut K::Side, timeout: Duration) -> Got {
        match self.form {
            Form::Blocking => K::block(s, timeout),
            Form::SetFew => self.in_set::<K>(s, timeout),
            #[cfg(target_os = "linux")]
            Form::SetMany => self.in_set::<K>(s, timeout),
            #[cfg(target_os = "linux")]
            Form::BlockingAfterSet => {
                let t = Duration::from_millis(20);
                match self.in_set::<K>(s, t) {
                    Got::Timeout => K::block(s, timeout),
                    g => g,
                }
            }
            #[cfg(feature = "tokio")]
            Form::Async => {
                let rt = self.rt.as_ref().unwrap();
                rt.block_on(async {
                    tokio::time::timeout(timeout, K::wait_async(s))
                        .await
                        .unwrap_or(Got::Timeout)
                })
            }
        }
    }

    /// Waits in the set; once the side is ready, takes with `try_`, which must not say
    /// `WouldBlock` (readiness agrees with the next `try_` call).
    fn in_set<K: Kind>(&mut self, s: &mut K::Side, timeout: Duration) -> Got {
        let at = self.at();
        let ready = {
            let side = K::member(s).expect("a wait set member");
            let mut members: Vec<&dyn Waitable> =
                self.idle.iter().map(|c| c as &dyn Waitable).collect();
            members.insert(at, side);
            match self.set.wait_timeout(&members, timeout) {
                Ok(r) => r.to_vec(),
                Err(e) => return got(Err::<(), _>(e), |()| 0),
            }
        };
        assert_eq!(ready, [at], "only the side under test can be ready");
        let g = K::take(s);
        assert_ne!(
            g,
            Got::WouldBlock,
            "{}: the wait set said ready, the next try_ said WouldBlock",
            K::LABEL
        );
        g
    }
}

// ---------------------------------------------------------------------------------------
// Measuring a wait.

/// This thread's CPU time (`None` where the tests do not measure it).
fn thread_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; the clock id is a constant every unix has.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (r == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A wait's outcome, when it ended, how long it took, and the CPU its thread used meanwhile.
#[derive(Debug)]
struct Timed {
    got: Got,
    at: Instant,
    wall: Duration,
    cpu: Option<Duration>,
}

fn timed(wait: impl FnOnce() -> Got) -> Timed {
    let (cpu0, t0) = (thread_cpu(), Instant::now());
    let got = wait();
    let at = Instant::now();
    Timed {
        got,
        at,
        wall: at - t0,
        cpu: thread_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a)),
    }
}

/// Runs `work` in a thread of its own while this thread runs `meanwhile`.
fn beside<T: Send, R>(work: impl FnOnce() -> T + Send, meanwhile: impl FnOnce() -> R) -> (T, R) {
    std::thread::scope(|s| {
        let t = s.spawn(work);
        let r = meanwhile();
        let done = t.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (done, r)
    })
}

/// The waiting thread did not spin: its CPU time is far below the wait's length.
fn no_busy_loop(t: &Timed, what: &str) {
    if let Some(cpu) = t.cpu.filter(|_| t.wall >= MIN_JUDGED) {
        assert!(
            cpu * 4 < t.wall,
            "{what}: the waiting thread used {cpu:?} of CPU in {:?} (a busy loop)",
            t.wall
        );
    }
}

/// The wait ended within `SOON` of `since`.
fn soon_after(t: &Timed, since: Instant, what: &str) {
    let late = t.at.saturating_duration_since(since);
    assert!(
        late <= SOON,
        "{what}: {:?} came {late:?} after (a lost wake-up?)",
        t.got
    );
}

/// `t` is what `expect` says, `since` the act it answers.
fn check(t: &Timed, expect: Expect, since: Instant, what: &str) {
    match expect {
        Expect::Gone => assert_eq!(t.got, Got::Gone, "{what}"),
        Expect::Item => assert!(matches!(t.got, Got::Item(_)), "{what}: {:?}", t.got),
        Expect::Corrupt => assert!(matches!(t.got, Got::Corrupt(_)), "{what}: {:?}", t.got),
        Expect::Silent => assert_eq!(t.got, Got::Timeout, "{what}"),
    }
    match expect {
        Expect::Silent => {}
        _ => soon_after(t, since, what),
    }
    no_busy_loop(t, what);
}

// ---------------------------------------------------------------------------------------
// A cell: the side, its peer process, the waiter.

/// The peer process; killed when dropped (a failing cell leaves no child behind).
struct PeerChild(Option<util::Child>);

impl PeerChild {
    fn line(&mut self, want: &str) {
        self.0.as_mut().expect("alive").wait_for_line(want);
    }

    /// SIGKILL (TerminateProcess on Windows); returns when it was sent.
    fn kill(&mut self) -> Instant {
        let at = Instant::now();
        self.0.take().expect("alive").kill();
        at
    }
}

impl Drop for PeerChild {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.kill();
        }
    }
}

struct Cell<K: Kind> {
    side: K::Side,
    peer: PeerChild,
    waiter: Waiter,
    token: u64,
    // Last: the names go once everything is closed.
    name: ServiceGuard,
}

impl<K: Kind> Cell<K> {
    /// Makes the side, starts its peer with `script`, and primes the side.
    fn start(form: Form, script: &[&str]) -> Cell<K> {
        let name = ServiceGuard::new(K::LABEL);
        let early = (!K::PEER_CREATES).then(|| K::local(&name));
        let mut args = vec![K::LABEL, &name];
        args.extend_from_slice(script);
        let mut peer = PeerChild(Some(util::spawn("seams_peer", &args)));
        peer.line("ready");
        let mut side = early.unwrap_or_else(|| K::local(&name));
        let token = K::prime(&mut side);
        Cell {
            side,
            peer,
            waiter: Waiter::new(form),
            token,
            name,
        }
    }

    /// One timed wait in a thread of its own, while this thread runs `meanwhile`.
    fn wait_beside<R>(
        &mut self,
        timeout: Duration,
        meanwhile: impl FnOnce(&mut PeerChild) -> R,
    ) -> (Timed, R) {
        let Cell {
            side, peer, waiter, ..
        } = self;
        beside(
            || timed(|| waiter.wait::<K>(side, timeout)),
            || meanwhile(peer),
        )
    }

    fn what(&self, scenario: &str) -> String {
        format!("{} / {scenario} / {:?}", K::LABEL, self.waiter.form)
    }
}

/// The peer child: args kind, name, script (`idle`; `act <ms> <count>`; `hold`; `stream`).
fn child_peer(a: &[String]) {
    let make = PEERS
        .iter()
        .find(|(label, _)| *label == a[0])
        .unwrap_or_else(|| panic!("no kind {:?}", a[0]))
        .1;
    let mut p = make(&a[1]);
    say("ready");
    match a[2].as_str() {
        "idle" => hang(),
        "act" => {
            std::thread::sleep(Duration::from_millis(a[3].parse().unwrap()));
            for seq in 0..a[4].parse().unwrap() {
                p.act(seq);
            }
            say("sent");
            hang()
        }
        "hold" => p.hold(),
        "stream" => {
            for seq in 0.. {
                p.act(seq);
                if seq % 8 == 7 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        s => panic!("no script {s:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios.

fn pause_ms() -> String {
    PAUSE.as_millis().to_string()
}

/// The peer acts once after a pause: delivered soon, no busy loop meanwhile. Then the peer is
/// killed while the side waits: reported as the kind says.
fn delivers_then_death<K: Kind>(form: Form) {
    let mut c = Cell::<K>::start(form, &["act", &pause_ms(), "1"]);
    let what = c.what("delivery");
    let (t, sent) = c.wait_beside(GUARD, |p| {
        p.line("sent");
        Instant::now()
    });
    assert_eq!(t.got, Got::Item(0), "{what}");
    soon_after(&t, sent, &what);
    no_busy_loop(&t, &what);
    if let Some(expect) = K::ON_DEATH {
        let what = c.what("death after a delivery");
        let (t, killed) = c.wait_beside(expect.timeout(), |p| {
            std::thread::sleep(PAUSE);
            p.kill()
        });
        check(&t, expect, killed, &what);
    }
}

/// The peer is killed half-way through an act: reported as the kind says.
fn killed_holding<K: Kind>(form: Form) {
    let expect = K::ON_DEATH.expect("a kind with a peer");
    let mut c = Cell::<K>::start(form, &["hold"]);
    c.peer.line("held");
    let what = c.what("killed holding");
    let (t, killed) = c.wait_beside(expect.timeout(), |p| {
        std::thread::sleep(PAUSE);
        p.kill()
    });
    check(&t, expect, killed, &what);
}

/// A small deterministic generator (xorshift), seeded from the clock; failures print the seed.
fn random_below(n: u64) -> (u64, u64) {
    let mut x = Instant::now().elapsed().as_nanos() as u64 ^ u64::from(std::process::id()) | 1;
    let seed = x;
    for _ in 0..3 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    (x % n, seed)
}

/// The peer streams items and is killed at a random point: the items come in order, then the
/// death is reported as the kind says.
fn killed_mid_stream<K: Kind>(form: Form) {
    let expect = K::ON_DEATH.expect("a kind with a peer");
    let mut c = Cell::<K>::start(form, &["stream"]);
    let (ms, seed) = random_below(350);
    let what = format!(
        "{} (kill after {}+50 ms, seed {seed})",
        c.what("mid-stream"),
        ms
    );
    let Cell {
        side, peer, waiter, ..
    } = &mut c;
    let ((n, t), killed) = beside(
        || {
            // A publisher that makes the channel may publish before this side joins: the
            // first item sets the count.
            let (mut n, mut next) = (0u64, None);
            loop {
                let t = timed(|| waiter.wait::<K>(side, expect.timeout()));
                match t.got {
                    Got::Item(i) => {
                        let want = *next.get_or_insert(if K::PEER_CREATES { i } else { 0 });
                        assert_eq!(i, want, "{what}: items out of order");
                        next = Some(i + 1);
                        n += 1;
                    }
                    _ => return (n, t),
                }
            }
        },
        || {
            std::thread::sleep(Duration::from_millis(50 + ms));
            peer.kill()
        },
    );
    check(&t, expect, killed, &format!("{what}, after {n} items"));
}

/// An item committed by hand with no wake-up (a peer killed between its commit and its
/// wake-up): seen within a liveness slice.
fn commit_never_rung<K: Kind>(form: Form) {
    let mut c = Cell::<K>::start(form, &["idle"]);
    let (name, token) = (c.name.to_string(), c.token);
    let what = c.what("commit never rung");
    let (t, committed) = c.wait_beside(GUARD, |_| {
        std::thread::sleep(PAUSE);
        K::commit_unrung(&name, token);
        Instant::now()
    });
    assert_eq!(t.got, Got::Item(0), "{what}");
    soon_after(&t, committed, &what);
}

/// Garbage written where the side looks next, while it waits: reported, or skipped without
/// a busy loop, as the kind says.
fn hostile_writer<K: Kind>(form: Form) {
    let expect = K::ON_CORRUPT.expect("a kind with a hostile-writer cell");
    let mut c = Cell::<K>::start(form, &["idle"]);
    let name = c.name.to_string();
    let what = c.what("hostile writer");
    let (t, written) = c.wait_beside(expect.timeout(), |_| {
        std::thread::sleep(PAUSE);
        K::corrupt(&name);
        Instant::now()
    });
    check(&t, expect, written, &what);
}

/// Two threads wait on one handle; the peer acts twice: each thread gets one item.
fn two_threads<K: Kind>(form: Form)
where
    K::Side: Clone,
{
    let mut c = Cell::<K>::start(form, &["act", &pause_ms(), "2"]);
    let what = c.what("two threads");
    let mut other = (c.side.clone(), Waiter::new(form));
    let Cell {
        side, peer, waiter, ..
    } = &mut c;
    let ((a, b), sent) = beside(
        || {
            beside(
                || timed(|| waiter.wait::<K>(side, GUARD)),
                || timed(|| other.1.wait::<K>(&mut other.0, GUARD)),
            )
        },
        || {
            peer.line("sent");
            Instant::now()
        },
    );
    for t in [a, b] {
        assert_eq!(t.got, Got::Item(0), "{what}");
        soon_after(&t, sent, &what);
        no_busy_loop(&t, &what);
    }
}

// ---------------------------------------------------------------------------------------
// The matrix.

/// One test per form listed: `blocking`, `set_few`, `set_many` and `blocking_after_set`
/// (Linux: more members than one `futex_waitv` takes), `async_await` (feature `tokio`).
macro_rules! form_test {
    (blocking, $scenario:ident, $kind:ident) => {
        #[test]
        fn blocking() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::Blocking)
        }
    };
    (set_few, $scenario:ident, $kind:ident) => {
        #[test]
        fn set_few() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::SetFew)
        }
    };
    (set_many, $scenario:ident, $kind:ident) => {
        #[cfg(target_os = "linux")]
        #[test]
        fn set_many() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::SetMany)
        }
    };
    (blocking_after_set, $scenario:ident, $kind:ident) => {
        #[cfg(target_os = "linux")]
        #[test]
        fn blocking_after_set() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::BlockingAfterSet)
        }
    };
    (async_await, $scenario:ident, $kind:ident) => {
        #[cfg(feature = "tokio")]
        #[test]
        fn async_await() {
            crate::seams::$scenario::<crate::seams::$kind>(crate::seams::Form::Async)
        }
    };
}

/// `kind_module: KindType { scenario: [forms], … }`, and the peer table of the child.
macro_rules! matrix {
    ($($module:ident: $kind:ident { $($scenario:ident: [$($form:ident),*]),* $(,)? })*) => {
        $(
            mod $module {
                $(
                    mod $scenario {
                        $( form_test!($form, $scenario, $kind); )*
                    }
                )*
            }
        )*

        /// Every kind's peer, by label.
        const PEERS: &[(&str, fn(&str) -> Box<dyn Peer>)] = &[$(($kind::LABEL, $kind::peer)),*];
    };
}

matrix! {
    consumer: ChannelConsumer {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        killed_holding: [blocking, set_few, async_await],
        killed_mid_stream: [blocking, set_many, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        hostile_writer: [blocking, set_few, set_many, async_await],
    }
    producer: ChannelProducer {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        killed_holding: [blocking, set_few, async_await],
        killed_mid_stream: [blocking, set_many, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        hostile_writer: [blocking, set_few, set_many, async_await],
    }
    subscriber: Subscriber {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        killed_holding: [blocking, set_few, async_await],
        killed_mid_stream: [blocking, set_many, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        hostile_writer: [blocking, set_few, set_many, async_await],
    }
    publisher: Publisher {
        delivers_then_death: [blocking, async_await],
        killed_holding: [blocking, async_await],
        commit_never_rung: [blocking, async_await],
    }
    typed_consumer: TypedConsumer {
        delivers_then_death: [blocking, set_few, async_await],
        killed_holding: [blocking],
        commit_never_rung: [set_many],
        hostile_writer: [set_few],
    }
    typed_subscriber: TypedSubscriber {
        delivers_then_death: [blocking, set_few, async_await],
        killed_holding: [blocking],
        commit_never_rung: [set_many],
        hostile_writer: [set_few],
    }
    server: Server {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        killed_holding: [blocking, set_few, async_await],
        killed_mid_stream: [blocking, set_many, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        hostile_writer: [blocking, set_few, set_many, async_await],
    }
    client: Client {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        killed_holding: [blocking, set_few, async_await],
        killed_mid_stream: [blocking, set_many, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        hostile_writer: [blocking, set_few, set_many, async_await],
    }
    event: AutoEvent {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        two_threads: [blocking, set_few, set_many, async_await],
    }
    semaphore: Sem {
        delivers_then_death: [blocking, set_few, set_many, blocking_after_set, async_await],
        commit_never_rung: [blocking, set_few, set_many, async_await],
        two_threads: [blocking, set_few, set_many, async_await],
    }
}
