//! Wait sets (`shmkit::WaitSet`): `shmkit_waitset_*`, waiting on many handles of any kinds at
//! once.
//!
//! Unlike Rust's `WaitSet`, which is given its members on each wait, a C wait set keeps
//! pointers to the handles added to it (`shmkit_waitset_add_<kind>`, which returns the
//! member's index) and waits on all of them; [`shmkit_waitset_wait`] returns the indices of
//! the ready ones. **The handles must outlive the wait set's use of them**: close the wait
//! set, or [clear](shmkit_waitset_clear) it, before closing a member. A wait reads its
//! members, so none of them may be used by another thread during it.
//!
//! Ready means the member's next `SHMKIT_TRY` call returns something other than
//! `SHMKIT_WOULD_BLOCK`: a server has a request; a client has a response (possibly to
//! another of its requests than the one waited for next), or its server is gone; a consumer
//! or subscriber has a message (or a lag, or its peer is gone); a producer has room, a
//! publisher a free slot; an event is set; a semaphore has a permit. A side holding a loan or
//! a received message cannot be waited on: end it first. As with
//! `poll(2)`, readiness is a hint: receive with `SHMKIT_TRY` and loop.

use std::collections::HashSet;

use shmkit::{WaitSet, Waitable};

use crate::broadcast::{shmkit_publisher, shmkit_subscriber};
use crate::channel::{shmkit_consumer, shmkit_producer};
use crate::rx::Receiver;
use crate::service::{shmkit_client, shmkit_server};
use crate::status::*;
use crate::sync::{shmkit_event, shmkit_semaphore};
use crate::tx::Sender;

/// A handle that can be a wait set member: how the wait set reaches the Rust value inside.
///
/// A kind joins the wait sets by implementing this for its handle (returning its Rust side,
/// or a misuse if the handle holds a loan or a received message that borrows the side) and
/// adding a `shmkit_waitset_add_<kind>` entry that calls [`add`].
pub(crate) trait Member {
    /// The Rust value to wait on; an error if the handle cannot be waited on now.
    fn waitable(&self) -> Outcome<&dyn Waitable>;
}

impl Member for shmkit_server {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        shmkit_server::waitable(self)
    }
}

impl Member for shmkit_client {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        shmkit_client::waitable(self)
    }
}

/// A sending or receiving side: waitable while it holds no loan or message.
fn unheld<'a>(side: Option<&'a dyn Waitable>, kind: &str, held: &str) -> Outcome<&'a dyn Waitable> {
    side.ok_or_else(|| {
        misuse(format!(
            "the {kind} holds {held}: end it before waiting on the {kind} in a wait set"
        ))
    })
}

impl Member for shmkit_producer {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        unheld(
            self.tx.side.waitable(),
            "producer",
            "a loan (commit or abort it)",
        )
    }
}

impl Member for shmkit_consumer {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        unheld(
            self.rx.side.waitable(),
            "consumer",
            "a received message (release it)",
        )
    }
}

impl Member for shmkit_publisher {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        unheld(
            self.tx.side.waitable(),
            "publisher",
            "a loan (commit or abort it)",
        )
    }
}

impl Member for shmkit_subscriber {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        unheld(
            self.rx.side.waitable(),
            "subscriber",
            "a received message (release it)",
        )
    }
}

impl Member for shmkit_event {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        Ok(&self.inner)
    }
}

impl Member for shmkit_semaphore {
    fn waitable(&self) -> Outcome<&dyn Waitable> {
        Ok(&self.inner)
    }
}

/// A wait set (`shmkit::WaitSet`) and the handles added to it.
pub struct shmkit_waitset {
    inner: WaitSet,
    members: Vec<*const dyn Member>,
    /// The members' addresses, to refuse one added twice.
    seen: HashSet<*const ()>,
}

/// Makes an empty wait set (no system call and no thread until a wait needs them).
///
/// # Safety
///
/// `out` is writable. On success `*out` is a handle to close with [`shmkit_waitset_close`].
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_new(out: *mut *mut shmkit_waitset) -> shmkit_status {
    run(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: checked, and the caller promises it is writable.
        unsafe {
            put_handle(
                out,
                shmkit_waitset {
                    inner: WaitSet::new(),
                    members: Vec::new(),
                    seen: HashSet::new(),
                },
            )
        };
        Ok(())
    })
}

/// Closes a wait set (NULL is ignored), and any helper threads it made. Its members are not
/// touched: close them after (or before: the wait set does not use them when closing).
///
/// # Safety
///
/// `ws` is NULL or a wait set handle not used again.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_close(ws: *mut shmkit_waitset) {
    // SAFETY: forwarded.
    unsafe { close(ws) }
}

/// Adds `member` to the wait set; its index (0 for the first member, then 1, …) is what
/// waits return when it is ready.
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `member` is NULL or a
/// live handle that stays live while the wait set may wait on it; `index` is NULL or
/// writable.
pub(crate) unsafe fn add<T: Member + 'static>(
    ws: *mut shmkit_waitset,
    member: *const T,
    kind: &str,
    index: *mut usize,
) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let ws = unsafe { handle(ws, "wait set")? };
        if member.is_null() {
            return Err(misuse(format!("the {kind} handle to add is NULL")));
        }
        if !ws.seen.insert(member.cast()) {
            return Err(misuse(format!(
                "this {kind} is in the wait set already (a member is given once)"
            )));
        }
        let i = ws.members.len();
        ws.members.push(member as *const dyn Member);
        if !index.is_null() {
            // SAFETY: non-NULL, and the caller promises it is writable.
            unsafe { index.write(i) };
        }
        Ok(())
    })
}

/// Adds a server: ready when a request is there.
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `server` is a live
/// server handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_server(
    ws: *mut shmkit_waitset,
    server: *const shmkit_server,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, server, "server", index) }
}

