//! The client side: `Client`, its `RequestLoan`, `Pending` requests and `Response`s.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::*;
use crate::channel::{self, Consumer, Producer, Sample};
use crate::liveness::{slot, Claim, Claimed};
use crate::object::Kind;
use crate::sys;

/// A client of a service: sends requests, waits for their responses.
///
/// Dropping it frees its slot for the next client (so does its process dying).
#[derive(Debug)]
pub struct Client {
    /// The two channels of this client's slot; taken on drop, before the slot is given back.
    link: Option<Link>,
    claim: Option<Claim>,
    bell: Bell,
    slot: u32,
    gen: u32,
    epoch: u32,
    limits: Limits,
    wait: WaitStrategy,
    next_id: u64,
    /// Ids sent and not yet waited for or cancelled.
    outstanding: Vec<u64>,
    /// Responses that arrived while another was waited for: (id, payload).
    stash: Vec<(u64, Vec<u8>)>,
    obj: Object,
}

#[derive(Debug)]
struct Link {
    tx: Producer,
    rx: Consumer,
}

/// A request sent and not yet answered: wait for its response with [`Client::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a request's response is only received by waiting for it (or cancel it)"]
pub struct Pending(u64);

impl Pending {
    /// The request's id, as the server's [`Handle::id`](super::Handle::id) sees it.
    pub fn id(&self) -> u64 {
        self.0
    }
}

/// A request being written in place in the client's request ring, from [`Client::loan`].
/// [`RequestLoan::commit`] publishes it; dropping it sends nothing.
#[derive(Debug)]
#[must_use = "a loan sends nothing until send()"]
pub struct RequestLoan<'a> {
    loan: channel::Loan<'a>,
    id: u64,
    outstanding: &'a mut Vec<u64>,
    bell: &'a Bell,
}

/// A response: read in place in the client's response ring when it was the next one there,
/// or a copy when it arrived while another request was being waited for. Dereferences to the
/// payload. An in-place response is released on drop; as with a channel's
/// [`Sample`](crate::channel::Sample), a writer outside the protocol could change its bytes
/// (see the [trust model](crate#trust-model)): copy it out when the server is not trusted.
#[derive(Debug)]
pub struct Response<'a>(Inner<'a>);

#[derive(Debug)]
enum Inner<'a> {
    InPlace(Sample<'a>),
    Copied(Vec<u8>),
}

impl Deref for Response<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Inner::InPlace(s) => s.get(FRAME..).unwrap_or_default(),
            Inner::Copied(v) => v,
        }
    }
}

/// [`connect`], waiting up to the options' `open_timeout` for the service to appear.
pub(super) fn connect_waiting(o: &Options, name: &str, types: Option<&Types>) -> Result<Client> {
    crate::segment::open_waiting(o.how.open_timeout, || connect(o, name, types))
}

