//! Request/response services (`shmkit::service`): `shmkit_service_*`, `shmkit_server_*` and
//! `shmkit_client_*`.
//!
//! One server by name, any number of clients that come and go, several requests outstanding
//! per client, answers in any order. A received request is a copy (the server reads it where
//! [`shmkit_server_recv`] points until its next `recv` or close); a response is read in place
//! in the client's response ring until [`shmkit_client_release`], the client's next call, or
//! its close. Answers may also come from other threads, through [`shmkit_responder`]s
//! ([`shmkit_server_responder`]).
//!
//! Rust's `Handle` and `Pending` cannot be rebuilt from numbers, so each handle keeps the
//! ones it handed out: the server the handle of every request received and not yet answered
//! (looked up by [`shmkit_request_handle`]'s slot and id), the client its outstanding
//! requests (looked up by id).

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use shmkit::channel::MessageLayout;
use shmkit::service::{self, Client, Handle, Pending, RequestLoan, Responder, Response, Server};
use shmkit::Error;

use crate::channel::check_align;
use crate::common::*;
use crate::status::*;

/// Options of [`shmkit_service_create_server`] and [`shmkit_service_open_client`]; start
/// from [`shmkit_service_options_default`].
///
/// A **typed** service carries C structs: give both `request_layout` and `response_layout`
/// (or neither). Their sizes are then the message lengths (`max_request_len` and
/// `max_response_len` are ignored), and each request and response must be exactly that
/// long. Give both layouts the same tag, the pair's (`"add v1"`): shmkit records
/// `"<tag> request"` and `"<tag> response"`, as Rust's `service::typed::<Req, Resp>().tag(t)`
/// does, so C, Rust and Python sides of one typed service interoperate, and an opener with
/// another struct gets `SHMKIT_LAYOUT_MISMATCH`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shmkit_service_options {
    /// How many clients may be connected at once (default 16, at most 1024). Each costs two
    /// channels (segments). Used when creating.
    pub max_clients: u32,
    /// How many requests one client may have outstanding (default 8). Used when creating.
    pub max_outstanding: u32,
    /// The largest request in bytes (default 1024). Used when creating a byte service.
    pub max_request_len: u32,
    /// The largest response in bytes (default 1024). Used when creating a byte service.
    pub max_response_len: u32,
    /// A [`shmkit_wait_strategy`] value: how the server or client waits (default adaptive).
    pub wait_strategy: i32,
    /// Unix permission bits of the service's segments (default 0600). Ignored on Windows.
    pub mode: u32,
    /// The server leaves the names in place when closed (default: it removes them).
    pub keep: bool,
    /// How long `open_client` waits for the service to appear: 0 not at all (default),
    /// negative forever.
    pub open_timeout_ns: i64,
    /// A typed service's request struct (NULL: bytes). Read during the call only.
    pub request_layout: *const shmkit_layout,
    /// A typed service's response struct (NULL: bytes). Read during the call only.
    pub response_layout: *const shmkit_layout,
}

/// The default service options: 16 clients, 8 outstanding requests each, 1024-byte requests
/// and responses, adaptive waits, mode 0600, names removed by the server, no wait on open,
/// bytes (no layouts).
#[no_mangle]
pub extern "C" fn shmkit_service_options_default() -> shmkit_service_options {
    shmkit_service_options {
        max_clients: 16,
        max_outstanding: 8,
        max_request_len: 1024,
        max_response_len: 1024,
        wait_strategy: shmkit_wait_strategy::SHMKIT_WAIT_ADAPTIVE as i32,
        mode: 0o600,
        keep: false,
        open_timeout_ns: 0,
        request_layout: std::ptr::null(),
        response_layout: std::ptr::null(),
    }
}

/// Which request a response answers: from [`shmkit_server_recv`], given back to
/// [`shmkit_server_respond`]. Plain numbers, to copy freely (to another thread that answers
/// through the same server handle, under the server handle's thread rule). The three name one
/// request for the server's whole life: a client that takes a freed slot gets a new
/// generation, and answering a request of the client that left is `SHMKIT_DISCONNECTED`
/// (never an answer to the newcomer).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct shmkit_request_handle {
    /// The client slot the request came from (stable while that client stays connected).
    pub client_slot: u32,
    /// The slot's generation: which connection to the slot made the request.
    pub generation: u32,
    /// The request's id (unique per client connection; the client's `pending_id`).
    pub id: u64,
}

/// The server of a service (`shmkit::service::Server`).
pub struct shmkit_server {
    inner: Server,
    /// The last request received, copied into 8-aligned words (a typed request is read as its
    /// C struct where it lies): what [`shmkit_server_recv`]'s pointer points into.
    request: Vec<u64>,
    /// Its length in bytes.
    request_len: usize,
    /// The handles of requests received and not yet answered, shared with the responders.
    table: Arc<Mutex<Table>>,
    /// A typed service's request and response sizes.
    typed: Option<(usize, usize)>,
    name: CString,
}

/// A request's (slot, generation, id): unique for the server's life.
type Key = (u32, u32, u64);

/// The handles of requests received and not yet answered, by [`Key`], with the order they
/// came in (to forget the oldest beyond [`HANDLES_PER_SLOT`] per slot).
#[derive(Default)]
struct Table {
    handles: HashMap<Key, (Handle, u64)>,
    received: u64,
}

/// Answers requests of a server from any thread (`shmkit::service::Responder`): from
/// [`shmkit_server_responder`].
pub struct shmkit_responder {
    inner: Responder,
    table: Arc<Mutex<Table>>,
    /// A typed service's response size.
    typed: Option<usize>,
    name: String,
}

/// How many unanswered request handles a server keeps per client slot: beyond that (requests
/// never answered, of clients that cancelled them or left) the oldest is forgotten, and
/// answering it is `SHMKIT_NOT_OUTSTANDING`.
const HANDLES_PER_SLOT: usize = 1024;