/// Adds a client: ready when a response is there, or its server is gone. A client holding a
/// response or a loan cannot be waited on (`SHMKIT_INVALID_ARGUMENT` from the wait):
/// release, commit or abort it first.
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `client` is a live
/// client handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_client(
    ws: *mut shmkit_waitset,
    client: *const shmkit_client,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, client, "client", index) }
}

/// Adds a producer: ready when it has room for a small message, or its consumer gone. A producer holding a
/// loan cannot be waited on (`SHMKIT_INVALID_ARGUMENT` from the wait).
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `producer` is a live
/// producer handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_producer(
    ws: *mut shmkit_waitset,
    producer: *const shmkit_producer,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, producer, "producer", index) }
}

/// Adds a consumer: ready when it has a message, or its producer gone. A consumer holding a
/// received message cannot be waited on (`SHMKIT_INVALID_ARGUMENT` from the wait).
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `consumer` is a live
/// consumer handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_consumer(
    ws: *mut shmkit_waitset,
    consumer: *const shmkit_consumer,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, consumer, "consumer", index) }
}

/// Adds a publisher: ready when it has a slot free for the next loan. A publisher holding a
/// loan cannot be waited on (`SHMKIT_INVALID_ARGUMENT` from the wait).
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `publisher` is a live
/// publisher handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_publisher(
    ws: *mut shmkit_waitset,
    publisher: *const shmkit_publisher,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, publisher, "publisher", index) }
}

/// Adds a subscriber: ready when it has a message, a lag, or its publisher gone. A subscriber holding a
/// received message cannot be waited on (`SHMKIT_INVALID_ARGUMENT` from the wait).
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `subscriber` is a live
/// subscriber handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_subscriber(
    ws: *mut shmkit_waitset,
    subscriber: *const shmkit_subscriber,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, subscriber, "subscriber", index) }
}

/// Adds an event: ready when it is set. A wait set does not consume the event: reset an
/// auto-reset event with [`shmkit_event_wait`](crate::shmkit_event_wait) and `SHMKIT_TRY`.
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call; `event` is a live
/// event handle that outlives the wait set's use of it; `index` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_event(
    ws: *mut shmkit_waitset,
    event: *const shmkit_event,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, event, "event", index) }
}

/// Adds a semaphore: ready when it has a permit (take it with
/// [`shmkit_semaphore_wait`](crate::shmkit_semaphore_wait) and `SHMKIT_TRY`).
///
/// # Safety
///
/// As [`shmkit_waitset_add_event`], for a semaphore handle.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_add_semaphore(
    ws: *mut shmkit_waitset,
    semaphore: *const shmkit_semaphore,
    index: *mut usize,
) -> shmkit_status {
    // SAFETY: forwarded.
    unsafe { add(ws, semaphore, "semaphore", index) }
}

/// Removes every member (the next one added has index 0 again).
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_clear(ws: *mut shmkit_waitset) -> shmkit_status {
    run(|| {
        // SAFETY: the caller's promise.
        let ws = unsafe { handle(ws, "wait set")? };
        ws.members.clear();
        ws.seen.clear();
        Ok(())
    })
}

/// How many members the wait set has; 0 for NULL.
///
/// # Safety
///
/// `ws` is NULL or a live wait set not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_len(ws: *const shmkit_waitset) -> usize {
    // SAFETY: the caller's promise.
    unsafe { ws.as_ref() }.map_or(0, |ws| ws.members.len())
}

/// Waits as `timeout_ns` says until at least one member is ready; writes the indices of the
/// ready ones (in order, none twice) to `ready`, at most `cap` of them, and their number to
/// `*n_ready` (at least 1). Members beyond `cap` stay ready for the next wait.
/// `SHMKIT_TIMEOUT` / `SHMKIT_WOULD_BLOCK` if none was ready; with no members it waits out
/// the timeout. `SHMKIT_INVALID_ARGUMENT` if a member cannot be waited on now (a client
/// holding a response or a loan); `SHMKIT_DISCONNECTED` for a client left unconnected by a failed
/// reconnect.
///
/// # Safety
///
/// `ws` is a live wait set not used by another thread during the call, and every member
/// added is a live handle that no other thread uses during the call; `ready` points to `cap`
/// writable `size_t`; `n_ready` is writable.
#[no_mangle]
pub unsafe extern "C" fn shmkit_waitset_wait(
    ws: *mut shmkit_waitset,
    timeout_ns: i64,
    ready: *mut usize,
    cap: usize,
    n_ready: *mut usize,
) -> shmkit_status {
    run(|| {
        let n_out = Out::new(n_ready, "n_ready")?;
        if cap == 0 || ready.is_null() {
            return Err(misuse(
                "ready must point to room for at least one index (cap >= 1)",
            ));
        }
        // SAFETY: the caller's promise.
        let ws = unsafe { handle(ws, "wait set")? };
        let members = ws
            .members
            .iter()
            // SAFETY: the caller promises every member is a live handle, used by no other
            // thread during the call (so reading it through a shared reference is sound).
            .map(|&m| unsafe { &*m }.waitable())
            .collect::<Outcome<Vec<&dyn Waitable>>>()?;
        let found = match wait(timeout_ns) {
            Wait::Forever => ws.inner.wait(&members),
            Wait::Try => ws.inner.try_wait(&members),
            Wait::Within(d) => ws.inner.wait_timeout(&members, d),
        }?;
        let n = found.len().min(cap);
        // SAFETY: `ready` is non-NULL, and the caller promises room for `cap` >= `n` indices.
        unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), ready, n) };
        // SAFETY: checked, and the caller promises it is writable.
        unsafe { n_out.put(n) };
        Ok(())
    })
}
