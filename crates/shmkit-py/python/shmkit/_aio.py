"""asyncio forms of the blocking calls: ``await rx.recv_async()``, ``await tx.send_async(b)``,
``await tx.loan_async(n)``.

They are methods of the handles (``Receiver.recv_async`` calls :func:`recv` here), rather than
an ``shmkit.aio`` module of wrappers as in Rust (``Async::new(rx).recv().await``): in Rust the
wrapper exists to own the handle and to carry the reactor registration's lifetime; a Python
handle is already shared and reference counted, so a method is all a caller needs, and it
reads as the blocking call does (``recv`` → ``recv_async``, same ``timeout``).

Design
------

An await tries the call with ``timeout=0`` on the event loop's thread. If that raises
``WouldBlock``, it registers an asyncio future with **one reactor thread per process**
(:class:`_Reactor`), which waits on every pending member at once with a
:class:`shmkit.WaitSet` (``futex_waitv`` on Linux: the same sleep as every shmkit wait) and,
when a member is ready, completes its futures with ``loop.call_soon_threadsafe``; the await
then tries again. So:

* **Cancellation-safe.** Only the ``timeout=0`` call on the loop's thread consumes anything
  (a message, ring space); the reactor only says "ready". A cancelled (or timed out) await
  was waiting on a readiness future, and consumed nothing: the next ``recv`` gets the message.
* **No thread per channel**: one reactor thread (started by the first await that has to wait)
  for every pending await of every event loop of the process, asleep in the kernel when
  nothing is pending. The reactor is woken on a new registration through a private
  :class:`shmkit.sync.Event` in its wait set.
* **Any event loop**: the loop is only called through ``call_soon_threadsafe`` and
  ``create_future``, which every asyncio loop has (the default loop, uvloop).
* Readiness is level-triggered: a message that arrives between the failed try and the
  registration is seen by the reactor's next wait, so no wake-up is lost.

Why not the Rust reactor (``shmkit::aio``): its futures own the handle (``Async<T>``) and take
the message in the poll that returns ``Ready``; a Python handle is shared between threads and
its state sits behind a mutex, and an asyncio future completed from another thread after the
message was taken could be cancelled in between (losing it). Readiness plus a retry on the
loop's thread keeps the Python handle's threading rules (``shared.rs``) unchanged.

What it costs, per message that finds the receiver asleep: the reactor's wake-up, the
``call_soon_threadsafe`` (a write to the loop's self-pipe), the loop's wake-up and one more
``timeout=0`` call: measured by ``python -m shmkit.bench`` (``async hop`` vs ``hop``).
While a member is pending, the reactor's wait holds it for up to 50 ms at a time (see
:class:`shmkit.WaitSet`): a synchronous call on the *same* handle from another task or
thread waits that long; the await's own retry does not (the reactor has let go of a member
it reported ready).

Latency
-------

A blocking ``recv`` with the default ``wait_strategy="adaptive"`` spins a little before it
sleeps, so a reply that comes within microseconds costs no sleep and no wake-up; an await that
went straight to the reactor would pay two thread wake-ups for it (the reactor's, then the
loop's). So an await first calls the blocking form with a timeout of :data:`SPIN` (50 µs) on
the loop's thread, the GIL released — the loop is held up that long at most, once per await
that has to wait — and only then hands the wait to the reactor. ``wait_strategy="blocking"``
on the handle skips this (a loop with many idle channels and no latency goal), and
``shmkit._aio.SPIN = 0`` turns it off for the process.

A member that is ready while the call still cannot proceed (a producer with room for a small
message but not for this one) is retried after 1 ms, then looked at by the reactor again.

Events and semaphores have ``wait_async`` / ``acquire_async``, which return ``False`` on a
timeout as their blocking forms do (``threading``'s shape) instead of raising ``Timeout``.

Adding a kind (services): once its handle is a :class:`shmkit.WaitSet` member (``Kind`` in
``src/waitset.rs``), its await is one line here, e.g. ``await _retry(server, lambda t=0:
server.recv(timeout=t), timeout)``, and a method calling it, as ``Receiver.recv_async`` does.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import threading
from typing import Any, Coroutine

from ._errors import Timeout, WouldBlock

__all__ = ["recv", "recv_slice", "send", "loan", "wait", "acquire"]


class _Reactor:
    """The process's reactor thread: a WaitSet over the pending awaits' members (module docs)."""

    def __init__(self) -> None:
        from . import _shmkit
        from .sync import Event

        self._lock = threading.Lock()
        # key -> (member, loop, future)
        self._pending: dict[int, tuple[Any, asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._keys = itertools.count()
        self._wake = Event.create(f"shmkit-aio-{os.getpid()}-{id(self):x}")
        self._set = _shmkit.WaitSet()
        self.pid = os.getpid()
        self._stopping = False
        # At exit the thread is stopped and joined, then the event's name removed (in this
        # process only: a fork's child inherits the atexit list). Left running, the daemon
        # thread would wake during the interpreter's finalization, and CPython ends a thread
        # that asks for the GIL then with pthread_exit: an unwind forced through the native
        # wait's Rust frames (undefined behaviour, a crash with some unwinders).
        atexit.register(self._shutdown)
        self._thread = threading.Thread(target=self._run, name="shmkit-aio", daemon=True)
        self._thread.start()

    def _shutdown(self) -> None:
        if os.getpid() != self.pid:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        from . import NotFound, remove

        try:
            remove(self._wake.name)
        except NotFound:
            pass

    def register(self, member: Any, loop: asyncio.AbstractEventLoop, fut: asyncio.Future) -> int:
        key = next(self._keys)
        with self._lock:
            self._pending[key] = (member, loop, fut)
        self._wake.set()
        return key

    def unregister(self, key: int) -> None:
        with self._lock:
            gone = self._pending.pop(key, None) is not None
        if gone:
            # The reactor may be holding the member: let it go at once.
            self._wake.set()

    def _run(self) -> None:
        ws = self._set
        while True:
            # Cleared before the pending awaits are read: a registration after this sets it
            # again, so the wait below returns at once. The same for a stop: its flag is read
            # after the clear (a stop's set before it is cleared, but not its flag).
            self._wake.clear()
            if self._stopping:
                return
            with self._lock:
                members = {id(m): m for (m, _, _) in self._pending.values()}
            ws.clear()
            ws.add(self._wake)
            for m in members.values():
                ws.add(m)
            try:
                ready = ws.wait()
            except ValueError:
                # A member was closed: its awaits retry, and raise the closed handle's error.
                ready = [m for m in members.values() if getattr(m, "closed", False)]
                # Not found: wake them all, each retry raises its own error.
                ready = ready or list(members.values())
            except BaseException:  # noqa: BLE001 — the reactor must not die: retry them all
                ready = list(members.values())
            ids = {id(m) for m in ready if m is not self._wake}
            if not ids:
                continue
            with self._lock:
                done = [k for k, (m, _, _) in self._pending.items() if id(m) in ids]
                woken = [self._pending.pop(k) for k in done]
            for _, loop, fut in woken:
                try:
                    loop.call_soon_threadsafe(_resolve, fut)
                except RuntimeError:
                    pass  # the loop is closed


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


_reactor: _Reactor | None = None
_reactor_lock = threading.Lock()


def _get() -> _Reactor:
    global _reactor
    r = _reactor
    if r is None or r.pid != os.getpid():  # none yet, or a fork's child (no thread there)
        with _reactor_lock:
            r = _reactor
            if r is None or r.pid != os.getpid():
                r = _reactor = _Reactor()
    if r._stopping:
        # An await from an exit handler that runs after the reactor's own: nothing would
        # ever wake it (and a new thread now would be ended by the finalization).
        raise RuntimeError("shmkit's asyncio reactor has stopped: the interpreter is exiting")
    return r


async def _until_ready(member: Any, deadline: float | None) -> None:
    """Waits until the reactor reports `member` ready (or raises Timeout at `deadline`)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    reactor = _get()
    key = reactor.register(member, loop, fut)
    try:
        if deadline is None:
            await fut
        else:
            left = deadline - loop.time()
            if left <= 0:
                raise Timeout("timed out", getattr(member, "name", None))
            handle = loop.call_later(left, _expire, fut)
            try:
                await fut
            finally:
                handle.cancel()
            if fut.result() is _EXPIRED:
                raise Timeout("timed out", getattr(member, "name", None))
    finally:
        reactor.unregister(key)


