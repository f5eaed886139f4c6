//! The importer: samples arriving on a Zenoh key expression, published into a local
//! broadcast.
//!
//! Each stream (exporter) has a `next`: the first message not yet done with (published,
//! refused, or counted as dropped or lost), saved in the state segment. Under `Drop`, when
//! `next` has to move forward over messages that never came, they are counted as `lost`, once:
//! `next` only moves forward, and is saved with the count. It moves over a gap when a later
//! message arrives, or when the exporter's tail (see `wire.rs`) says the stream has got
//! further: the tail is asked for whenever the exporter's liveliness token appears (so on
//! start, and after a reconnect) and put by the exporter every second while it idles, so an
//! importer restarted after the end of a stream still counts the messages sent while it was
//! down (and those sent to its killed predecessor, which never published them). Under
//! `Block` the same gap is asked for again while the exporter still keeps it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shmkit::channel::broadcast::{self, Publisher};
use shmkit::channel::MessageLayout;
use shmkit::inspect::{self, Kind};
use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;
use zenoh::sample::{Sample, SampleKind};
use zenoh::{Session, Wait};

use crate::state::State;
use crate::stats::Counters;
use crate::wire::{self, Ack, Data, Tail};
use crate::{pause, Bridge, Congestion, Error, Result, TICK};

/// How an importer publishes; see [`import`].
#[derive(Clone, Debug)]
pub struct ImportOptions {
    congestion: Congestion,
    slots: usize,
    max_message: usize,
    max_subscribers: usize,
    min_subscribers: Option<usize>,
    layout: Option<MessageLayout>,
    mode: u32,
    resume: bool,
}

impl Default for ImportOptions {
    /// `Block`; a broadcast of 64 slots of 64 KiB for 16 subscribers, mode 0600; wait for one
    /// local subscriber (none under `Drop`); no layout (bytes); resume across restarts.
    fn default() -> Self {
        ImportOptions {
            congestion: Congestion::Block,
            slots: 64,
            max_message: 64 << 10,
            max_subscribers: 16,
            min_subscribers: None,
            layout: None,
            mode: 0o600,
            resume: true,
        }
    }
}

impl ImportOptions {
    /// `Block` (reliable, the default) or `Drop`.
    pub fn congestion(mut self, c: Congestion) -> Self {
        self.congestion = c;
        self
    }

    /// Slots of the local broadcast (default 64).
    pub fn slots(mut self, n: usize) -> Self {
        self.slots = n;
        self
    }

    /// The largest message (the local broadcast's slot size; default 64 KiB). A larger
    /// sample is refused: counted in [`Stats::refused`](crate::Stats::refused), reported,
    /// skipped, never truncated.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// How many local subscribers the broadcast admits (default 16).
    pub fn max_subscribers(mut self, n: usize) -> Self {
        self.max_subscribers = n;
        self
    }

    /// How many local subscribers must be attached before the importer takes messages from
    /// the network (default: 1 under `Block`, 0 under `Drop`). Under `Block` also while it
    /// does: with fewer, it waits (holding the network back), so no message goes to an empty
    /// broadcast. Under `Drop` a message that finds no local subscriber is dropped and
    /// counted.
    pub fn min_subscribers(mut self, n: usize) -> Self {
        self.min_subscribers = Some(n);
        self
    }

    /// The message layout expected: the broadcast records it (typed subscribers of it can
    /// join), and samples of another fingerprint, bytes included, are refused with
    /// [`Error::LayoutMismatch`]. Default: none; the broadcast carries bytes and any stream
    /// is taken as bytes.
    pub fn layout(mut self, layout: MessageLayout) -> Self {
        self.layout = Some(layout);
        self
    }

    /// Unix permission bits of the local broadcast (default `0o600`).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Whether to keep and use the state segment `<name>.zbridge` that lets a restarted
    /// importer go on exactly where the last one stopped (default on). Off: a restarted
    /// importer starts with whatever arrives.
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }

    fn min_subscribers_or_default(&self) -> usize {
        self.min_subscribers
            .unwrap_or(usize::from(self.congestion == Congestion::Block))
    }
}

