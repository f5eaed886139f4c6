//! `shmkit.service`'s client side: [`Client`] and its [`Pending`] requests (the server side
//! and the module are in `service.rs`, whose docs say how calls and copies work).

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use shmkit::service::{self, Client as RustClient};

use crate::buffer;
use crate::channel::{parse_wait_strategy, wait_strategy_name};
use crate::errors::{to_py, Fail};
use crate::service::{closed, lock};
use crate::typed::{self, ServiceTypes, Typed};
use crate::wait::{blocking, opening, Wait};

/// A request sent and not yet answered (from :meth:`Client.request`): wait for its response
/// with :meth:`Client.wait`, or :meth:`Client.cancel` it. Hashable.
///
/// Thread safety: an immutable value; any thread may wait for it on its client.
#[pyclass(module = "shmkit.service", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Pending {
    inner: service::Pending,
}

#[pymethods]
impl Pending {
    /// The request's id, as the server's :attr:`Handle.id`.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id()
    }

    fn __repr__(&self) -> String {
        format!("<shmkit.service.Pending id={}>", self.inner.id())
    }
}

/// A client of a service (from :func:`open_client`): ``request`` then ``wait``, or ``call``.
/// Several requests may be outstanding; their responses may come in any order.
///
/// Thread safety: may be shared between threads; each call happens whole, in some order (a
/// blocked ``wait`` holds the client one slice of 50 ms at a time).
#[pyclass(module = "shmkit.service", frozen)]
pub(crate) struct Client {
    name: String,
    wait_strategy: service::Options,
    /// `None` once closed; a `WaitSet` locks it for a slice (`crate::waitset`).
    pub(crate) client: Mutex<Option<RustClient>>,
    /// A typed service's types.
    types: Option<ServiceTypes>,
}

impl Client {
    fn request_type(&self) -> Option<&Typed> {
        self.types.as_ref().map(|t| &t.request)
    }

    /// A response's bytes as the client gives them: `bytes`, or a typed service's record.
    fn response<'py>(&self, py: Python<'py>, v: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let response = self.types.as_ref().map(|t| &t.response);
        typed::service_value(response, &self.name, PyBytes::new(py, v))
    }

    /// Runs `f` on the client, waiting for other threads' calls (and Ctrl-C) as long as it
    /// takes: for calls that never wait themselves.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        mut f: impl FnMut(&mut RustClient) -> Result<T, Fail> + Send,
    ) -> PyResult<T> {
        blocking(py, Wait::Forever, |_| {
            let mut g = lock(&self.client);
            f(g.as_mut().ok_or_else(|| closed("client"))?)
        })
    }

    /// Waits for `pending` as `wait` says: the response, copied.
    fn wait_for(&self, py: Python<'_>, pending: service::Pending, wait: Wait) -> PyResult<Vec<u8>> {
        blocking(py, wait, |slice| {
            let mut g = lock(&self.client);
            let c = g.as_mut().ok_or_else(|| closed("client"))?;
            Ok(match slice {
                None => c.try_wait(pending)?.to_vec(),
                Some(d) => c.wait_timeout(pending, d)?.to_vec(),
            })
        })
    }

    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<service::Pending> {
        let data = typed::service_data(self.request_type(), data)?;
        let (buf, src, len) = buffer::input(&data)?;
        typed::check_one(self.request_type(), &self.name, len, "a request")?;
        let p = self.with(py, |c| {
            // SAFETY: `src .. src + len` is the exported buffer `buf`, which stays exported
            // (allocated, not resized) until after this call.
            let msg = unsafe { std::slice::from_raw_parts(src as *const u8, len) };
            Ok(c.request(msg)?)
        });
        buf.release(py);
        p
    }
}