/// A client of a service (`shmkit::service::Client`).
pub struct shmkit_client {
    /// The response read in place. It borrows `*client`, so it is dropped before the client
    /// is used again or freed (every call that uses the client takes it first).
    response: Option<Response<'static>>,
    /// A request being written in place; borrows `*client` as `response` does (at most one
    /// of the two is held).
    loan: Option<RequestLoan<'static>>,
    /// The client, boxed and owned here through a raw pointer (freed in `Drop`), so that the
    /// handle itself being borrowed does not touch what `response` borrows. NULL after a
    /// reconnect failed.
    client: *mut Client,
    /// Requests sent and not yet waited for or cancelled.
    pending: Vec<Pending>,
    /// What `reconnect` connects with.
    options: service::Options,
    layouts: Option<(MessageLayout, MessageLayout)>,
    name: CString,
    slot: u32,
    max_request_len: usize,
    max_outstanding: u32,
}

impl Drop for shmkit_client {
    fn drop(&mut self) {
        self.release();
        self.free_client();
    }
}

impl shmkit_client {
    /// Drops the response and the loan held (the loan unsent): closing only.
    fn release(&mut self) {
        self.loan = None;
        self.response = None;
    }

    fn free_client(&mut self) {
        debug_assert!(self.response.is_none() && self.loan.is_none());
        let c = std::mem::replace(&mut self.client, std::ptr::null_mut());
        if !c.is_null() {
            // SAFETY: `c` came from `Box::into_raw` in `adopt` and is freed once (the field
            // is NULL now); no response or loan borrows it (released above).
            drop(unsafe { Box::from_raw(c) });
        }
    }

    fn adopt(&mut self, c: Client) {
        self.slot = c.slot();
        self.max_request_len = c.max_request_len();
        self.max_outstanding = c.max_outstanding();
        self.client = Box::into_raw(Box::new(c));
    }

    /// Ready for a call that uses the client: the response held is released; a request
    /// loan is not dropped unsent but refused (commit or abort it first), as a producer's is.
    fn idle(&mut self) -> Outcome {
        if self.loan.is_some() {
            return Err(misuse(format!(
                "client of {:?}: a request loan is outstanding; commit or abort it first",
                self.name
            )));
        }
        self.response = None;
        Ok(())
    }

    /// The client, for a call: the response held is released first; refused while a request
    /// loan is outstanding.
    fn client(&mut self) -> Outcome<&mut Client> {
        self.idle()?;
        // SAFETY: NULL or the live client this handle owns; no response or loan borrows it
        // any more, and the `&mut self` borrow makes this the only use.
        unsafe { self.client.as_mut() }.ok_or_else(|| {
            Failure::from(Error::Disconnected {
                name: self.name.to_string_lossy().into_owned(),
            })
        })
    }

    /// The client as a wait set member (which only reads it).
    pub(crate) fn waitable(&self) -> Outcome<&dyn shmkit::Waitable> {
        if self.response.is_some() || self.loan.is_some() {
            return Err(misuse(format!(
                "client of {:?} holds a response or a loan: release, commit or abort it before waiting on the client in a wait set",
                self.name
            )));
        }
        // SAFETY: NULL or the live client this handle owns, and nothing borrows it mutably
        // (no response or loan is held).
        let c = unsafe { self.client.as_ref() }.ok_or_else(|| {
            Failure::from(Error::Disconnected {
                name: self.name.to_string_lossy().into_owned(),
            })
        })?;
        Ok(c)
    }
}

impl shmkit_server {
    /// The server as a wait set member.
    pub(crate) fn waitable(&self) -> Outcome<&dyn shmkit::Waitable> {
        Ok(&self.inner)
    }
}

/// The Rust options, the wait strategy and the layouts (request and response, suffixed as
/// Rust's typed services do) for C options.
///
/// # Safety
///
/// `opts` is NULL or valid, its layout pointers NULL or valid.
unsafe fn service_options(
    opts: *const shmkit_service_options,
) -> Outcome<(service::Options, Option<(MessageLayout, MessageLayout)>)> {
    // SAFETY: the caller promises NULL or a valid struct.
    let o = unsafe { options_arg(opts, shmkit_service_options_default) };
    let mut r = service::options();
    r.max_clients(o.max_clients)
        .max_outstanding(o.max_outstanding)
        .max_request_len(o.max_request_len)
        .max_response_len(o.max_response_len)
        .wait_strategy(wait_strategy_arg(o.wait_strategy)?)
        .mode(o.mode)
        .keep(o.keep)
        .open_timeout(open_timeout(o.open_timeout_ns));
    // SAFETY: the caller promises NULL or valid layouts.
    let (req, resp) = unsafe {
        (
            layout_arg(o.request_layout)?,
            layout_arg(o.response_layout)?,
        )
    };
    // Requests are copied into an 8-aligned buffer, responses read in place are 8-aligned in
    // the ring: a struct aligned to more cannot be read where it lies.
    check_align(req.as_ref(), 8, "service")?;
    check_align(resp.as_ref(), 8, "service")?;
    let suffixed = |l: MessageLayout, what: &str| {
        let tag = l.tag().map(|t| format!("{t} {what}"));
        MessageLayout::new(l.size(), l.align(), tag.as_deref())
    };
    let layouts = match (req, resp) {
        (None, None) => None,
        (Some(q), Some(s)) => Some((suffixed(q, "request"), suffixed(s, "response"))),
        _ => {
            return Err(misuse(
                "a typed service needs both request_layout and response_layout (or neither)",
            ))
        }
    };
    Ok((r, layouts))
}

fn sizes(l: &Option<(MessageLayout, MessageLayout)>) -> Option<(usize, usize)> {
    l.as_ref()
        .map(|(q, s)| (q.size() as usize, s.size() as usize))
}