/// Publishes every sample arriving on the Zenoh key expression `key` (wildcards allowed:
/// each exporter's stream keeps its order) into the local broadcast `into`, which this call
/// creates, on a thread of its own, until the returned [`Bridge`] is stopped or dropped.
///
/// A broadcast `into` left by a killed importer (its publisher gone) is replaced, after its
/// message count is read to settle the saved state (see the
/// [crate docs](crate#congestion-block-or-drop)). The importer's `lost` and `dropped`
/// counters include those of its predecessors on this broadcast (from the state segment).
///
/// Run one importer per broadcast name: a second one while the first lives is refused (see
/// below), but two started at the same instant on a name left by a killed importer could
/// both replace it.
///
/// # Errors
///
/// [`Error::Invalid`] for a bad key expression, or if `into` exists and its publisher is
/// alive (another importer); shmkit's errors creating the broadcast or the state segment;
/// [`Error::Zenoh`].
pub fn import(session: &Session, key: &str, into: &str, options: &ImportOptions) -> Result<Bridge> {
    let ke = zenoh::key_expr::KeyExpr::try_from(key.to_owned())
        .map_err(|e| Error::Invalid(format!("{key:?} is not a Zenoh key expression: {e}")))?;
    let mut state = match options.resume {
        true => Some(State::open(into, options.mode)?),
        false => None,
    };
    let publisher = create_local(into, options, &mut state)?;
    let mut im = Importer {
        key: ke.to_string(),
        opts: options.clone(),
        publisher,
        importer: match &state {
            Some(s) => s.importer_id()?,
            None => wire::random_id(),
        },
        state,
        streams: HashMap::new(),
        exporters: HashMap::new(),
        hello: HashMap::new(),
        subscribers: (0, None),
        outbox: Vec::new(),
        busy: false,
        heartbeat: Instant::now(),
    };
    let session = session.clone();
    Bridge::spawn(format!("import {into}"), move |stop, counters| {
        run(&session, &mut im, stop, counters)
    })
}

