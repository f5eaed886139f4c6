//! Every kind's shape and counters, read from a read-only mapping of the segment without
//! taking any role ([`Details`]). Every value comes from memory another process writes, so
//! every offset is bounds-checked (a read out of range is an error, never a panic) and every
//! geometry is checked as an opener checks it; what cannot be read is an error for the whole
//! details ([`Info::details_error`](super::Info::details_error)), not a guess.
//!
//! Counters are read with plain loads while their writers go on: each is exact for the
//! moment it was read, and two read one after the other may not be of the same moment (a
//! subscriber's lag can be computed from a count newer than its position).

use crate::channel::broadcast::{shape, Policy};
use crate::channel::layout as chan;
use crate::channel::MessageLayout;
use crate::liveness;
use crate::object::{Header, Kind, DATA, LOCK_STATE, SLEEPERS, WORD};
use crate::{Access, Error, Result, Segment, View};

/// The kind-specific shape and counters of an object: [`Info::details`](super::Info::details).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Details {
    /// A channel (bytes or typed).
    Channel(ChannelDetails),
    /// A broadcast channel (bytes or typed).
    Broadcast(BroadcastDetails),
    /// A service (bytes or typed).
    Service(ServiceDetails),
    /// A mutex.
    Mutex(LockDetails),
    /// An event.
    Event(EventDetails),
    /// A semaphore.
    Semaphore(SemaphoreDetails),
    /// A shared value.
    #[cfg_attr(feature = "serde", serde(rename = "shared_value"))]
    Shared(SharedDetails),
}

/// A channel's shape and counters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChannelDetails {
    /// The ring's size in bytes.
    pub capacity: u64,
    /// Bytes in the ring not yet released by the consumer (frames, padding included): the
    /// producer's position less the consumer's, at most `capacity`.
    pub fill: u64,
    /// Messages producers committed since the channel was created.
    pub sent: u64,
    /// Their payload bytes.
    pub bytes_sent: u64,
    /// Messages consumers received (and released) since the channel was created.
    pub received: u64,
    /// The message layout of a typed channel; `None` for bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::layout"))]
    pub layout: Option<MessageLayout>,
}

/// One attached subscriber of a broadcast, as its table entry says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SubscriberDetails {
    /// Its entry in the table (the `i` of its role `subscriber i`).
    pub index: u32,
    /// The pid it recorded when it joined (for display).
    pub pid: u32,
    /// The sequence number of the next message it receives.
    pub position: u64,
    /// Messages published that it has not received yet: `published - position`.
    pub lag: u64,
    /// Messages it received since it joined.
    pub received: u64,
    /// Messages it lost (overwrite policy: reported to it as `Lagged`) since it joined.
    pub lost: u64,
}

/// A broadcast's shape and counters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BroadcastDetails {
    /// Number of message slots.
    pub slots: u64,
    /// Largest message, in bytes.
    pub slot_size: u64,
    /// What happens to a subscriber that falls a whole ring behind.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::policy"))]
    pub policy: Policy,
    /// How many subscribers may be attached at once.
    pub max_subscribers: u32,
    /// The message layout of a typed broadcast; `None` for bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::layout"))]
    pub layout: Option<MessageLayout>,
    /// Messages published since the broadcast was created.
    pub published: u64,
    /// Their payload bytes.
    pub published_bytes: u64,
    /// Messages the publisher overwrote while some attached subscriber had not received them
    /// yet (overwrite policy; always 0 under back-pressure). Each such subscriber counts the
    /// loss in its own `lost` when it gets there.
    pub overwritten: u64,
    /// The subscribers attached now (entries held by a live process).
    pub subscribers: Vec<SubscriberDetails>,
}

/// A service's shape and counters. Requests and responses are counted by the service's
/// channels (`<name>.q<i>`, `<name>.r<i>`), summed over the client slots whose channels
/// exist.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ServiceDetails {
    /// How many clients may be connected at once.
    pub max_clients: u32,
    /// How many requests a client may have outstanding.
    pub max_outstanding: u32,
    /// Largest request, in bytes.
    pub max_request_len: u32,
    /// Largest response, in bytes.
    pub max_response_len: u32,
    /// The request layout of a typed service; `None` for bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::layout"))]
    pub request_layout: Option<MessageLayout>,
    /// The response layout of a typed service; `None` for bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::layout"))]
    pub response_layout: Option<MessageLayout>,
    /// 1 for the first server, +1 for each server that took over.
    pub epoch: u32,
    /// Clients connected now (slots held by a live process).
    pub clients: u32,
    /// Requests clients sent since the service was created.
    pub requests: u64,
    /// Requests sent but not yet taken by the server (in the request rings now).
    pub queued: u64,
    /// Responses the server sent (including, after a takeover, one restart notice per client
    /// that was connected to the old server). Requests outstanding are `requests - served`
    /// while no client has left requests unanswered.
    pub served: u64,
    /// Responses the server could not send: the client's response ring was full.
    pub refused_responses: u64,
    /// Requests clients could not send (`Full`: their outstanding limit, or a full ring).
    pub refused_requests: u64,
    /// Connections refused (`Full`: every client slot taken).
    pub refused_connections: u64,
}

