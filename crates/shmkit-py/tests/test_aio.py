"""asyncio: ``await rx.recv_async()`` / ``tx.send_async`` / ``tx.loan_async`` with several
tasks on several channels fed by a child process, cancellation (nothing lost), timeouts,
one reactor thread, and uvloop if it installs."""

from __future__ import annotations

import asyncio
import threading

import pytest

import shmkit
from shmkit import broadcast, channel
from conftest import HANG, child, finish

FEEDER = """
import sys, shmkit
names, n = sys.argv[1].split(","), int(sys.argv[2])
txs = [shmkit.channel.open_producer(c, open_timeout=60) for c in names]
for i in range(n):
    for k, tx in enumerate(txs):
        tx.send(b"%d:%d" % (k, i), timeout=60)
for tx in txs:
    tx.close()
"""


def _loops():
    yield pytest.param(asyncio.new_event_loop, id="asyncio")
    yield pytest.param("uvloop", id="uvloop")


def _new_loop(kind):
    if kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop()
    return kind()


@pytest.mark.parametrize("loop_kind", list(_loops()))
def test_tasks_on_channels_fed_by_a_child(names, loop_kind):
    n_ch, n = 6, 300
    chans = [names("aio") for _ in range(n_ch)]
    rxs = [channel.create_consumer(c, 1 << 12) for c in chans]

    async def drain(k, rx):
        got = []
        while True:
            try:
                msg = await rx.recv_async(timeout=HANG)
            except shmkit.Disconnected:
                return got
            with msg:
                got.append(bytes(msg))

    async def main():
        p = child(FEEDER, ",".join(chans), str(n))
        results = await asyncio.gather(*(drain(k, rx) for k, rx in enumerate(rxs)))
        await asyncio.get_running_loop().run_in_executor(None, finish, p)
        return results

    loop = _new_loop(loop_kind)
    try:
        results = loop.run_until_complete(main())
    finally:
        loop.close()
    for k, got in enumerate(results):
        assert got == [b"%d:%d" % (k, i) for i in range(n)]
    # One reactor thread for the process, whatever the number of channels.
    assert [t.name for t in threading.enumerate()].count("shmkit-aio") == 1


def test_cancelled_await_loses_nothing(name):
    tx = channel.create_producer(name, 4096)
    rx = channel.open_consumer(name)

    async def main():
        t = asyncio.create_task(rx.recv_async())
        await asyncio.sleep(0.05)  # let it register with the reactor
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        tx.send(b"kept")
        # Cancelled by asyncio.wait_for before its first step, and again while waiting.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(rx.recv_async(), timeout=0)
        with await rx.recv_async(timeout=HANG) as m:
            assert bytes(m) == b"kept"
        # A cancel racing with arrival: many rounds, nothing lost or doubled.
        got = []
        for i in range(200):
            t = asyncio.create_task(rx.recv_async())
            await asyncio.sleep(0)
            tx.send(b"%d" % i)
            if i % 2:
                t.cancel()
            try:
                with await t as m:
                    got.append(bytes(m))
            except asyncio.CancelledError:
                pass
        while True:
            try:
                with rx.recv(timeout=0) as m:
                    got.append(bytes(m))
            except shmkit.WouldBlock:
                break
        assert got == [b"%d" % i for i in range(200)]

    asyncio.run(main())


def test_timeouts(name):
    tx = channel.create_producer(name, 4096)
    rx = channel.open_consumer(name)

    async def main():
        with pytest.raises(shmkit.WouldBlock):
            await rx.recv_async(timeout=0)
        with pytest.raises(shmkit.Timeout):
            await rx.recv_async(timeout=0.05)
        with pytest.raises(ValueError):
            await rx.recv_async(timeout=-1)
        # Nothing was consumed by the timeouts.
        tx.send(b"after")
        with await rx.recv_async(timeout=HANG) as m:
            assert bytes(m) == b"after"

    asyncio.run(main())


