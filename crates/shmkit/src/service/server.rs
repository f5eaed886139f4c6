//! The server side: `Server` (receives), `Responder` (answers, from any thread), `Request`
//! and its `Handle`.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::*;
use crate::channel::{self, Consumer, Producer};
use crate::liveness::{slot, Claim, Claimed};
use crate::object::Kind;
use crate::{sys, wait, Segment};

/// The serving side of a service: receives the requests of every client.
///
/// Answer through [`Server::respond`], or from other threads through a [`Responder`]
/// ([`Server::responder`]). Dropping the server gives up the server role (waiting clients get
/// [`Error::Disconnected`]) and, once every `Responder` is gone too, removes the service's
/// names unless it was told to keep them.
#[derive(Debug)]
pub struct Server {
    core: Arc<Core>,
    /// Slot i's request channel.
    requests: Vec<Consumer>,
    bell: Bell,
    claim: Option<Claim>,
    wait: WaitStrategy,
    /// Where the next scan starts (round robin over the slots).
    next: usize,
}

/// What the server and its responders share.
#[derive(Debug)]
struct Core {
    /// Slot i's response channel, locked while a response is written.
    responses: Vec<Mutex<Producer>>,
    limits: Limits,
    epoch: u32,
    /// A server that took the service over removes the names itself (it did not create the
    /// segments); `None` for the creator or when kept.
    remove: Option<Vec<String>>,
    obj: Object,
}

impl Drop for Core {
    fn drop(&mut self) {
        // The channels detach first (the fields drop after this), so the names go while
        // mappings still exist; that is fine for every OS (POSIX: unlink; Windows: no-op).
        if let Some(names) = self.remove.take() {
            for n in names {
                let _ = Segment::remove(&n);
            }
        }
    }
}

/// Answers requests of a [`Server`] from any thread (`Send + Sync`, cheap to clone).
#[derive(Clone, Debug)]
pub struct Responder {
    core: Arc<Core>,
}

/// Which request a response answers: its client's slot and generation, and its id. From
/// [`Request::handle`]; answer each request once (a second answer is dropped by the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    slot: u32,
    gen: u32,
    id: u64,
}

impl Handle {
    /// The client slot the request came from (stable while that client stays connected).
    pub fn client_slot(&self) -> u32 {
        self.slot
    }

    /// The generation of the client slot the request came from: a client that connects to a
    /// freed slot gets a new generation, so `(client_slot, generation, id)` names one request
    /// for the server's whole life (ids restart with each connection).
    pub fn generation(&self) -> u32 {
        self.gen
    }

