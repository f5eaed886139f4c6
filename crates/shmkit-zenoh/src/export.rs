//! The exporter: a local broadcast subscriber or channel consumer, forwarding to a Zenoh key.
//!
//! Besides the data, an exporter tells importers where its stream has got to (its *tail*:
//! one past the last message it took, see `wire.rs`), so that an importer that missed the
//! end of a stream (killed, and restarted after the last message; the last messages lost on
//! the way) learns of the gap although no later message shows it: it answers a query on
//! `<key>/@shmkit/tail/<stream>` (asked by each importer when the exporter's liveliness token
//! appears to it), puts its tail there every [`TAIL_EVERY`] while it puts no data, and once
//! more when it stops. All come from the exporter's thread, after the data put before them,
//! on the same Zenoh session, so an importer meets them in order with the data.
//!
//! Who counts what under `Drop`: the exporter counts in `messages` what it put and in
//! `dropped` what it took while no Zenoh subscriber matched its key (never put); an importer
//! counts every message of the stream after its starting point that it did not publish as
//! `lost` (it never arrived: dropped by the exporter, by Zenoh, or sent to a killed
//! predecessor) or `dropped` (no room or no subscriber locally). So an exporter's `dropped`
//! are among its importers' `lost`, and the two are never added.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use shmkit::channel::{self, broadcast};
use zenoh::bytes::ZBytes;
use zenoh::handlers::RingChannelHandler;
use zenoh::qos::CongestionControl;
use zenoh::query::{Query, Queryable};
use zenoh::{Session, Wait};

use crate::stats::Counters;
use crate::wire::{self, Ack, Data, Tail};
use crate::{pause, Bridge, Congestion, Error, Result, TICK};

/// The local side an exporter forwards: a broadcast (it joins as one more subscriber) or an
/// SPSC channel (it is the consumer). Give a name, or a side already open (its name is used
/// to attach to a new one when the local publisher or producer dies).
#[derive(Debug)]
pub enum Source {
    /// A broadcast, by name, and the subscriber if already joined.
    Broadcast(String, Option<broadcast::Subscriber>),
    /// An SPSC channel, by name, and the consumer if already open.
    Channel(String, Option<channel::Consumer>),
}

impl Source {
    /// The broadcast `name` (joined when the bridge starts).
    pub fn broadcast(name: &str) -> Source {
        Source::Broadcast(name.to_owned(), None)
    }

    /// The SPSC channel `name` (its consumer side, opened when the bridge starts).
    pub fn channel(name: &str) -> Source {
        Source::Channel(name.to_owned(), None)
    }

    fn name(&self) -> &str {
        match self {
            Source::Broadcast(n, _) | Source::Channel(n, _) => n,
        }
    }
}

impl From<broadcast::Subscriber> for Source {
    fn from(s: broadcast::Subscriber) -> Source {
        Source::Broadcast(s.name().to_owned(), Some(s))
    }
}

impl From<channel::Consumer> for Source {
    fn from(c: channel::Consumer) -> Source {
        Source::Channel(c.name().to_owned(), Some(c))
    }
}

/// How an exporter forwards; see [`export`].
#[derive(Clone, Debug)]
pub struct ExportOptions {
    congestion: Congestion,
    window: usize,
    window_bytes: usize,
    max_message: Option<usize>,
    forget_after: Duration,
    express: bool,
}

impl Default for ExportOptions {
    /// `Block`, a window of 1024 messages or 64 MiB, no maximum beyond the local side's,
    /// importers forgotten after 60 s of silence, Zenoh batching on.
    fn default() -> Self {
        ExportOptions {
            congestion: Congestion::Block,
            window: 1024,
            window_bytes: 64 << 20,
            max_message: None,
            forget_after: Duration::from_secs(60),
            express: false,
        }
    }
}

impl ExportOptions {
    /// `Block` (reliable, the default) or `Drop`.
    pub fn congestion(&mut self, c: Congestion) -> &mut Self {
        self.congestion = c;
        self
    }

