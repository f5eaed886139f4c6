//! The table of kinds: for each waitable, this process's side, its peer process, and the calls
//! the forms use. What differs between kinds is written here once; what a kind shares with
//! its siblings (the calls of a receiving side, of a sending side, of a peer that sends or
//! receives) comes from the macros below.

use std::sync::Arc;
use std::time::Duration;

use shmkit::channel::{self, broadcast, WaitStrategy};
use shmkit::service::{self, Pending};
use shmkit::sync::{Event, Reset, Semaphore};
use shmkit::Waitable;

use super::{got, raw, seq, Expect, Got, GUARD};
use crate::util::say;

#[cfg(feature = "tokio")]
pub use shmkit::aio::Async as H;

/// The handle wrapper: `Async` with the `tokio` feature (its `get_ref`/`get_mut` reach the
/// synchronous calls), a plain box of the same shape without.
#[cfg(not(feature = "tokio"))]
pub struct H<T>(T);

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

/// A future of an async wait.
#[cfg(feature = "tokio")]
pub type Wait<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Got> + 'a>>;

/// One waitable kind: this process's side, its peer process, and the calls the forms use.
pub trait Kind {
    /// This process's side, with whatever it keeps between calls.
    type Side: Send;
    /// The kind's name in the peer child's arguments.
    const LABEL: &'static str;
    /// Whether the peer makes the object (then this side opens it once the peer is ready).
    const PEER_CREATES: bool = false;
    /// What the side reports once its peer is killed; `None`: it has no peer role.
    const ON_DEATH: Option<Expect>;
    /// What the side reports after `corrupt`; `None`: no hostile-writer cell.
    const ON_CORRUPT: Option<Expect> = None;
    /// Whether the side may report `Lagged` (a subscriber under the overwrite policy).
    const LAGS: bool = false;

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
pub trait Peer {
    /// Act `seq`: send message `seq`, take one (making room), answer a request with `seq`,
    /// set, post.
    fn act(&mut self, seq: u64);
    /// Half an act, never finished (a loan not committed, a sample held): says "held" and
    /// hangs until killed.
    fn hold(&mut self) -> !;
}

/// How the child makes a kind's peer.
pub type MakePeer = fn(&str) -> Box<dyn Peer>;

/// Hangs until killed (the parent kills every peer; the exit is a guard).
pub fn hang() -> ! {
    std::thread::sleep(Duration::from_secs(300));
    std::process::exit(3)
}

fn held() -> ! {
    say("held");
    hang()
}

fn channel_options() -> channel::Options {
    let mut o = channel::options();
    o.capacity(super::CAP).wait_strategy(WaitStrategy::Blocking);
    o
}

/// An idle channel consumer (a wait set's other members).
pub fn idle_consumer(name: &str) -> channel::Consumer {
    channel_options().create_consumer(name).unwrap()
}

fn broadcast_options() -> broadcast::Options {
    broadcast_with(broadcast::Policy::Block)
}

fn broadcast_with(policy: broadcast::Policy) -> broadcast::Options {
    let mut o = broadcast::options();
    o.slots(4)
        .slot_size(64)
        .max_subscribers(4)
        .policy(policy)
        .wait_strategy(WaitStrategy::Blocking);
    o
}

fn typed_channel() -> channel::typed::Options<u64> {
    let mut o = channel::typed::<u64>();
    o.capacity(super::CAP).wait_strategy(WaitStrategy::Blocking);
    o
}

fn typed_broadcast() -> broadcast::typed::Options<u64> {
    let mut o = broadcast::typed::<u64>();
    o.slots(4)
        .max_subscribers(4)
        .policy(broadcast::Policy::Block)
        .wait_strategy(WaitStrategy::Blocking);
    o
}

fn service_options() -> service::Options {
    let mut o = crate::service::options();
    o.wait_strategy(WaitStrategy::Blocking);
    o
}

/// The calls of a side that receives (`H<_>` of a consumer, subscriber, event or semaphore):
/// `$get` reaches the handle, `$try`/`$timeout`/`$await` are its three forms, and `$item`
/// turns what they return into the item's number.
macro_rules! receiving {
    ($get:ident, $try:ident, $timeout:ident, $await:ident, $item:expr) => {
        fn member(s: &Self::Side) -> Option<&dyn Waitable> {
            Some(s.get_ref())
        }
        fn take(s: &mut Self::Side) -> Got {
            got(s.$get().$try(), $item)
        }
        fn block(s: &mut Self::Side, timeout: Duration) -> Got {
            got(s.$get().$timeout(timeout), $item)
        }
        #[cfg(feature = "tokio")]
        fn wait_async(s: &mut Self::Side) -> Wait<'_> {
            Box::pin(async move { got(s.$await().await, $item) })
        }
    };
}

/// A sender's side: the handle and how many items it sent since `prime`.
pub type Sending<T> = (H<T>, u64);

