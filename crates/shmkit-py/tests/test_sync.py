"""Mutex (with owner-death repair), Event and Semaphore, across threads and processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading

import numpy as np
import pytest

import shmkit
from shmkit.sync import Event, Mutex, Semaphore
from conftest import HANG, child, finish


def test_mutex_is_a_context_manager_and_excludes_threads(name):
    m = Mutex.create(name)
    assert m.name == name and m.is_creator
    with m:
        assert m.held()
        with pytest.raises(shmkit.Deadlock):
            m.acquire()
        got = []
        t = threading.Thread(target=lambda: got.append(Mutex.open(name).acquire(timeout=0.05)))
        t.start()
        t.join()
        assert got == [False]
    assert not m.held()
    assert m.acquire(blocking=False)
    refused = []

    def release_from_another_thread():
        try:
            m.release()
        except RuntimeError as e:
            refused.append(e)

    t = threading.Thread(target=release_from_another_thread)
    t.start()
    t.join()
    assert len(refused) == 1 and m.held()  # only the acquiring thread may release
    m.release()
    with pytest.raises(RuntimeError):
        m.release()
    m.close()


def test_mutex_locked_raises_rather_than_answer_for_this_handle_only(name):
    # threading.Lock.locked() means "someone holds it"; shmkit cannot tell that of another
    # process without taking the mutex, so locked() refuses and held() says what it knows.
    m = Mutex.create(name)
    other = Mutex.open(name)
    with m:
        assert m.held() and not other.held()  # held by a handle other than `other`
        for h in (m, other):
            with pytest.raises(NotImplementedError, match=r"held\(\)"):
                h.locked()
    assert not m.held()
    with pytest.raises(NotImplementedError):
        m.locked()
    other.close()
    m.close()


def _count(name: str, seg_name: str, n: int) -> None:
    m = Mutex.open(name)
    counter = np.frombuffer(shmkit.Segment.open(seg_name), dtype=np.int64)
    for _ in range(n):
        with m:
            counter[0] += 1


def test_mutex_protects_a_counter_between_processes(names):
    name, seg_name = names(), names()
    m = Mutex.create(name)
    seg = shmkit.Segment.create(seg_name, 8)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_count, args=(name, seg_name, 2000)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(HANG)
        assert p.exitcode == 0
    assert int(np.frombuffer(seg, dtype=np.int64)[0]) == 6000
    m.close()


DYING_HOLDER = """
import os, sys, shmkit
m = shmkit.sync.Mutex.open(sys.argv[1])
m.acquire()
seg = shmkit.Segment.open(sys.argv[2])
memoryview(seg)[:4] = b"half"          # the protected state, half updated
print("holding", flush=True)
sys.stdin.readline()                    # killed here
"""


def test_owner_death_is_repaired_through_the_python_mutex(names):
    name, seg_name = names(), names()
    m = Mutex.create(name)
    seg = shmkit.Segment.create(seg_name, 8)
    p = child(DYING_HOLDER, name, seg_name, stdin=__import__("subprocess").PIPE)
    assert p.stdout.readline().strip() == "holding"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(HANG)
    with pytest.raises(shmkit.OwnerDied) as e:
        m.acquire(timeout=HANG)
    died = e.value
    assert died.mutex is m and died.name == name
    assert m.held() and m.needs_repair  # the lock is held by us now
    assert bytes(memoryview(seg)[:4]) == b"half"
    memoryview(seg)[:4] = b"good"  # repair
    died.make_consistent()
    assert not m.needs_repair
    m.release()
    with m:  # consistent again: plain locking works
        pass
    m.close()


def test_unrepaired_owner_death_makes_the_mutex_unrecoverable(names):
    name, seg_name = names(), names()
    m = Mutex.create(name)
    shmkit.Segment.create(seg_name, 8, keep=True).close()
    p = child(DYING_HOLDER, name, seg_name, stdin=__import__("subprocess").PIPE)
    assert p.stdout.readline().strip() == "holding"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(HANG)
    with pytest.raises(shmkit.OwnerDied) as e:
        m.acquire(timeout=HANG)
    e.value.unlock_unrepaired()  # hand the repair on
    with pytest.raises(shmkit.OwnerDied):
        m.acquire(timeout=HANG)
    m.release()  # released unrepaired
    with pytest.raises(shmkit.Unrecoverable):
        m.acquire(timeout=HANG)
    m.close()


def test_event_between_processes(name):
    ev = Event.create(name)
    assert not ev.is_set() and not ev.auto_reset
    assert ev.wait(timeout=0.01) is False
    p = child(
        """
        import sys, shmkit
        ev = shmkit.sync.Event.open(sys.argv[1])
        ev.set()
        """,
        name,
    )
    assert ev.wait(timeout=HANG) is True
    finish(p)
    assert ev.is_set()
    ev.clear()
    assert not ev.is_set()
    ev.close()


def test_auto_reset_event_lets_one_waiter_pass(name):
    ev = Event.create(name, auto_reset=True)
    ev.set()
    assert ev.wait(timeout=0) is True
    assert ev.wait(timeout=0) is False
    ev.close()


def test_semaphore(name):
    sem = Semaphore.create(name, 2, max=3)
    assert sem.value == 2 and sem.max == 3
    with sem:
        assert sem.value == 1
        assert sem.acquire(blocking=False)
        assert not sem.acquire(blocking=False)
        assert not sem.acquire(timeout=0.01)
        sem.release()
    sem.release()
    with pytest.raises(shmkit.Full):
        sem.release()
    other = Semaphore.open(name)
    assert other.value == 3
    with pytest.raises(ValueError):
        sem.acquire(blocking=False, timeout=1)
    other.close()
    sem.close()
    with pytest.raises(ValueError):
        sem.value


def test_inspect_and_list(names):
    a, b = names(), names()
    seg = shmkit.Segment.create(a, 4096)
    tx = shmkit.channel.create_producer(b, 1 << 12)
    raw = shmkit.inspect(a)
    assert raw["name"] == a and raw["size"] == 4096 and raw["kind"] == "raw"
    assert raw["creator_pid"] is None and raw["holders"] == []
    info = shmkit.inspect(b)
    assert info["kind"] == "channel" and info["creator_pid"] == os.getpid()
    assert info["creator_alive"] is True
    assert {"role": "producer", "pid": os.getpid()} in info["holders"]
    assert info["layout_version"] == shmkit.LAYOUT_VERSION
    listed = {i["name"]: i for i in shmkit.list()}
    assert listed[a] == shmkit.inspect(a) and listed[b]["kind"] == "channel"
    with pytest.raises(shmkit.NotFound):
        shmkit.inspect(a + "-missing")
    tx.close()
    seg.close()


def test_inspect_is_info_json(names, cli):
    """`shmkit.inspect()` is what `shmkit info --json` prints (less `schema`), field for
    field, for a raw segment and an object; `list()` agrees with `ls --json`."""
    import json
    import subprocess

    a, b = names(), names()
    seg = shmkit.Segment.create(a, 4096)
    tx = shmkit.broadcast.create_publisher(b, slots=4, slot_size=64)
    try:
        for name, kind in ((a, "raw"), (b, "broadcast_channel")):
            out = subprocess.run(
                [cli, "info", "--json", name], capture_output=True, text=True, check=True
            ).stdout
            printed = json.loads(out)
            assert printed.pop("schema") == 1
            mine = shmkit.inspect(name)
            assert mine["kind"] == kind and isinstance(mine["mode"], str)
            # The age may tick between the two calls.
            assert abs(mine.pop("age_seconds") - printed.pop("age_seconds")) <= 2
            assert mine == printed
        out = subprocess.run(
            [cli, "ls", "--json"], capture_output=True, text=True, check=True
        ).stdout
        listed = {e["name"]: e for e in json.loads(out)["segments"]}
        mine = {e["name"]: e for e in shmkit.list()}
        for e in (listed[b], mine[b]):
            e.pop("age_seconds")
        assert listed[b] == mine[b]
    finally:
        tx.close()
        seg.close()
