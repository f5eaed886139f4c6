//! Request/response across machines: a local service server as a Zenoh queryable
//! ([`serve`]), and a remote queryable as a local service server ([`offer`]).
//!
//! Together they carry a local client's request on machine B to a local server on machine A:
//! client → (B) `offer` → Zenoh query → (A) `serve` → server, and the response back. A
//! request and its response are one message each, byte for byte (the query's payload and
//! the reply's).

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use shmkit::service::{self, Client, Handle, Responder, Server};
use zenoh::query::{ConsolidationMode, Query, QueryTarget, Reply};
use zenoh::{Session, Wait};

use crate::stats::Counters;
use crate::{pause, Bridge, Error, Result, TICK};

/// Options of [`serve`] and [`offer`].
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    timeout: Duration,
    max_clients: u32,
    max_request: u32,
    max_response: u32,
}

impl Default for ServiceOptions {
    /// A 10 s timeout per request; [`offer`]'s server: 16 clients, 64 KiB requests and
    /// responses.
    fn default() -> Self {
        ServiceOptions {
            timeout: Duration::from_secs(10),
            max_clients: 16,
            max_request: 64 << 10,
            max_response: 64 << 10,
        }
    }
}

impl ServiceOptions {
    /// How long a request may take before it is given up (default 10 s): [`offer`] waits this
    /// long for a reply, [`serve`] this long for the local server (counting the time a query
    /// waits for its turn). Give `serve` the shorter one, so its error reply (with the reason)
    /// arrives before `offer` gives up.
    pub fn timeout(&mut self, d: Duration) -> &mut Self {
        self.timeout = d;
        self
    }

    /// [`offer`]: clients the local server admits (default 16).
    pub fn max_clients(&mut self, n: u32) -> &mut Self {
        self.max_clients = n;
        self
    }

    /// [`offer`]: the largest request and response, in bytes (default 64 KiB each).
    pub fn max_len(&mut self, request: u32, response: u32) -> &mut Self {
        self.max_request = request;
        self.max_response = response;
        self
    }
}

