"""Broadcast: one publisher, several subscribers, both policies, across processes."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

import shmkit
from shmkit import broadcast
from conftest import HANG


def test_every_subscriber_sees_every_message_in_place(name):
    pub = broadcast.create_publisher(name, slots=8, slot_size=1024, max_subscribers=4)
    subs = [broadcast.open_subscriber(name) for _ in range(3)]
    assert pub.subscribers == 3 and pub.policy == "block"
    with pub.loan(5) as buf:
        buf[:] = b"hello"
    pub.send(np.arange(3, dtype=np.int16))
    for s in subs:
        with s.recv(timeout=HANG) as m:
            assert bytes(m) == b"hello" and m.seq == 0
        m = s.recv(timeout=HANG)
        assert np.array_equal(np.frombuffer(m, dtype=np.int16), [0, 1, 2]) and m.seq == 1
        m.release()
    for s in subs:
        s.close()
    pub.close()


def test_overwrite_reports_lagged_with_missed(name):
    pub = broadcast.create_publisher(name, slots=4, slot_size=64, policy="overwrite")
    sub = broadcast.open_subscriber(name)
    assert sub.policy == "overwrite"
    for i in range(10):
        pub.send(bytes([i]))
    with pytest.raises(shmkit.Lagged) as e:
        sub.recv(timeout=HANG)
    assert e.value.missed > 0 and e.value.name == name
    m = sub.recv(timeout=HANG)
    assert m.bytes() == bytes([e.value.missed]) and m.seq == e.value.missed


def test_block_policy_waits_for_the_slowest(name):
    pub = broadcast.create_publisher(name, slots=2, slot_size=64)
    sub = broadcast.open_subscriber(name)
    pub.send(b"1")
    pub.send(b"2")
    with pytest.raises(shmkit.Timeout):
        pub.send(b"3", timeout=0.05)
    assert sub.recv().bytes() == b"1"
    pub.send(b"3", timeout=HANG)
    sub.close()


def test_bad_options(name):
    with pytest.raises(ValueError):
        broadcast.create_publisher(name, policy="sometimes")
    with pytest.raises(shmkit.SizeInvalid):
        broadcast.create_publisher(name, slots=0)
    with pytest.raises(shmkit.NotFound):
        broadcast.open_subscriber(name)


def _subscriber(name: str, n: int, ready, q) -> None:
    sub = broadcast.open_subscriber(name)
    ready.set()
    total = 0
    for _ in range(n):
        with sub.recv(timeout=HANG) as m:
            total += int(np.frombuffer(m, dtype=np.int64).sum())
    q.put(total)


def test_subscribers_in_other_processes(name):
    n, k = 200, 3
    pub = broadcast.create_publisher(name, slots=16, slot_size=8 * 100)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    readies = [ctx.Event() for _ in range(k)]
    procs = [ctx.Process(target=_subscriber, args=(name, n, r, q)) for r in readies]
    for p in procs:
        p.start()
    for r in readies:
        assert r.wait(HANG)
    expected = 0
    for i in range(n):
        arr = np.full(100, i, dtype=np.int64)
        pub.send(arr, timeout=HANG)
        expected += int(arr.sum())
    assert [q.get(timeout=HANG) for _ in range(k)] == [expected] * k
    for p in procs:
        p.join(HANG)
        assert p.exitcode == 0
    pub.close()


def test_both_sides_have_a_wait_strategy(name):
    pub = broadcast.create_publisher(name, slots=4, slot_size=64, wait_strategy="blocking")
    sub = broadcast.open_subscriber(name, wait_strategy="busy_poll")
    assert (pub.wait_strategy, sub.wait_strategy) == ("blocking", "busy_poll")
    pub.set_wait_strategy("adaptive")
    sub.set_wait_strategy("blocking")
    assert (pub.wait_strategy, sub.wait_strategy) == ("adaptive", "blocking")
    with pytest.raises(ValueError):
        sub.set_wait_strategy("sometimes")
    pub.send(b"x")
    assert sub.recv(timeout=HANG).bytes() == b"x"
    sub.close()
    pub.close()
