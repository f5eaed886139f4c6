//! Request/response between processes: one [`Server`] by name, any number of [`Client`]s that
//! come and go, several requests outstanding per client, answers in any order and from any
//! thread. A [typed variant](typed()) carries `#[repr(C)]` plain-old-data values.
//!
//! ```
//! use shmkit::service;
//! # let name = format!("doc-svc-{}", std::process::id());
//! let mut server = service::options().max_clients(4).create_server(&name)?;
//! let mut client = service::open_client(&name)?;       // e.g. in another process
//!
//! let ping = client.request(b"ping")?;              // copies the request into the ring
//! let req = server.recv()?;                      // the request and its handle
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
//!   its limits) is [`Error::Full`]; the server goes on. The server does not test
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
//!   they reconnect — [`Client::reconnect`], or drop and [`open_client`] again — to be served by
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
//!     80    24  refusal counters u64: responses (ring full), requests (`Full`),
//!               connections (`Full`); requests and responses themselves are counted by
//!               the channels `<name>.q<i>` / `<name>.r<i>` (sent, received)
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
mod layout;
mod server;
pub mod typed;

use std::sync::atomic::Ordering;

use crate::atomic_shim;
use crate::channel::message_layout::MessageLayout;
use crate::channel::WaitStrategy;
use crate::liveness;
use crate::object::{creation_setters, Creation, Header, Object};
use crate::sys::Deadline;
use crate::wait::Bell;
use crate::{Error, Result};

pub(crate) use layout::roles;
use layout::*;

pub use client::{Client, Pending, RequestLoan, Response};
pub use server::{Handle, Request, Responder, Server};

/// The most client slots a service may have.
pub const MAX_CLIENTS: u32 = 1024;
/// The most requests one client may have outstanding.
pub const MAX_OUTSTANDING: u32 = 1 << 16;
/// The largest request or response, in bytes.
pub const MAX_MESSAGE_LEN: u32 = 1 << 30;

/// Options for a service's server or a client; see [`options`].
///
/// ```
/// use shmkit::{channel::WaitStrategy, service};
/// # let name = format!("doc-svc-opts-{}", std::process::id());
/// let server = service::options()
///     .max_clients(8)          // the ninth client to connect gets Error::Full
///     .max_outstanding(4)      // per client; the fifth request gets Error::Full
///     .max_request_len(256)
///     .max_response_len(4096)
///     .wait_strategy(WaitStrategy::Blocking)
///     .create_server(&name)?;
/// let client = service::options().wait_strategy(WaitStrategy::BusyPoll).open_client(&name)?;
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    limits: Limits,
    wait: WaitStrategy,
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
            wait: WaitStrategy::Adaptive,
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
/// As [`Options::open_client`].
pub fn open_client(name: &str) -> Result<Client> {
    options().open_client(name)
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

    /// How the returned server or client waits (default [`WaitStrategy::Adaptive`]).
    pub fn wait_strategy(&mut self, wait: WaitStrategy) -> &mut Self {
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
    pub fn open_client(&self, name: &str) -> Result<Client> {
        client::connect_waiting(self, name, None)
    }

    /// Creates a typed service (or takes over one whose server is gone, if it carries the
    /// same types) whose message types are given as layouts rather than Rust types: what
    /// [`typed`](fn@typed) does for `Pod` types, for callers that have no Rust type (the C
    /// API, a struct described at run time). The limits on message lengths are the layouts'
    /// sizes (the options' `max_request_len` / `max_response_len` are ignored); the requests
    /// and responses are bytes of exactly those sizes, which the caller checks.
    ///
    /// The layouts are recorded as they are given: to interoperate with
    /// `typed::<Req, Resp>().tag(t)`, pass
    /// [`typed::Options::layouts`] (`MessageLayout::of::<Req>(Some("<t> request"))` and
    /// `MessageLayout::of::<Resp>(Some("<t> response"))`).
    ///
    /// # Errors
    ///
    /// As [`Options::create_server`] ([`Error::SizeInvalid`] for a layout over
    /// [`MAX_MESSAGE_LEN`]), and [`Error::LayoutMismatch`] when taking over a service of
    /// other types (or a byte service).
    pub fn create_server_with_layouts(
        &self,
        name: &str,
        request: MessageLayout,
        response: MessageLayout,
    ) -> Result<Server> {
        let mut o = self.clone();
        o.max_request_len(u32::try_from(request.size()).unwrap_or(u32::MAX))
            .max_response_len(u32::try_from(response.size()).unwrap_or(u32::MAX));
        server::serve(&o, name, Some(&Types { request, response }))
    }

    /// Connects to the typed service `name` as a new client, checking that it carries these
    /// message types (see [`Options::create_server_with_layouts`]); what
    /// [`typed::Options::open_client`] does for `Pod` types. Requests are bytes: send
    /// exactly `request.size()` of them (a server of a typed service drops others).
    ///
    /// # Errors
    ///
    /// As [`Options::open_client`], and [`Error::LayoutMismatch`] if the service carries
    /// other types (or bytes).
    pub fn open_client_with_layouts(
        &self,
        name: &str,
        request: MessageLayout,
        response: MessageLayout,
    ) -> Result<Client> {
        client::connect_waiting(self, name, Some(&Types { request, response }))
    }
}

/// Options for a typed service carrying requests `Req` and responses `Resp`; see
/// [`mod@typed`].
pub fn typed<Req: bytemuck::Pod, Resp: bytemuck::Pod>() -> typed::Options<Req, Resp> {
    typed::typed()
}

/// What inspection needs of a service segment's layout (`crate::inspect`).
pub(crate) mod shape {
    pub(crate) use super::layout::{
        request_channel, response_channel, CONNECTED, EPOCH, REFUSED_CONNECTIONS, REFUSED_REQUESTS,
        REFUSED_RESPONSES, REQUEST_RECORD, RESPONSE_RECORD, TABLE,
    };

    /// (max clients, max outstanding, max request length, max response length) of a service
    /// segment of `len` bytes with `header`, checked as an opener checks them.
    pub(crate) fn limits(
        name: &str,
        header: &crate::object::Header,
        len: usize,
    ) -> crate::Result<[u32; 4]> {
        let l = super::layout::Limits::from_header(name, header, len)?;
        Ok([l.clients, l.outstanding, l.request_len, l.response_len])
    }
}