#[pymethods]
impl Client {
    /// The service's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The client slot this client holds.
    #[getter]
    fn slot(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, |c| Ok(c.slot()))
    }

    /// The largest request payload in bytes.
    #[getter]
    fn max_request_len(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |c| Ok(c.max_request_len()))
    }

    /// A typed service's ``(request, response)`` layouts; ``None`` for a byte service.
    #[getter]
    fn layouts(&self, py: Python<'_>) -> Option<(Py<PyAny>, Py<PyAny>)> {
        self.types.as_ref().map(|t| t.pair(py))
    }

    /// How many requests may be outstanding at once.
    #[getter]
    fn max_outstanding(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, |c| Ok(c.max_outstanding()))
    }

    /// How many requests are outstanding now (sent, not yet waited for or cancelled).
    #[getter]
    fn outstanding(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |c| Ok(c.outstanding()))
    }

    /// How this client waits: ``"adaptive"``, ``"blocking"`` or ``"busy_poll"``.
    #[getter]
    fn wait_strategy(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with(py, |c| Ok(wait_strategy_name(c.wait_strategy())))
    }

    /// Sets how this client waits.
    fn set_wait_strategy(&self, py: Python<'_>, wait_strategy: &str) -> PyResult<()> {
        let w = parse_wait_strategy(wait_strategy)?;
        self.with(py, |c| {
            c.set_wait_strategy(w);
            Ok(())
        })
    }

    /// Sends a copy of ``data`` (any object with a C-contiguous buffer) as a request and
    /// returns its :class:`Pending`; never waits. Raises ``Full`` when ``max_outstanding``
    /// requests are outstanding (or the ring is full), ``SizeInvalid`` over
    /// :attr:`max_request_len`, ``Disconnected`` if the server is gone or was replaced.
    fn request(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Pending> {
        Ok(Pending {
            inner: self.send(py, data)?,
        })
    }

    /// Waits for the response to ``pending``: its bytes (a copy). ``timeout``: ``None`` waits
    /// as long as it takes, ``0`` does not wait (``WouldBlock``), else seconds (``Timeout``);
    /// the request then stays outstanding (wait again, or :meth:`cancel` it). Raises
    /// ``Disconnected`` if the server is gone or was replaced (the request is lost),
    /// ``NotOutstanding`` if ``pending`` is not outstanding on this client. The interpreter is
    /// released while waiting; Ctrl-C interrupts.
    ///
    /// A typed service's response is given as its type (a read-only numpy record, a ctypes
    /// object, or bytes for a layout given by numbers), as Rust's typed ``call`` returns
    /// ``Resp``.
    #[pyo3(signature = (pending, timeout=None))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        pending: &Pending,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let wait = Wait::from_timeout(timeout)?;
        let v = self.wait_for(py, pending.inner, wait)?;
        self.response(py, &v)
    }

    /// Sends ``data`` and waits for its response (:meth:`request`, then :meth:`wait`). When
    /// ``timeout`` (seconds) passes first, the request is cancelled and ``Timeout`` raised
    /// (as is Ctrl-C's exception), so nothing stays outstanding.
    #[pyo3(signature = (data, timeout=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let wait = Wait::from_timeout(timeout)?;
        let data = typed::service_data(self.request_type(), data)?;
        let (buf, src, len) = buffer::input(&data)?;
        typed::check_one(self.request_type(), &self.name, len, "a request")?;
        // Sent in the first slice, so a call detaches once when the answer is quick.
        let mut sent = None;
        let r = blocking(py, wait, |slice| {
            let mut g = lock(&self.client);
            let c = g.as_mut().ok_or_else(|| closed("client"))?;
            let p = match sent {
                Some(p) => p,
                None => {
                    // SAFETY: `src .. src + len` is the exported buffer `buf`, which stays
                    // exported (allocated, not resized) until after this call.
                    let msg = unsafe { std::slice::from_raw_parts(src as *const u8, len) };
                    *sent.insert(c.request(msg)?)
                }
            };
            Ok(match slice {
                None => c.try_wait(p)?.to_vec(),
                Some(d) => c.wait_timeout(p, d)?.to_vec(),
            })
        });
        buf.release(py);
        match r {
            Ok(v) => self.response(py, &v),
            Err(e) => {
                if let Some(p) = sent {
                    // Best effort: a closed client has nothing to cancel.
                    let _ = py.detach(|| lock(&self.client).as_mut().map(|c| c.cancel(p)));
                }
                Err(e)
            }
        }
    }

    /// Gives up on ``pending``: it no longer counts as outstanding, and its response, if it
    /// comes, is dropped. Returns whether it was outstanding.
    fn cancel(&self, py: Python<'_>, pending: &Pending) -> PyResult<bool> {
        self.with(py, |c| Ok(c.cancel(pending.inner)))
    }

    /// Drops this client's connection and connects again, to whichever server serves the
    /// name now: what a client does after ``Disconnected`` once a new server has taken over.
    /// Outstanding requests are lost. If connecting fails (raised as :func:`open_client`
    /// does), the client stays closed, and ``reconnect`` may be called again.
    fn reconnect(&self, py: Python<'_>) -> PyResult<()> {
        let o = self.wait_strategy.clone();
        let name = self.name.clone();
        let layouts = self.types.as_ref().map(|t| t.layouts.clone());
        py.detach(|| {
            let mut g = lock(&self.client);
            let wait = g.as_ref().map(RustClient::wait_strategy);
            drop(g.take());
            let mut o = o;
            if let Some(w) = wait {
                o.wait_strategy(w);
            }
            *g = Some(match &layouts {
                None => o.open_client(&name)?,
                Some((q, r)) => o.open_client_with_layouts(&name, q.clone(), r.clone())?,
            });
            Ok::<(), shmkit::Error>(())
        })
        .map_err(to_py)
    }

    /// Disconnects, freeing the client's slot. Closing twice is allowed.
    fn close(&self, py: Python<'_>) {
        py.detach(|| lock(&self.client).take());
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
        format!("<shmkit.service.Client {:?}>", self.name)
    }
}

/// Connects to the service ``name`` as a new :class:`Client`.
///
/// ``open_timeout``: how many seconds to wait for the service to appear (``None``: do not
/// wait, ``math.inf``: forever); then ``NotFound``. ``Disconnected`` if its server is gone,
/// ``Full`` if ``max_clients`` live clients are connected. Ctrl-C interrupts the wait.
/// ``request_layout`` / ``response_layout`` / ``tag``: a typed service's client (see
/// :func:`create_server`).
#[pyfunction]
#[pyo3(signature = (name, *, wait_strategy="adaptive", open_timeout=None, request_layout=None, response_layout=None, tag=None))]
pub(crate) fn open_client(
    py: Python<'_>,
    name: &str,
    wait_strategy: &str,
    open_timeout: Option<f64>,
    request_layout: Option<&Bound<'_, PyAny>>,
    response_layout: Option<&Bound<'_, PyAny>>,
    tag: Option<&str>,
) -> PyResult<Client> {
    let types = typed::resolve_service(py, request_layout, response_layout, tag)?;
    let mut o = service::options();
    o.wait_strategy(parse_wait_strategy(wait_strategy)?);
    let wait = Wait::from_open_timeout(open_timeout)?;
    let mut opener = o.clone();
    let c = opening(py, wait, |d| match &types {
        None => opener.open_timeout(d).open_client(name),
        Some(t) => {
            let (q, r) = t.layouts.clone();
            opener.open_timeout(d).open_client_with_layouts(name, q, r)
        }
    })?;
    Ok(Client {
        types,
        name: name.to_owned(),
        wait_strategy: o,
        client: Mutex::new(Some(c)),
    })
}