/// A mutex's state (also the lock of a shared value).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LockDetails {
    /// `"consistent"`, `"owner_died"` (an owner died holding it; the next holder is told
    /// and repairs) or `"unrecoverable"`. Whether it is locked now is the OS's to know and
    /// is not read.
    pub state: &'static str,
}

/// An event's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EventDetails {
    /// Manual reset (`true`) or auto reset.
    pub manual_reset: bool,
    /// Whether it is set.
    pub set: bool,
    /// Threads asleep waiting for it.
    pub waiters: u32,
}

/// A semaphore's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SemaphoreDetails {
    /// Its count now.
    pub count: u32,
    /// Its maximum count.
    pub max: u32,
    /// Threads asleep waiting for it.
    pub waiters: u32,
}

/// A shared value's shape and lock state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SharedDetails {
    /// The value's size in bytes.
    pub size: u64,
    /// The value's alignment.
    pub align: u64,
    /// The fingerprint of its type tag (0 for none).
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::json::fingerprint"))]
    pub fingerprint: u64,
    /// Its lock's state, as [`LockDetails::state`].
    pub lock: &'static str,
}

/// Reads `u64`s and `u32`s of a read-only view, bounds-checked.
struct Words<'a>(&'a View);

impl Words<'_> {
    fn u64(&self, at: usize) -> Result<u64> {
        let mut b = [0u8; 8];
        self.0.read_at(at, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    fn u32(&self, at: usize) -> Result<u32> {
        let mut b = [0u8; 4];
        self.0.read_at(at, &mut b)?;
        Ok(u32::from_ne_bytes(b))
    }
}

/// The details of the object in `seg` (of this layout version) with `header`.
pub(super) fn read(seg: &Segment, name: &str, header: &Header) -> Result<Option<Details>> {
    let Some(kind) = Kind::from_u32(header.kind) else {
        return Ok(None);
    };
    let view = seg.map_range(Access::ReadOnly, 0, seg.len())?;
    let w = Words(&view);
    let corrupt = |reason: String| Error::Corrupt {
        name: name.to_owned(),
        reason,
    };
    if header.ready != 1 {
        return Err(corrupt(
            "its creator has not finished initialising it (or died doing so)".to_owned(),
        ));
    }
    // Windows and macOS may round a segment up to whole pages: the header's length is the
    // object's, and may not exceed the segment's.
    let len = usize::try_from(header.total_len)
        .ok()
        .filter(|&l| l <= seg.len() && l >= crate::object::HEADER_LEN)
        .ok_or_else(|| {
            corrupt(format!(
                "its header says {} bytes, the segment has {}",
                header.total_len,
                seg.len()
            ))
        })?;
    let p = header.params;
    Ok(Some(match kind {
        Kind::Channel => Details::Channel(channel(&w, p, len, name)?),
        Kind::Broadcast => Details::Broadcast(broadcast(seg, &w, p, len, name)?),
        Kind::Service => Details::Service(service(seg, &w, header, name)?),
        Kind::Mutex => Details::Mutex(LockDetails {
            state: lock_state(w.u32(LOCK_STATE)?),
        }),
        Kind::Event => Details::Event(EventDetails {
            manual_reset: p[0] != 0,
            set: w.u32(WORD)? != 0,
            waiters: w.u32(SLEEPERS)?,
        }),
        Kind::Semaphore => Details::Semaphore(SemaphoreDetails {
            count: w.u32(WORD)?,
            max: u32::try_from(p[0]).map_err(|_| corrupt(format!("maximum count {}", p[0])))?,
            waiters: w.u32(SLEEPERS)?,
        }),
        Kind::Shared => {
            if len < DATA {
                return Err(corrupt("too short for a shared value".to_owned()));
            }
            Details::Shared(SharedDetails {
                size: p[0],
                align: p[1],
                fingerprint: p[2],
                lock: lock_state(w.u32(LOCK_STATE)?),
            })
        }
    }))
}

fn lock_state(v: u32) -> &'static str {
    match v {
        0 => "consistent",
        1 => "owner_died",
        2 => "unrecoverable",
        _ => "unknown",
    }
}

