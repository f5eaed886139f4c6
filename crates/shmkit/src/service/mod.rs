//! Request/response between processes: one [`Server`] by name, any number of [`Client`]s that
//! come and go, several requests outstanding per client, answers in any order and from any
//! thread. A [typed variant](typed()) carries `#[repr(C)]` plain-old-data values.
//!
//! ```
//! use shmkit::service;
//! # let name = format!("doc-svc-{}", std::process::id());
//! let mut server = service::options().max_clients(4).create_server(&name)?;
//! let mut client = service::connect(&name)?;       // e.g. in another process
//!
//! let ping = client.request(b"ping")?;              // copies the request into the ring
//! let req = server.receive()?;                      // the request and its handle
//! assert_eq!(&*req, b"ping");
//! server.respond(req.handle(), b"pong")?;           // or `respond_with`: written in place
//! assert_eq!(&*client.wait(ping)?, b"pong");        // read in place
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Design
//!
//! A service is built from the pieces the channels use, not a new protocol:
//!
//! * the service segment `<name>` (an object with the versioned header, kind "service") holds
//!   the server's role word, the server's *epoch*, one bell the server sleeps on, the
//!   message-type records of a typed service, and a table of client slots (layout below);
//! * client slot `i` owns two SPSC channels, created by the server with the service:
//!   requests `<name>.q<i>` (the client produces, the server consumes) and responses
//!   `<name>.r<i>` (the server produces, the client consumes). Each is a plain channel with
//!   its own liveness, re-attach and corruption checks;
//! * a client takes a slot with a liveness role claim (`crate::liveness`, role slot
//!   `CLIENT + i`), so a killed client's slot is taken over by the next one to connect, and a
//!   live client's never is. At most `max_clients` clients, else [`Error::Full`];
//! * every request and response starts with 16 bytes: the request id (the client's counter),
//!   the server epoch and the client's claim generation (the 24-bit generation of its slot
//!   word). Responses carry the id, so answers in any order reach the request they answer;
//!   the client keeps an answer that arrives before its turn (a copy) until it is waited for;
//! * the server sleeps on **one** word: clients ring the service's bell after each
//!   request, and the server scans the request rings (one load per slot) before it sleeps.
//!   A client waits on its response channel's own bell. So each waitable side has one
//!   bell word, like a channel's sides, and both are [`WaitSet`](crate::WaitSet)
//!   members: a server is ready when any request ring holds a frame and sleeps on the
//!   service's `seq` word (offset 128, sleepers at 132, named `<name>.srv` on Windows); a
//!   client is ready when its response ring holds a frame (or a response is already kept, or
//!   the server is gone) and sleeps on that channel's data bell, as any channel consumer
//!   does.
//!
//! # Peer death and restarts
//!
//! * A client that dies (even by SIGKILL) mid-request frees its place: the next client to
//!   connect takes over its slot and its two channels (the kernel says the holder is gone).
//!   Requests and responses left in them carry the old generation and are dropped unread by
//!   both sides. The server never waits for a client: [`Server::respond`] to a client that
//!   left, or whose slot another client has taken over, is [`Error::Disconnected`]; an answer
//!   to a client killed and not yet replaced goes into its ring (the next client of the slot
//!   drops it), and a response ring with no room (a client that does not read, or asks beyond
//!   its limits) is [`Error::WouldBlock`]; the server goes on. The server does not test
//!   clients' liveness itself: a dead client's slot is freed when the next client claims it.
//! * When the server dies or is dropped, every client waiting for a response gets
//!   [`Error::Disconnected`] (within ~50 ms of a death, the channels' liveness test), and so do
//!   later requests and waits.
//! * **Restart.** [`Options::create_server`] on a name whose server is gone (killed, so the
//!   name is still there) takes the service over: it claims the server role, adopts the
//!   segment's limits (its own options' limits are ignored; a typed server still checks its
//!   types), re-attaches every channel, and bumps the epoch. Clients of the old server are
//!   *not* carried over: any request or wait on them returns [`Error::Disconnected`] (a
//!   waiting client is told by a restart frame the new server puts in its response ring), and
//!   they reconnect — [`Client::reconnect`], or drop and [`connect`] again — to be served by
//!   the new server. Requests an old client had outstanding are lost; resend them. While the
//!   old server lives, a second server is [`Error::InUse`].
//!
//! # Layout
//!
//! ```text
//! offset  size  what
//!      0    64  object header (kind = service, params = [max_clients | max_outstanding << 32,
//!               max_request_len | max_response_len << 32, 0])
//!     64     8  the server's role word (liveness slot SERVER): SERVING or LEFT
//!     72     4  epoch: 1 for the first server, +1 for each server that takes over
//!    128     8  the server's bell: seq u32 | sleepers u32 (a 128-byte line of its own)
//!    256    64  request type record (`channel::fingerprint`; zero for bytes)
//!    320    64  response type record
//!    384  8 * n client slot i: a role word (liveness slot CLIENT + i), CONNECTED or LEFT
//! ```
//!
//! Channels are sized so that a client within its limits never finds its request ring full
//! and the server never finds its response ring full: room for twice `max_outstanding`
//! messages of the largest size, a restart frame, and a wrap's padding.
//!
//! # Trust
//!
//! As for channels: every process that can open the segments read-write is a cooperating
//! peer. A hostile one can make clients see wrong answers, [`Error::Disconnected`] or
//! [`Error::Corrupt`], have its own requests dropped, or keep slots busy (denial of service);
//! a [`Response`] read in place is a `&[u8]` it could change (undefined behaviour for that
//! reference: copy it out when the server is not trusted). It cannot make the library read or
//! write outside the mappings or panic: the header, limits, every frame and every id are
//! checked; a request ring holding an impossible frame is skipped by the server (that client
//! is no longer served) rather than stopping it.
//!
//! # Platform notes
//!
//! The server sleeps on a futex on Linux, on the named semaphore `<name>.srv` on Windows, and
//! polls on macOS (as channels do). Names derived from `<name>` (`<name>.q<i>`, `<name>.r<i>`)
//! must fit the platform's limit: on macOS (30 bytes) keep `<name>` to 25 bytes or less.

