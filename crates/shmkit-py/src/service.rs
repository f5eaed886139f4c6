//! `shmkit.service`: request/response between processes (one server, many clients).
//!
//! Payloads are copied, both ways: the Rust server already copies a request out of its
//! client's ring (`shmkit::service::Request`), and a response is copied out of the ring into
//! a `bytes` (the ring is free again at once, and a held response never blocks the client's
//! next wait). Requests and responses are copied in from any object with a C-contiguous
//! buffer.
//!
//! Threads: a `Server`'s `recv` and a `Client`'s calls each hold their Rust side under a
//! mutex, one slice of a wait at a time (`wait.rs`), so calls from several threads happen
//! whole, in some order. A server answers through its `Responder` (`Send + Sync`), kept
//! beside the server, so `respond` never waits for a `recv` blocked in another thread.
//!
//! Typed services (`request_layout=`, `response_layout=`, `tag=`) are the byte service
//! created or opened with `*_with_layouts`, as the C API's: each request and response is one
//! record, checked when sent; received ones are given as the type (`typed.rs`).

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use shmkit::service::{
    self, Handle as RustHandle, Responder as RustResponder, Server as RustServer,
};

use crate::buffer;
use crate::channel::{parse_wait_strategy, wait_strategy_name};
use crate::errors::{to_py, Fail};
use crate::typed::{self, ServiceTypes, Typed};
use crate::wait::{blocking, Wait};

pub(crate) use crate::service_client::{Client, Pending};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn closed(what: &str) -> Fail {
    Fail::Py(PyValueError::new_err(format!("the {what} is closed")))
}

/// Which request a response answers (from :attr:`Request.handle`): its client's slot and
/// generation, and the request's id. Hashable.
///
/// Thread safety: an immutable value; may be passed to and used from any thread.
#[pyclass(module = "shmkit.service", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Handle {
    inner: HandleKey,
}

/// `shmkit::service::Handle` is not `Hash`: its three parts, and the handle itself.
#[derive(Clone, Copy, PartialEq, Eq)]
struct HandleKey(RustHandle);

impl std::hash::Hash for HandleKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0.client_slot(), self.0.generation(), self.0.id()).hash(state);
    }
}

#[pymethods]
impl Handle {
    /// The client slot the request came from.
    #[getter]
    fn client_slot(&self) -> u32 {
        self.inner.0.client_slot()
    }

    /// The generation of that slot (a new client in a freed slot gets a new one).
    #[getter]
    fn generation(&self) -> u32 {
        self.inner.0.generation()
    }

    /// The request's id, as the client's :attr:`Pending.id`.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.0.id()
    }

    fn __repr__(&self) -> String {
        format!(
            "<shmkit.service.Handle client_slot={} generation={} id={}>",
            self.client_slot(),
            self.generation(),
            self.id()
        )
    }
}

/// A received request: :attr:`payload` (``bytes``, a copy: the Rust server copies a request
/// out of its client's ring) and the :attr:`handle` to answer it with. ``bytes(req)`` and
/// ``len(req)`` give the payload.
///
/// Thread safety: an immutable value; may be passed to and used from any thread.
#[pyclass(module = "shmkit.service", frozen)]
pub(crate) struct Request {
    handle: Handle,
    payload: Py<PyBytes>,
    /// A typed service's request as its type.
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Request {
    /// The handle that answers this request (:meth:`Server.respond`).
    #[getter]
    fn handle(&self) -> Handle {
        self.handle
    }

    /// The request's bytes.
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyBytes> {
        self.payload.clone_ref(py)
    }

    /// A typed service's request as its type (as Rust's ``Request::value``): a read-only
    /// numpy record (shape ``()``) over :attr:`payload`, a ctypes object (a copy), or the
    /// bytes for a layout given by numbers. ``TypeError`` for a byte service's request.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.value.as_ref().map(|v| v.clone_ref(py)).ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err(
                "a byte service's request has no typed value: use .payload",
            )
        })
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.payload.clone_ref(py)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.payload.bind(py).as_bytes().len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<shmkit.service.Request id={} client_slot={} len={}>",
            self.handle.id(),
            self.handle.client_slot(),
            self.__len__(py)
        )
    }
}

/// Copies the bytes of `data` (any C-contiguous buffer; one record of `typed`, for a typed
/// service) and answers `handle` with them.
fn respond_with(
    py: Python<'_>,
    (r, typed, name): (&RustResponder, Option<&Typed>, &str),
    handle: &Handle,
    data: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let data = typed::service_data(typed, data)?;
    let (buf, src, len) = buffer::input(&data)?;
    typed::check_one(typed, name, len, "a response")?;
    let res = py.detach(|| {
        r.respond_with(&handle.inner.0, len, |dst| {
            // SAFETY: `src .. src + len` is the exported buffer `buf`, which stays exported
            // (allocated, not resized) until after this call; `dst` is `len` bytes of the
            // response ring that this process writes.
            unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), len) }
        })
    });
    buf.release(py);
    res.map_err(to_py)
}