/// Counts a send of item `s.1`.
fn sent<T>(s: &mut Sending<T>, r: shmkit::Result<()>) -> Got {
    let g = got(r, |()| s.1);
    if let Got::Item(_) = g {
        s.1 += 1;
    }
    g
}

/// The calls of a side that sends (a producer, a publisher): the item is room for the next
/// 8-byte message, numbered by the side's count. `prime` fills the ring, so that the side
/// waits for its peer to make room.
macro_rules! sending {
    () => {
        fn prime(s: &mut Self::Side) -> u64 {
            while s.0.get_mut().try_send(&[0xee; 8]).is_ok() {}
            0
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
    };
}

/// Peers that send: act `seq` sends `$msg(seq)`; half an act is a loan `loan($arg)`.
macro_rules! sending_peers {
    ($($handle:ty: $msg:expr, ($($arg:expr)?);)*) => {$(
        impl Peer for $handle {
            fn act(&mut self, seq: u64) {
                self.send_timeout(&$msg(seq), GUARD).unwrap();
            }
            fn hold(&mut self) -> ! {
                let _loan = self.loan($($arg)?).unwrap();
                held()
            }
        }
    )*};
}

sending_peers! {
    channel::Producer: u64::to_le_bytes, (8);
    broadcast::Publisher: u64::to_le_bytes, (8);
    channel::typed::Producer<u64>: std::convert::identity, ();
    broadcast::typed::Publisher<u64>: std::convert::identity, ();
}

/// Peers that receive: act takes one message (making room); half an act holds it.
macro_rules! receiving_peers {
    ($($handle:ty),*) => {$(
        impl Peer for $handle {
            fn act(&mut self, _: u64) {
                drop(self.recv_timeout(GUARD).unwrap());
            }
            fn hold(&mut self) -> ! {
                let _sample = self.recv_timeout(GUARD).unwrap();
                held()
            }
        }
    )*};
}

receiving_peers!(channel::Consumer, broadcast::Subscriber);

pub struct ChannelConsumer;

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
    receiving!(get_mut, try_recv, recv_timeout, recv, |m| seq(&m));
}

pub struct ChannelProducer;

impl Kind for ChannelProducer {
    type Side = Sending<channel::Producer>;
    const LABEL: &'static str = "producer";
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        (H::new(channel_options().create_producer(name).unwrap()), 0)
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
    sending!();
}

/// A subscriber under back-pressure (`Block`) or overwrite (`Overwrite`, which may lag).
pub struct Subscriber<const OVERWRITE: bool>;

impl<const OVERWRITE: bool> Subscriber<OVERWRITE> {
    fn options() -> broadcast::Options {
        broadcast_with(if OVERWRITE {
            broadcast::Policy::Overwrite
        } else {
            broadcast::Policy::Block
        })
    }
}