    /// The request's id (unique per client connection).
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A received request: its payload, copied out of the client's ring (so the ring is free
/// at once, and a client that is not trusted cannot change it under you), and the handle to
/// answer it with. Dereferences to the payload.
#[derive(Debug)]
pub struct Request {
    handle: Handle,
    payload: Vec<u8>,
}

impl Request {
    /// The handle that answers this request (it may move to another thread).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The payload, owned.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

impl Deref for Request {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.payload
    }
}

/// Creates the service or takes it over; `types` is a typed service's message types.
pub(super) fn serve(o: &Options, name: &str, types: Option<&Types>) -> Result<Server> {
    o.limits.check(name)?;
    let len = segment_len(o.limits.clients);
    let created = Object::create(name, o.how, Kind::Service, len, o.limits.params(), |obj| {
        if let Some(t) = types {
            t.write(obj);
        }
        word32(obj, EPOCH)?.store(1, Ordering::Relaxed);
        let claim = claim_server(obj)?;
        let bell = create_bell(obj)?;
        let l = o.limits;
        let (rq, rs) = (
            ring_capacity(l.outstanding, l.request_len),
            ring_capacity(l.outstanding, l.response_len),
        );
        let (Some(rq), Some(rs)) = (rq, rs) else {
            return Err(Error::size(name, "rings too large"));
        };
        let mut requests = Vec::new();
        let mut responses = Vec::new();
        for i in 0..l.clients {
            let c = |cap| {
                let mut c = channel::options();
                c.capacity(cap).mode(o.how.mode).keep(o.how.keep);
                c
            };
            requests.push(c(rq).create_consumer(&request_channel(name, i))?);
            responses.push(Mutex::new(
                c(rs).create_producer(&response_channel(name, i))?,
            ));
        }
        Ok((claim, bell, requests, responses))
    });
    let (obj, (claim, bell, requests, responses), epoch, remove) = match created {
        Ok((obj, parts)) => (obj, parts, 1, None),
        // The service's own name (not a channel's: that error says which name it is).
        Err(Error::AlreadyExists { name: n }) if n == name => take_over(o, name, types)?,
        Err(e) => return Err(e),
    };
    let core = Arc::new(Core {
        responses,
        limits: Limits::from_header(name, &obj_header(&obj)?, obj.view.len())?,
        epoch,
        remove,
        obj,
    });
    // A predecessor killed asleep never took itself off the count.
    bell.forget_sleepers();
    let mut requests = requests;
    for r in &mut requests {
        r.set_wait_strategy(o.wait);
    }
    Ok(Server {
        core,
        requests,
        bell,
        claim: Some(claim),
        wait: o.wait,
        next: 0,
    })
}

type Parts = (Claim, Bell, Vec<Consumer>, Vec<Mutex<Producer>>);

/// Takes over the existing service `name` whose server is gone: claims the role, re-attaches
/// every channel, bumps the epoch and tells the old server's clients.
fn take_over(
    o: &Options,
    name: &str,
    types: Option<&Types>,
) -> Result<(Object, Parts, u32, Option<Vec<String>>)> {
    let (obj, header) = Object::open(name, Kind::Service, segment_len(1))?;
    let l = Limits::from_header(name, &header, obj.view.len())?;
    if let Some(t) = types {
        t.check(&obj)?;
    }
    let claim = claim_server(&obj)?;
    let release = |claim| {
        liveness::release(
            &obj.segment,
            claim,
            server_word(&obj),
            LEFT,
            sys::current_pid(),
        );
    };
    let attached = (|| {
        let bell = open_bell(&obj, true)?;
        let mut requests = Vec::new();
        let mut responses = Vec::new();
        let mut names = vec![name.to_owned()];
        let too_large = || Error::size(name, "rings too large");
        let rq = ring_capacity(l.outstanding, l.request_len).ok_or_else(too_large)?;
        let rs = ring_capacity(l.outstanding, l.response_len).ok_or_else(too_large)?;
        // Windows: a channel no live process had open (a slot no client held) went with the
        // dead server, so make it again.
        let c = |cap| {
            let mut c = channel::options();
            c.capacity(cap).mode(o.how.mode).keep(o.how.keep);
            c
        };
        for i in 0..l.clients {
            let (q, r) = (request_channel(name, i), response_channel(name, i));
            requests.push(c(rq).open_or_create_consumer(&q)?);
            responses.push(c(rs).open_or_create_producer(&r)?);
            names.extend([q, r]);
        }
        Ok((bell, requests, responses, names))
    })();
    let (bell, requests, mut responses, names) = match attached {
        Ok(a) => a,
        Err(e) => {
            release(claim);
            return Err(e);
        }
    };
    let epoch_word = word32(&obj, EPOCH)?;
    let epoch = epoch_word.load(Ordering::Acquire).wrapping_add(1).max(1);
    // SYNC POINT: a Dekker pair with a connecting client (`client::connect`): this side
    // stores the epoch, fences, then reads the slot words; the client claims its slot,
    // fences, then reads the epoch (at connect and in every `loan`). So either this scan sees
    // the client's slot and sends it the restart frame, or the client sees the new epoch and
    // is told to reconnect. Release also pairs with the clients' Acquire loads of the epoch.
    epoch_word.store(epoch, Ordering::Release);
    std::sync::atomic::fence(Ordering::SeqCst);
    // Tell every client that was connected (and may be waiting) that its server is gone.
    for (i, tx) in (0..l.clients).zip(responses.iter_mut()) {
        let word = slot_word(&obj, i)?.load(Ordering::Acquire);
        let (state, gen, _) = liveness::unpack(word);
        if state == CONNECTED {
            let _ = tx.try_send(&encode(RESTART, epoch, gen));
        }
    }
    let remove = (!o.how.keep).then_some(names);
    let responses = responses.into_iter().map(Mutex::new).collect();
    Ok((obj, (claim, bell, requests, responses), epoch, remove))
}

fn obj_header(obj: &Object) -> Result<Header> {
    Ok(bytemuck::pod_read_unaligned(
        &obj.view.read_vec(0, crate::object::HEADER_LEN)?,
    ))
}

fn server_word(obj: &Object) -> &atomic_shim::AtomicU64 {
    // The offset is a constant inside every service segment (checked on create and open).
    word64(obj, SERVER_WORD).expect("the server word lies inside a checked service segment")
}

fn claim_server(obj: &Object) -> Result<Claim> {
    match liveness::claim(
        &obj.segment,
        slot::SERVER,
        word64(obj, SERVER_WORD)?,
        SERVING,
        |s| s == SERVING,
    )? {
        Claimed::Yes(c) => Ok(c),
        Claimed::HeldBy(pid) => Err(Error::InUse {
            name: obj.name().to_owned(),
            role: "server",
            pid,
        }),
    }
}

impl Server {
    /// The service's name.
    pub fn name(&self) -> &str {
        self.core.obj.name()
    }