_EXPIRED = object()


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(_EXPIRED)


#: How long an await first waits on the event loop's thread, in seconds (module docs,
#: "Latency"); 0 turns it off.
SPIN = 50e-6


async def _retry(member: Any, attempt, timeout: float | None):
    """Runs `attempt()` (a `timeout=0` call; `attempt(t)` waits up to `t` s) until it does not
    raise WouldBlock."""
    if timeout == 0:
        return attempt()
    if timeout is None:
        deadline = None
    elif timeout != timeout or timeout < 0:
        raise ValueError("timeout must be a non-negative number of seconds or None")
    else:
        deadline = asyncio.get_running_loop().time() + timeout
    # First, a short wait on the loop's thread (module docs, "Latency"): the path of every
    # await whose message comes within microseconds, so it does no more than this.
    if SPIN and getattr(member, "wait_strategy", "blocking") != "blocking":
        try:
            return attempt(SPIN if timeout is None else min(SPIN, timeout))
        except Timeout:  # WouldBlock included
            pass
    loop = asyncio.get_running_loop()
    woken = False
    while True:
        try:
            return attempt()
        except WouldBlock:
            pass
        if woken:
            # Ready, yet the call still cannot proceed (module docs): do not spin.
            await asyncio.sleep(0.001)
            try:
                return attempt()
            except WouldBlock:
                pass
        await _until_ready(member, deadline)
        woken = True


