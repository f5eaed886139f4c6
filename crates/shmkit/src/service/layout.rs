//! The service segment's layout (the table is in the module docs), its limits, the frame
//! every request and response starts with, the server's bell, and the typed records.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{MAX_CLIENTS, MAX_MESSAGE_LEN, MAX_OUTSTANDING};
use crate::atomic_shim;
use crate::channel::message_layout::MessageLayout;
use crate::liveness;
use crate::object::{Header, Kind, Object};
use crate::wait::{Bell, Notifier};
use crate::{Error, Result};

pub(super) const SERVER_WORD: usize = 64;
pub(crate) const EPOCH: usize = 72;
/// The refusal counters (layout version 5), each bumped by the role that refuses, on its
/// refusing path only (a `fetch_add`: several threads of a server, or several clients, may
/// refuse at once, and refusing is not the hot path): responses the server could not put in
/// a client's full ring, requests a client refused (`Full`: its outstanding limit or ring),
/// and connections refused (`Full`: every slot taken). The served and request counts are
/// the channels' own counters (`channel::layout`, "Counters").
pub(crate) const REFUSED_RESPONSES: usize = 80;
pub(crate) const REFUSED_REQUESTS: usize = 88;
pub(crate) const REFUSED_CONNECTIONS: usize = 96;
const _: () = assert!(REFUSED_CONNECTIONS + 8 <= BELL);
/// The server's bell: seq u32, sleepers u32 (`crate::wait::Bell`).
pub(super) const BELL: usize = 128;
pub(crate) const REQUEST_RECORD: usize = 256;
pub(crate) const RESPONSE_RECORD: usize = 320;
pub(crate) const TABLE: usize = 384;

/// States of the server's role word.
pub(super) const SERVING: u32 = 1;
pub(super) const LEFT: u32 = 2;
/// States of a client slot's role word.
pub(crate) const CONNECTED: u32 = 1;

/// Bytes before every request's and response's payload: id u64, epoch u32, generation u32.
pub(super) const FRAME: usize = 16;
/// The id of the frame a server that took over puts in the response ring of each client
/// that was connected to the old one.
pub(super) const RESTART: u64 = u64::MAX;

/// A service's limits, from the options (create) or the segment (open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) clients: u32,
    pub(super) outstanding: u32,
    pub(super) request_len: u32,
    pub(super) response_len: u32,
}

impl Limits {
    pub(super) fn params(&self) -> [u64; 3] {
        [
            u64::from(self.clients) | u64::from(self.outstanding) << 32,
            u64::from(self.request_len) | u64::from(self.response_len) << 32,
            0,
        ]
    }

    /// The limits a header records, if they are limits a service could have.
    pub(super) fn from_header(name: &str, h: &Header, len: usize) -> Result<Limits> {
        let l = Limits {
            clients: h.params[0] as u32,
            outstanding: (h.params[0] >> 32) as u32,
            request_len: h.params[1] as u32,
            response_len: (h.params[1] >> 32) as u32,
        };
        l.check(name)
            .and_then(|()| {
                if h.total_len == segment_len(l.clients) as u64 && len >= segment_len(l.clients) {
                    Ok(l)
                } else {
                    Err(Error::size(name, "the table does not match the segment"))
                }
            })
            .map_err(|e| Error::Corrupt {
                name: name.to_owned(),
                reason: format!("its service header is impossible ({e})"),
            })
    }

    pub(super) fn check(&self, name: &str) -> Result<()> {
        let ok = (1..=MAX_CLIENTS).contains(&self.clients)
            && (1..=MAX_OUTSTANDING).contains(&self.outstanding)
            && self.request_len <= MAX_MESSAGE_LEN
            && self.response_len <= MAX_MESSAGE_LEN;
        if ok
            && ring_capacity(self.outstanding, self.request_len).is_some()
            && ring_capacity(self.outstanding, self.response_len).is_some()
        {
            return Ok(());
        }
        Err(Error::size(
            name,
            format!(
                "limits out of range: {} clients (1..={MAX_CLIENTS}), {} outstanding \
                 (1..={MAX_OUTSTANDING}), messages of {} and {} bytes (at most {MAX_MESSAGE_LEN})",
                self.clients, self.outstanding, self.request_len, self.response_len
            ),
        ))
    }
}

pub(super) fn segment_len(clients: u32) -> usize {
    TABLE + 8 * clients as usize
}

/// The ring capacity for messages of up to `len` payload bytes: room for twice
/// `outstanding` of them (stale frames of a previous client or server, answers to cancelled
/// requests), a restart frame and one wrap's padding; at least twice a frame, as a channel
/// needs. `None` if that overflows.
pub(super) fn ring_capacity(outstanding: u32, len: u32) -> Option<usize> {
    let frame = 8 + (FRAME + len as usize).next_multiple_of(8);
    let need = frame.checked_mul(2 * outstanding as usize + 3)?;
    let cap = need
        .max(crate::channel::MIN_CAPACITY)
        .checked_next_power_of_two()?;
    (cap <= 1 << 40).then_some(cap)
}