def test_send_async_and_loan_async_wait_for_room(name):
    tx = channel.create_producer(name, channel.MIN_CAPACITY)
    rx = channel.open_consumer(name)
    big = b"z" * (channel.MIN_CAPACITY // 4)

    async def main():
        sent = 0
        while True:  # fill the ring
            try:
                tx.send(big, timeout=0)
                sent += 1
            except shmkit.WouldBlock:
                break

        async def consume():
            await asyncio.sleep(0.05)
            for _ in range(sent + 2):
                with await rx.recv_async(timeout=HANG) as m:
                    assert len(m) in (len(big), 3)

        c = asyncio.create_task(consume())
        await tx.send_async(big, timeout=HANG)
        with await tx.loan_async(3, timeout=HANG) as buf:
            buf[:] = b"abc"
        await c

    asyncio.run(main())


def test_broadcast_subscriber_recv_async(name):
    pub = broadcast.create_publisher(name, slots=8, slot_size=64)
    subs = [broadcast.open_subscriber(name) for _ in range(3)]

    async def main():
        tasks = [asyncio.create_task(s.recv_async(timeout=HANG)) for s in subs]
        await asyncio.sleep(0.02)
        pub.send(b"all")
        for t in tasks:
            with await t as m:
                assert bytes(m) == b"all"

    asyncio.run(main())


def test_closed_while_awaiting(name):
    rx = channel.create_consumer(name, 4096)

    async def main():
        t = asyncio.create_task(rx.recv_async(timeout=HANG))
        await asyncio.sleep(0.05)
        rx.close()
        with pytest.raises(ValueError, match="closed"):
            await t

    asyncio.run(main())


def test_the_reactor_leaves_no_name_behind(name):
    tx = channel.create_producer(name, 4096)
    p = child(
        """
        import asyncio, os, sys, shmkit
        rx = shmkit.channel.open_consumer(sys.argv[1])
        async def main():
            with await rx.recv_async(timeout=60) as m:
                assert bytes(m) == b"hi"
        print(os.getpid(), flush=True)
        asyncio.run(main())
        """,
        name,
    )
    pid = int(p.stdout.readline())
    tx.send(b"hi")
    finish(p)
    left = [n["name"] for n in shmkit.list() if n["name"].startswith(f"shmkit-aio-{pid}-")]
    assert left == []


def test_the_reactor_thread_is_joined_before_the_interpreter_finalizes(name):
    # Left running, the reactor would ask for the GIL during finalization, and CPython ends
    # such a thread with pthread_exit: an unwind forced through Rust frames. A handler
    # registered before the reactor starts runs after the reactor's (atexit is LIFO).
    p = child(
        """
        import asyncio, atexit, sys, threading, shmkit
        def reactors():
            return [t.name for t in threading.enumerate() if t.name == "shmkit-aio"]
        atexit.register(lambda: print("at exit", reactors(), flush=True))
        tx = shmkit.channel.create_producer(sys.argv[1], 4096)
        rx = shmkit.channel.open_consumer(sys.argv[1])
        async def main():
            # Sent well after the await's first spin: the reactor waits for it.
            asyncio.get_running_loop().call_later(0.1, tx.send, b"hi")
            with await rx.recv_async(timeout=60) as m:
                assert bytes(m) == b"hi"
            print("running", reactors(), flush=True)
        asyncio.run(main())
        """,
        name,
    )
    out = finish(p)
    assert "running ['shmkit-aio']" in out
    assert "at exit []" in out


def test_an_await_after_the_reactor_stopped_raises(name):
    # An exit handler registered before the reactor started runs after the reactor's own
    # (atexit is LIFO): nothing would wake its await, so it raises instead of hanging.
    p = child(
        """
        import asyncio, atexit, sys, shmkit
        ev = shmkit.sync.Event.create(sys.argv[1])
        def late():
            ev.clear()
            try:
                print("late returned", asyncio.run(ev.wait_async(timeout=30)), flush=True)
            except RuntimeError as e:
                print("late:", e, flush=True)
        atexit.register(late)
        async def main():
            asyncio.get_running_loop().call_later(0.1, ev.set)
            assert await ev.wait_async(timeout=30)
        asyncio.run(main())
        """,
        name,
    )
    assert "late: shmkit's asyncio reactor has stopped" in finish(p)