    /// Under `Block`, the most messages sent and not yet acknowledged by every importer
    /// (default 1024); when reached, the exporter stops taking local messages.
    pub fn window(&mut self, messages: usize) -> &mut Self {
        self.window = messages.max(1);
        self
    }

    /// The same limit in bytes (default 64 MiB). A single message larger than this is still
    /// sent, alone in the window.
    pub fn window_bytes(&mut self, bytes: usize) -> &mut Self {
        self.window_bytes = bytes.max(1);
        self
    }

    /// The largest message forwarded; a larger local message is refused (counted, reported,
    /// skipped), never truncated. Default: whatever the local side carries.
    pub fn max_message(&mut self, bytes: usize) -> &mut Self {
        self.max_message = Some(bytes);
        self
    }

    /// Under `Block`, how long an importer may stay silent (no acknowledgement) before the
    /// exporter stops keeping messages for it (default 60 s). A killed importer that comes
    /// back within this time loses nothing.
    pub fn forget_after(&mut self, d: Duration) -> &mut Self {
        // Shorter than a few heartbeats (200 ms) would forget live importers.
        self.forget_after = d.max(Duration::from_secs(1));
        self
    }

    /// Zenoh's `express`: send each sample at once instead of batching (lower latency for
    /// small messages, lower throughput). Default off.
    pub fn express(&mut self, on: bool) -> &mut Self {
        self.express = on;
        self
    }
}