fn channel(w: &Words<'_>, p: [u64; 3], len: usize, name: &str) -> Result<ChannelDetails> {
    let capacity = p[0];
    if !capacity.is_power_of_two() || capacity.checked_add(chan::RING as u64) != Some(len as u64) {
        return Err(Error::Corrupt {
            name: name.to_owned(),
            reason: format!("a ring of {capacity} bytes does not fill {len} bytes"),
        });
    }
    let write = w.u64(chan::PRODUCER_LINE)?;
    let read = w.u64(chan::CONSUMER_LINE)?;
    Ok(ChannelDetails {
        capacity,
        fill: write.wrapping_sub(read).min(capacity),
        sent: w.u64(chan::PRODUCER_LINE + chan::COUNT)?,
        bytes_sent: w.u64(chan::PRODUCER_LINE + chan::BYTES)?,
        received: w.u64(chan::CONSUMER_LINE + chan::COUNT)?,
        layout: MessageLayout::read_view(w.0, [p[1], p[2]], chan::TAG_TEXT),
    })
}

fn broadcast(
    seg: &Segment,
    w: &Words<'_>,
    p: [u64; 3],
    len: usize,
    name: &str,
) -> Result<BroadcastDetails> {
    let (slots, slot_size, max_subs, policy) = shape::geometry(name, p, len as u64)?;
    let published = w.u64(chan::PRODUCER_LINE)?;
    let mut subscribers = Vec::new();
    for i in 0..max_subs {
        let at = shape::TABLE + i * shape::ENTRY;
        let word = w.u64(at)?;
        let (state, _, pid) = liveness::unpack(word);
        if state != shape::ACTIVE || !liveness::holder_alive(seg, shape::sub_slot(i), word) {
            continue;
        }
        let position = w.u64(at + 8)?;
        subscribers.push(SubscriberDetails {
            index: i as u32,
            pid,
            position,
            lag: published.saturating_sub(position),
            received: w.u64(at + shape::ENTRY_RECEIVED)?,
            lost: w.u64(at + shape::ENTRY_LOST)?,
        });
    }
    Ok(BroadcastDetails {
        slots: slots as u64,
        slot_size: slot_size as u64,
        policy,
        max_subscribers: max_subs as u32,
        layout: MessageLayout::read_record_view(w.0, shape::RECORD)?,
        published,
        published_bytes: w.u64(chan::PRODUCER_LINE + chan::BYTES)?,
        overwritten: w.u64(chan::PRODUCER_LINE + chan::COUNT)?,
        subscribers,
    })
}

fn service(seg: &Segment, w: &Words<'_>, header: &Header, name: &str) -> Result<ServiceDetails> {
    use crate::service::shape as svc;
    let limits = svc::limits(name, header, w.0.len())?;
    let mut d = ServiceDetails {
        max_clients: limits[0],
        max_outstanding: limits[1],
        max_request_len: limits[2],
        max_response_len: limits[3],
        request_layout: MessageLayout::read_record_view(w.0, svc::REQUEST_RECORD)?,
        response_layout: MessageLayout::read_record_view(w.0, svc::RESPONSE_RECORD)?,
        epoch: w.u32(svc::EPOCH)?,
        clients: 0,
        requests: 0,
        queued: 0,
        served: 0,
        refused_responses: w.u64(svc::REFUSED_RESPONSES)?,
        refused_requests: w.u64(svc::REFUSED_REQUESTS)?,
        refused_connections: w.u64(svc::REFUSED_CONNECTIONS)?,
    };
    for i in 0..d.max_clients {
        let word = w.u64(svc::TABLE + 8 * i as usize)?;
        if liveness::unpack(word).0 == svc::CONNECTED
            && liveness::holder_alive(seg, liveness::slot::CLIENT + i, word)
        {
            d.clients += 1;
        }
        let q = channel_counts(&svc::request_channel(name, i));
        let r = channel_counts(&svc::response_channel(name, i));
        // The channels' counts are other segments' bytes: a corrupt one must not overflow.
        if let Some((sent, received)) = q {
            d.requests = d.requests.saturating_add(sent);
            d.queued = d.queued.saturating_add(sent.saturating_sub(received));
        }
        if let Some((sent, _)) = r {
            d.served = d.served.saturating_add(sent);
        }
    }
    Ok(d)
}

/// (sent, received) of the channel `name`, if it is a channel of this layout version.
fn channel_counts(name: &str) -> Option<(u64, u64)> {
    let seg = Segment::options().read_only(true).open(name).ok()?;
    if seg.len() < chan::RING {
        return None;
    }
    let view = seg.map_range(Access::ReadOnly, 0, chan::RING).ok()?;
    let w = Words(&view);
    let header: Header = bytemuck::pod_read_unaligned(&view.read_vec(0, 64).ok()?);
    let ok = header.magic == crate::object::MAGIC
        && header.version == crate::object::LAYOUT_VERSION
        && header.kind == Kind::Channel as u32
        && header.ready == 1;
    ok.then_some(())?;
    Some((
        w.u64(chan::PRODUCER_LINE + chan::COUNT).ok()?,
        w.u64(chan::CONSUMER_LINE + chan::COUNT).ok()?,
    ))
}