/// Creates the service `name` and returns its server; if the name exists and its server is
/// gone (killed), takes the service over: it adopts the service's limits, and clients of the
/// old server get `SHMKIT_DISCONNECTED` until they [reconnect](shmkit_client_reconnect).
/// `SHMKIT_IN_USE` if a live server serves the name; `SHMKIT_SIZE_INVALID` for limits out of
/// range; `SHMKIT_LAYOUT_MISMATCH` when taking over a service of other types.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid (its layouts NULL or valid);
/// `out` is writable. On success `*out` is a handle to close with [`shmkit_server_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_service_create_server(
    name: *const c_char,
    opts: *const shmkit_service_options,
    out: *mut *mut shmkit_server,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (o, layouts)) = unsafe { (str_arg(name, "name")?, service_options(opts)?) };
        let typed = sizes(&layouts);
        let inner = match layouts {
            Some((q, s)) => o.create_server_with_layouts(name, q, s),
            None => o.create_server(name),
        }?;
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_server {
                    name: c_name(inner.name()),
                    inner,
                    request: Vec::new(),
                    request_len: 0,
                    table: Arc::default(),
                    typed,
                },
            )
        };
        Ok(())
    })
}

/// Closes a server handle (NULL is ignored): gives up the server role (waiting clients get
/// `SHMKIT_DISCONNECTED`) and, once its responders are closed too, removes the service's
/// names unless `keep`. The last request's pointer becomes invalid.
///
/// # Safety
///
/// `s` is NULL or a server handle not used again (nor by a wait set).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_close(s: *mut shmkit_server) {
    // SAFETY: forwarded.
    unsafe { close(s) }
}

/// Receives the next request from any client, waiting as `timeout_ns` says. On success
/// `*handle` answers it, and `*data`, `*len` are its bytes: a copy, owned by the server
/// handle, valid until the next `shmkit_server_recv` on it or its close (so a client cannot
/// change them under you). A typed server drops requests of another length than its
/// request struct (from byte clients). Clients coming and going are not errors.
///
/// The server handle keeps each unanswered request's handle until it is answered, up to
/// 1024 per client slot (requests a client cancelled, or left unanswered when it went): beyond
/// that the oldest of the slot is forgotten, and answering it is `SHMKIT_NOT_OUTSTANDING`.
///
/// # Safety
///
/// `s` is a live server handle not used by another thread during the call; `handle`, `data`
/// and `len` are writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_recv(
    s: *mut shmkit_server,
    timeout_ns: i64,
    handle: *mut shmkit_request_handle,
    data: *mut *const c_void,
    len: *mut usize,
) -> shmkit_status {
    run(|| {
        let (out_h, out_d, out_l) = (
            Out::new(handle, "handle")?,
            Out::new(data, "data")?,
            Out::new(len, "len")?,
        );
        // SAFETY: the caller's promise.
        let s = unsafe { self::handle(s, "server")? };
        s.request_len = 0;
        let deadline = match wait(timeout_ns) {
            Wait::Within(d) => Some(Instant::now() + d),
            _ => None,
        };
        let r = loop {
            let r = match (wait(timeout_ns), deadline) {
                (Wait::Try, _) => s.inner.try_recv(),
                (_, Some(at)) => s.inner.recv_deadline(at),
                _ => s.inner.recv(),
            }?;
            match s.typed {
                Some((q, _)) if r.len() != q => continue, // not of this service's type
                _ => break r,
            }
        };
        let h = *r.handle();
        let key = (h.client_slot(), h.generation(), h.id());
        {
            let mut t = s.table.lock().unwrap_or_else(|p| p.into_inner());
            t.received += 1;
            let n = t.received;
            t.handles.insert(key, (h, n));
            forget_beyond(&mut t.handles, key.0);
        }
        let payload = r.into_payload();
        s.request.clear();
        s.request.resize(payload.len().div_ceil(8), 0);
        shmkit::bytemuck::cast_slice_mut::<u64, u8>(&mut s.request)[..payload.len()]
            .copy_from_slice(&payload);
        s.request_len = payload.len();
        // SAFETY: the out-parameters were checked and the caller promises they are writable.
        unsafe {
            out_h.put(shmkit_request_handle {
                client_slot: key.0,
                generation: key.1,
                id: key.2,
            });
            out_d.put(s.request.as_ptr().cast());
            out_l.put(s.request_len);
        }
        Ok(())
    })
}

/// Forgets the oldest unanswered handle of `slot` while it has more than
/// [`HANDLES_PER_SLOT`].
fn forget_beyond(handles: &mut HashMap<Key, (Handle, u64)>, slot: u32) {
    // The usual case, a few requests unanswered, costs no scan.
    if handles.len() <= HANDLES_PER_SLOT {
        return;
    }
    loop {
        let of_slot = handles.iter().filter(|(k, _)| k.0 == slot);
        if of_slot.clone().count() <= HANDLES_PER_SLOT {
            return;
        }
        if let Some(oldest) = of_slot.min_by_key(|(_, v)| v.1).map(|(k, _)| *k) {
            handles.remove(&oldest);
        }
    }
}

/// Answers the request `h` (from [`shmkit_server_recv`]) with a copy of `len` bytes at
/// `data`. Never waits. `SHMKIT_SIZE_INVALID` over the service's `max_response_len` (a typed
/// service: another length than its response struct); `SHMKIT_DISCONNECTED` if the client
/// that asked has left or its slot was taken over; `SHMKIT_FULL` if its response ring has no
/// room (a client that does not read its responses; try again later);
/// `SHMKIT_NOT_OUTSTANDING` if `h` was answered already (or never received by this server).
/// After success or `SHMKIT_DISCONNECTED` the request is answered: `h` is forgotten.
///
/// # Safety
///
/// `s` is a live server handle not used by another thread during the call; `h` is readable;
/// `data` points to `len` readable bytes (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_respond(
    s: *mut shmkit_server,
    h: *const shmkit_request_handle,
    data: *const c_void,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (s, h, msg) = unsafe {
            (
                handle_ref(s, "server")?,
                request_handle_arg(h)?,
                bytes_arg(data.cast(), len, "data")?,
            )
        };
        let typed = s.typed.map(|(_, resp)| resp);
        respond(&s.table, typed, s.inner.name(), h, msg.len(), |h| {
            s.inner.respond(h, msg)
        })
    })
}

/// # Safety
///
/// `h` is NULL or readable.
unsafe fn request_handle_arg(h: *const shmkit_request_handle) -> Outcome<shmkit_request_handle> {
    // SAFETY: the caller promises NULL or a readable handle.
    unsafe { h.as_ref() }
        .copied()
        .ok_or_else(|| misuse("the request handle is NULL"))
}

