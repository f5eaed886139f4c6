//! Typed services: requests of a `#[repr(C)]` [`Pod`] type `Req`, responses of `Resp`.
//!
//! ```
//! use shmkit::service;
//! use shmkit::sync::{Pod, Zeroable};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, Pod, Zeroable)]
//! #[bytemuck(crate = "shmkit::bytemuck")]
//! struct Add { a: u64, b: u64 }
//!
//! # let name = format!("doc-svc-typed-{}", std::process::id());
//! let mut server = service::typed::<Add, u64>().tag("add v1").create_server(&name)?;
//! let mut client = service::typed::<Add, u64>().tag("add v1").open_client(&name)?;
//!
//! let p = client.request(&Add { a: 2, b: 3 })?;
//! let req = server.recv()?;
//! server.respond(req.handle(), &(req.value.a + req.value.b))?;
//! assert_eq!(client.wait(p)?, 5);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! The service records both types' size, alignment and a fingerprint of them and the tag
//! (the same record typed channels keep, `channel::fingerprint`); a client expecting other
//! types is refused with [`Error::LayoutMismatch`] naming both
//! sides, and never by the Rust type's name. Values are copied in and out
//! (`bytemuck::pod_read_unaligned`), so a server that is not trusted can at worst send wrong
//! values. A request of the wrong size (from a byte client of a typed service) is dropped by
//! the server; a response of the wrong size is [`Error::Corrupt`].

use std::marker::PhantomData;
use std::time::Duration;

use bytemuck::Pod;

use super::*;

/// Options of a typed service; see [`typed`](fn@super::typed).
#[derive(Clone, Debug)]
pub struct Options<Req, Resp> {
    inner: super::Options,
    tag: Option<String>,
    _types: PhantomData<fn(Req) -> Resp>,
}

/// Options for a service carrying requests `Req` and responses `Resp`.
pub fn typed<Req: Pod, Resp: Pod>() -> Options<Req, Resp> {
    let mut inner = super::options();
    inner
        .max_request_len(len_of::<Req>())
        .max_response_len(len_of::<Resp>());
    Options {
        inner,
        tag: None,
        _types: PhantomData,
    }
}

/// The size of `T` as a service limit (saturating: a type over 4 GiB is refused as too
/// large by the limit check).
fn len_of<T>() -> u32 {
    u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

impl<Req: Pod, Resp: Pod> Options<Req, Resp> {
    /// A name and version for the pair of types (`"add v1"`), recorded in the service and
    /// compared by clients (up to 47 bytes are kept for error messages; the whole tag counts).
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// How many clients may be connected at once; as [`super::Options::max_clients`].
    pub fn max_clients(&mut self, n: u32) -> &mut Self {
        self.inner.max_clients(n);
        self
    }

    /// How many requests one client may have outstanding; as
    /// [`super::Options::max_outstanding`].
    pub fn max_outstanding(&mut self, n: u32) -> &mut Self {
        self.inner.max_outstanding(n);
        self
    }

    /// How the returned server or client waits; as [`super::Options::wait_strategy`].
    pub fn wait_strategy(&mut self, wait: crate::channel::WaitStrategy) -> &mut Self {
        self.inner.wait_strategy(wait);
        self
    }

    /// Unix permission bits of the service's segments; as [`super::Options::mode`].
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.inner.mode(mode);
        self
    }

    /// Whether the server leaves the names in place when dropped; as [`super::Options::keep`].
    pub fn keep(&mut self, keep: bool) -> &mut Self {
        self.inner.keep(keep);
        self
    }

    /// How long [`Options::open_client`] waits for the service to appear; as
    /// [`super::Options::open_timeout`].
    pub fn open_timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
        self.inner.open_timeout(timeout);
        self
    }

    /// The byte service's options (`max_clients`, `max_outstanding`, `wait_strategy`, `mode`,
    /// `keep`, `open_timeout`); the message lengths are the types' sizes.
    pub fn options(&mut self) -> &mut super::Options {
        &mut self.inner
    }

    /// The layouts this typed service records for its request and response types:
    /// `Req`'s and `Resp`'s size and alignment, with the tags `"<tag> request"` and
    /// `"<tag> response"` (none without a tag). A service created from them with
    /// [`super::Options::create_server_with_layouts`] is this typed service, and the reverse.
    pub fn layouts(&self) -> (MessageLayout, MessageLayout) {
        let tag = self.tag.as_deref();
        (
            MessageLayout::of::<Req>(tag.map(|t| format!("{t} request")).as_deref()),
            MessageLayout::of::<Resp>(tag.map(|t| format!("{t} response")).as_deref()),
        )
    }

    fn types(&self) -> Types {
        let (request, response) = self.layouts();
        Types { request, response }
    }

    /// Creates the typed service (or takes over one whose server is gone, if it carries the
    /// same types).
    ///
    /// # Errors
    ///
    /// As [`super::Options::create_server`], and [`Error::LayoutMismatch`] when taking over a
    /// service of other types.
    pub fn create_server(&self, name: &str) -> Result<Server<Req, Resp>> {
        Ok(Server {
            inner: server::serve(&self.inner, name, Some(&self.types()))?,
            _types: PhantomData,
        })
    }

    /// Connects to the typed service `name` as a new client.
    ///
    /// # Errors
    ///
    /// As [`super::Options::open_client`], and [`Error::LayoutMismatch`] if the service
    /// carries other types (or bytes).
    pub fn open_client(&self, name: &str) -> Result<Client<Req, Resp>> {
        Ok(Client {
            inner: client::connect_waiting(&self.inner, name, Some(&self.types()))?,
            tag: self.tag.clone(),
            _types: PhantomData,
        })
    }
}