/// Makes the local service `service` answer Zenoh queries on `key`: each query's payload is
/// sent to the local server as a request (the bridge is one of its clients, with several
/// requests outstanding), and the response is the reply. A query the server cannot answer
/// (gone, timed out, request too large) gets an error reply saying why.
///
/// When the local server dies, the bridge waits for a new one (it reconnects by name).
///
/// # Errors
///
/// shmkit's errors connecting to the service; [`Error::Invalid`] for a bad key;
/// [`Error::Zenoh`].
pub fn serve(
    session: &Session,
    key: &str,
    service: &str,
    options: &ServiceOptions,
) -> Result<Bridge> {
    let client = service::open_client(service)?;
    let queries = Arc::new(Queries::default());
    let q = queries.clone();
    let _queryable = session
        .declare_queryable(key.to_owned())
        .callback(move |query| q.push(query))
        .wait()
        .map_err(Error::zenoh)?;
    let opts = options.clone();
    let name = service.to_owned();
    Bridge::spawn(format!("serve {service}"), move |stop, counters| {
        let _queryable = _queryable;
        let mut client = Some(client);
        let mut inflight: VecDeque<Inflight> = VecDeque::new();
        while !stop.load(Ordering::Relaxed) {
            let Some(c) = client.as_mut() else {
                client = reconnect(&name, stop, counters);
                continue;
            };
            // New queries, as many as the client may have outstanding.
            let room = c.max_outstanding() as usize > inflight.len();
            let wait = match (inflight.is_empty(), room) {
                (true, _) => Some(TICK),
                (false, true) => Some(Duration::ZERO),
                (false, false) => None,
            };
            let next = wait.and_then(|d| queries.take(d, opts.timeout, counters));
            let took = next.is_some();
            let mut gone = None;
            if let Some(q) = next {
                let payload = q.payload().map(|p| p.to_bytes().into_owned());
                match c.request(payload.as_deref().unwrap_or_default()) {
                    Ok(p) => inflight.push_back((p, q, Instant::now() + opts.timeout)),
                    Err(e) => {
                        reply_err(&q, &e, counters);
                        if matches!(e, shmkit::Error::Disconnected { .. }) {
                            gone = Some(e);
                        }
                    }
                }
            }
            // Answers, in any order.
            if gone.is_none() {
                gone = answer(c, &mut inflight, counters);
            }
            if let Some(e) = gone {
                for (_, q, _) in inflight.drain(..) {
                    reply_err(&q, &e, counters);
                }
                client = None;
            } else if !inflight.is_empty() && !took {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        Ok(())
    })
}

fn reply_err(q: &Query, e: &dyn std::fmt::Display, counters: &Counters) {
    counters.refuse(format!("{}: {e}", q.key_expr()));
    let _ = q.reply_err(e.to_string()).wait();
}

/// The most queries waiting for the local server; more are answered "busy" at once.
const QUERIES: usize = 256;

/// Queries from Zenoh's callback (which never blocks: see the importer's `Inbox`) to the
/// bridge thread, with their arrival time.
#[derive(Default)]
struct Queries {
    queue: Mutex<VecDeque<(Query, Instant)>>,
    wake: Condvar,
    busy: AtomicU64,
}

impl Queries {
    fn push(&self, q: Query) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() >= QUERIES {
            drop(queue);
            self.busy.fetch_add(1, Ordering::Relaxed);
            let _ = q
                .reply_err("busy: too many requests waiting for the local server")
                .wait();
            return;
        }
        queue.push_back((q, Instant::now()));
        drop(queue);
        self.wake.notify_one();
    }

    /// The next query (waiting at most `d`); those that waited longer than `timeout` get an
    /// error reply instead.
    fn take(&self, d: Duration, timeout: Duration, counters: &Counters) -> Option<Query> {
        Counters::add(&counters.refused, self.busy.swap(0, Ordering::Relaxed));
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.is_empty() && !d.is_zero() {
            queue = self
                .wake
                .wait_timeout(queue, d)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        while let Some((q, at)) = queue.pop_front() {
            if at.elapsed() < timeout {
                return Some(q);
            }
            reply_err(&q, &"timed out waiting for the local server", counters);
        }
        None
    }
}

/// A query sent to the local server as a request, and when it is given up.
type Inflight = (shmkit::service::Pending, Query, Instant);

/// Replies to the queries whose responses are there (or whose time is up); the error if the
/// local server is gone.
fn answer(
    c: &mut Client,
    inflight: &mut VecDeque<Inflight>,
    counters: &Counters,
) -> Option<shmkit::Error> {
    let mut i = 0;
    while i < inflight.len() {
        let (p, _, deadline) = inflight[i];
        let expired = Instant::now() >= deadline;
        let outcome = match c.try_wait(p) {
            Ok(resp) => {
                let q = &inflight[i].1;
                match q.reply(q.key_expr().clone(), &*resp).wait() {
                    Ok(()) => counters.forwarded(resp.len()),
                    Err(e) => counters.error(format!("reply: {e}")),
                }
                Ok(true)
            }
            Err(shmkit::Error::WouldBlock { .. }) => Ok(false),
            Err(e) => Err(e),
        };
        let done = match outcome {
            Ok(true) => true,
            Ok(false) if !expired => false,
            Ok(false) => {
                c.cancel(p);
                let why = "the local server did not answer in time";
                reply_err(&inflight[i].1, &why, counters);
                true
            }
            Err(e) => {
                reply_err(&inflight[i].1, &e, counters);
                if matches!(e, shmkit::Error::Disconnected { .. }) {
                    inflight.remove(i);
                    return Some(e);
                }
                true
            }
        };
        if done {
            inflight.remove(i);
        } else {
            i += 1;
        }
    }
    None
}

/// Connects to a new server of `name` (the old one died), rate-limited.
fn reconnect(name: &str, stop: &AtomicBool, counters: &Counters) -> Option<Client> {
    if pause(stop, Duration::from_millis(100)) {
        return None;
    }
    let c = service::open_client(name).ok()?;
    Counters::add(&counters.local_restarts, 1);
    Some(c)
}

/// Creates the local service `service`, whose requests are Zenoh queries on `key`: a local
/// client's request becomes a query (its payload), and the first reply is the response. Many
/// requests are in flight at once.
///
/// A request that gets no reply (no queryable on `key`, an error reply, the timeout) is
/// answered with an **empty response** (the service protocol has no error response), counted
/// in [`Stats::refused`](crate::Stats::refused) with the reason in
/// [`Stats::last_error`](crate::Stats::last_error); so a service whose empty response is
/// meaningful should not rely on this. A reply larger than the maximum response is refused the
/// same way.
///
/// # Errors
///
/// shmkit's errors creating the service (e.g. `InUse` if a live server has the name);
/// [`Error::Zenoh`].
pub fn offer(
    session: &Session,
    key: &str,
    service: &str,
    options: &ServiceOptions,
) -> Result<Bridge> {
    let mut server: Server = service::options()
        .max_clients(options.max_clients)
        .max_request_len(options.max_request)
        .max_response_len(options.max_response)
        .create_server(service)?;
    let session = session.clone();
    let key = zenoh::key_expr::KeyExpr::try_from(key.to_owned())
        .map_err(|e| Error::Invalid(format!("{key:?} is not a Zenoh key expression: {e}")))?;
    let opts = options.clone();
    Bridge::spawn(format!("offer {service}"), move |stop, counters| {
        while !stop.load(Ordering::Relaxed) {
            let req = match server.recv_timeout(TICK) {
                Ok(r) => r,
                Err(shmkit::Error::Timeout { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let answer = Answer {
                responder: server.responder(),
                handle: *req.handle(),
                max: opts.max_response as usize,
                done: AtomicBool::new(false),
                counters: counters.clone(),
                why: Mutex::new(None),
            };
            session
                .get(key.clone())
                .payload(req.into_payload())
                .target(QueryTarget::BestMatching)
                .consolidation(ConsolidationMode::None)
                .timeout(opts.timeout)
                .callback(move |reply| answer.reply(reply))
                .wait()
                .map_err(Error::zenoh)?;
        }
        Ok(())
    })
}

/// One request's answer: the first good reply; when the query ends without one, an empty
/// response (on drop).
struct Answer {
    responder: Responder,
    handle: Handle,
    max: usize,
    done: AtomicBool,
    counters: Arc<Counters>,
    why: Mutex<Option<String>>,
}

impl Answer {
    fn reply(&self, reply: Reply) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        match reply.result() {
            Ok(sample) => {
                let body = sample.payload().to_bytes();
                if body.len() > self.max {
                    *self.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                        "a {}-byte reply is larger than the maximum response of {} bytes",
                        body.len(),
                        self.max
                    ));
                    return;
                }
                if !self.done.swap(true, Ordering::AcqRel) {
                    match self.responder.respond(&self.handle, &body) {
                        Ok(()) => self.counters.forwarded(body.len()),
                        Err(e) => self.counters.error(format!("respond: {e}")),
                    }
                }
            }
            Err(e) => {
                let text = String::from_utf8_lossy(&e.payload().to_bytes()).into_owned();
                *self.why.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("the remote side replied with an error: {text}"));
            }
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let why = self
            .why
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| "no reply (no queryable, or the timeout)".to_owned());
        self.counters
            .refuse(format!("request {}: {why}", self.handle.id()));
        let _ = self.responder.respond(&self.handle, &[]);
    }
}
