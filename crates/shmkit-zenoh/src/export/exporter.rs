//! The exporter's Zenoh side and stream state: what it put, what its importers acknowledged,
//! resending and the tail.

use super::acks::Acks;
use super::*;

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
pub(super) const TAIL_EVERY: Duration = Duration::from_secs(1);

/// Tail queries waiting for the exporter's thread (beyond, the oldest go unanswered: the
/// importer then learns the tail from the next periodic one).
const TAIL_QUERIES: usize = 64;

/// The exporter's Zenoh side and stream state.
pub(super) struct Exporter {
    key: String,
    opts: ExportOptions,
    block: bool,
    stream: u64,
    publisher: zenoh::pubsub::Publisher<'static>,
    /// Acknowledgements, decoded by Zenoh's callback (which never blocks: see the importer's
    /// `Inbox`), at most [`ACKS`](super::acks::ACKS) (the oldest go first: each says all an older one said).
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
    pub(super) fn declare(session: &Session, key: &str, opts: &ExportOptions) -> Result<Exporter> {
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

    pub(super) fn run(
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