/// Answers requests of a :class:`Server` from any thread (from :meth:`Server.responder`);
/// it keeps the service's memory mapped while it lives.
///
/// Thread safety: :meth:`respond` from any thread, never waiting for a ``recv``.
#[pyclass(module = "shmkit.service", frozen)]
pub(crate) struct Responder {
    inner: RustResponder,
    /// A typed service's response type.
    response: Option<Typed>,
    name: String,
}

#[pymethods]
impl Responder {
    /// Answers the request ``handle`` with a copy of ``data`` (any object with a C-contiguous
    /// buffer); never waits. Raises ``Disconnected`` if that client left (or its slot was
    /// taken over), ``Full`` if its response ring has no room, ``SizeInvalid`` over
    /// ``max_response_len``.
    fn respond(&self, py: Python<'_>, handle: &Handle, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let to = (&self.inner, self.response.as_ref(), self.name.as_str());
        respond_with(py, to, handle, data)
    }
}

/// The server of a service (from :func:`create_server`): ``recv`` requests from any client,
/// ``respond`` to them in any order, from any thread (or through a :meth:`responder`).
///
/// Thread safety: may be shared between threads. ``recv`` calls happen one at a time;
/// ``respond`` never waits for a ``recv`` blocked in another thread.
#[pyclass(module = "shmkit.service", frozen)]
pub(crate) struct Server {
    name: String,
    /// `None` once closed; a `WaitSet` locks it for a slice (`crate::waitset`).
    pub(crate) server: Mutex<Option<RustServer>>,
    responder: Mutex<Option<RustResponder>>,
    limits: (usize, usize, u32),
    creator: bool,
    /// A typed service's types.
    types: Option<ServiceTypes>,
}

impl Server {
    fn responder_now(&self) -> PyResult<RustResponder> {
        lock(&self.responder)
            .clone()
            .ok_or_else(|| PyErr::from(closed("server")))
    }
}

#[pymethods]
impl Server {
    /// The service's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The largest request payload in bytes.
    #[getter]
    fn max_request_len(&self) -> usize {
        self.limits.0
    }

    /// A typed service's ``(request, response)`` layouts (:class:`shmkit.Layout`, tagged
    /// ``"<tag> request"`` / ``"<tag> response"``); ``None`` for a byte service.
    #[getter]
    fn layouts(&self, py: Python<'_>) -> Option<(Py<PyAny>, Py<PyAny>)> {
        self.types.as_ref().map(|t| t.pair(py))
    }

    /// The largest response payload in bytes.
    #[getter]
    fn max_response_len(&self) -> usize {
        self.limits.1
    }

    /// How many clients may be connected at once.
    #[getter]
    fn max_clients(&self) -> u32 {
        self.limits.2
    }

    /// Whether this server created the service (rather than taking over one whose server was
    /// gone).
    #[getter]
    fn is_creator(&self) -> bool {
        self.creator
    }

    /// How this server waits: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``.
    #[getter]
    fn wait_strategy(&self, py: Python<'_>) -> PyResult<&'static str> {
        let g = py.detach(|| lock(&self.server).as_ref().map(RustServer::wait_strategy));
        g.map(wait_strategy_name)
            .ok_or_else(|| closed("server").into())
    }

    /// Sets how this server waits (as ``wait_strategy=`` of :func:`create_server`).
    fn set_wait_strategy(&self, py: Python<'_>, wait_strategy: &str) -> PyResult<()> {
        let w = parse_wait_strategy(wait_strategy)?;
        py.detach(|| {
            lock(&self.server)
                .as_mut()
                .map(|s| s.set_wait_strategy(w))
                .ok_or_else(|| closed("server"))
        })?;
        Ok(())
    }

    /// Receives the next request from any client: a :class:`Request`. ``timeout``: ``None``
    /// waits as long as it takes, ``0`` does not wait (``WouldBlock``), else seconds
    /// (``Timeout``). The interpreter is released while waiting; Ctrl-C interrupts.
    #[pyo3(signature = (timeout=None))]
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Request> {
        let wait = Wait::from_timeout(timeout)?;
        let req = blocking(py, wait, |slice| {
            let mut g = lock(&self.server);
            let s = g.as_mut().ok_or_else(|| closed("server"))?;
            Ok(match slice {
                None => s.try_recv()?,
                Some(d) => s.recv_timeout(d)?,
            })
        })?;
        let handle = Handle {
            inner: HandleKey(*req.handle()),
        };
        let payload = PyBytes::new(py, &req);
        let request = self.types.as_ref().map(|t| &t.request);
        let value = match request {
            None => None,
            Some(_) => Some(typed::service_value(request, &self.name, payload.clone())?.unbind()),
        };
        Ok(Request {
            handle,
            payload: payload.unbind(),
            value,
        })
    }

    /// Answers the request ``handle`` with a copy of ``data`` (any object with a C-contiguous
    /// buffer); never waits. Raises ``Disconnected`` if that client left (or its slot was
    /// taken over), ``Full`` if its response ring has no room, ``SizeInvalid`` over
    /// :attr:`max_response_len`.
    fn respond(&self, py: Python<'_>, handle: &Handle, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let r = self.responder_now()?;
        let response = self.types.as_ref().map(|t| &t.response);
        respond_with(py, (&r, response, &self.name), handle, data)
    }

    /// A :class:`Responder` that answers requests from another thread (the service stays
    /// mapped while it lives, even after :meth:`close`).
    fn responder(&self, py: Python<'_>) -> PyResult<Responder> {
        Ok(Responder {
            inner: self.responder_now()?,
            response: self.types.as_ref().map(|t| t.response.clone_ref(py)),
            name: self.name.clone(),
        })
    }

    /// Stops serving: clients see ``Disconnected``; the creator removes the service's names
    /// (unless ``keep``) once its responders are gone too. Closing twice is allowed.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            lock(&self.responder).take();
            lock(&self.server).take();
        });
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<shmkit.service.Server {:?} max_clients={}>",
            self.name, self.limits.2
        )
    }
}