/// Connects to the service `name`; `types` is a typed client's message types.
pub(super) fn connect(o: &Options, name: &str, types: Option<&Types>) -> Result<Client> {
    let (obj, header) = Object::open(name, Kind::Service, segment_len(1))?;
    let limits = Limits::from_header(name, &header, obj.view.len())?;
    if let Some(t) = types {
        t.check(&obj)?;
    }
    let disconnected = || Error::Disconnected {
        name: name.to_owned(),
    };
    if !server_alive(&obj)? {
        return Err(disconnected());
    }
    let bell = open_bell(&obj, false)?;
    let (slot, claim) = claim_slot(&obj, limits.clients)?;
    // SYNC POINT: the client's half of the Dekker pair with a server taking over
    // (`server::take_over`): slot claimed, fence, then the epoch read (here, and again in
    // every `loan`). Acquire pairs with that server's Release store of the epoch.
    std::sync::atomic::fence(Ordering::SeqCst);
    let epoch = word32(&obj, EPOCH)?.load(Ordering::Acquire);
    let word = slot_word(&obj, slot)?;
    let gen = liveness::unpack(word.load(Ordering::Acquire)).1;
    let linked = (|| {
        let mut c = channel::options();
        c.wait_strategy(o.wait);
        let tx = c.open_producer(&request_channel(name, slot))?;
        let mut rx = c.open_consumer(&response_channel(name, slot))?;
        let fits = |max: usize, len: u32| max >= FRAME + len as usize;
        if !fits(tx.max_message_len(), limits.request_len)
            || !fits(rx.capacity() / 2 - 8, limits.response_len)
        {
            return Err(Error::Corrupt {
                name: name.to_owned(),
                reason: format!("the channels of client slot {slot} are too small for its limits"),
            });
        }
        // Whatever is in the response ring now was meant for a previous client of the slot.
        while rx.try_recv().is_ok() {}
        Ok(Link { tx, rx })
    })();
    match linked {
        Ok(link) => Ok(Client {
            link: Some(link),
            claim: Some(claim),
            bell,
            slot,
            gen,
            epoch,
            limits,
            wait: o.wait,
            next_id: 1,
            outstanding: Vec::new(),
            stash: Vec::new(),
            obj,
        }),
        Err(e) => {
            liveness::release(&obj.segment, claim, word, LEFT, sys::current_pid());
            Err(e)
        }
    }
}

/// Claims the first slot that is free or whose client is gone.
fn claim_slot(obj: &Object, clients: u32) -> Result<(u32, Claim)> {
    for i in 0..clients {
        let word = slot_word(obj, i)?;
        // Cheap skip of slots a live client visibly holds is not possible without a system
        // call; `claim` is one, and refuses a live holder at once.
        if let Claimed::Yes(c) =
            liveness::claim(&obj.segment, slot::CLIENT + i, word, CONNECTED, |s| {
                s == CONNECTED
            })?
        {
            return Ok((i, c));
        }
    }
    super::layout::count_refusal(obj, super::layout::REFUSED_CONNECTIONS);
    Err(Error::Full {
        name: obj.name().to_owned(),
        max: clients,
    })
}

impl Client {
    /// The service's name.
    pub fn name(&self) -> &str {
        self.obj.name()
    }

    /// The slot this client holds (0 ..= max_clients - 1).
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The largest request payload the service takes.
    pub fn max_request_len(&self) -> usize {
        self.limits.request_len as usize
    }

    /// How many requests may be outstanding at once.
    pub fn max_outstanding(&self) -> u32 {
        self.limits.outstanding
    }