/// Forwards every message of the local `source` to the Zenoh key `key`, on a thread of its
/// own, until the returned [`Bridge`] is stopped or dropped.
///
/// A local side that does not exist yet is waited for (every 100 ms); when it dies later
/// (its publisher or producer gone), the bridge waits for a new one of the same name and
/// counts a [local restart](crate::Stats::local_restarts).
///
/// # Errors
///
/// [`Error::Invalid`] for a key that is not a concrete Zenoh key (no wildcards); the
/// shmkit error of opening the local side (but `NotFound`: then it is waited for);
/// [`Error::Zenoh`] if a declaration fails.
pub fn export(
    session: &Session,
    key: &str,
    source: impl Into<Source>,
    options: &ExportOptions,
) -> Result<Bridge> {
    let source = source.into();
    let ke = zenoh::key_expr::KeyExpr::try_from(key.to_owned())
        .map_err(|e| Error::Invalid(format!("{key:?} is not a Zenoh key expression: {e}")))?;
    if ke.is_wild() {
        return Err(Error::Invalid(format!(
            "{key:?}: an exporter puts on one key; wildcards are for importers"
        )));
    }
    let name = source.name().to_owned();
    let channel = matches!(source, Source::Channel(..));
    // A local side that is not there yet is waited for, as one that dies later is.
    let local = match source {
        Source::Broadcast(_, Some(s)) => Some(Local::Broadcast(s)),
        Source::Channel(_, Some(c)) => Some(Local::Channel(c)),
        Source::Broadcast(..) | Source::Channel(..) => match open(&name, channel) {
            Ok(l) => Some(l),
            Err(shmkit::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let mut ex = Exporter::declare(session, key, options)?;
    let mut local = local;
    Bridge::spawn(format!("export {name}"), move |stop, counters| {
        ex.run(&name, channel, &mut local, stop, counters)
    })
}

/// Opens the local side `name`: the consumer of a channel, or a new subscriber of a broadcast.
fn open(name: &str, channel: bool) -> shmkit::Result<Local> {
    Ok(match channel {
        true => Local::Channel(channel::options().open_consumer(name)?),
        false => Local::Broadcast(broadcast::options().open_subscriber(name)?),
    })
}

/// The local side, open.
enum Local {
    Broadcast(broadcast::Subscriber),
    Channel(channel::Consumer),
}

impl Local {
    /// The copy-out receive (a local writer outside the protocol can only make the copy
    /// wrong).
    fn recv(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> shmkit::Result<usize> {
        match self {
            Local::Broadcast(s) => s.recv_into_timeout(buf, timeout),
            Local::Channel(c) => c.recv_into_timeout(buf, timeout),
        }
    }

    fn fingerprint(&self) -> u64 {
        let layout = match self {
            Local::Broadcast(s) => s.message_layout(),
            Local::Channel(c) => c.message_layout(),
        };
        layout.ok().flatten().map_or(0, |l| l.fingerprint())
    }
}

/// The most acknowledgements waiting to be read.
const ACKS: usize = 4096;

/// Acknowledgements from Zenoh's callback to the exporter's thread.
#[derive(Default)]
struct Acks {
    /// The acknowledgements, how many bad ones came, and whether the exporter waits (a push
    /// wakes it only then).
    queue: Mutex<(VecDeque<Ack>, u64, bool)>,
    wake: Condvar,
}

impl Acks {
    /// Adds an acknowledgement (`Err`: a control sample that is not one, counted).
    fn push(&self, a: std::result::Result<Ack, ()>) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match a {
            Ok(a) => {
                if q.0.len() >= ACKS {
                    q.0.pop_front();
                }
                q.0.push_back(a);
            }
            Err(()) => q.1 += 1,
        }
        let wake = std::mem::take(&mut q.2);
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The acknowledgements that came (waiting at most `d` for one), and how many bad ones.
    fn take(&self, d: Duration) -> (VecDeque<Ack>, u64) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.0.is_empty() && q.1 == 0 && !d.is_zero() {
            q.2 = true;
            q = self
                .wake
                .wait_timeout(q, d)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.2 = false;
        }
        let bad = std::mem::take(&mut q.1);
        (std::mem::take(&mut q.0), bad)
    }
}

/// An importer the exporter has heard from.
struct Peer {
    /// The first message it has not delivered.
    next: u64,
    heard: Instant,
    /// When `next` last moved (or the importer said it was busy).
    moved: Instant,
}

/// An importer that acknowledges no progress for this long, while more was sent and it is
/// not busy, gets the last message sent again: what it misses was lost on the way (Zenoh drops
/// what it could not queue within its own block timeout, and a gap at the end of a stream shows
/// no later message), and that probe shows it the gap, for which it asks.
const RESEND_AFTER: Duration = Duration::from_secs(1);

/// While it puts no data, an exporter puts its tail this often (once it has taken a message).
const TAIL_EVERY: Duration = Duration::from_secs(1);

/// Tail queries waiting for the exporter's thread (beyond, the oldest go unanswered: the
/// importer then learns the tail from the next periodic one).
const TAIL_QUERIES: usize = 64;

/// The exporter's Zenoh side and stream state.
struct Exporter {
    key: String,
    opts: ExportOptions,
    block: bool,
    stream: u64,
    publisher: zenoh::pubsub::Publisher<'static>,
    /// Acknowledgements, decoded by Zenoh's callback (which never blocks: see the importer's
    /// `Inbox`), at most [`ACKS`] (the oldest go first: each says all an older one said).
    acks: Arc<Acks>,
    _ack_sub: zenoh::pubsub::Subscriber<()>,
    /// Whether any Zenoh subscriber matches the key (Drop: else the message is dropped).
    matching: Arc<AtomicBool>,
    _listener: zenoh::matching::MatchingListener<()>,
    _token: zenoh::liveliness::LivelinessToken,
    /// The tail: put on this publisher while idle, and answered to queries (taken from a
    /// ring, so Zenoh's callback never blocks) by the exporter's thread.
    tail: zenoh::pubsub::Publisher<'static>,
    tail_queries: Queryable<RingChannelHandler<Query>>,
    /// When data or the tail was last put.
    last_put: Instant,
    /// Block: messages sent (or to send) and not yet acknowledged by every importer, with
    /// `window.front()` being message `base`.
    window: VecDeque<ZBytes>,
    window_len: usize,
    base: u64,
    /// The next message to put: `base + window.len()` unless resending.
    cursor: u64,
    /// One past the highest message ever put.
    sent: u64,
    peers: HashMap<u64, Peer>,
    fingerprint: u64,
}

impl Exporter {
    fn declare(session: &Session, key: &str, opts: &ExportOptions) -> Result<Exporter> {
        let block = opts.congestion == Congestion::Block;
        let stream = wire::random_id();
        let publisher = session
            .declare_publisher(key.to_owned())
            .congestion_control(if block {
                CongestionControl::Block
            } else {
                CongestionControl::Drop
            })
            .express(opts.express)
            .wait()
            .map_err(Error::zenoh)?;
        let matching = Arc::new(AtomicBool::new(false));
        let m = matching.clone();
        let listener = publisher
            .matching_listener()
            .callback(move |s| m.store(s.matching(), Ordering::Release))
            .wait()
            .map_err(Error::zenoh)?;
        let status = publisher.matching_status().wait().map_err(Error::zenoh)?;
        matching.fetch_or(status.matching(), Ordering::AcqRel);
        let acks = Arc::new(Acks::default());
        let a = acks.clone();
        let ack_sub = session
            .declare_subscriber(wire::control_key(key, "ack"))
            .callback(move |s| a.push(Ack::decode(&s.payload().to_bytes()).ok_or(())))
            .wait()
            .map_err(Error::zenoh)?;
        let congestion = match block {
            true => CongestionControl::Block,
            false => CongestionControl::Drop,
        };
        let tail = session
            .declare_publisher(wire::tail_key(key, stream))
            .congestion_control(congestion)
            .wait()
            .map_err(Error::zenoh)?;
        let tail_queries = session
            .declare_queryable(wire::tail_key(key, stream))
            .with(zenoh::handlers::RingChannel::new(TAIL_QUERIES))
            .wait()
            .map_err(Error::zenoh)?;
        // Declared last: an importer that sees the token can ask for the tail at once.
        let token = session
            .liveliness()
            .declare_token(wire::control_key(key, &format!("exporter/{stream:016x}")))
            .wait()
            .map_err(Error::zenoh)?;
        Ok(Exporter {
            key: key.to_owned(),
            opts: opts.clone(),
            block,
            stream,
            publisher,
            acks,
            _ack_sub: ack_sub,
            matching,
            _listener: listener,
            _token: token,
            tail,
            tail_queries,
            last_put: Instant::now(),
            window: VecDeque::new(),
            window_len: 0,
            base: 0,
            cursor: 0,
            sent: 0,
            peers: HashMap::new(),
            fingerprint: 0,
        })
    }

    fn run(
        &mut self,
        name: &str,
        channel: bool,
        local: &mut Option<Local>,
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<()> {
        let mut buf = Vec::new();
        if let Some(l) = local {
            self.fingerprint = l.fingerprint();
        }
        while !stop.load(Ordering::Relaxed) {
            self.take_acks(counters);
            self.tell_tail(counters);
            if !self.block {
                self.forget();
            }
            if self.block {
                self.trim();
                if self.cursor < self.base + self.window.len() as u64 {
                    self.resend(counters)?;
                    continue;
                }
                // Only importers (bridges that acknowledge) hold messages back or let them
                // go; plain Zenoh subscribers of the key receive what is sent meanwhile.
                if self.peers.is_empty() || self.window_full() {
                    self.wait_acks(TICK, counters);
                    continue;
                }
            }
            // Take the next local message.
            let Some(l) = local.as_mut() else {
                *local = self.attach(name, channel, stop, counters);
                continue;
            };
            match l.recv(&mut buf, TICK) {
                Ok(len) => {
                    // The message's own buffer, moved into Zenoh's bytes (no second copy).
                    debug_assert_eq!(buf.len(), len);
                    self.forward(std::mem::take(&mut buf), counters)?;
                }
                Err(shmkit::Error::Timeout { .. } | shmkit::Error::WouldBlock { .. }) => {}
                Err(shmkit::Error::Lagged { .. }) => {
                    // A broadcast under Overwrite lapped us: the publisher's choice; the
                    // messages are gone before they reached the bridge.
                    counters.error(format!("{name}: the local publisher overwrote messages"));
                }
                Err(e) => {
                    counters.error(format!("{name}: {e}; waiting for a new one"));
                    *local = None;
                    Counters::add(&counters.local_restarts, 1);
                }
            }
        }
        // Stopping: a last tail, after everything put, so an importer counts at once what it
        // missed of the end (nothing can be sent again any more: `first` is `next`).
        let tail = self.tail();
        if tail.next > 0 {
            let last = Tail {
                first: tail.next,
                ..tail
            };
            if let Err(e) = self.tail.put(last.encode()).wait() {
                counters.error(format!("{}: putting the last tail: {e}", self.key));
            }
        }
        Ok(())
    }

    /// Attaches to the local side `name` (not there yet, or a new one after the old one
    /// died), trying every 100 ms.
    fn attach(
        &mut self,
        name: &str,
        channel: bool,
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Option<Local> {
        let l = match open(name, channel) {
            Ok(l) => l,
            Err(e) => {
                if !matches!(e, shmkit::Error::NotFound { .. }) {
                    counters.error(format!("{name}: {e}"));
                }
                pause(stop, Duration::from_millis(100));
                return None;
            }
        };
        self.fingerprint = l.fingerprint();
        Some(l)
    }

    fn window_full(&self) -> bool {
        self.window.len() >= self.opts.window
            || (self.window_len >= self.opts.window_bytes && !self.window.is_empty())
    }

    /// Sends a local message (and keeps it, under Block).
    fn forward(&mut self, msg: Vec<u8>, counters: &Counters) -> Result<()> {
        if let Some(max) = self.opts.max_message.filter(|&m| msg.len() > m) {
            counters.refuse(Error::TooLarge {
                key: self.key.clone(),
                len: msg.len(),
                max,
            });
            return Ok(());
        }
        let len = msg.len();
        let payload = ZBytes::from(msg);
        if self.block {
            // Sent by the loop's next turn (`resend`), which sends the window in order.
            self.window_len += len;
            self.window.push_back(payload);
            Ok(())
        } else {
            let seq = self.cursor;
            self.cursor += 1;
            if !self.matching.load(Ordering::Acquire) {
                Counters::add(&counters.dropped, 1);
                return Ok(());
            }
            self.put(payload, seq, seq)?;
            counters.forwarded(len);
            Ok(())
        }
    }

    /// Puts message `cursor` from the window (Block).
    fn resend(&mut self, counters: &Counters) -> Result<()> {
        let seq = self.cursor;
        let msg = self.window[(seq - self.base) as usize].clone();
        let len = msg.len();
        self.put(msg, seq, self.base)?;
        self.cursor += 1;
        if seq >= self.sent {
            // Sent for the first time (a resend counts once).
            self.sent = seq + 1;
            counters.forwarded(len);
        }
        Ok(())
    }

    fn put(&mut self, payload: ZBytes, seq: u64, first: u64) -> Result<()> {
        self.last_put = Instant::now();
        let att = Data {
            flags: if self.block { wire::FLAG_BLOCK } else { 0 },
            stream: self.stream,
            seq,
            first,
            fingerprint: self.fingerprint,
        };
        self.publisher
            .put(payload)
            .attachment(att.encode())
            .wait()
            .map_err(Error::zenoh)
    }

    /// The tail: one past the last message taken (Drop: put or dropped; Block: put), and the
    /// oldest one that can still be sent again.
    fn tail(&self) -> Tail {
        let (next, first) = match self.block {
            true => (self.sent, self.base.min(self.sent)),
            false => (self.cursor, self.cursor),
        };
        Tail {
            flags: if self.block { wire::FLAG_BLOCK } else { 0 },
            stream: self.stream,
            next,
            first,
        }
    }

    /// Answers the tail queries that came, and puts the tail if no data was put for
    /// [`TAIL_EVERY`] (and a message was taken). A failure is reported, not fatal: the next
    /// period puts it again.
    fn tell_tail(&mut self, counters: &Counters) {
        while let Ok(Some(q)) = self.tail_queries.try_recv() {
            let tail = self.tail();
            // (With the query's congestion control: importers ask with Drop, so a congested
            // link never holds a Drop exporter here.)
            let sent = q.reply(q.key_expr().clone(), tail.encode()).wait();
            if let Err(e) = sent {
                counters.error(format!("{}: answering a tail query: {e}", self.key));
            }
        }
        let tail = self.tail();
        if tail.next == 0 || self.last_put.elapsed() < TAIL_EVERY {
            return;
        }
        self.last_put = Instant::now();
        if let Err(e) = self.tail.put(tail.encode()).wait() {
            counters.error(format!("{}: putting the tail: {e}", self.key));
        }
    }

    /// Reads the acknowledgements that arrived, without waiting.
    fn take_acks(&mut self, counters: &Counters) {
        self.wait_acks(Duration::ZERO, counters);
    }

    /// Waits up to `d` for acknowledgements, and reads them.
    fn wait_acks(&mut self, d: Duration, counters: &Counters) {
        let (acks, bad) = self.acks.take(d);
        if bad > 0 {
            Counters::add(&counters.refused, bad);
            counters.error(format!("{}: a control sample that is not an ack", self.key));
        }
        for a in acks {
            self.ack(a, counters);
        }
    }

    fn ack(&mut self, a: Ack, counters: &Counters) {
        if a.stream != self.stream {
            return; // for an earlier exporter of this key
        }
        let now = Instant::now();
        if a.flags & wire::FLAG_BYE != 0 {
            // A clean goodbye: stop keeping messages for it.
            self.peers.remove(&a.importer);
            return;
        }
        if a.next == wire::NEXT_ANY {
            match self.peers.get_mut(&a.importer) {
                // Known, yet it has nothing of this stream: it restarted before it kept a
                // message; send again from where it was.
                Some(p) => {
                    p.heard = now;
                    if self.block {
                        self.cursor = self.cursor.min(p.next.max(self.base));
                    }
                }
                // New, with nothing yet: it starts with the next new message.
                None => {
                    let next = self.base + self.window.len() as u64;
                    self.peers.insert(
                        a.importer,
                        Peer {
                            next,
                            heard: now,
                            moved: now,
                        },
                    );
                }
            }
            return;
        }
        let resume = a.flags & wire::FLAG_RESUME != 0;
        if resume && self.peers.contains_key(&a.importer) {
            // A known importer asks to resume: it came back (or its link did).
            Counters::add(&counters.reconnects, 1);
        }
        let peer = self.peers.entry(a.importer).or_insert(Peer {
            next: a.next,
            heard: now,
            moved: now,
        });
        if a.next != peer.next || a.flags & wire::FLAG_BUSY != 0 {
            peer.moved = now;
        }
        peer.heard = now;
        peer.next = a.next;
        if !self.block {
            return;
        }
        if resume {
            // Send again from where it stopped (or from the oldest message kept).
            self.cursor = self.cursor.min(a.next.max(self.base));
        } else if a.next < self.sent && now.duration_since(peer.moved) >= RESEND_AFTER {
            // Probe with the last message sent: the importer then sees the gap and asks for
            // what it misses (a whole window is not sent again on a guess).
            peer.moved = now;
            self.cursor = self.cursor.min((self.sent - 1).max(self.base));
        }
    }

    /// Forgets importers silent for [`ExportOptions::forget_after`].
    fn forget(&mut self) {
        let forget = self.opts.forget_after;
        self.peers.retain(|_, p| p.heard.elapsed() < forget);
    }

    /// Drops from the window what every importer has, and importers silent for too long.
    fn trim(&mut self) {
        self.forget();
        let Some(floor) = self.peers.values().map(|p| p.next).min() else {
            return; // nobody has acknowledged anything: keep all
        };
        while self.base < floor.min(self.cursor) {
            let Some(m) = self.window.pop_front() else {
                break;
            };
            self.window_len -= m.len();
            self.base += 1;
        }
    }
}