/// Answers `h` through `send` (the server's or a responder's `respond`), with the handle
/// `table` keeps for it; forgets it once answered.
fn respond(
    table: &Mutex<Table>,
    typed: Option<usize>,
    name: &str,
    h: shmkit_request_handle,
    len: usize,
    send: impl FnOnce(&Handle) -> shmkit::Result<()>,
) -> Outcome {
    let key = (h.client_slot, h.generation, h.id);
    let found = {
        let t = table.lock().unwrap_or_else(|p| p.into_inner());
        t.handles.get(&key).map(|&(h, _)| h)
    };
    let Some(rust_handle) = found else {
        return Err(Failure::from(Error::NotOutstanding {
            name: name.to_owned(),
            id: h.id,
        }));
    };
    if let Some(resp) = typed {
        if len != resp {
            return Err(Failure::from(Error::SizeInvalid {
                name: name.to_owned(),
                reason: format!(
                    "a response of {len} bytes to a typed service whose response struct has {resp}"
                ),
            }));
        }
    }
    let r = send(&rust_handle);
    if matches!(r, Ok(()) | Err(Error::Disconnected { .. })) {
        let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
        // Answered: forget it, unless a request of the same key came in meanwhile.
        if t.handles.get(&key).is_some_and(|&(h, _)| h == rust_handle) {
            t.handles.remove(&key);
        }
    }
    Ok(r?)
}

/// A handle that answers this server's requests from other threads, at the same time as the
/// server receives and answers (the request handles it answers come from
/// [`shmkit_server_recv`]). Close it with [`shmkit_responder_close`]; it may outlive the
/// server handle (the service's names go when the last of them closes, unless `keep`).
///
/// # Safety
///
/// `s` is a live server handle, not used by another thread during the call (make the
/// responders before handing them to worker threads); `out` is writable. The responder is
/// then callable from any thread, while the server receives.
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_responder(
    s: *const shmkit_server,
    out: *mut *mut shmkit_responder,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promise.
        let s = unsafe { handle_ref(s, "server")? };
        let r = shmkit_responder {
            inner: s.inner.responder(),
            table: Arc::clone(&s.table),
            typed: s.typed.map(|(_, resp)| resp),
            name: s.inner.name().to_owned(),
        };
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { put_handle(out, r) };
        Ok(())
    })
}

/// Answers the request `h` with a copy of `len` bytes at `data`, as
/// [`shmkit_server_respond`] does (same errors). Thread safety: callable from any thread,
/// at the same time as other calls on this responder, other responders and the server.
///
/// # Safety
///
/// `r` is a live responder handle; `h` is readable; `data` points to `len` readable bytes
/// (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn shmkit_responder_respond(
    r: *const shmkit_responder,
    h: *const shmkit_request_handle,
    data: *const c_void,
    len: usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (r, h, msg) = unsafe {
            (
                handle_ref(r, "responder")?,
                request_handle_arg(h)?,
                bytes_arg(data.cast(), len, "data")?,
            )
        };
        respond(&r.table, r.typed, &r.name, h, msg.len(), |h| {
            r.inner.respond(h, msg)
        })
    })
}

/// Answers the request `h` with `len` bytes written in place by `write`, as
/// [`shmkit_server_respond_with`] does (same rules). Thread safety: callable from any thread,
/// at the same time as other calls on this responder, other responders and the server.
///
/// # Safety
///
/// `r` is a live responder handle; `h` is readable; `write` is a function safe to call with
/// `ctx` and `len` writable bytes (from this thread).
#[no_mangle]
pub unsafe extern "C" fn shmkit_responder_respond_with(
    r: *const shmkit_responder,
    h: *const shmkit_request_handle,
    len: usize,
    write: shmkit_write_fn,
    ctx: *mut c_void,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (r, h) = unsafe { (handle_ref(r, "responder")?, request_handle_arg(h)?) };
        let write = write.ok_or_else(|| misuse("the write function is NULL"))?;
        respond(&r.table, r.typed, &r.name, h, len, |h| {
            // SAFETY: the caller promises `write` may be called with `ctx` and the buffer.
            r.inner
                .respond_with(h, len, |buf| unsafe { call_writer(write, ctx, buf) })
        })
    })
}

/// Closes a responder handle (NULL is ignored).
///
/// # Safety
///
/// `r` is NULL or a responder handle not used again (by any thread).
#[no_mangle]
pub unsafe extern "C" fn shmkit_responder_close(r: *mut shmkit_responder) {
    // SAFETY: forwarded.
    unsafe { close(r) }
}

/// Writes a response in place: `write(ctx, buf, len)` is called once with `len` bytes of
/// the client's response ring to fill (their initial contents are unspecified), and the
/// response is published when it returns. Zero-copy.
pub type shmkit_write_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, buf: *mut c_void, len: usize)>;

/// Calls a C writer on a buffer.
///
/// # Safety
///
/// `write` is safe to call with `ctx` and a buffer of `buf.len()` writable bytes.
unsafe fn call_writer(
    write: unsafe extern "C" fn(*mut c_void, *mut c_void, usize),
    ctx: *mut c_void,
    buf: &mut [u8],
) {
    // SAFETY: the caller's promise; `buf` is writable for its length during the call.
    unsafe { write(ctx, buf.as_mut_ptr().cast(), buf.len()) }
}