mod client;
mod server;
pub mod typed;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::atomic_shim;
use crate::channel::message_layout::MessageLayout;
use crate::channel::WaitMode;
use crate::liveness;
use crate::object::{creation_setters, Creation, Header, Kind, Object};
use crate::sys::Deadline;
use crate::wait::{Bell, Notifier};
use crate::{Error, Result};

pub use client::{Client, Pending, RequestLoan, Response};
pub use server::{Handle, Request, Responder, Server};

const SERVER_WORD: usize = 64;
const EPOCH: usize = 72;
/// The server's bell: seq u32, sleepers u32 (`crate::wait::Bell`).
const BELL: usize = 128;
const REQUEST_RECORD: usize = 256;
const RESPONSE_RECORD: usize = 320;
const TABLE: usize = 384;

/// States of the server's role word.
const SERVING: u32 = 1;
const LEFT: u32 = 2;
/// States of a client slot's role word.
const CONNECTED: u32 = 1;

/// Bytes before every request's and response's payload: id u64, epoch u32, generation u32.
const FRAME: usize = 16;
/// The id of the frame a server that took over puts in the response ring of each client
/// that was connected to the old one.
const RESTART: u64 = u64::MAX;

/// The most client slots a service may have.
pub const MAX_CLIENTS: u32 = 1024;
/// The most requests one client may have outstanding.
pub const MAX_OUTSTANDING: u32 = 1 << 16;
/// The largest request or response, in bytes.
pub const MAX_MESSAGE_LEN: u32 = 1 << 30;

/// A service's limits, from the options (create) or the segment (open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    clients: u32,
    outstanding: u32,
    request_len: u32,
    response_len: u32,
}

impl Limits {
    fn params(&self) -> [u64; 3] {
        [
            u64::from(self.clients) | u64::from(self.outstanding) << 32,
            u64::from(self.request_len) | u64::from(self.response_len) << 32,
            0,
        ]
    }