/// The server of a typed service.
#[derive(Debug)]
pub struct Server<Req, Resp> {
    inner: super::Server,
    _types: PhantomData<fn(Req) -> Resp>,
}

/// A typed request: the value, copied out, and the handle to answer it with.
#[derive(Clone, Copy, Debug)]
pub struct Request<Req> {
    /// The request.
    pub value: Req,
    handle: Handle,
}

impl<Req> Request<Req> {
    /// The handle that answers this request.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl<Req: Pod, Resp: Pod> Server<Req, Resp> {
    /// The byte server underneath (its name, limits, [`responder`](super::Server::responder)).
    pub fn as_bytes(&self) -> &super::Server {
        &self.inner
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Changes how the server waits for requests (see
    /// [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.inner.set_wait_strategy(wait);
    }

    /// How the server waits for requests.
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.wait_strategy()
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<Request<Req>> {
        loop {
            let r = self.inner.recv_until(deadline)?;
            if r.len() == std::mem::size_of::<Req>() {
                return Ok(Request {
                    value: bytemuck::pod_read_unaligned(&r),
                    handle: *r.handle(),
                });
            }
        }
    }

    /// Receives the next request, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`super::Server::recv`].
    pub fn recv(&mut self) -> Result<Request<Req>> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Server::recv`], without waiting.
    ///
    /// # Errors
    ///
    /// As [`super::Server::try_recv`].
    pub fn try_recv(&mut self) -> Result<Request<Req>> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Server::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`super::Server::recv_timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Request<Req>> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Like [`Self::recv`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_timeout`].
    pub fn recv_deadline(&mut self, deadline: std::time::Instant) -> Result<Request<Req>> {
        self.recv_until(Deadline::At(deadline))
    }

    /// Answers `handle` with `value`, written straight into the client's ring.
    ///
    /// # Errors
    ///
    /// As [`super::Responder::respond`].
    pub fn respond(&self, handle: &Handle, value: &Resp) -> Result<()> {
        self.inner.respond(handle, bytemuck::bytes_of(value))
    }

    /// A handle that answers from other threads.
    pub fn responder(&self) -> Responder<Resp> {
        Responder {
            inner: self.inner.responder(),
            _types: PhantomData,
        }
    }
}

/// Answers a typed service's requests from any thread.
#[derive(Clone, Debug)]
pub struct Responder<Resp> {
    inner: super::Responder,
    _types: PhantomData<fn(Resp)>,
}

impl<Resp: Pod> Responder<Resp> {
    /// Answers `handle` with `value`.
    ///
    /// # Errors
    ///
    /// As [`super::Responder::respond`].
    pub fn respond(&self, handle: &Handle, value: &Resp) -> Result<()> {
        self.inner.respond(handle, bytemuck::bytes_of(value))
    }
}

/// A client of a typed service.
#[derive(Debug)]
pub struct Client<Req, Resp> {
    inner: super::Client,
    tag: Option<String>,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Pod, Resp: Pod> Client<Req, Resp> {
    /// Changes how this client waits (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: crate::channel::WaitStrategy) {
        self.inner.set_wait_strategy(wait);
    }

    /// How this client waits (see [`WaitStrategy`]).
    pub fn wait_strategy(&self) -> crate::channel::WaitStrategy {
        self.inner.wait_strategy()
    }

    /// The byte client underneath (its name, slot, limits).
    pub fn as_bytes(&self) -> &super::Client {
        &self.inner
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Sends `value` as a request.
    ///
    /// # Errors
    ///
    /// As [`super::Client::request`].
    pub fn request(&mut self, value: &Req) -> Result<Pending> {
        self.inner.request(bytemuck::bytes_of(value))
    }

    /// Sends `value` and waits for the response.
    ///
    /// # Errors
    ///
    /// As [`Client::request`] and [`Client::wait`].
    pub fn call(&mut self, value: &Req) -> Result<Resp> {
        let p = self.request(value)?;
        self.wait(p)
    }

    /// The value of a response, or `Corrupt` for one of the wrong size (`len`, `value`).
    fn value(&self, (len, value): (usize, Option<Resp>)) -> Result<Resp> {
        value.ok_or_else(|| Error::Corrupt {
            name: self.inner.name().to_owned(),
            reason: format!(
                "a response of {len} bytes where {} were expected",
                std::mem::size_of::<Resp>()
            ),
        })
    }

    /// Waits for the response to `pending`, copied out.
    ///
    /// # Errors
    ///
    /// As [`super::Client::wait`], and [`Error::Corrupt`] for a response of the wrong size.
    pub fn wait(&mut self, pending: Pending) -> Result<Resp> {
        let v = read(&self.inner.wait(pending)?);
        self.value(v)
    }

    /// Like [`Client::wait`], without waiting.
    ///
    /// # Errors
    ///
    /// As [`super::Client::try_wait`].
    pub fn try_wait(&mut self, pending: Pending) -> Result<Resp> {
        let v = read(&self.inner.try_wait(pending)?);
        self.value(v)
    }

    /// Like [`Client::wait`], waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`super::Client::wait_timeout`].
    pub fn wait_timeout(&mut self, pending: Pending, timeout: Duration) -> Result<Resp> {
        let v = read(&self.inner.wait_timeout(pending, timeout)?);
        self.value(v)
    }

    /// Like [`Self::wait`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::wait_timeout`].
    pub fn wait_deadline(
        &mut self,
        pending: Pending,
        deadline: std::time::Instant,
    ) -> Result<Resp> {
        let v = read(&self.inner.wait_deadline(pending, deadline)?);
        self.value(v)
    }

    /// Gives up on `pending`; see [`super::Client::cancel`].
    pub fn cancel(&mut self, pending: Pending) -> bool {
        self.inner.cancel(pending)
    }

    /// Drops this client and connects again (checking the types again).
    ///
    /// # Errors
    ///
    /// As [`Options::open_client`].
    pub fn reconnect(self) -> Result<Client<Req, Resp>> {
        let (name, tag) = (self.inner.name().to_owned(), self.tag.clone());
        let wait = self.inner.wait_strategy();
        drop(self);
        let mut o = typed::<Req, Resp>();
        o.options().wait_strategy(wait);
        if let Some(t) = tag {
            o.tag(&t);
        }
        o.open_client(&name)
    }
}

/// A copy of the value in `r`, if `r` has its size: (the length, the value).
fn read<T: Pod>(r: &[u8]) -> (usize, Option<T>) {
    let v = (r.len() == std::mem::size_of::<T>()).then(|| bytemuck::pod_read_unaligned(r));
    (r.len(), v)
}

impl<Req, Resp> crate::wait::Sealed for Server<Req, Resp> {
    fn point(&self) -> crate::wait::Point<'_> {
        self.inner.point()
    }

    fn ready(&self) -> bool {
        self.inner.ready()
    }
}

impl<Req, Resp> crate::wait::Sealed for Client<Req, Resp> {
    fn point(&self) -> crate::wait::Point<'_> {
        self.inner.point()
    }

    fn ready(&self) -> bool {
        self.inner.ready()
    }
}