/// Answers the request `h` with `len` bytes that `write` writes straight into the client's
/// response ring (zero-copy; see [`shmkit_write_fn`]). `write` is not called when the
/// answer is refused; the errors are [`shmkit_server_respond`]'s. `write` runs while the
/// client's response ring is locked: it must not answer the same client (through this
/// server or a responder) itself, nor unwind or `longjmp` out.
///
/// # Safety
///
/// `s` is a live server handle not used by another thread during the call; `h` is readable;
/// `write` is a function safe to call with `ctx` and `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_respond_with(
    s: *mut shmkit_server,
    h: *const shmkit_request_handle,
    len: usize,
    write: shmkit_write_fn,
    ctx: *mut c_void,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promises.
        let (s, h) = unsafe { (handle_ref(s, "server")?, request_handle_arg(h)?) };
        let write = write.ok_or_else(|| misuse("the write function is NULL"))?;
        let typed = s.typed.map(|(_, resp)| resp);
        respond(&s.table, typed, s.inner.name(), h, len, |h| {
            // SAFETY: the caller promises `write` may be called with `ctx` and the buffer.
            s.inner
                .respond_with(h, len, |buf| unsafe { call_writer(write, ctx, buf) })
        })
    })
}

/// Changes how the server waits for requests (a [`shmkit_wait_strategy`] value).
///
/// # Safety
///
/// `s` is a live server handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_set_wait_strategy(
    s: *mut shmkit_server,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let s = unsafe { handle(s, "server")? };
        s.inner.set_wait_strategy(wait_strategy_arg(wait_strategy)?);
        Ok(())
    })
}

/// The service's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `s` is NULL or a live server handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_name(s: *const shmkit_server) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(c"".as_ptr(), |s| s.name.as_ptr())
}

/// Whether this server created the service (rather than taking it over); false for NULL.
///
/// # Safety
///
/// `s` is NULL or a live server handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_is_creator(s: *const shmkit_server) -> bool {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.is_some_and(|s| s.inner.is_creator())
}

/// How many clients may be connected at once (the service's, adopted on a take-over); 0 for
/// NULL.
///
/// # Safety
///
/// `s` is NULL or a live server handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_max_clients(s: *const shmkit_server) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(0, |s| s.inner.max_clients())
}

/// The largest request clients may send; 0 for NULL.
///
/// # Safety
///
/// `s` is NULL or a live server handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_max_request_len(s: *const shmkit_server) -> usize {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(0, |s| s.inner.max_request_len())
}

/// The largest response; 0 for NULL.
///
/// # Safety
///
/// `s` is NULL or a live server handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_server_max_response_len(s: *const shmkit_server) -> usize {
    // SAFETY: the caller's promise.
    unsafe { s.as_ref() }.map_or(0, |s| s.inner.max_response_len())
}

/// Connects to the service `name` as a client, in a free slot (or one whose client died).
/// `SHMKIT_NOT_FOUND` if there is no such service (after `open_timeout_ns`);
/// `SHMKIT_DISCONNECTED` if its server is gone; `SHMKIT_FULL` if `max_clients` live clients
/// are connected; `SHMKIT_LAYOUT_MISMATCH` if the options give layouts and the service
/// carries other types (or bytes). A client without layouts may use a typed service, as in
/// Rust: it sends bytes, and the server drops requests of another length than its struct.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `opts` is NULL or valid (its layouts NULL or valid);
/// `out` is writable. On success `*out` is a handle to close with [`shmkit_client_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_service_open_client(
    name: *const c_char,
    opts: *const shmkit_service_options,
    out: *mut *mut shmkit_client,
) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller's promises, forwarded.
        let (name, (options, layouts)) =
            unsafe { (str_arg(name, "name")?, service_options(opts)?) };
        let c = connect(&options, name, &layouts)?;
        let mut h = shmkit_client {
            response: None,
            loan: None,
            client: std::ptr::null_mut(),
            pending: Vec::new(),
            options,
            layouts,
            name: c_name(c.name()),
            slot: 0,
            max_request_len: 0,
            max_outstanding: 0,
        };
        h.adopt(c);
        // SAFETY: `out` was checked and the caller promises it is writable.
        unsafe { put_handle(out, h) };
        Ok(())
    })
}

fn connect(
    o: &service::Options,
    name: &str,
    layouts: &Option<(MessageLayout, MessageLayout)>,
) -> shmkit::Result<Client> {
    match layouts {
        Some((q, s)) => o.open_client_with_layouts(name, q.clone(), s.clone()),
        None => o.open_client(name),
    }
}

/// Closes a client handle (NULL is ignored): releases the response held and frees the
/// client's slot for the next client. Outstanding requests are abandoned.
///
/// # Safety
///
/// `c` is NULL or a client handle not used again (nor by a wait set).
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_close(c: *mut shmkit_client) {
    // SAFETY: forwarded.
    unsafe { close(c) }
}

impl shmkit_client {
    fn check_request_len(&self, len: usize) -> Outcome {
        if let Some((q, _)) = &self.layouts {
            if len as u64 != q.size() {
                return Err(Failure::from(Error::SizeInvalid {
                    name: self.name.to_string_lossy().into_owned(),
                    reason: format!(
                        "a request of {len} bytes to a typed service whose request struct has {}",
                        q.size()
                    ),
                }));
            }
        }
        Ok(())
    }

    fn request(&mut self, msg: &[u8]) -> Outcome<Pending> {
        self.check_request_len(msg.len())?;
        let p = self.client()?.request(msg)?;
        self.pending.push(p);
        Ok(p)
    }

    /// Waits for `p`'s response and holds it; returns its bytes.
    fn wait(&mut self, p: Pending, timeout_ns: i64) -> Outcome<(*const c_void, usize)> {
        self.idle()?;
        let name = || self.name.to_string_lossy().into_owned();
        if self.client.is_null() {
            return Err(Failure::from(Error::Disconnected { name: name() }));
        }
        // SAFETY: the live client this handle owns, in its own allocation until
        // `free_client`. The response made from this borrow is stored in `self.response`
        // and the client is not used again while it is held: every use goes through
        // `client()` (or `waitable()`, which refuses while a response is held), which drops
        // the response first (and `shmkit_client_loan`, which drops it before borrowing), and `Drop` drops it before the client. So the 'static
        // lifetime is never relied on beyond the client's, nor beside another borrow of it.
        let c: &'static mut Client = unsafe { &mut *self.client };
        let r = match wait(timeout_ns) {
            Wait::Forever => c.wait(p),
            Wait::Try => c.try_wait(p),
            Wait::Within(d) => c.wait_timeout(p, d),
        };
        match &r {
            Ok(_) | Err(Error::NotOutstanding { .. }) => self.pending.retain(|&q| q != p),
            _ => {}
        }
        let r = r?;
        if let Some((_, resp)) = &self.layouts {
            if r.len() as u64 != resp.size() {
                return Err(Failure::from(Error::Corrupt {
                    name: name(),
                    reason: format!(
                        "a response of {} bytes from a typed service whose response struct has {}",
                        r.len(),
                        resp.size()
                    ),
                }));
            }
        }
        let bytes = (r.as_ptr().cast::<c_void>(), r.len());
        self.response = Some(r);
        Ok(bytes)
    }