    /// The largest request payload clients may send.
    pub fn max_request_len(&self) -> usize {
        self.core.limits.request_len as usize
    }

    /// The largest response payload.
    pub fn max_response_len(&self) -> usize {
        self.core.limits.response_len as usize
    }

    /// How many clients may be connected at once.
    pub fn max_clients(&self) -> u32 {
        self.core.limits.clients
    }

    /// Whether this server created the service (rather than taking it over).
    pub fn is_creator(&self) -> bool {
        self.core.obj.is_creator()
    }

    /// Changes how the server waits for requests (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// How the server waits for requests.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// A handle that answers requests from another thread.
    pub fn responder(&self) -> Responder {
        Responder {
            core: Arc::clone(&self.core),
        }
    }

    /// Receives the next request from any client, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// Only what the OS reports if sleeping fails; clients coming and going are not errors.
    pub fn recv(&mut self) -> Result<Request> {
        self.recv_until(Deadline::Forever)
    }

    /// Like [`Server::recv`], without waiting: [`Error::WouldBlock`] if no request is
    /// there.
    ///
    /// # Errors
    ///
    /// As [`Server::recv`], and `WouldBlock`.
    pub fn try_recv(&mut self) -> Result<Request> {
        self.recv_until(Deadline::Try)
    }

    /// Like [`Server::recv`], waiting at most `timeout` (monotonic clock).
    ///
    /// # Errors
    ///
    /// As [`Server::recv`], and [`Error::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Request> {
        self.recv_until(Deadline::after(timeout))
    }

    /// Like [`Self::recv`], waiting until `deadline` at most (monotonic clock): the
    /// form the other three are written on.
    ///
    /// # Errors
    ///
    /// As [`Self::recv_timeout`].
    pub fn recv_deadline(&mut self, deadline: std::time::Instant) -> Result<Request> {
        self.recv_until(Deadline::At(deadline))
    }

    /// Waits as the server's [`WaitStrategy`] says, as a channel side does (`crate::wait::until`),
    /// for any request ring to hold a frame, sleeping on the service's bell. The rings are
    /// scanned again at least once a liveness slice: a client killed between committing its
    /// request and ringing the bell never rings.
    pub(super) fn recv_until(&mut self, deadline: Deadline) -> Result<Request> {
        let Server {
            core,
            requests,
            bell,
            wait,
            next,
            ..
        } = self;
        let mut found = None;
        wait::until(
            core.obj.name(),
            None,
            bell,
            wait.backoff(),
            deadline,
            None,
            || {
                // `until` may ask again after a success: answer from the request taken.
                if found.is_none() {
                    found = poll(core, requests, next).transpose();
                }
                found.is_some()
            },
        )?;
        found.expect("until returns Ok only once a request was taken")
    }

    /// Answers the request `handle` with a copy of `msg`; see [`Responder::respond`].
    ///
    /// # Errors
    ///
    /// As [`Responder::respond`].
    pub fn respond(&self, handle: &Handle, msg: &[u8]) -> Result<()> {
        self.core
            .respond_with(handle, msg.len(), |b| b.copy_from_slice(msg))
    }