/// The request channel of slot `i` (client → server).
pub(crate) fn request_channel(name: &str, i: u32) -> String {
    format!("{name}.q{i}")
}

/// The response channel of slot `i` (server → client).
pub(crate) fn response_channel(name: &str, i: u32) -> String {
    format!("{name}.r{i}")
}

/// The word at `offset` of the service segment (`offset` is one of the constants above or a
/// table entry below the checked length, so this fails only on a bug).
pub(super) fn word32(obj: &Object, offset: usize) -> Result<&AtomicU32> {
    obj.view.atomic_u32(offset)
}

/// A role word (the shim type `crate::liveness` takes, so that loom can run it).
pub(super) fn word64(obj: &Object, offset: usize) -> Result<&atomic_shim::AtomicU64> {
    Ok(atomic_shim::AtomicU64::from_std(
        obj.view.atomic_u64(offset)?,
    ))
}

/// Counts one refusal in the counter at `offset` (one of the `REFUSED_` constants); a
/// statistic, so a failure to reach the word (a bug) is ignored.
pub(super) fn count_refusal(obj: &Object, offset: usize) {
    if let Ok(w) = obj.view.atomic_u64(offset) {
        w.fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) fn slot_word(obj: &Object, i: u32) -> Result<&atomic_shim::AtomicU64> {
    word64(obj, TABLE + 8 * i as usize)
}

/// The 16 bytes before a payload.
pub(super) fn encode(id: u64, epoch: u32, gen: u32) -> [u8; FRAME] {
    let mut b = [0u8; FRAME];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..12].copy_from_slice(&epoch.to_le_bytes());
    b[12..].copy_from_slice(&gen.to_le_bytes());
    b
}

/// (id, epoch, generation) of a frame, if it is long enough to have them.
pub(super) fn decode(msg: &[u8]) -> Option<(u64, u32, u32)> {
    let h: &[u8; FRAME] = msg.get(..FRAME)?.try_into().ok()?;
    Some((
        u64::from_le_bytes(h[..8].try_into().ok()?),
        u32::from_le_bytes(h[8..12].try_into().ok()?),
        u32::from_le_bytes(h[12..].try_into().ok()?),
    ))
}

/// The service's bell (`crate::wait::Bell`, at `BELL` in the header): the server sleeps on
/// it, clients ring it after each request. Its notifier is `<name>.srv` on Windows.
pub(super) fn bell_name(obj: &Object) -> String {
    format!("{}.srv", obj.name())
}

/// The bell of a new service.
pub(super) fn create_bell(obj: &Object) -> Result<Bell> {
    Ok(Bell::at(obj, BELL, Notifier::create(&bell_name(obj))?))
}

/// Opens the bell; a server taking over (`or_create`) creates it if its kernel object is
/// gone (Windows: it lives only while some process has it open).
pub(super) fn open_bell(obj: &Object, or_create: bool) -> Result<Bell> {
    let notifier = match Notifier::open(&bell_name(obj)) {
        Err(Error::NotFound { .. }) if or_create => Notifier::create(&bell_name(obj))?,
        r => r?,
    };
    Ok(Bell::at(obj, BELL, notifier))
}

/// The message types of a typed service, checked against its records.
#[derive(Clone, Debug)]
pub(super) struct Types {
    pub(super) request: MessageLayout,
    pub(super) response: MessageLayout,
}

impl Types {
    pub(super) fn write(&self, obj: &Object) {
        self.request.write_record(obj, REQUEST_RECORD);
        self.response.write_record(obj, RESPONSE_RECORD);
    }

    pub(super) fn check(&self, obj: &Object) -> Result<()> {
        self.request.check_record(obj, REQUEST_RECORD)?;
        self.response.check_record(obj, RESPONSE_RECORD)
    }
}

/// The roles a service segment records, for inspection (`None`: another kind): the server,
/// and client slot `i` as `client i` (`params` come from the segment, so the slot count is
/// clamped; `inspect` skips words past the segment's end).
pub(crate) fn roles(kind: Kind, params: [u64; 3]) -> Option<Vec<crate::channel::RoleAt>> {
    use crate::channel::RoleAt;
    (kind == Kind::Service).then(|| {
        let clients = (params[0] as u32).min(MAX_CLIENTS);
        let server = RoleAt {
            label: "server".to_owned(),
            slot: liveness::slot::SERVER,
            offset: SERVER_WORD,
            held: |s| s == SERVING,
        };
        std::iter::once(server)
            .chain((0..clients).map(|i| RoleAt {
                label: format!("client {i}"),
                slot: liveness::slot::CLIENT + i,
                offset: TABLE + 8 * i as usize,
                held: |s| s == CONNECTED,
            }))
            .collect()
    })
}

/// The server role word's state, and whether its holder is alive (a system call).
pub(super) fn server_alive(obj: &Object) -> Result<bool> {
    let word = word64(obj, SERVER_WORD)?.load(Ordering::Acquire);
    Ok(liveness::unpack(word).0 == SERVING
        && liveness::holder_alive(&obj.segment, liveness::slot::SERVER, word))
}