    fn pending(&self, id: u64) -> Outcome<Pending> {
        self.pending
            .iter()
            .copied()
            .find(|p| p.id() == id)
            .ok_or_else(|| {
                Failure::from(Error::NotOutstanding {
                    name: self.name.to_string_lossy().into_owned(),
                    id,
                })
            })
    }
}

/// Sends a copy of `len` bytes at `data` as a request; `*pending_id` is what to
/// [wait](shmkit_client_wait) for. Never waits. Releases the response held.
/// `SHMKIT_SIZE_INVALID` over the service's `max_request_len` (a typed service: another
/// length than its request struct); `SHMKIT_FULL` if `max_outstanding` requests are
/// outstanding; `SHMKIT_DISCONNECTED` if the server is gone or was replaced (then
/// [`shmkit_client_reconnect`]).
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call; `data` points to
/// `len` readable bytes (or `len` is 0); `pending_id` is writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_request(
    c: *mut shmkit_client,
    data: *const c_void,
    len: usize,
    pending_id: *mut u64,
) -> shmkit_status {
    run(|| {
        let out = Out::new(pending_id, "pending_id")?;
        // SAFETY: the caller's promises.
        let (c, msg) = unsafe { (handle(c, "client")?, bytes_arg(data.cast(), len, "data")?) };
        let p = c.request(msg)?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(p.id()) };
        Ok(())
    })
}

/// Waits as `timeout_ns` says for the response to `pending_id`. On success `*data`, `*len`
/// are its bytes, read in place (or a copy, if it arrived while another was waited for),
/// valid until [`shmkit_client_release`], the client's next call, or its close; responses to
/// other requests that arrive first are kept for their own wait. Releases the response held
/// before. `SHMKIT_TIMEOUT` / `SHMKIT_WOULD_BLOCK`: the request stays outstanding (wait
/// again, or cancel it); `SHMKIT_DISCONNECTED` if the server is gone or was replaced (the
/// request is lost); `SHMKIT_NOT_OUTSTANDING` if it is not outstanding on this client;
/// `SHMKIT_CORRUPT` for an impossible frame (a typed service: a response of another length
/// than its response struct).
///
/// A server that is not trusted could change the bytes while you read them: copy them out
/// first then.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call; `data` and `len`
/// are writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_wait(
    c: *mut shmkit_client,
    pending_id: u64,
    timeout_ns: i64,
    data: *mut *const c_void,
    len: *mut usize,
) -> shmkit_status {
    run(|| {
        let (out_d, out_l) = (Out::new(data, "data")?, Out::new(len, "len")?);
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        c.idle()?;
        let p = c.pending(pending_id)?;
        let (d, l) = c.wait(p, timeout_ns)?;
        // SAFETY: checked, and the caller promises they are writable.
        unsafe {
            out_d.put(d);
            out_l.put(l);
        }
        Ok(())
    })
}

/// Sends a request and waits for its response: [`shmkit_client_request`] then
/// [`shmkit_client_wait`]. If the wait ends without a response (`SHMKIT_TIMEOUT`,
/// `SHMKIT_WOULD_BLOCK`, an error), the request is cancelled: its response, if it comes,
/// is dropped.
///
/// # Safety
///
/// As [`shmkit_client_request`] and [`shmkit_client_wait`] (`data` is the request,
/// `response`/`response_len` receive the response).
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_call(
    c: *mut shmkit_client,
    data: *const c_void,
    len: usize,
    timeout_ns: i64,
    response: *mut *const c_void,
    response_len: *mut usize,
) -> shmkit_status {
    run(|| {
        let (out_d, out_l) = (
            Out::new(response, "response")?,
            Out::new(response_len, "response_len")?,
        );
        // SAFETY: the caller's promises.
        let (c, msg) = unsafe { (handle(c, "client")?, bytes_arg(data.cast(), len, "data")?) };
        let p = c.request(msg)?;
        let (d, l) = match c.wait(p, timeout_ns) {
            Ok(r) => r,
            Err(e) => {
                if let Ok(client) = c.client() {
                    let _ = client.cancel(p);
                }
                c.pending.retain(|&q| q != p);
                return Err(e);
            }
        };
        // SAFETY: checked, and the caller promises they are writable.
        unsafe {
            out_d.put(d);
            out_l.put(l);
        }
        Ok(())
    })
}

/// Borrows room for a request of `len` bytes in the request ring, to write in place through
/// `*data` and send with [`shmkit_client_commit`] (or drop with [`shmkit_client_abort`]):
/// zero-copy. `*data` is valid until then or the client's close (which drops the loan
/// unsent); while it is outstanding, the client's other calls (another loan, request, wait,
/// call, cancel, reconnect, set_wait_strategy) are `SHMKIT_INVALID_ARGUMENT`, as a
/// producer's are. Never waits. Releases the response held. Errors as
/// [`shmkit_client_request`]'s.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call; `data` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_loan(
    c: *mut shmkit_client,
    len: usize,
    data: *mut *mut c_void,
) -> shmkit_status {
    run(|| {
        let out = Out::new(data, "data")?;
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        c.check_request_len(len)?;
        c.idle()?;
        if c.client.is_null() {
            return Err(Failure::from(Error::Disconnected {
                name: c.name.to_string_lossy().into_owned(),
            }));
        }
        // SAFETY: as for a response in `wait`: the loan made from this borrow is stored in
        // `c.loan`, and the client is not used again while it is held (every use goes
        // through `client()`, which drops it first; `waitable()` refuses; `Drop` drops it
        // before the client).
        let client: &'static mut Client = unsafe { &mut *c.client };
        let mut loan = client.loan(len)?;
        let p = loan.as_mut_ptr().cast::<c_void>();
        c.loan = Some(loan);
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(p) };
        Ok(())
    })
}