    /// How many requests are outstanding (sent, not yet waited for or cancelled).
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Changes how this client waits for responses (see [`WaitStrategy`]).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
        if let Some(l) = self.link.as_mut() {
            l.rx.set_wait_strategy(wait);
        }
    }

    /// How this client waits for responses.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            name: self.name().to_owned(),
        }
    }

    /// Borrows room for a request of `len` bytes in the request ring, to write in place and
    /// [commit](RequestLoan::commit). Never waits, so it has no `try_` twin and never
    /// returns `WouldBlock`: the ring always has room for `max_outstanding` requests, and
    /// the only limit is that count.
    ///
    /// # Errors
    ///
    /// [`Error::SizeInvalid`] over the service's `max_request_len`; [`Error::Full`] if
    /// `max_outstanding` requests are outstanding (also, rarely, while the ring still holds
    /// requests of this slot's previous client that the server has not taken yet: try again
    /// later, as for the count); [`Error::Disconnected`] if the server is gone or was
    /// replaced (then [`reconnect`](Client::reconnect)).
    pub fn loan(&mut self, len: usize) -> Result<RequestLoan<'_>> {
        if len > self.limits.request_len as usize {
            return Err(Error::size(
                self.name(),
                format!(
                    "a request of {len} bytes is over this service's maximum of {}",
                    self.limits.request_len
                ),
            ));
        }
        if self.outstanding.len() >= self.limits.outstanding as usize {
            super::layout::count_refusal(&self.obj, super::layout::REFUSED_REQUESTS);
            return Err(Error::Full {
                name: self.name().to_owned(),
                max: self.limits.outstanding,
            });
        }
        // SYNC POINT: Acquire pairs with a taking-over server's Release store.
        if word32(&self.obj, EPOCH)?.load(Ordering::Acquire) != self.epoch {
            return Err(self.disconnected());
        }
        let Some(link) = self.link.as_mut() else {
            return Err(Error::Disconnected {
                name: self.obj.name().to_owned(),
            });
        };
        let mut loan = match link.tx.try_loan(FRAME + len) {
            // Made only here: a name copied on every request costs an allocation per hop.
            Err(Error::WouldBlock { .. }) => {
                super::layout::count_refusal(&self.obj, super::layout::REFUSED_REQUESTS);
                return Err(Error::Full {
                    name: self.obj.name().to_owned(),
                    max: self.limits.outstanding,
                });
            }
            r => r?,
        };
        let id = self.next_id;
        self.next_id += 1;
        loan[..FRAME].copy_from_slice(&encode(id, self.epoch, self.gen));
        Ok(RequestLoan {
            loan,
            id,
            outstanding: &mut self.outstanding,
            bell: &self.bell,
        })
    }

    /// Sends a copy of `msg` as a request; wait for its response with [`Client::wait`].
    /// Never waits.
    ///
    /// # Errors
    ///
    /// As [`Client::loan`].
    pub fn request(&mut self, msg: &[u8]) -> Result<Pending> {
        let mut loan = self.loan(msg.len())?;
        loan.copy_from_slice(msg);
        Ok(loan.commit())
    }

    /// Sends `msg` and waits for its response: [`Client::request`] then [`Client::wait`].
    ///
    /// # Errors
    ///
    /// As both.
    pub fn call(&mut self, msg: &[u8]) -> Result<Response<'_>> {
        let p = self.request(msg)?;
        self.wait(p)
    }

    /// Waits as long as it takes for the response to `pending`. Responses to other
    /// outstanding requests that arrive first are kept for their own wait.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the server is gone or was replaced (the request is then
    /// lost); [`Error::NotOutstanding`] if `pending` is not outstanding on this client (already
    /// answered, cancelled, or another client's); [`Error::Corrupt`] if the response ring
    /// holds an impossible frame.
    pub fn wait(&mut self, pending: Pending) -> Result<Response<'_>> {
        self.wait_until(pending, Deadline::Forever)
    }

    /// Like [`Client::wait`], without waiting: [`Error::WouldBlock`] if the response is not
    /// there yet (the request stays outstanding).
    ///
    /// # Errors
    ///
    /// As [`Client::wait`], and `WouldBlock`.
    pub fn try_wait(&mut self, pending: Pending) -> Result<Response<'_>> {
        self.wait_until(pending, Deadline::Try)
    }

    /// Like [`Client::wait`], waiting at most `timeout` on the monotonic clock:
    /// [`Error::Timeout`] then (the request stays outstanding: wait again, or
    /// [cancel](Client::cancel) it).
    ///
    /// # Errors
    ///
    /// As [`Client::wait`], and `Timeout`.
    pub fn wait_timeout(&mut self, pending: Pending, timeout: Duration) -> Result<Response<'_>> {
        self.wait_until(pending, Deadline::after(timeout))
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
    ) -> Result<Response<'_>> {
        self.wait_until(pending, Deadline::At(deadline))
    }

    /// Gives up on `pending`: it no longer counts as outstanding, and its response, if it
    /// comes, is dropped. Returns whether it was outstanding.
    pub fn cancel(&mut self, pending: Pending) -> bool {
        self.stash.retain(|(id, _)| *id != pending.0);
        let was = self.outstanding.contains(&pending.0);
        self.outstanding.retain(|&id| id != pending.0);
        was
    }

    /// Drops this client and connects again, to whichever server serves the name now: what
    /// a client does after [`Error::Disconnected`] once a new server has taken over.
    /// Outstanding requests are lost.
    ///
    /// # Errors
    ///
    /// As [`Options::open_client`].
    pub fn reconnect(self) -> Result<Client> {
        let (name, wait) = (self.name().to_owned(), self.wait);
        drop(self);
        options().wait_strategy(wait).open_client(&name)
    }

    fn wait_until(&mut self, pending: Pending, deadline: Deadline) -> Result<Response<'_>> {
        let want = pending.0;
        if let Some(at) = self.stash.iter().position(|(id, _)| *id == want) {
            let (_, v) = self.stash.swap_remove(at);
            self.outstanding.retain(|&id| id != want);
            return Ok(Response(Inner::Copied(v)));
        }
        if !self.outstanding.contains(&want) {
            return Err(Error::NotOutstanding {
                name: self.obj.name().to_owned(),
                id: want,
            });
        }
        let name = self.obj.name();
        let disconnected = || Error::Disconnected {
            name: name.to_owned(),
        };
        let Some(link) = self.link.as_mut() else {
            return Err(disconnected());
        };
        loop {
            let sample = link.rx.recv_until(deadline)?;
            let Some((id, epoch, gen)) = decode(&sample) else {
                continue; // too short to be a response: not one of ours
            };
            if gen != self.gen {
                continue; // meant for a previous client of this slot
            }
            if epoch != self.epoch || id == RESTART {
                return Err(disconnected());
            }
            if id == want {
                // Leave it at the head of the ring, to hand out in place below.
                std::mem::forget(sample);
                break;
            }
            if self.outstanding.contains(&id) && self.stash.iter().all(|(s, _)| *s != id) {
                self.stash.push((id, sample[FRAME..].to_vec()));
            }
        }
        self.outstanding.retain(|&id| id != want);
        let sample = link.rx.recv_until(Deadline::Try)?;
        Ok(Response(Inner::InPlace(sample)))
    }
}

