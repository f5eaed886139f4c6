//! A topic from the shell: the channel or broadcast named on the command line, whichever it
//! is, as a [`Reader`] (its consumer, or a new subscriber) or a [`Writer`] (its producer or
//! publisher). The topic commands (`subscribe`, `publish`, `hz`, `record`, `replay`, ...) work
//! on these and never ask which kind they hold, except to say it.
//!
//! Messages are bytes. A typed object is read and written as its bytes too; its
//! [`MessageLayout`] (size, alignment, tag) is there to print, to record and to recreate.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use shmkit::channel::broadcast::{self, Policy};
use shmkit::channel::{self, MessageLayout, WaitStrategy};
use shmkit::inspect::{self, Kind};

use crate::stop::Stop;

/// The two kinds of object that carry a stream of messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicKind {
    /// An SPSC channel: one reader, which takes the messages out.
    Channel,
    /// A broadcast: every subscriber sees every message.
    Broadcast,
}

impl TopicKind {
    /// `"channel"` or `"broadcast"`: as JSON and the command line name it.
    pub fn id(self) -> &'static str {
        match self {
            TopicKind::Channel => "channel",
            TopicKind::Broadcast => "broadcast",
        }
    }

    /// The kind the segment `name` holds, if it is a topic. `None` if there is no such name;
    /// an error naming what it is if it is something else.
    pub fn of(name: &str) -> Result<Option<TopicKind>> {
        let info = match inspect::inspect(name) {
            Ok(i) => i,
            Err(shmkit::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("looking at {name:?}")),
        };
        match info.kind {
            Kind::Object("channel") => Ok(Some(TopicKind::Channel)),
            Kind::Object("broadcast channel") => Ok(Some(TopicKind::Broadcast)),
            Kind::Raw => bail!(
                "{name:?} is a segment of raw bytes, not a channel or broadcast (`shmkit read \
                 {name}` reads it)"
            ),
            _ => bail!(
                "{name:?} is {}, not a channel or broadcast",
                crate::report::what_is(name)
            ),
        }
    }

    /// [`TopicKind::of`], waiting up to `timeout` for `name` to appear (`Duration::ZERO`: not
    /// at all; `Duration::MAX`: for ever). A missing name after that is an error saying so.
    ///
    /// An object exists as a segment of zeros before its creator writes its header: while
    /// waiting, such a segment counts as not there yet (for [`INIT_WAIT`] at most, the time
    /// the library gives a creator), so that a reader started with its writer does not take
    /// the writer's new object for raw bytes.
    pub fn wait_for(name: &str, timeout: Duration) -> Result<TopicKind> {
        let deadline = Instant::now().checked_add(timeout);
        let mut pause = Duration::from_micros(100);
        let mut zeros_since: Option<Instant> = None;
        loop {
            match TopicKind::of(name) {
                Ok(Some(kind)) => return Ok(kind),
                Ok(None) => zeros_since = None,
                Err(e) if timeout.is_zero() => return Err(e),
                // Written meanwhile (a creator between sizing the segment, which `of` saw
                // empty, and writing the header), or really something else: look again.
                Err(_) if !starts_with_zeros(name) => match TopicKind::of(name)? {
                    Some(kind) => return Ok(kind),
                    None => zeros_since = None,
                },
                Err(e) => {
                    let since = *zeros_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > INIT_WAIT {
                        return Err(e);
                    }
                }
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                if timeout.is_zero() {
                    bail!(
                        "no channel or broadcast {name:?} — see `shmkit ls`, or give --wait \
                         (without a value: until it appears)"
                    );
                }
                bail!(
                    "no channel or broadcast {name:?} after {}",
                    humantime::format_duration(timeout)
                );
            }
            let left = deadline.map_or(pause, |d| d - now);
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

/// How long a segment of zeros may wait for its header: the library's wait for a creator.
const INIT_WAIT: Duration = Duration::from_secs(2);

/// Whether `name`'s first bytes, where an object's header starts, are zeros, or cannot be
/// read yet (a segment is empty until its creator sets its size): an object being created,
/// or raw bytes never written there.
fn starts_with_zeros(name: &str) -> bool {
    let head = (|| {
        let seg = shmkit::Segment::options().read_only(true).open(name)?;
        let len = seg.len().min(8);
        if len == 0 {
            return Ok(Vec::new());
        }
        seg.map_range(shmkit::Access::ReadOnly, 0, len)?
            .read_vec(0, len)
    })();
    head.map_or(true, |h: Vec<u8>| h.iter().all(|&b| b == 0))
}

/// One message as a [`Reader`] got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Got {
    /// A message of this many bytes is in the buffer; `seq` is its number (a broadcast's
    /// sequence number; for a channel, how many messages this reader took before it).
    Message { seq: u64, len: usize },
    /// A broadcast subscriber fell behind: this many messages were overwritten before it
    /// read them (it goes on with the oldest one still there).
    Lost(u64),
    /// Nothing arrived in time.
    Timeout,
    /// The writer went away and everything it sent has been read.
    Closed,
}

/// The reading side of a topic.
pub enum Reader {
    /// The consumer of a channel (it takes messages out: nobody else reads them).
    Channel { rx: channel::Consumer, taken: u64 },
    /// A new subscriber of a broadcast (it sees what is published from now on).
    Broadcast(broadcast::Subscriber),
}

impl Reader {
    /// Opens `name` for reading, waiting up to `open_timeout` for it to appear.
    pub fn open(name: &str, open_timeout: Duration, wait: WaitStrategy) -> Result<Reader> {
        let kind = TopicKind::wait_for(name, open_timeout)?;
        Reader::open_kind(name, kind, wait)
    }

    /// Opens `name`, known to be a `kind`, for reading.
    pub fn open_kind(name: &str, kind: TopicKind, wait: WaitStrategy) -> Result<Reader> {
        Ok(match kind {
            TopicKind::Channel => Reader::Channel {
                rx: channel::options()
                    .wait_strategy(wait)
                    .open_consumer(name)
                    .with_context(|| format!("opening the reading side of channel {name:?}"))?,
                taken: 0,
            },
            TopicKind::Broadcast => Reader::Broadcast(
                broadcast::options()
                    .wait_strategy(wait)
                    .open_subscriber(name)
                    .with_context(|| format!("subscribing to broadcast {name:?}"))?,
            ),
        })
    }

    /// Which kind this is.
    pub fn kind(&self) -> TopicKind {
        match self {
            Reader::Channel { .. } => TopicKind::Channel,
            Reader::Broadcast(_) => TopicKind::Broadcast,
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        match self {
            Reader::Channel { rx, .. } => rx.name(),
            Reader::Broadcast(s) => s.name(),
        }
    }

    /// The typed layout the object records, if it is a typed one.
    pub fn layout(&self) -> Result<Option<MessageLayout>> {
        let layout = match self {
            Reader::Channel { rx, .. } => rx.message_layout(),
            Reader::Broadcast(s) => s.message_layout(),
        };
        layout.with_context(|| format!("reading the message layout of {:?}", self.name()))
    }

    /// Copies the next message into `buf` (resized to it), waiting up to `timeout`.
    pub fn recv(&mut self, buf: &mut Vec<u8>, timeout: Duration) -> Result<Got> {
        let got = match self {
            Reader::Channel { rx, taken } => rx.recv_into_timeout(buf, timeout).map(|len| {
                *taken += 1;
                Got::Message {
                    seq: *taken - 1,
                    len,
                }
            }),
            Reader::Broadcast(s) => s.recv_into_timeout(buf, timeout).map(|len| Got::Message {
                // The subscriber's next sequence is one past the message it just read.
                seq: s.next_seq().wrapping_sub(1),
                len,
            }),
        };
        match got {
            Ok(g) => Ok(g),
            Err(shmkit::Error::Timeout { .. }) => Ok(Got::Timeout),
            Err(shmkit::Error::Disconnected { .. }) => Ok(Got::Closed),
            Err(shmkit::Error::Lagged { missed, .. }) => Ok(Got::Lost(missed)),
            Err(e) => Err(e).with_context(|| format!("receiving from {:?}", self.name())),
        }
    }
}

/// How a [`Writer`] makes its object when there is none: `create`'s options.
#[derive(Clone, Debug)]
pub struct Create {
    /// Channel or broadcast.
    pub kind: TopicKind,
    /// A channel's ring size in bytes.
    pub capacity: usize,
    /// A broadcast's slots.
    pub slots: usize,
    /// A broadcast's largest message.
    pub slot_size: usize,
    /// A broadcast's subscriber places.
    pub max_subscribers: usize,
    /// A broadcast's policy when every slot is unread.
    pub policy: Policy,
    /// Unix permission bits.
    pub mode: u32,
    /// The typed layout to record, so typed readers can open it.
    pub layout: Option<MessageLayout>,
}

/// The writing side of a topic.
pub enum Writer {
    /// The producer of a channel.
    Channel(channel::Producer),
    /// The publisher of a broadcast.
    Broadcast(broadcast::Publisher),
}

impl Writer {
    /// Creates `name` as `how` says.
    pub fn create(name: &str, how: &Create, wait: WaitStrategy) -> Result<Writer> {
        Ok(match how.kind {
            TopicKind::Channel => {
                let mut o = channel::options();
                o.capacity(how.capacity).mode(how.mode).wait_strategy(wait);
                let tx = match &how.layout {
                    Some(l) => o.create_producer_with_layout(name, l),
                    None => o.create_producer(name),
                };
                Writer::Channel(tx.with_context(|| format!("creating channel {name:?}"))?)
            }
            TopicKind::Broadcast => {
                let mut o = broadcast::options();
                o.slots(how.slots)
                    .slot_size(how.slot_size)
                    .max_subscribers(how.max_subscribers)
                    .policy(how.policy)
                    .mode(how.mode)
                    .wait_strategy(wait);
                let tx = match &how.layout {
                    Some(l) => o.create_publisher_with_layout(name, l),
                    None => o.create_publisher(name),
                };
                Writer::Broadcast(tx.with_context(|| format!("creating broadcast {name:?}"))?)
            }
        })
    }

    /// Opens the writing side of the existing `name`, waiting up to `open_timeout` for it
    /// to appear. A broadcast's publisher is its creator, so a broadcast cannot be joined
    /// for writing: that is an error saying so.
    pub fn open(name: &str, open_timeout: Duration, wait: WaitStrategy) -> Result<Writer> {
        match TopicKind::wait_for(name, open_timeout)? {
            TopicKind::Channel => Ok(Writer::Channel(
                channel::options()
                    .wait_strategy(wait)
                    .open_producer(name)
                    .with_context(|| format!("opening the writing side of channel {name:?}"))?,
            )),
            TopicKind::Broadcast => bail!(
                "broadcast {name:?} already has its publisher (the process that created it); \
                 a broadcast has one"
            ),
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        match self {
            Writer::Channel(tx) => tx.name(),
            Writer::Broadcast(p) => p.name(),
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> TopicKind {
        match self {
            Writer::Channel(_) => TopicKind::Channel,
            Writer::Broadcast(_) => TopicKind::Broadcast,
        }
    }

    /// The largest message this side can send.
    pub fn max_message_len(&self) -> usize {
        match self {
            Writer::Channel(tx) => tx.max_message_len(),
            Writer::Broadcast(p) => p.max_message_len(),
        }
    }

    /// Sends one message, waiting up to `timeout` for room (a blocking broadcast or a full
    /// ring); `Ok(false)` when there was none in time (nothing was sent), so that a caller
    /// waits in steps and looks at other things (a stop) between them. A message longer
    /// than [`max_message_len`](Writer::max_message_len) is an error naming both lengths.
    pub fn send_within(&mut self, msg: &[u8], timeout: Duration) -> Result<bool> {
        let max = self.max_message_len();
        if msg.len() > max {
            bail!(
                "a message of {} bytes does not fit {:?}, whose largest is {max} bytes",
                msg.len(),
                self.name()
            );
        }
        let sent = match self {
            Writer::Channel(tx) => tx.send_timeout(msg, timeout),
            Writer::Broadcast(p) => p.send_timeout(msg, timeout),
        };
        match sent {
            Ok(()) => Ok(true),
            Err(shmkit::Error::Timeout { .. }) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("sending to {:?}", self.name())),
        }
    }

    /// Whether this side created the object (and so removes its name when it ends).
    pub fn is_creator(&self) -> bool {
        match self {
            Writer::Channel(tx) => tx.is_creator(),
            // Only a broadcast's creator publishes to it.
            Writer::Broadcast(_) => true,
        }
    }

    /// Whether a message sent now reaches nobody: a broadcast with no subscriber attached.
    /// (A channel keeps what is sent for its reader, attached or not: see
    /// [`Writer::lost_at_end`].)
    pub fn unheard(&self) -> bool {
        matches!(self, Writer::Broadcast(p) if p.subscribers() == 0)
    }

    /// What a user must be told when this writer ends, if it created the object: how many
    /// messages reached nobody, `unheard` of them sent while no subscriber was attached (see
    /// [`Writer::unheard`]), or those a channel holds unread with no consumer attached, which
    /// go with the channel. `None` if nothing was lost.
    pub fn lost_at_end(&self, unheard: u64) -> Option<String> {
        if !self.is_creator() {
            return None;
        }
        let name = self.name();
        match self {
            Writer::Broadcast(_) => (unheard > 0).then(|| {
                format!(
                    "{unheard} message(s) were published to {name:?} while it had no \
                     subscriber: nobody got them (start the readers first, or give \
                     --wait-for-subscribers)"
                )
            }),
            Writer::Channel(_) => {
                let info = inspect::inspect(name).ok()?;
                let Some(inspect::Details::Channel(c)) = &info.details else {
                    return None;
                };
                let unread = c.sent.saturating_sub(c.received);
                let reader = info.holders.iter().any(|h| h.role == "consumer");
                (unread > 0 && !reader).then(|| {
                    format!(
                        "{unread} message(s) sent to {name:?} were never read: no consumer \
                         has it, and the channel goes with this, its creator (start the \
                         reader first, or give --wait-for-subscribers 1)"
                    )
                })
            }
        }
    }

    /// Waits until `n` readers are there: a broadcast's live subscribers; for a channel
    /// (`n` at most 1), a live process holding its consumer role, as `shmkit info` sees it.
    /// `Ok(false)` if a stop was requested first.
    pub fn wait_for_readers(&self, n: usize, stop: &Stop) -> Result<bool> {
        const TICK: Duration = Duration::from_millis(10);
        match self {
            Writer::Broadcast(p) if n > p.max_subscribers() => bail!(
                "{n} subscribers of {:?} can never be there: it has places for {}",
                p.name(),
                p.max_subscribers()
            ),
            Writer::Broadcast(p) => loop {
                match p.wait_for_subscribers_timeout(n, TICK) {
                    Ok(_) => return Ok(true),
                    Err(shmkit::Error::Timeout { .. }) if stop.requested() => return Ok(false),
                    Err(shmkit::Error::Timeout { .. }) => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("waiting for subscribers of {:?}", p.name()))
                    }
                }
            },
            Writer::Channel(tx) if n > 1 => bail!(
                "a channel has one reader; {n} readers of {:?} can never be there",
                tx.name()
            ),
            Writer::Channel(tx) => {
                while n == 1 && !has_consumer(tx.name()) {
                    if stop.sleep(TICK) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }
}

/// Whether a live process holds channel `name`'s consumer role.
fn has_consumer(name: &str) -> bool {
    inspect::inspect(name).is_ok_and(|i| i.holders.iter().any(|h| h.role == "consumer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(kind: TopicKind, layout: Option<MessageLayout>) -> Create {
        Create {
            kind,
            capacity: 4096,
            slots: 4,
            slot_size: 64,
            max_subscribers: 2,
            policy: Policy::Block,
            mode: 0o600,
            layout,
        }
    }

    /// Both kinds round-trip through the same two types, a typed layout recorded by the
    /// writer is what the reader sees, and the end of the writer is `Closed`.
    #[test]
    fn both_kinds_round_trip_with_their_layout() {
        let wait = WaitStrategy::Blocking;
        for kind in [TopicKind::Channel, TopicKind::Broadcast] {
            let name = format!("cli-endpoint-{}-{}", kind.id(), std::process::id());
            let layout = MessageLayout::new(8, 4, Some("pair v1"));
            let mut w = Writer::create(&name, &create(kind, Some(layout.clone())), wait).unwrap();
            assert_eq!(TopicKind::of(&name).unwrap(), Some(kind));
            let mut r = Reader::open(&name, Duration::ZERO, wait).unwrap();
            assert_eq!(r.kind(), kind);
            assert_eq!(r.layout().unwrap(), Some(layout));
            let mut buf = Vec::new();
            for i in 0..3u64 {
                assert!(w
                    .send_within(&i.to_le_bytes(), Duration::from_secs(5))
                    .unwrap());
                let got = r.recv(&mut buf, Duration::from_secs(5)).unwrap();
                assert_eq!(got, Got::Message { seq: i, len: 8 }, "{kind:?}");
                assert_eq!(buf, i.to_le_bytes());
            }
            let too_long = vec![0; w.max_message_len() + 1];
            assert!(w.send_within(&too_long, Duration::ZERO).is_err());
            assert_eq!(r.recv(&mut buf, Duration::ZERO).unwrap(), Got::Timeout);
            drop(w);
            assert_eq!(
                r.recv(&mut buf, Duration::from_secs(5)).unwrap(),
                Got::Closed
            );
        }
    }

    /// A reader waiting for a name that its writer is creating at the same moment finds
    /// the topic, never "raw bytes" (the segment is empty, then zeros, before its header).
    #[test]
    fn a_topic_being_created_is_not_taken_for_raw_bytes() {
        for i in 0..200 {
            let name = format!("cli-endpoint-race-{}-{i}", std::process::id());
            let creator = {
                let name = name.clone();
                std::thread::spawn(move || {
                    let mut how = create(TopicKind::Broadcast, None);
                    how.slot_size = 4096;
                    Writer::create(&name, &how, WaitStrategy::Blocking).unwrap()
                })
            };
            let kind = TopicKind::wait_for(&name, Duration::from_secs(30));
            drop(creator.join().unwrap());
            assert_eq!(kind.unwrap(), TopicKind::Broadcast, "round {i}");
        }
    }

    #[test]
    fn other_kinds_and_missing_names_are_errors_that_say_so() {
        let name = format!("cli-endpoint-other-{}", std::process::id());
        assert_eq!(TopicKind::of(&name).unwrap(), None);
        let e = TopicKind::wait_for(&name, Duration::from_millis(20)).unwrap_err();
        assert!(e.to_string().contains("no channel or broadcast"), "{e}");
        let _ev = shmkit::sync::Event::options().create(&name).unwrap();
        let e = Reader::open(&name, Duration::ZERO, WaitStrategy::Blocking)
            .err()
            .unwrap();
        assert!(e.to_string().contains("is an event, not a channel"), "{e}");
    }
}