/// Sends the request written in the loan (from [`shmkit_client_loan`]) and wakes the server;
/// `*pending_id` is what to [wait](shmkit_client_wait) for. `SHMKIT_INVALID_ARGUMENT` if no
/// loan is held.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call; `pending_id` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_commit(
    c: *mut shmkit_client,
    pending_id: *mut u64,
) -> shmkit_status {
    run(|| {
        let out = Out::new(pending_id, "pending_id")?;
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        let loan = c.loan.take().ok_or_else(|| {
            misuse(format!(
                "commit on the client of {:?}, which holds no loan",
                c.name
            ))
        })?;
        let p = loan.commit();
        c.pending.push(p);
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { out.put(p.id()) };
        Ok(())
    })
}

/// Drops the loan held unsent. `SHMKIT_INVALID_ARGUMENT` if none is held.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_abort(c: *mut shmkit_client) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        match c.loan.take() {
            Some(_) => Ok(()),
            None => Err(misuse(format!(
                "abort on the client of {:?}, which holds no loan",
                c.name
            ))),
        }
    })
}

/// Releases the response held (from [`shmkit_client_wait`] or [`shmkit_client_call`]): its
/// pointer becomes invalid, its room in the ring is free. `SHMKIT_INVALID_ARGUMENT` if none
/// is held.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_release(c: *mut shmkit_client) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        if c.response.take().is_some() {
            Ok(())
        } else {
            Err(misuse(format!(
                "release on the client of {:?}, which holds no response",
                c.name
            )))
        }
    })
}

/// Gives up on `pending_id`: it no longer counts as outstanding, and its response, if it
/// comes, is dropped. `*was_outstanding` (if not NULL) says whether it was. Releases the
/// response held.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call;
/// `was_outstanding` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_cancel(
    c: *mut shmkit_client,
    pending_id: u64,
    was_outstanding: *mut bool,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        c.idle()?;
        let was = match c.pending(pending_id) {
            Ok(p) => {
                c.pending.retain(|&q| q != p);
                c.client()?.cancel(p)
            }
            Err(_) => false,
        };
        if !was_outstanding.is_null() {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe { was_outstanding.write(was) };
        }
        Ok(())
    })
}

/// Connects this handle again, to whichever server serves the name now (with the options it
/// was opened with): what a client does after `SHMKIT_DISCONNECTED` once a new server has
/// taken over. Outstanding requests are lost, the response held is released; the slot may
/// change. On failure the handle is left unconnected: its calls return
/// `SHMKIT_DISCONNECTED` until a reconnect succeeds.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_reconnect(c: *mut shmkit_client) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        c.idle()?;
        // The old client goes first, so that its slot is free for the new one.
        c.free_client();
        c.pending.clear();
        let name = c.name.to_string_lossy().into_owned();
        let new = connect(&c.options, &name, &c.layouts)?;
        c.adopt(new);
        Ok(())
    })
}

/// Changes how the client waits for responses (a [`shmkit_wait_strategy`] value). Releases
/// the response held.
///
/// # Safety
///
/// `c` is a live client handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_set_wait_strategy(
    c: *mut shmkit_client,
    wait_strategy: i32,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let c = unsafe { handle(c, "client")? };
        let w = wait_strategy_arg(wait_strategy)?;
        c.options.wait_strategy(w);
        c.client()?.set_wait_strategy(w);
        Ok(())
    })
}

/// The service's name (valid while the handle lives); "" for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client handle. Callable from any thread, but not while another thread is
/// inside a call on the same handle (the values are read from it).
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_name(c: *const shmkit_client) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(c"".as_ptr(), |c| c.name.as_ptr())
}

/// The slot this client holds (0 to max_clients - 1); 0 for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client handle, not being reconnected by another thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_slot(c: *const shmkit_client) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(0, |c| c.slot)
}

/// The largest request the service takes; 0 for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client handle, not being reconnected by another thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_max_request_len(c: *const shmkit_client) -> usize {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(0, |c| c.max_request_len)
}

/// How many requests may be outstanding at once; 0 for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client handle, not being reconnected by another thread.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_max_outstanding(c: *const shmkit_client) -> u32 {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(0, |c| c.max_outstanding)
}