# `recv`, `send` and `loan` return `_retry`'s coroutine rather than awaiting it in one of
# their own: a coroutine less per await (these are on every message's path).


def recv(rx: Any, timeout: float | None = None) -> Coroutine[Any, Any, Any]:
    """``await rx.recv_async(timeout)``: ``rx.recv`` without blocking the event loop."""
    return _retry(rx, lambda t=0: rx.recv(timeout=t), timeout)


def recv_slice(rx: Any, timeout: float | None = None) -> Coroutine[Any, Any, Any]:
    """``await rx.recv_slice_async(timeout)``: ``rx.recv_slice`` without blocking the loop."""
    return _retry(rx, lambda t=0: rx.recv_slice(timeout=t), timeout)


def send(tx: Any, data: Any, timeout: float | None = None) -> Coroutine[Any, Any, None]:
    """``await tx.send_async(data, timeout)``: ``tx.send`` without blocking the event loop."""
    return _retry(tx, lambda t=0: tx.send(data, timeout=t), timeout)


def loan(
    tx: Any, size: int | None = None, timeout: float | None = None
) -> Coroutine[Any, Any, Any]:
    """``await tx.loan_async(size, timeout)``: ``tx.loan`` without blocking the event loop."""
    return _retry(tx, lambda t=0: tx.loan(size, timeout=t), timeout)


async def _passed(member: Any, blocking_call, timeout: float | None) -> bool:
    """A ``threading``-shaped wait (``blocking_call(timeout=t) -> bool``) for asyncio:
    ``True`` once it passed, ``False`` when ``timeout`` ran out (as the blocking call)."""

    def attempt(t: float = 0) -> bool:
        if blocking_call(timeout=t):
            return True
        raise WouldBlock("not yet", getattr(member, "name", None))

    try:
        return await _retry(member, attempt, timeout)
    except Timeout:  # WouldBlock included (timeout=0)
        return False


async def wait(event: Any, timeout: float | None = None) -> bool:
    """``await event.wait_async(timeout)``: ``event.wait`` without blocking the event loop.
    Only the ``timeout=0`` wait on the loop's thread passes the event (and resets an
    auto-reset one), so a cancelled await leaves the event for the next waiter."""
    return await _passed(event, event.wait, timeout)


async def acquire(sem: Any, timeout: float | None = None) -> bool:
    """``await sem.acquire_async(timeout)``: ``sem.acquire`` without blocking the event loop.
    Only the ``timeout=0`` acquire on the loop's thread takes a permit, so a cancelled await
    took none."""
    return await _passed(sem, lambda timeout: sem.acquire(True, timeout), timeout)
