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
//!
//! This file holds the options, the setup (the local broadcast, replacing a killed
//! importer's) and the bridge thread that publishes each sample; `streams.rs` follows each
//! stream's `next`, its exporter's liveliness and tail, and the acknowledgements;
//! `inbox.rs` carries what Zenoh's callbacks receive to the bridge thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shmkit::channel::broadcast::{self, Publisher};
use shmkit::channel::MessageLayout;
use shmkit::inspect::{self, Kind};
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use crate::state::State;
use crate::stats::Counters;
use crate::wire::{self, Data};
use crate::{pause, Bridge, Congestion, Error, Result, TICK};

mod inbox;
mod streams;

use inbox::{Arrival, Inbox};
use streams::{Streams, ACK_IDLE};

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
    pub fn congestion(&mut self, c: Congestion) -> &mut Self {
        self.congestion = c;
        self
    }

    /// Slots of the local broadcast (default 64).
    pub fn slots(&mut self, n: usize) -> &mut Self {
        self.slots = n;
        self
    }

    /// The largest message (the local broadcast's slot size; default 64 KiB). A larger
    /// sample is refused: counted in [`Stats::refused`](crate::Stats::refused), reported,
    /// skipped, never truncated.
    pub fn max_message(&mut self, bytes: usize) -> &mut Self {
        self.max_message = bytes;
        self
    }

    /// How many local subscribers the broadcast admits (default 16).
    pub fn max_subscribers(&mut self, n: usize) -> &mut Self {
        self.max_subscribers = n;
        self
    }

    /// How many local subscribers must be attached before the importer takes messages from
    /// the network (default: 1 under `Block`, 0 under `Drop`). Under `Block` also while it
    /// does: with fewer, it waits (holding the network back), so no message goes to an empty
    /// broadcast. Under `Drop` a message that finds no local subscriber is dropped and
    /// counted.
    pub fn min_subscribers(&mut self, n: usize) -> &mut Self {
        self.min_subscribers = Some(n);
        self
    }

    /// The message layout expected: the broadcast records it (typed subscribers of it can
    /// join), and samples of another fingerprint, bytes included, are refused with
    /// [`Error::LayoutMismatch`]. Default: none; the broadcast carries bytes and any stream
    /// is taken as bytes.
    pub fn layout(&mut self, layout: MessageLayout) -> &mut Self {
        self.layout = Some(layout);
        self
    }

    /// Unix permission bits of the local broadcast (default `0o600`).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Whether to keep and use the state segment `<name>.zbridge` that lets a restarted
    /// importer go on exactly where the last one stopped (default on). Off: a restarted
    /// importer starts with whatever arrives.
    pub fn resume(&mut self, on: bool) -> &mut Self {
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
        streams: Streams::new(match &state {
            Some(s) => s.importer_id()?,
            None => wire::random_id(),
        }),
        state,
        subscribers: (0, None),
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
        Some(l) => b.create_publisher_with_layout(into, l),
        None => b.create_publisher(into),
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

/// The importer's state: owned by its bridge thread.
struct Importer {
    key: String,
    opts: ImportOptions,
    publisher: Publisher,
    state: Option<State>,
    streams: Streams,
    /// The local subscriber count and when it was taken.
    subscribers: (usize, Option<Instant>),
}

/// How often the local subscriber count is taken (a system call per subscriber).
const COUNT_EVERY: Duration = Duration::from_millis(50);

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
    let inbox = Arc::new(Inbox::new());
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
        im.streams.bye();
        im.streams.flush(session, counters);
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
            let nap = match self.streams.unacked() {
                true => ACK_IDLE,
                false => TICK,
            };
            let (samples, tokens) = inbox.take(nap);
            for t in &tokens {
                self.streams
                    .token(t, session, inbox, self.state.as_ref(), counters);
            }
            for a in samples {
                let s = match a {
                    Arrival::Data(s) => s,
                    Arrival::Tail(t) => {
                        self.streams.tail(&t, &mut self.state, counters)?;
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
                    self.streams.set_busy(true);
                    self.streams.acknowledge(false);
                    self.streams.flush(session, counters);
                    if pause(stop, nap) {
                        return Ok(());
                    }
                    nap = (nap * 2).min(WAIT_MAX);
                }
                self.streams.set_busy(false);
            }
            self.streams.acknowledge(false);
            self.streams.flush(session, counters);
        }
        Ok(())
    }

    /// The local subscriber count, taken at most every [`COUNT_EVERY`].
    fn local_subscribers(&mut self) -> usize {
        let (n, at) = self.subscribers;
        if at.is_some_and(|t| t.elapsed() < COUNT_EVERY) {
            return n;
        }
        let n = self.publisher.subscribers();
        self.subscribers = (n, Some(Instant::now()));
        n
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
        if !self.streams.arrived(&d, key, &mut self.state, counters)? {
            return Ok(Outcome::Done); // done with already, or a gap asked for again
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
        self.streams
            .done(d.stream, seq, len, key, &mut self.state)?;
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
}