    /// The limits a header records, if they are limits a service could have.
    fn from_header(name: &str, h: &Header, len: usize) -> Result<Limits> {
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

    fn check(&self, name: &str) -> Result<()> {
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

fn segment_len(clients: u32) -> usize {
    TABLE + 8 * clients as usize
}

/// The ring capacity for messages of up to `len` payload bytes: room for twice
/// `outstanding` of them (stale frames of a previous client or server, answers to cancelled
/// requests), a restart frame and one wrap's padding; at least twice a frame, as a channel
/// needs. `None` if that overflows.
fn ring_capacity(outstanding: u32, len: u32) -> Option<usize> {
    let frame = 8 + (FRAME + len as usize).next_multiple_of(8);
    let need = frame.checked_mul(2 * outstanding as usize + 3)?;
    let cap = need
        .max(crate::channel::MIN_CAPACITY)
        .checked_next_power_of_two()?;
    (cap <= 1 << 40).then_some(cap)
}

/// The request channel of slot `i` (client → server).
fn request_channel(name: &str, i: u32) -> String {
    format!("{name}.q{i}")
}

/// The response channel of slot `i` (server → client).
fn response_channel(name: &str, i: u32) -> String {
    format!("{name}.r{i}")
}

/// The word at `offset` of the service segment (`offset` is one of the constants above or a
/// table entry below the checked length, so this fails only on a bug).
fn word32(obj: &Object, offset: usize) -> Result<&AtomicU32> {
    obj.view.atomic_u32(offset)
}

/// A role word (the shim type `crate::liveness` takes, so that loom can run it).
fn word64(obj: &Object, offset: usize) -> Result<&atomic_shim::AtomicU64> {
    Ok(atomic_shim::AtomicU64::from_std(
        obj.view.atomic_u64(offset)?,
    ))
}

fn slot_word(obj: &Object, i: u32) -> Result<&atomic_shim::AtomicU64> {
    word64(obj, TABLE + 8 * i as usize)
}

/// The 16 bytes before a payload.
fn encode(id: u64, epoch: u32, gen: u32) -> [u8; FRAME] {
    let mut b = [0u8; FRAME];
    b[..8].copy_from_slice(&id.to_le_bytes());
    b[8..12].copy_from_slice(&epoch.to_le_bytes());
    b[12..].copy_from_slice(&gen.to_le_bytes());
    b
}

/// (id, epoch, generation) of a frame, if it is long enough to have them.
fn decode(msg: &[u8]) -> Option<(u64, u32, u32)> {
    let h: &[u8; FRAME] = msg.get(..FRAME)?.try_into().ok()?;
    Some((
        u64::from_le_bytes(h[..8].try_into().ok()?),
        u32::from_le_bytes(h[8..12].try_into().ok()?),
        u32::from_le_bytes(h[12..].try_into().ok()?),
    ))
}

/// The service's bell (`crate::wait::Bell`, at `BELL` in the header): the server sleeps on
/// it, clients ring it after each request. Its notifier is `<name>.srv` on Windows.
fn bell_name(obj: &Object) -> String {
    format!("{}.srv", obj.name())
}

/// The bell of a new service.
fn create_bell(obj: &Object) -> Result<Bell> {
    Ok(Bell::at(obj, BELL, Notifier::create(&bell_name(obj))?))
}

/// Opens the bell; a server taking over (`or_create`) creates it if its kernel object is
/// gone (Windows: it lives only while some process has it open).
fn open_bell(obj: &Object, or_create: bool) -> Result<Bell> {
    let notifier = match Notifier::open(&bell_name(obj)) {
        Err(Error::NotFound { .. }) if or_create => Notifier::create(&bell_name(obj))?,
        r => r?,
    };
    Ok(Bell::at(obj, BELL, notifier))
}

/// Options for a service's server or a client; see [`options`].
///
/// ```
/// use shmkit::{channel::WaitMode, service};
/// # let name = format!("doc-svc-opts-{}", std::process::id());
/// let server = service::options()
///     .max_clients(8)          // the ninth client to connect gets Error::Full
///     .max_outstanding(4)      // per client; the fifth request gets Error::Full
///     .max_request_len(256)
///     .max_response_len(4096)
///     .wait_mode(WaitMode::Blocking)
///     .create_server(&name)?;
/// let client = service::options().wait_mode(WaitMode::BusyPoll).connect(&name)?;
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    limits: Limits,
    wait: WaitMode,
    how: Creation,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits {
                clients: 16,
                outstanding: 8,
                request_len: 1024,
                response_len: 1024,
            },
            wait: WaitMode::Adaptive,
            how: Creation::default(),
        }
    }
}