impl<const OVERWRITE: bool> Kind for Subscriber<OVERWRITE> {
    type Side = H<broadcast::Subscriber>;
    const LABEL: &'static str = if OVERWRITE {
        "overwrite_subscriber"
    } else {
        "subscriber"
    };
    const LAGS: bool = OVERWRITE;
    const PEER_CREATES: bool = true;
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(Self::options().open_subscriber(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(Self::options().create_publisher(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_slot(name, |k| 2 * k + 2);
    }
    fn corrupt(name: &str) {
        raw::put_slot(name, |_| 1 << 62);
    }
    receiving!(get_mut, try_recv, recv_timeout, recv, |m| seq(&m));
}

pub type BlockSubscriber = Subscriber<false>;
pub type OverwriteSubscriber = Subscriber<true>;

pub struct Publisher;

impl Kind for Publisher {
    type Side = Sending<broadcast::Publisher>;
    const LABEL: &'static str = "publisher";
    // The dead subscriber is evicted: room.
    const ON_DEATH: Option<Expect> = Some(Expect::Item);
    fn local(name: &str) -> Self::Side {
        (
            H::new(broadcast_options().create_publisher(name).unwrap()),
            0,
        )
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(broadcast_options().open_subscriber(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::subscriber_caught_up(name);
    }
    fn member(_: &Self::Side) -> Option<&dyn Waitable> {
        None
    }
    sending!();
}

pub struct TypedConsumer;

impl Kind for TypedConsumer {
    type Side = H<channel::typed::Consumer<u64>>;
    const LABEL: &'static str = "typed_consumer";
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(typed_channel().create_consumer(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(typed_channel().open_producer(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_frame(name, &0u64.to_le_bytes());
    }
    fn corrupt(name: &str) {
        raw::garbage_frame(name);
    }
    receiving!(get_mut, try_recv_copy, recv_copy_timeout, recv_copy, |v| v);
}

pub struct TypedSubscriber;

impl Kind for TypedSubscriber {
    type Side = H<broadcast::typed::Subscriber<u64>>;
    const LABEL: &'static str = "typed_subscriber";
    const PEER_CREATES: bool = true;
    const ON_DEATH: Option<Expect> = Some(Expect::Gone);
    const ON_CORRUPT: Option<Expect> = Some(Expect::Corrupt);
    fn local(name: &str) -> Self::Side {
        H::new(typed_broadcast().open_subscriber(name).unwrap())
    }
    fn peer(name: &str) -> Box<dyn Peer> {
        Box::new(typed_broadcast().create_publisher(name).unwrap())
    }
    fn commit_unrung(name: &str, _: u64) {
        raw::put_slot(name, |k| 2 * k + 2);
    }
    fn corrupt(name: &str) {
        raw::put_slot(name, |_| 1 << 62);
    }
    receiving!(get_mut, try_recv_copy, recv_copy_timeout, recv_copy, |v| v);
}

pub struct Server;

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

/// A request frame of the one connected client, carrying 0, written into `ring` (`q`: its
/// requests, `r`: its responses) of service `name`.
fn put_service_frame(name: &str, ring: char, id: u64) {
    let (slot, head) = raw::connected_slot(name, id);
    let mut frame = head.to_vec();
    frame.extend_from_slice(&0u64.to_le_bytes());
    raw::put_frame(&format!("{name}.{ring}{slot}"), &frame);
}

/// A garbage frame header in `ring` of the one connected client of service `name`.
fn garbage_service_frame(name: &str, ring: char) {
    let (slot, _) = raw::connected_slot(name, 0);
    raw::garbage_frame(&format!("{name}.{ring}{slot}"));
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
        Box::new(ClientPeer(
            service_options().open_client(name).unwrap(),
            None,
        ))
    }
    fn commit_unrung(name: &str, _: u64) {
        put_service_frame(name, 'q', 0);
    }
    fn corrupt(name: &str) {
        garbage_service_frame(name, 'q');
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        let r = s.get_mut().try_recv();
        served(s, r)
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        let r = s.get_mut().recv_timeout(timeout);
        served(s, r)
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            let r = s.recv().await;
            served(s, r)
        })
    }
}

pub struct Client;

/// A client and its outstanding request (one at a time: each answer sends the next).
pub struct ClientSide {
    c: H<service::Client>,
    pending: Option<Pending>,
}

impl ClientSide {
    /// What waiting for `p` said (`r`); sends the next request after an answer.
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
        let r = self.recv_timeout(GUARD).unwrap();
        self.respond(r.handle(), &seq.to_le_bytes()).unwrap();
    }
    fn hold(&mut self) -> ! {
        let r = self.recv_timeout(GUARD).unwrap();
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
            c: H::new(service_options().open_client(name).unwrap()),
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
        put_service_frame(name, 'r', id);
    }
    fn corrupt(name: &str) {
        garbage_service_frame(name, 'r');
    }
    fn member(s: &Self::Side) -> Option<&dyn Waitable> {
        Some(s.c.get_ref())
    }
    fn take(s: &mut Self::Side) -> Got {
        match s.outstanding() {
            Ok(p) => {
                let r = s.c.get_mut().try_wait(p).map(|r| seq(&r));
                s.answered(p, r)
            }
            Err(g) => g,
        }
    }
    fn block(s: &mut Self::Side, timeout: Duration) -> Got {
        match s.outstanding() {
            Ok(p) => {
                let r = s.c.get_mut().wait_timeout(p, timeout).map(|r| seq(&r));
                s.answered(p, r)
            }
            Err(g) => g,
        }
    }
    #[cfg(feature = "tokio")]
    fn wait_async(s: &mut Self::Side) -> Wait<'_> {
        Box::pin(async move {
            match s.outstanding() {
                Ok(p) => {
                    let r = s.c.wait(p).await.map(|r| seq(&r));
                    s.answered(p, r)
                }
                Err(g) => g,
            }
        })
    }
}

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

impl Peer for Semaphore {
    fn act(&mut self, _: u64) {
        self.post().unwrap();
    }
    fn hold(&mut self) -> ! {
        unreachable!("a semaphore has no half-done act")
    }
}

/// Events and semaphores: shared by `Arc` (their calls take `&self`), no peer role; a set or
/// post is a store to the state word, then a wake.
macro_rules! sync_kinds {
    ($($kind:ident: $handle:ident, $label:literal, $create:expr;)*) => {$(
        pub struct $kind;

        impl Kind for $kind {
            type Side = Arc<H<$handle>>;
            const LABEL: &'static str = $label;
            const ON_DEATH: Option<Expect> = None;
            fn local(name: &str) -> Self::Side {
                Arc::new(H::new($create(name).unwrap()))
            }
            fn peer(name: &str) -> Box<dyn Peer> {
                Box::new($handle::open(name).unwrap())
            }
            fn commit_unrung(name: &str, _: u64) {
                raw::sync_word_add(name, 1);
            }
            receiving!(get_ref, try_wait, wait_timeout, wait, |()| 0);
        }
    )*};
}

sync_kinds! {
    AutoEvent: Event, "event", |n| Event::create(n, Reset::Auto);
    Sem: Semaphore, "semaphore", |n| Semaphore::create(n, 0, 16);
}