/// How many requests are outstanding (sent, not yet waited for or cancelled); 0 for NULL.
///
/// # Safety
///
/// `c` is NULL or a live client handle not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_client_outstanding(c: *const shmkit_client) -> usize {
    // SAFETY: the caller's promise.
    unsafe { c.as_ref() }.map_or(0, |c| c.pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null_mut;
    use std::time::Duration;

    const WAIT: i64 = 10_000_000_000;

    fn unique(tag: &str) -> CString {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CString::new(format!("cu-{tag}-{}-{n}", std::process::id())).unwrap()
    }

    /// `struct { uint64_t a; uint32_t b; uint32_t pad; }` and `uint64_t`, tag "add v1".
    fn typed_options(req: &shmkit_layout, resp: &shmkit_layout) -> shmkit_service_options {
        let mut o = shmkit_service_options_default();
        o.request_layout = req;
        o.response_layout = resp;
        o
    }

    fn layouts(tag: &CString) -> (shmkit_layout, shmkit_layout) {
        (
            shmkit_layout {
                size: 16,
                align: 8,
                tag: tag.as_ptr(),
            },
            shmkit_layout {
                size: 8,
                align: 8,
                tag: tag.as_ptr(),
            },
        )
    }

    #[test]
    fn a_c_typed_service_interoperates_with_rust_typed_sides() {
        let tag = CString::new("add v1").unwrap();
        let (req, resp) = layouts(&tag);
        let o = typed_options(&req, &resp);
        // A C server, a Rust typed client ([u64; 2] has the C struct's size and alignment).
        let name = unique("typed");
        let mut s = null_mut();
        // SAFETY: valid arguments; the handle is closed below.
        let st = unsafe { shmkit_service_create_server(name.as_ptr(), &o, &mut s) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        let typed = service::typed::<[u64; 2], u64>().tag("add v1").clone();
        let mut client = typed.open_client(name.to_str().unwrap()).unwrap();
        let p = client.request(&[40, 2]).unwrap();
        let mut h = shmkit_request_handle {
            client_slot: 9,
            generation: 9,
            id: 9,
        };
        let (mut data, mut len) = (std::ptr::null(), 0);
        // SAFETY: a live handle and writable out-parameters.
        let st = unsafe { shmkit_server_recv(s, WAIT, &mut h, &mut data, &mut len) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        assert_eq!((h.id, len), (p.id(), 16));
        // SAFETY: `data` points to `len` bytes until the next recv.
        let v: [u64; 2] = shmkit::bytemuck::pod_read_unaligned(unsafe {
            std::slice::from_raw_parts(data.cast::<u8>(), len)
        });
        let sum = v[0] + v[1];
        // SAFETY: as above; `sum` is 8 readable bytes.
        let st = unsafe { shmkit_server_respond(s, &h, (&raw const sum).cast(), 8) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        assert_eq!(client.wait_timeout(p, Duration::from_secs(10)).unwrap(), 42);
        drop(client);
        // SAFETY: closed once.
        unsafe { shmkit_server_close(s) };

        // A Rust typed server, a C client; a C struct of another alignment or tag is refused.
        let name = unique("typed2");
        let mut server = typed.create_server(name.to_str().unwrap()).unwrap();
        let mut c = null_mut();
        // SAFETY: valid arguments; the handle is closed below.
        let st = unsafe { shmkit_service_open_client(name.as_ptr(), &o, &mut c) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        let answer = std::thread::spawn(move || {
            let r = server.recv_timeout(Duration::from_secs(10)).unwrap();
            server
                .respond(r.handle(), &(r.value[0] * r.value[1]))
                .unwrap();
            server
        });
        let msg = [6u64, 7];
        // SAFETY: a live handle, 16 readable bytes, writable out-parameters.
        let st =
            unsafe { shmkit_client_call(c, msg.as_ptr().cast(), 16, WAIT, &mut data, &mut len) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        assert_eq!(len, 8);
        // SAFETY: the response's 8 bytes, valid until release.
        let product = unsafe { data.cast::<u64>().read_unaligned() };
        assert_eq!(product, 42);
        let _server = answer.join().unwrap();
        for (size, align, t) in [(16, 4, "add v1"), (16, 8, "add v2"), (24, 8, "add v1")] {
            let t = CString::new(t).unwrap();
            let wrong = shmkit_layout {
                size,
                align,
                tag: t.as_ptr(),
            };
            let o = typed_options(&wrong, &resp);
            let mut bad = null_mut();
            // SAFETY: valid arguments; nothing is made on failure.
            let st = unsafe { shmkit_service_open_client(name.as_ptr(), &o, &mut bad) };
            assert_eq!(st, shmkit_status::SHMKIT_LAYOUT_MISMATCH);
            assert!(bad.is_null());
        }
        // SAFETY: closed once.
        unsafe { shmkit_client_close(c) };
    }

    #[test]
    fn responders_answer_from_other_threads() {
        let name = unique("responders");
        let mut s = null_mut();
        // SAFETY: valid arguments; the handle is closed below.
        let st = unsafe { shmkit_service_create_server(name.as_ptr(), std::ptr::null(), &mut s) };
        assert_eq!(st, shmkit_status::SHMKIT_OK);
        let mut client = service::open_client(name.to_str().unwrap()).unwrap();
        let pending: Vec<_> = (0..8u8).map(|i| client.request(&[i]).unwrap()).collect();
        let (tx, rx) = std::sync::mpsc::channel::<(shmkit_request_handle, u8)>();
        let rx = Arc::new(Mutex::new(rx));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let mut r = null_mut();
                // SAFETY: a live server handle, a writable out-parameter.
                let st = unsafe { shmkit_server_responder(s, &mut r) };
                assert_eq!(st, shmkit_status::SHMKIT_OK);
                let r = r as usize; // a responder may move to another thread
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || {
                    let r = r as *mut shmkit_responder;
                    loop {
                        let Ok((h, v)) = rx.lock().unwrap().recv() else {
                            break;
                        };
                        let answer = [v, v];
                        // SAFETY: a live responder, callable from any thread.
                        let st =
                            unsafe { shmkit_responder_respond(r, &h, answer.as_ptr().cast(), 2) };
                        assert_eq!(st, shmkit_status::SHMKIT_OK);
                        // Answered once: a second answer is refused.
                        // SAFETY: as above.
                        let st =
                            unsafe { shmkit_responder_respond(r, &h, answer.as_ptr().cast(), 2) };
                        assert_eq!(st, shmkit_status::SHMKIT_NOT_OUTSTANDING);
                    }
                    // SAFETY: closed once, by the thread that used it.
                    unsafe { shmkit_responder_close(r) };
                })
            })
            .collect();
        for _ in 0..8 {
            let mut h = shmkit_request_handle {
                client_slot: 0,
                generation: 0,
                id: 0,
            };
            let (mut data, mut len) = (std::ptr::null(), 0);
            // SAFETY: a live handle and writable out-parameters.
            let st = unsafe { shmkit_server_recv(s, WAIT, &mut h, &mut data, &mut len) };
            assert_eq!((st, len), (shmkit_status::SHMKIT_OK, 1));
            // SAFETY: one byte, valid until the next recv.
            tx.send((h, unsafe { *data.cast::<u8>() })).unwrap();
        }
        drop(tx);
        for t in threads {
            t.join().unwrap();
        }
        for (i, p) in pending.into_iter().enumerate() {
            let r = client.wait_timeout(p, Duration::from_secs(10)).unwrap();
            assert_eq!(&*r, &[i as u8, i as u8]);
        }
        // SAFETY: closed once.
        unsafe { shmkit_server_close(s) };
    }
}