/// Options for a server or a client.
pub fn options() -> Options {
    Options::default()
}

/// Creates the service `name` (or takes over one whose server is gone) with default options.
///
/// # Errors
///
/// As [`Options::create_server`].
pub fn create_server(name: &str) -> Result<Server> {
    options().create_server(name)
}

/// Connects to the service `name` as a new client.
///
/// # Errors
///
/// As [`Options::connect`].
pub fn connect(name: &str) -> Result<Client> {
    options().connect(name)
}

impl Options {
    creation_setters!();

    /// How many clients may be connected at once (default 16, at most [`MAX_CLIENTS`]). Each
    /// slot costs two channels (segments). Used when creating.
    pub fn max_clients(&mut self, n: u32) -> &mut Self {
        self.limits.clients = n;
        self
    }

    /// How many requests one client may have outstanding (sent, not yet waited for or
    /// cancelled; default 8, at most [`MAX_OUTSTANDING`]). Used when creating.
    pub fn max_outstanding(&mut self, n: u32) -> &mut Self {
        self.limits.outstanding = n;
        self
    }

    /// The largest request payload in bytes (default 1024). Used when creating.
    pub fn max_request_len(&mut self, len: u32) -> &mut Self {
        self.limits.request_len = len;
        self
    }

    /// The largest response payload in bytes (default 1024). Used when creating.
    pub fn max_response_len(&mut self, len: u32) -> &mut Self {
        self.limits.response_len = len;
        self
    }

    /// How the returned server or client waits (default [`WaitMode::Adaptive`]).
    pub fn wait_mode(&mut self, wait: WaitMode) -> &mut Self {
        self.wait = wait;
        self
    }

    /// Creates the service `name` and returns its server; if the name exists and its server
    /// is gone, takes the service over (see the [module docs](self#peer-death-and-restarts)).
    /// The server removes the names it serves when dropped, unless told to [keep](Self::keep)
    /// them.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] for limits out of range; [`Error::InUse`] if a live server
    /// serves the name; [`Error::KindMismatch`], [`Error::VersionMismatch`],
    /// [`Error::Corrupt`] if the name holds something else; what creating the segments
    /// returns (`NameInvalid`, `NoSpace`, …).
    pub fn create_server(&self, name: &str) -> Result<Server> {
        server::serve(self, name, None)
    }

    /// Connects to the service `name` as a client, in a free slot (or one whose client died).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is no such service; [`Error::Disconnected`] if its server
    /// is gone; [`Error::Full`] if `max_clients` live clients are connected;
    /// [`Error::KindMismatch`], [`Error::VersionMismatch`], [`Error::Corrupt`] if the name
    /// holds something else or a damaged service.
    pub fn connect(&self, name: &str) -> Result<Client> {
        client::connect(self, name, None)
    }
}

/// Options for a typed service carrying requests `Req` and responses `Resp`; see
/// [`mod@typed`].
pub fn typed<Req: bytemuck::Pod, Resp: bytemuck::Pod>() -> typed::Options<Req, Resp> {
    typed::typed()
}

/// The message types of a typed service, checked against its records.
#[derive(Clone, Debug)]
struct Types {
    request: MessageLayout,
    response: MessageLayout,
}

impl Types {
    fn write(&self, obj: &Object) {
        self.request.write_record(obj, REQUEST_RECORD);
        self.response.write_record(obj, RESPONSE_RECORD);
    }

    fn check(&self, obj: &Object) -> Result<()> {
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
fn server_alive(obj: &Object) -> Result<bool> {
    let word = word64(obj, SERVER_WORD)?.load(Ordering::Acquire);
    Ok(liveness::unpack(word).0 == SERVING
        && liveness::holder_alive(&obj.segment, liveness::slot::SERVER, word))
}