/// Creates the broadcast `into`, replacing one whose publisher is gone. The saved state is
/// settled first (a publication its importer left pending, against the old broadcast's
/// message count), before the old broadcast goes: a kill at any point of a restart leaves
/// something the next restart settles the same way.
fn create_local(into: &str, o: &ImportOptions, state: &mut Option<State>) -> Result<Publisher> {
    let mut b = broadcast::options();
    b.slots(o.slots)
        .slot_size(o.max_message)
        .max_subscribers(o.max_subscribers)
        .mode(o.mode);
    let create = || match &o.layout {
        Some(l) => b.create_with_layout(into, l),
        None => b.create(into),
    };
    match create() {
        Ok(p) => {
            // No old broadcast: a pending publication cannot be told (taken as not done).
            if let Some(st) = state {
                st.resolve(None)?;
            }
            return Ok(p);
        }
        Err(shmkit::Error::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let info = inspect::inspect(into)?;
    if info.kind != Kind::Object("broadcast channel") || info.creator_alive != Some(false) {
        return Err(Error::Invalid(format!(
            "{into} exists and is not a broadcast whose publisher is gone \
             (is another importer running?)"
        )));
    }
    if let Some(st) = state {
        st.resolve(Some(broadcast::published(into)?))?;
    }
    shmkit::Segment::remove(into)?;
    Ok(create()?)
}

/// Counts a message dropped (here and in the saved totals).
fn dropped(state: &mut Option<State>, counters: &Counters) -> Result<()> {
    Counters::add(&counters.dropped, 1);
    if let Some(st) = state {
        st.add_dropped(1)?;
    }
    Ok(())
}

/// What the importer knows of one stream (one exporter).
struct Stream {
    /// The first message not yet done with.
    next: u64,
    /// The concrete key it comes on (acknowledgements go to `<key>/@shmkit/ack`).
    key: String,
    /// Whether the exporter keeps messages for resending (it runs Block).
    block: bool,
    /// Messages done with since the last acknowledgement, their bytes, and when that was.
    unacked: u64,
    unacked_bytes: usize,
    acked_at: Instant,
    /// The last resume asked for, and when (asked again for the same message only after
    /// [`RESUME_AGAIN`]).
    resumed: Option<(u64, Instant)>,
    /// When its exporter's liveliness token went away (it is forgotten [`STREAM_GONE`] later).
    gone: Option<Instant>,
}

impl Stream {
    /// Whether its acknowledgement is due: after [`ACK_EVERY`] messages or [`ACK_BYTES`], or
    /// [`ACK_IDLE`] after the last one if anything is unacknowledged.
    fn due(&self, now: Instant) -> bool {
        self.unacked >= ACK_EVERY
            || self.unacked_bytes >= ACK_BYTES
            || (self.unacked > 0 && now.duration_since(self.acked_at) >= ACK_IDLE)
    }
}

/// The importer's state: owned by its bridge thread.
struct Importer {
    key: String,
    opts: ImportOptions,
    publisher: Publisher,
    importer: u64,
    state: Option<State>,
    streams: HashMap<u64, Stream>,
    /// Exporter streams whose liveliness token is present (`true`) or went away (`false`).
    exporters: HashMap<u64, bool>,
    /// Exporters greeted that have not sent anything yet (stream → key): greeted again on
    /// every heartbeat, so they do not forget this importer.
    hello: HashMap<u64, String>,
    /// The local subscriber count and when it was taken.
    subscribers: (usize, Option<Instant>),
    /// Acknowledgements to send: key, ack.
    outbox: Vec<(String, Ack)>,
    /// Whether a sample is waiting for room in the local broadcast (acknowledgements say so:
    /// the exporter then knows that messages not acknowledged are not lost).
    busy: bool,
    /// When every stream was last acknowledged.
    heartbeat: Instant,
}

/// Acknowledge after this many messages, or bytes, even while more are coming.
const ACK_EVERY: u64 = 32;
const ACK_BYTES: usize = 2 << 20;
/// Acknowledge what is unacknowledged when the last acknowledgement is this old (so a stream
/// that pauses is acknowledged soon, without an acknowledgement per message while it flows).
const ACK_IDLE: Duration = Duration::from_millis(2);
/// Heartbeat: acknowledge every stream this often, so exporters know the importer is there.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// How often the local subscriber count is taken (a system call per subscriber).
const COUNT_EVERY: Duration = Duration::from_millis(50);
/// A stream whose exporter has been gone this long is forgotten (and no longer acknowledged).
const STREAM_GONE: Duration = Duration::from_secs(60);
/// The most streams remembered at once (the oldest-heard goes first).
const MAX_STREAMS: usize = 1024;
/// A resume for the same message is asked again only after this long.
const RESUME_AGAIN: Duration = Duration::from_secs(1);
/// How long a tail query waits for its reply.
const TAIL_TIMEOUT: Duration = Duration::from_secs(5);

/// What became of a sample.
enum Outcome {
    /// Published, counted, or skipped: done with.
    Done,
    /// Not yet: no room under Block; hand it in again.
    Wait,
}

/// The first and longest pause of a sample waiting for room.
const WAIT_MIN: Duration = Duration::from_micros(50);
const WAIT_MAX: Duration = Duration::from_millis(2);

/// What Zenoh's callbacks hand to the bridge thread. The callbacks never block: Zenoh runs
/// them on the task that reads the link, so a callback that waited (for room in the local
/// broadcast, say) would stop everything else arriving on that link, acknowledgements for an
/// exporter on the same session included, and two bridges could wait for each other forever.
struct Inbox {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// What arrived, in order: a data sample, or an exporter's tail (put, or a query's reply).
enum Arrival {
    Data(Sample),
    Tail(Sample),
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<Arrival>,
    bytes: usize,
    tokens: Vec<Sample>,
    /// Set when the bridge stops: later callbacks drop what they get.
    closed: bool,
    /// Whether the bridge thread waits (a push wakes it only then: no system call per sample
    /// while it is busy).
    waiting: bool,
}

/// The most samples (and bytes) waiting in the inbox. Beyond, a sample is dropped on arrival:
/// the importer then sees a gap in its stream's sequence numbers, which under Block is asked
/// for again and under Drop is counted as lost, so nothing goes uncounted.
const INBOX: usize = 4096;
const INBOX_BYTES: usize = 256 << 20;

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a data sample or a tail (one that finds the inbox full is dropped: a data sample
    /// then shows as a gap, a tail comes again).
    fn push_sample(&self, s: Arrival) {
        let mut q = self.lock();
        let (Arrival::Data(d) | Arrival::Tail(d)) = &s;
        let len = d.payload().len();
        if q.closed || q.samples.len() >= INBOX || q.bytes + len > INBOX_BYTES {
            return;
        }
        q.bytes += len;
        q.samples.push_back(s);
        let wake = std::mem::take(&mut q.waiting);
        drop(q);
        if wake {
            self.wake.notify_one();
        }
    }

    fn push_token(&self, s: Sample) {
        let mut q = self.lock();
        if !q.closed {
            q.tokens.push(s);
            let wake = std::mem::take(&mut q.waiting);
            drop(q);
            if wake {
                self.wake.notify_one();
            }
        }
    }

    /// The samples and the tokens that came, waiting at most `nap` for something.
    fn take(&self, nap: Duration) -> (VecDeque<Arrival>, Vec<Sample>) {
        let mut q = self.lock();
        if q.samples.is_empty() && q.tokens.is_empty() {
            q.waiting = true;
            q = self
                .wake
                .wait_timeout(q, nap)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.waiting = false;
        }
        q.bytes = 0;
        (
            std::mem::take(&mut q.samples),
            std::mem::take(&mut q.tokens),
        )
    }

    fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.samples.clear();
        q.tokens.clear();
    }
}

/// The bridge thread: declares the subscribers once the local ones are there, then publishes
/// what arrives, sends acknowledgements and follows exporters' liveliness until stopped.
fn run(
    session: &Session,
    im: &mut Importer,
    stop: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
) -> Result<()> {
    if let Some(s) = &im.state {
        let (lost, dropped) = s.totals()?;
        Counters::add(&counters.lost, lost);
        Counters::add(&counters.dropped, dropped);
    }
    // Under Block nothing may go to an empty broadcast: wait for the local subscribers before
    // Zenoh sees this importer at all (so a Block exporter waits too).
    while im.local_subscribers() < im.opts.min_subscribers_or_default() {
        if pause(stop, COUNT_EVERY) {
            return Ok(());
        }
    }
    let inbox = Arc::new(Inbox {
        queue: Mutex::default(),
        wake: Condvar::new(),
    });
    let i = inbox.clone();
    let data = session
        .declare_subscriber(im.key.clone())
        .callback(move |s| i.push_sample(Arrival::Data(s)))
        .wait()
        .map_err(Error::zenoh)?;
    let i = inbox.clone();
    let tails = session
        .declare_subscriber(wire::control_key(&im.key, "tail/*"))
        .callback(move |s| i.push_sample(Arrival::Tail(s)))
        .wait()
        .map_err(Error::zenoh)?;
    let i = inbox.clone();
    let tokens = session
        .liveliness()
        .declare_subscriber(wire::control_key(&im.key, "exporter/*"))
        .history(true)
        .callback(move |s| i.push_token(s))
        .wait()
        .map_err(Error::zenoh)?;
    let result = im.serve(session, &inbox, stop, counters);
    // Goodbye: a Block exporter stops keeping messages for this importer at once.
    if result.is_ok() {
        im.bye();
        im.flush(session, counters);
    }
    inbox.close();
    drop((data, tails, tokens));
    result
}

impl Importer {
    /// Publishes what arrives and acknowledges it until stopped.
    fn serve(
        &mut self,
        session: &Session,
        inbox: &Arc<Inbox>,
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<()> {
        while !stop.load(Ordering::Relaxed) {
            // Soon if something waits for its acknowledgement, else at the next tick.
            let nap = match self.streams.values().any(|s| s.unacked > 0) {
                true => ACK_IDLE,
                false => TICK,
            };
            let (samples, tokens) = inbox.take(nap);
            for t in &tokens {
                self.token(t, session, inbox, counters);
            }
            for a in samples {
                let s = match a {
                    Arrival::Data(s) => s,
                    Arrival::Tail(t) => {
                        self.tail(&t, counters)?;
                        continue;
                    }
                };
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                // Under Block with no room the sample waits here, holding the rest back;
                // acknowledgements (saying "busy") still go out meanwhile.
                let mut nap = WAIT_MIN;
                while let Outcome::Wait = self.sample(&s, counters)? {
                    self.busy = true;
                    self.acknowledge(false);
                    self.flush(session, counters);
                    if pause(stop, nap) {
                        return Ok(());
                    }
                    nap = (nap * 2).min(WAIT_MAX);
                }
                self.busy = false;
            }
            self.acknowledge(false);
            self.flush(session, counters);
        }
        Ok(())
    }

    /// Sends the queued acknowledgements (a failure is reported, not fatal: the heartbeat
    /// sends the state again).
    fn flush(&mut self, session: &Session, counters: &Counters) {
        for (key, ack) in self.outbox.drain(..) {
            let sent = session
                .put(wire::control_key(&key, "ack"), ack.encode())
                .congestion_control(CongestionControl::Block)
                .wait();
            if let Err(e) = sent {
                counters.error(format!("acknowledging on {key}: {e}"));
            }
        }
    }

    /// Queues a goodbye to every stream's exporter (a Block exporter then stops keeping
    /// messages for this importer).
    fn bye(&mut self) {
        let streams: Vec<(String, u64, u64)> = self
            .streams
            .iter()
            .map(|(&id, s)| (s.key.clone(), id, s.next))
            .collect();
        for (key, stream, next) in streams {
            self.queue_ack(&key, stream, next, wire::FLAG_BYE);
        }
    }

    /// The local subscriber count, taken at most every [`COUNT_EVERY`].
    fn local_subscribers(&mut self) -> usize {
        let (n, at) = self.subscribers;
        if at.is_some_and(|t| t.elapsed() < COUNT_EVERY) {
            return n;
        }
        let n = self.publisher.subscriber_count();
        self.subscribers = (n, Some(Instant::now()));
        n
    }

    /// An exporter's liveliness token came or went. When it comes, its tail is asked for.
    fn token(&mut self, t: &Sample, session: &Session, inbox: &Arc<Inbox>, counters: &Counters) {
        let k = t.key_expr().as_str();
        let Some((ekey, hex)) = k.rsplit_once(&format!("/{}/exporter/", wire::CONTROL)) else {
            return;
        };
        let Ok(stream) = u64::from_str_radix(hex, 16) else {
            return;
        };
        match t.kind() {
            SampleKind::Delete => {
                self.exporters.insert(stream, false);
                self.hello.remove(&stream);
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.gone = Some(Instant::now());
                }
            }
            SampleKind::Put => {
                if self.exporters.insert(stream, true) == Some(false) {
                    Counters::add(&counters.reconnects, 1);
                }
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.gone = None;
                }
                // A stream this broadcast has seen: ask for everything after what was
                // delivered (the exporter resends what it kept).
                let next = self
                    .streams
                    .get(&stream)
                    .map(|s| s.next)
                    .or_else(|| self.state.as_ref().and_then(|s| s.next(stream)));
                match next {
                    Some(next) => self.queue_ack(ekey, stream, next, wire::FLAG_RESUME),
                    None => {
                        // New to us: say hello, so a Block exporter sends (and keeps) from
                        // now on for this importer.
                        self.queue_ack(ekey, stream, wire::NEXT_ANY, 0);
                        self.hello.insert(stream, ekey.to_owned());
                    }
                }
                // Where the stream has got to: a restarted importer learns what it missed even
                // if no later message comes. The reply comes through the inbox, in order with
                // the data (the exporter's thread answers after what it put before); asked with
                // Drop, so a congested link never holds the exporter back (a lost reply is
                // made up for by the tail the exporter puts while idle).
                let i = inbox.clone();
                let asked = session
                    .get(wire::tail_key(ekey, stream))
                    .consolidation(ConsolidationMode::None)
                    .congestion_control(CongestionControl::Drop)
                    .timeout(TAIL_TIMEOUT)
                    .callback(move |r| {
                        if let Ok(s) = r.into_result() {
                            i.push_sample(Arrival::Tail(s));
                        }
                    })
                    .wait();
                if let Err(e) = asked {
                    counters.error(format!("{ekey}: asking for the tail: {e}"));
                }
            }
        }
    }

    /// An exporter's tail: where its stream has got to. A stream new to this broadcast starts
    /// there; a known one whose `next` is lower catches up ([`Importer::catch_up`]).
    fn tail(&mut self, s: &Sample, counters: &Counters) -> Result<()> {
        let k = s.key_expr().as_str();
        let tail = Tail::decode(&s.payload().to_bytes());
        let ekey = k
            .rsplit_once(&format!("/{}/tail/", wire::CONTROL))
            .filter(|(_, hex)| tail.is_some_and(|t| *hex == format!("{:016x}", t.stream)));
        let (Some(t), Some((ekey, _))) = (tail, ekey) else {
            counters.refuse(format!("{k}: a control sample that is not a tail"));
            return Ok(());
        };
        if !self.streams.contains_key(&t.stream) {
            self.add_stream(t.stream, t.next, ekey, t.flags)?;
        }
        self.catch_up(t.stream, t.next, t.first, false, counters)?;
        Ok(())
    }

    /// Starts following `stream` (coming on `key`): from where this broadcast stopped if it
    /// has seen it (the saved state), else from `seq`, saved at once (so a restart before
    /// anything is published starts there too).
    fn add_stream(&mut self, stream: u64, seq: u64, key: &str, flags: u16) -> Result<()> {
        let saved = self.state.as_ref().and_then(|st| st.next(stream));
        let next = match (saved, &mut self.state) {
            (Some(n), _) => n,
            (None, Some(st)) => {
                st.remember(stream, seq)?;
                seq
            }
            (None, None) => seq,
        };
        self.streams.insert(
            stream,
            Stream {
                next,
                key: key.to_owned(),
                block: flags & wire::FLAG_BLOCK != 0,
                unacked: 1, // acknowledge soon: a Block exporter learns where this is
                unacked_bytes: 0,
                acked_at: Instant::now(),
                resumed: None,
                gone: None,
            },
        );
        Ok(())
    }

    /// Moves `stream`'s `next` up to `to` (a message `to` arrived, or the tail says the stream
    /// got that far), given that its exporter can still send from `first`. Under Block, if
    /// the exporter still has the missing messages, returns `false` (not caught up), having
    /// asked for them again if `ask` (a tail does not ask: the resume on the exporter's token
    /// and its probe do); else counts them as lost (here and in the saved state) and saves
    /// the new `next`.
    fn catch_up(
        &mut self,
        id: u64,
        to: u64,
        first: u64,
        ask: bool,
        counters: &Counters,
    ) -> Result<bool> {
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(false);
        };
        if to <= stream.next {
            return Ok(true);
        }
        if stream.block && stream.next >= first {
            // The exporter still has the missing ones: ask again.
            let again = stream
                .resumed
                .is_none_or(|(n, t)| n != stream.next || t.elapsed() >= RESUME_AGAIN);
            if ask && again {
                stream.resumed = Some((stream.next, Instant::now()));
                let (k, next) = (stream.key.clone(), stream.next);
                self.queue_ack(&k, id, next, wire::FLAG_RESUME);
            }
            return Ok(false);
        }
        // Gone for good (Drop, or older than what the exporter keeps): count them. (The count
        // and `next` are two stores: a kill between them counts the gap again on restart.)
        let missing = to - stream.next;
        stream.next = to;
        Counters::add(&counters.lost, missing);
        if let Some(st) = &mut self.state {
            st.add_lost(missing)?;
            st.remember(id, to)?;
        }
        Ok(true)
    }

    /// Handles one data sample. [`Outcome::Wait`]: not done with (no room under Block); the
    /// caller hands it in again later, and handling it again is the same.
    fn sample(&mut self, s: &Sample, counters: &Counters) -> Result<Outcome> {
        let Some(d) = s.attachment().and_then(|a| Data::decode(&a.to_bytes())) else {
            counters.refuse(format!(
                "{}: a sample without a shmkit bridge header (another program on the key?)",
                s.key_expr()
            ));
            return Ok(Outcome::Done);
        };
        let key = s.key_expr().as_str();
        if !self.streams.contains_key(&d.stream) {
            // Seen before (saved): go on from there. New: start with this message.
            self.add_stream(d.stream, d.seq, key, d.flags)?;
        }
        let stream = self.streams.get_mut(&d.stream).expect("inserted above");
        if d.seq < stream.next {
            return Ok(Outcome::Done); // sent again after a resume, or counted: done with
        }
        if !self.catch_up(d.stream, d.seq, d.first, true, counters)? {
            return Ok(Outcome::Done); // asked for the missing ones again: drop this one
        }
        let len = s.payload().len();
        let refused = if let Some(l) = self
            .opts
            .layout
            .as_ref()
            .filter(|l| l.fingerprint() != d.fingerprint)
        {
            Some(Error::LayoutMismatch {
                key: key.to_owned(),
                reason: format!(
                    "the stream's fingerprint is {:#018x}{}; this importer expects {l}",
                    d.fingerprint,
                    if d.fingerprint == 0 { " (bytes)" } else { "" }
                ),
            })
        } else if len > self.opts.max_message {
            Some(Error::TooLarge {
                key: key.to_owned(),
                len,
                max: self.opts.max_message,
            })
        } else {
            None
        };
        let seq = d.seq;
        match refused {
            Some(e) => counters.refuse(e),
            None => {
                if let Outcome::Wait = self.publish(d.stream, seq, s, counters)? {
                    return Ok(Outcome::Wait);
                }
            }
        }
        let stream = self.streams.get_mut(&d.stream).expect("inserted above");
        stream.next = seq + 1;
        stream.unacked += 1;
        stream.unacked_bytes += len;
        if stream.key != key {
            stream.key = key.to_owned();
        }
        if let Some(st) = &mut self.state {
            st.done(d.stream, seq + 1)?;
        }
        Ok(Outcome::Done)
    }

    /// Publishes message `seq` of `stream` locally, or under Drop counts it dropped if there is
    /// no room or no subscriber. Under Block, [`Outcome::Wait`] if there is no room, or fewer
    /// local subscribers than the minimum (nothing goes to an empty broadcast).
    fn publish(
        &mut self,
        stream: u64,
        seq: u64,
        s: &Sample,
        counters: &Counters,
    ) -> Result<Outcome> {
        let payload = s.payload();
        let len = payload.len();
        let block = self.opts.congestion == Congestion::Block;
        if block && self.local_subscribers() < self.opts.min_subscribers_or_default() {
            return Ok(Outcome::Wait);
        }
        if !block && self.local_subscribers() == 0 {
            return dropped(&mut self.state, counters).map(|()| Outcome::Done);
        }
        let count = self.publisher.published();
        let mut loan = match self.publisher.try_loan(len) {
            Ok(l) => l,
            Err(shmkit::Error::WouldBlock { .. }) if block => return Ok(Outcome::Wait),
            Err(shmkit::Error::WouldBlock { .. }) => {
                return dropped(&mut self.state, counters).map(|()| Outcome::Done)
            }
            Err(e) => return Err(e.into()),
        };
        let mut at = 0;
        for piece in payload.slices() {
            loan[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        if let Some(st) = &mut self.state {
            st.begin(stream, seq, count)?;
        }
        loan.commit();
        counters.forwarded(len);
        Ok(Outcome::Done)
    }

    /// Queues the acknowledgements due: every [`ACK_EVERY`] messages or [`ACK_BYTES`], when the
    /// last one is [`ACK_IDLE`] old, and for every stream on a [`HEARTBEAT`] (or when `now`),
    /// with a hello to exporters that have sent nothing yet. Streams whose exporter has been
    /// gone for [`STREAM_GONE`] are forgotten then.
    fn acknowledge(&mut self, now: bool) {
        let t = Instant::now();
        let beat = now || t.duration_since(self.heartbeat) >= HEARTBEAT;
        if beat {
            self.heartbeat = t;
            self.forget(t);
        }
        let due: Vec<(String, u64, u64)> = self
            .streams
            .iter_mut()
            .filter(|(_, s)| (beat && s.gone.is_none()) || s.due(t))
            .map(|(&id, s)| {
                (s.unacked, s.unacked_bytes, s.acked_at) = (0, 0, t);
                (s.key.clone(), id, s.next)
            })
            .collect();
        for (key, id, next) in due {
            self.queue_ack(&key, id, next, 0);
        }
        if beat {
            self.hello
                .retain(|stream, _| !self.streams.contains_key(stream));
            let hello: Vec<(u64, String)> =
                self.hello.iter().map(|(&s, k)| (s, k.clone())).collect();
            for (stream, key) in hello {
                self.queue_ack(&key, stream, wire::NEXT_ANY, 0);
            }
        }
    }

    /// Forgets streams whose exporter has been gone for [`STREAM_GONE`], and the oldest ones
    /// beyond [`MAX_STREAMS`] (their saved state stays: a resume still finds it).
    fn forget(&mut self, now: Instant) {
        self.streams
            .retain(|_, s| s.gone.is_none_or(|g| now.duration_since(g) < STREAM_GONE));
        while self.streams.len() > MAX_STREAMS {
            let Some(&oldest) = self
                .streams
                .iter()
                .min_by_key(|(_, s)| s.acked_at)
                .map(|(id, _)| id)
            else {
                break;
            };
            self.streams.remove(&oldest);
        }
        let known = &self.streams;
        self.exporters
            .retain(|id, present| *present || known.contains_key(id));
    }

    /// Queues an acknowledgement with `flags` (and "busy" while a sample waits for room).
    fn queue_ack(&mut self, key: &str, stream: u64, next: u64, flags: u16) {
        let busy = if self.busy { wire::FLAG_BUSY } else { 0 };
        let ack = Ack {
            flags: flags | busy,
            importer: self.importer,
            stream,
            next,
        };
        self.outbox.push((key.to_owned(), ack));
    }
}
