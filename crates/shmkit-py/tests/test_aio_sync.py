"""asyncio forms of the sync kinds: ``await event.wait_async()`` and
``await sem.acquire_async()`` on the one reactor thread, fed by a child process; cancelled
and timed-out awaits take nothing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from shmkit.sync import Event, Semaphore
from conftest import HANG, child, finish

POSTER = """
import sys, time, shmkit
sem = shmkit.sync.Semaphore.open(sys.argv[1], open_timeout=60)
go = shmkit.sync.Event.open(sys.argv[2], open_timeout=60)
for _ in range(int(sys.argv[3])):
    sem.release()
    time.sleep(0.001)
go.set()
"""


def test_tasks_share_permits_posted_by_a_child(names):
    sem_name, ev_name = names("aio-sem"), names("aio-ev")
    sem = Semaphore.create(sem_name, 0)
    go = Event.create(ev_name)
    n_tasks, per_task = 5, 20

    async def take():
        for _ in range(per_task):
            assert await sem.acquire_async(timeout=HANG)

    async def main():
        p = child(POSTER, sem_name, ev_name, str(n_tasks * per_task))
        await asyncio.gather(*(take() for _ in range(n_tasks)))
        assert await go.wait_async(timeout=HANG)
        await asyncio.get_running_loop().run_in_executor(None, finish, p)

    asyncio.run(main())
    assert sem.value == 0  # every permit taken exactly once
    assert [t.name for t in threading.enumerate()].count("shmkit-aio") == 1


def test_a_cancelled_acquire_takes_no_permit(name):
    sem = Semaphore.create(name, 0)

    async def main():
        t = asyncio.create_task(sem.acquire_async())
        await asyncio.sleep(0.05)  # let it register with the reactor
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        sem.release()
        await asyncio.sleep(0.05)  # the reactor sees the permit: nobody takes it
        assert sem.value == 1
        assert await sem.acquire_async(timeout=HANG)
        assert sem.value == 0

    asyncio.run(main())


def test_a_cancelled_wait_leaves_an_auto_reset_event_set(name):
    ev = Event.create(name, auto_reset=True)

    async def main():
        t = asyncio.create_task(ev.wait_async())
        await asyncio.sleep(0.05)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        ev.set()
        await asyncio.sleep(0.05)
        assert ev.is_set()  # nobody passed
        assert await ev.wait_async(timeout=HANG)
        assert not ev.is_set()  # the await passed it, and reset it

    asyncio.run(main())


def test_timeouts_return_false_as_the_blocking_forms_do(names):
    ev = Event.create(names())
    sem = Semaphore.create(names(), 0)

    async def main():
        assert await ev.wait_async(timeout=0) is False
        assert await ev.wait_async(timeout=0.05) is False
        assert await sem.acquire_async(timeout=0) is False
        assert await sem.acquire_async(timeout=0.05) is False
        with pytest.raises(ValueError):
            await sem.acquire_async(timeout=-1)
        ev.set()
        assert await ev.wait_async(timeout=0) is True
        assert ev.is_set()  # manual reset: stays set
        sem.release()
        assert await sem.acquire_async(timeout=0) is True

    asyncio.run(main())


def test_an_event_set_by_another_process_wakes_the_task(name):
    ev = Event.create(name)

    async def main():
        t = asyncio.create_task(ev.wait_async(timeout=HANG))
        await asyncio.sleep(0.05)
        p = child("import sys, shmkit; shmkit.sync.Event.open(sys.argv[1]).set()", name)
        assert await t
        await asyncio.get_running_loop().run_in_executor(None, finish, p)

    asyncio.run(main())


def test_closed_while_awaiting(name):
    sem = Semaphore.create(name, 0)

    async def main():
        t = asyncio.create_task(sem.acquire_async(timeout=HANG))
        await asyncio.sleep(0.05)
        sem.close()
        assert sem.closed
        with pytest.raises(ValueError):
            await t

    asyncio.run(main())


def test_event_loops_in_several_threads_share_the_reactor(name):
    sem = Semaphore.create(name, 0)
    got = []

    def run_loop():
        got.append(asyncio.run(sem.acquire_async(timeout=HANG)))

    ts = [threading.Thread(target=run_loop) for _ in range(3)]
    for t in ts:
        t.start()
    for _ in ts:
        sem.release()
    for t in ts:
        t.join(HANG)
    assert got == [True, True, True] and sem.value == 0
    assert [t.name for t in threading.enumerate()].count("shmkit-aio") == 1