    /// Answers the request `handle` with `len` bytes written in place; see
    /// [`Responder::respond_with`].
    ///
    /// # Errors
    ///
    /// As [`Responder::respond_with`].
    pub fn respond_with<R>(
        &self,
        handle: &Handle,
        len: usize,
        write: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        self.core.respond_with(handle, len, write)
    }
}

/// The next valid request, if one is there: scans the slots round robin from `next`,
/// dropping stale frames (a previous client's or server's) and skipping corrupt rings.
fn poll(core: &Core, requests: &mut [Consumer], next: &mut usize) -> Result<Option<Request>> {
    let n = requests.len();
    for k in 0..n {
        let i = (*next + k) % n;
        while requests[i].has_message() {
            if let Some(r) = take(core, &mut requests[i], i)? {
                *next = (i + 1) % n;
                return Ok(Some(r));
            }
        }
    }
    Ok(None)
}

/// Receives the frame at the head of slot `i`'s ring; `None` if it is stale or malformed.
fn take(core: &Core, request: &mut Consumer, i: usize) -> Result<Option<Request>> {
    let Ok(sample) = request.try_recv() else {
        return Ok(None);
    };
    let Some((id, _, gen)) = decode(&sample).filter(|&(_, e, g)| core.serves(i, e, g)) else {
        return Ok(None);
    };
    let payload = sample[FRAME..].to_vec();
    Ok(Some(Request {
        handle: Handle {
            slot: i as u32,
            gen,
            id,
        },
        payload,
    }))
}

/// Ready: a request ring holds a request this server serves (of its epoch, from its slot's
/// connected client), which is when `try_recv` does not return `WouldBlock`. Frames that
/// `recv` drops unread (left by a client that is gone, or for an earlier server) are
/// passed over, and a ring holding a corrupt frame is skipped by `recv` (that client is no
/// longer served, module docs), so neither makes the server ready.
impl crate::wait::Sealed for Server {
    fn point(&self) -> crate::wait::Point<'_> {
        self.bell.point(None)
    }

    fn ready(&self) -> bool {
        self.requests.iter().enumerate().any(|(i, r)| {
            r.any_message(|head: &[u8; FRAME]| {
                decode(head).is_some_and(|(_, e, g)| self.core.serves(i, e, g))
            })
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            let obj = &self.core.obj;
            liveness::release(
                &obj.segment,
                claim,
                server_word(obj),
                LEFT,
                sys::current_pid(),
            );
        }
    }
}

impl Responder {
    /// Answers the request `handle` with a copy of `msg`. Never waits.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] over the service's `max_response_len`;
    /// [`Error::Disconnected`] if the client that asked has left, or its slot was taken
    /// over by another client (an answer to a client killed and not yet replaced is
    /// written, and dropped by the slot's next client); [`Error::Full`] if its response
    /// ring has no room (a client that does not read its responses, or exceeds its limits).
    pub fn respond(&self, handle: &Handle, msg: &[u8]) -> Result<()> {
        self.core
            .respond_with(handle, msg.len(), |b| b.copy_from_slice(msg))
    }

    /// Answers the request `handle` with `len` bytes that `write` writes straight into the
    /// client's response ring (zero-copy; the buffer's initial contents are unspecified).
    /// The response is published when `write` returns; returns what `write` returned.
    ///
    /// # Errors
    ///
    /// As [`Responder::respond`] (`write` is not called then).
    pub fn respond_with<R>(
        &self,
        handle: &Handle,
        len: usize,
        write: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        self.core.respond_with(handle, len, write)
    }
}

impl Core {
    /// Whether a request frame of `epoch` and client generation `gen` in slot `i`'s ring is
    /// one this server answers: its own epoch, from the client connected to the slot now.
    fn serves(&self, i: usize, epoch: u32, gen: u32) -> bool {
        let Ok(word) = slot_word(&self.obj, i as u32) else {
            return false;
        };
        let (state, now, _) = liveness::unpack(word.load(Ordering::Acquire));
        epoch == self.epoch && state == CONNECTED && now == gen
    }