/// Ready: a response arrived (one may already be kept from an earlier wait), or the server is
/// gone. A hint, as every wait set's readiness is: the response may be for another request
/// than the one waited for next, or a stale one that `try_wait` drops.
impl crate::wait::Sealed for Client {
    fn point(&self) -> crate::wait::Point<'_> {
        // The link lives from `connect` until `drop`.
        let link = self
            .link
            .as_ref()
            .expect("a client's channels live until it drops");
        crate::wait::Sealed::point(&link.rx)
    }

    fn ready(&self) -> bool {
        !self.stash.is_empty()
            || self
                .link
                .as_ref()
                .is_some_and(|l| crate::wait::Sealed::ready(&l.rx))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The channels first, so that a client taking the slot over finds them free.
        drop(self.link.take());
        if let Some(claim) = self.claim.take() {
            if let Ok(word) = slot_word(&self.obj, self.slot) {
                liveness::release(&self.obj.segment, claim, word, LEFT, sys::current_pid());
            }
        }
    }
}

impl RequestLoan<'_> {
    /// The request's id (as [`Pending::id`] will say).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Publishes the request to the server and wakes it if it sleeps; returns the
    /// [`Pending`] to [`Client::wait`] on (as a channel loan's `commit` publishes it).
    pub fn commit(self) -> Pending {
        let RequestLoan {
            loan,
            id,
            outstanding,
            bell,
        } = self;
        loan.commit();
        outstanding.push(id);
        bell.ring();
        Pending(id)
    }
}

impl Deref for RequestLoan<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.loan[FRAME..]
    }
}

impl DerefMut for RequestLoan<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.loan[FRAME..]
    }
}

#[allow(dead_code)]
fn assert_send() {
    fn send<T: Send>() {}
    send::<Client>();
    send::<Pending>();
}