fn u32_arg(what: &str, n: u64) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| PyValueError::new_err(format!("{what} is too large: {n}")))
}

/// Creates the service ``name`` and returns its :class:`Server`; if the name exists and its
/// server is gone (killed), takes the service over (its limits are kept; earlier clients get
/// ``Disconnected`` and must :meth:`Client.reconnect`). ``InUse`` if a live server serves it.
///
/// ``max_clients``: clients connected at once (the next gets ``Full``); ``max_outstanding``:
/// requests per client; ``max_request_len`` / ``max_response_len``: payload limits in bytes;
/// ``wait_strategy``: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``; ``mode``: the
/// permission bits; the server removes the service's names when closed, unless ``keep``.
///
/// A **typed** service: ``request_layout`` and ``response_layout`` (numpy dtypes, ctypes
/// types or :class:`shmkit.Layout`, as ``layout=`` of a channel) and ``tag``, recorded as
/// ``"<tag> request"`` / ``"<tag> response"`` as Rust's ``service::typed::<Req,
/// Resp>().tag(tag)`` does, so Rust, C and Python typed peers meet (``LayoutMismatch``,
/// naming both, for others). Each request and response is then one record (the
/// ``max_*_len`` are its sizes); :attr:`Request.value` and the client's ``wait`` / ``call``
/// give them as the type.
#[pyfunction]
#[pyo3(
    signature = (name, *, max_clients=16, max_outstanding=8, max_request_len=1024, max_response_len=1024, wait_strategy="adaptive", mode=shmkit::segment::DEFAULT_MODE, keep=false, request_layout=None, response_layout=None, tag=None),
    text_signature = "(name, *, max_clients=16, max_outstanding=8, max_request_len=1024, max_response_len=1024, wait_strategy=\"adaptive\", mode=shmkit.DEFAULT_MODE, keep=False, request_layout=None, response_layout=None, tag=None)"
)]
#[allow(clippy::too_many_arguments)]
fn create_server(
    py: Python<'_>,
    name: &str,
    max_clients: u64,
    max_outstanding: u64,
    max_request_len: u64,
    max_response_len: u64,
    wait_strategy: &str,
    mode: u32,
    keep: bool,
    request_layout: Option<&Bound<'_, PyAny>>,
    response_layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Server> {
    let types = typed::resolve_service(py, request_layout, response_layout, tag)?;
    let mut o = service::options();
    o.max_clients(u32_arg("max_clients", max_clients)?)
        .max_outstanding(u32_arg("max_outstanding", max_outstanding)?)
        .max_request_len(u32_arg("max_request_len", max_request_len)?)
        .max_response_len(u32_arg("max_response_len", max_response_len)?)
        .wait_strategy(parse_wait_strategy(wait_strategy)?)
        .mode(mode)
        .keep(keep);
    let s = py
        .detach(|| match &types {
            None => o.create_server(name),
            Some(t) => {
                let (q, r) = t.layouts.clone();
                o.create_server_with_layouts(name, q, r)
            }
        })
        .map_err(to_py)?;
    Ok(Server {
        types,
        name: s.name().to_owned(),
        limits: (s.max_request_len(), s.max_response_len(), s.max_clients()),
        creator: s.is_creator(),
        responder: Mutex::new(Some(s.responder())),
        server: Mutex::new(Some(s)),
    })
}

/// Builds the `service` submodule.
pub(crate) fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "service")?;
    m.add_class::<Server>()?;
    m.add_class::<Client>()?;
    m.add_class::<Request>()?;
    m.add_class::<Handle>()?;
    m.add_class::<Pending>()?;
    m.add_class::<Responder>()?;
    m.add_function(wrap_pyfunction!(create_server, &m)?)?;
    m.add_function(wrap_pyfunction!(crate::service_client::open_client, &m)?)?;
    Ok(m)
}