    fn respond_with<R>(
        &self,
        h: &Handle,
        len: usize,
        write: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        let name = self.obj.name();
        if len > self.limits.response_len as usize {
            return Err(Error::size(
                name,
                format!(
                    "a response of {len} bytes is over this service's maximum of {}",
                    self.limits.response_len
                ),
            ));
        }
        let gone = || Error::Disconnected {
            name: name.to_owned(),
        };
        let tx = self.responses.get(h.slot as usize).ok_or_else(gone)?;
        let (state, gen, _) =
            liveness::unpack(slot_word(&self.obj, h.slot)?.load(Ordering::Acquire));
        if state != CONNECTED || gen != h.gen {
            return Err(gone());
        }
        let mut tx: MutexGuard<'_, Producer> = tx.lock().unwrap_or_else(|p| p.into_inner());
        // A response ring with room for `max_outstanding` answers is full only when the
        // client does not read them (or asks beyond its limits): `Full`, as for requests. The
        // server never waits for a client, so this is not `WouldBlock`.
        let mut loan = match tx.try_loan(FRAME + len) {
            Err(Error::WouldBlock { .. }) => {
                super::layout::count_refusal(&self.obj, super::layout::REFUSED_RESPONSES);
                return Err(Error::Full {
                    name: name.to_owned(),
                    max: self.limits.outstanding,
                });
            }
            r => r?,
        };
        loan[..FRAME].copy_from_slice(&encode(h.id, self.epoch, h.gen));
        let r = write(&mut loan[FRAME..]);
        loan.commit();
        Ok(r)
    }
}

/// `Server` and `Responder` may move between threads; a `Responder` is shared.
#[allow(dead_code)]
fn assert_send_sync() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<Server>();
    sync::<Responder>();
    send::<Request>();
    sync::<Handle>();
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::sync::{Event, Reset};
    use crate::{WaitSet, Waitable};

    fn unique(tag: &str) -> String {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        format!("shmkit-u{}-{n}-{tag}", std::process::id())
    }

    /// A wait set of more members than one `futex_waitv` takes leaves its helper threads
    /// queued on their chunks' words when it returns (`waitset/helpers.rs`), here the service's
    /// bell. A client's ring must still reach a thread asleep on the bell: the bell wakes
    /// every sleeper. (With a wake of one, the kernel hands it to the helper queued first and
    /// the sleeper below sleeps on: issue 19, item 2.) The sleep here has no liveness slice,
    /// so only the wake can end it.
    #[test]
    fn a_waitset_helper_left_on_the_bell_does_not_take_a_clients_wake() {
        if !WaitSet::native() {
            return; // no futex_waitv, no helper threads
        }
        let name = unique("bellsteal");
        let server = options()
            .wait_strategy(WaitStrategy::Blocking)
            .create_server(&name)
            .unwrap();
        let mut client = super::super::open_client(&name).unwrap();
        let events: Vec<Event> = (0..130)
            .map(|i| Event::create(&unique(&format!("bellev{i}")), Reset::Manual).unwrap())
            .collect();
        let mut members: Vec<&dyn Waitable> = events.iter().map(|e| e as &dyn Waitable).collect();
        members.push(&server); // index 130: a helper's chunk
        let mut set = WaitSet::new();
        assert!(matches!(
            set.wait_timeout(&members, Duration::from_millis(50)),
            Err(Error::Timeout { .. })
        ));
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let r = server.bell.sleep(Deadline::Forever, || true);
                tx.send(r.is_ok()).unwrap();
            });
            // Until the thread has counted itself in (the wait set has counted out): then
            // the ring bumps the bell's word and wakes, whether the thread is in the kernel
            // yet or not (its wait then sees the new value).
            let sleepers = server.core.obj.word(BELL + 4);
            while sleepers.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_millis(50));
            let _pending = client.request(b"ring").unwrap();
            let woke = rx.recv_timeout(Duration::from_secs(10));
            if woke.is_err() {
                // Free the sleeper so that the scope can end, then fail.
                server.bell.ring();
            }
            assert_eq!(
                woke,
                Ok(true),
                "the client's ring never reached the sleeper"
            );
        });
        drop(set);
    }
}
