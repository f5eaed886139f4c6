//! What the importer knows of each stream (each exporter): its `next`, how it moves over a gap
//! (counted as lost, or asked for again under Block), its exporter's liveliness and tail, and
//! the acknowledgements that tell the exporter where this importer is. The protocol is
//! described in the [importer's module docs](super).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;
use zenoh::sample::{Sample, SampleKind};
use zenoh::{Session, Wait};

use super::inbox::{Arrival, Inbox};
use crate::state::State;
use crate::stats::Counters;
use crate::wire::{self, Ack, Data, Tail};
use crate::Result;

/// Acknowledge after this many messages, or bytes, even while more are coming.
const ACK_EVERY: u64 = 32;
const ACK_BYTES: usize = 2 << 20;
/// Acknowledge what is unacknowledged when the last acknowledgement is this old (so a stream
/// that pauses is acknowledged soon, without an acknowledgement per message while it flows).
pub(super) const ACK_IDLE: Duration = Duration::from_millis(2);
/// Heartbeat: acknowledge every stream this often, so exporters know the importer is there.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// A stream whose exporter has been gone this long is forgotten (and no longer acknowledged).
const STREAM_GONE: Duration = Duration::from_secs(60);
/// The most streams remembered at once (the oldest-heard goes first).
const MAX_STREAMS: usize = 1024;
/// A resume for the same message is asked again only after this long.
const RESUME_AGAIN: Duration = Duration::from_secs(1);
/// How long a tail query waits for its reply.
const TAIL_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Every stream the importer follows, its exporters, and the acknowledgements to send them.
/// Owned by the bridge thread; what is saved goes to the state segment the caller passes in.
pub(super) struct Streams {
    /// This importer's id, in every acknowledgement.
    importer: u64,
    streams: HashMap<u64, Stream>,
    /// Exporter streams whose liveliness token is present (`true`) or went away (`false`).
    exporters: HashMap<u64, bool>,
    /// Exporters greeted that have not sent anything yet (stream → key): greeted again on
    /// every heartbeat, so they do not forget this importer.
    hello: HashMap<u64, String>,
    /// Acknowledgements to send: key, ack.
    outbox: Vec<(String, Ack)>,
    /// Whether a sample is waiting for room in the local broadcast (acknowledgements say so:
    /// the exporter then knows that messages not acknowledged are not lost).
    busy: bool,
    /// When every stream was last acknowledged.
    heartbeat: Instant,
}

impl Streams {
    /// None yet, for the importer `importer`.
    pub(super) fn new(importer: u64) -> Streams {
        Streams {
            importer,
            streams: HashMap::new(),
            exporters: HashMap::new(),
            hello: HashMap::new(),
            outbox: Vec::new(),
            busy: false,
            heartbeat: Instant::now(),
        }
    }

    /// Whether any stream has messages done with but not yet acknowledged.
    pub(super) fn unacked(&self) -> bool {
        self.streams.values().any(|s| s.unacked > 0)
    }

    /// Says whether a sample is waiting for room in the local broadcast (in the
    /// acknowledgements queued from now on).
    pub(super) fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
    }

    /// Sends the queued acknowledgements (a failure is reported, not fatal: the heartbeat
    /// sends the state again).
    pub(super) fn flush(&mut self, session: &Session, counters: &Counters) {
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
    pub(super) fn bye(&mut self) {
        let streams: Vec<(String, u64, u64)> = self
            .streams
            .iter()
            .map(|(&id, s)| (s.key.clone(), id, s.next))
            .collect();
        for (key, stream, next) in streams {
            self.queue_ack(&key, stream, next, wire::FLAG_BYE);
        }
    }

    /// An exporter's liveliness token came or went. When it comes, its tail is asked for.
    pub(super) fn token(
        &mut self,
        t: &Sample,
        session: &Session,
        inbox: &Arc<Inbox>,
        state: Option<&State>,
        counters: &Counters,
    ) {
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
                    .or_else(|| state.and_then(|s| s.next(stream)));
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
    /// there; a known one whose `next` is lower catches up ([`Streams::catch_up`]).
    pub(super) fn tail(
        &mut self,
        s: &Sample,
        state: &mut Option<State>,
        counters: &Counters,
    ) -> Result<()> {
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
            self.add_stream(t.stream, t.next, ekey, t.flags, state)?;
        }
        self.catch_up(t.stream, t.next, t.first, false, state, counters)?;
        Ok(())
    }

    /// Whether data message `d`, arriving on `key`, is to be handled now. Its stream is
    /// added if new (seen before, saved: from there; new: from this message). `false`: done
    /// with already (sent again after a resume, or counted), or under Block a gap before it
    /// was asked for again (this one is dropped).
    pub(super) fn arrived(
        &mut self,
        d: &Data,
        key: &str,
        state: &mut Option<State>,
        counters: &Counters,
    ) -> Result<bool> {
        if !self.streams.contains_key(&d.stream) {
            // Seen before (saved): go on from there. New: start with this message.
            self.add_stream(d.stream, d.seq, key, d.flags, state)?;
        }
        let stream = self.streams.get_mut(&d.stream).expect("inserted above");
        if d.seq < stream.next {
            return Ok(false); // sent again after a resume, or counted: done with
        }
        if !self.catch_up(d.stream, d.seq, d.first, true, state, counters)? {
            return Ok(false); // asked for the missing ones again: drop this one
        }
        Ok(true)
    }

    /// Message `seq` of stream `id` (`len` bytes, arriving on `key`) is done with (published
    /// or refused): `next` moves past it, here and in the saved state, and it is to be
    /// acknowledged.
    pub(super) fn done(
        &mut self,
        id: u64,
        seq: u64,
        len: usize,
        key: &str,
        state: &mut Option<State>,
    ) -> Result<()> {
        let stream = self.streams.get_mut(&id).expect("added when it arrived");
        stream.next = seq + 1;
        stream.unacked += 1;
        stream.unacked_bytes += len;
        if stream.key != key {
            stream.key = key.to_owned();
        }
        if let Some(st) = state {
            st.done(id, seq + 1)?;
        }
        Ok(())
    }

    /// Starts following `stream` (coming on `key`): from where this broadcast stopped if it
    /// has seen it (the saved state), else from `seq`, saved at once (so a restart before
    /// anything is published starts there too).
    fn add_stream(
        &mut self,
        stream: u64,
        seq: u64,
        key: &str,
        flags: u16,
        state: &mut Option<State>,
    ) -> Result<()> {
        let saved = state.as_ref().and_then(|st| st.next(stream));
        let next = match (saved, state) {
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
        state: &mut Option<State>,
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
        if let Some(st) = state {
            st.add_lost(missing)?;
            st.remember(id, to)?;
        }
        Ok(true)
    }

    /// Queues the acknowledgements due: every [`ACK_EVERY`] messages or [`ACK_BYTES`], when the
    /// last one is [`ACK_IDLE`] old, and for every stream on a [`HEARTBEAT`] (or when `now`),
    /// with a hello to exporters that have sent nothing yet. Streams whose exporter has been
    /// gone for [`STREAM_GONE`] are forgotten then.
    pub(super) fn acknowledge(&mut self, now: bool) {
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
