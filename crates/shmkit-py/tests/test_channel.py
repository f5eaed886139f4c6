"""Channels within one process: loans, samples, the buffer rules, timeouts and threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import shmkit
from shmkit import channel


@pytest.fixture
def pair(name):
    tx = channel.create_producer(name, 1 << 16)
    rx = channel.open_consumer(name)
    yield tx, rx
    for side in (rx, tx):
        side.close()


def test_send_accepts_any_buffer(pair):
    tx, rx = pair
    arr = np.arange(10, dtype=np.float64)
    for obj in (b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"), arr, b""):
        tx.send(obj)
        with rx.recv() as s:
            assert bytes(s) == bytes(memoryview(obj).cast("B"))
    with pytest.raises(BufferError):
        tx.send(arr[::2])  # not contiguous


def test_loan_commits_on_clean_exit_and_publishes_nothing_on_error(pair):
    tx, rx = pair
    with tx.loan(4) as buf:
        assert isinstance(buf, memoryview) and not buf.readonly and len(buf) == 4
        buf[:] = b"one!"
    with pytest.raises(RuntimeError):
        with tx.loan(4) as buf:
            buf[:] = b"two!"
            raise RuntimeError("boom")
    tx.send(b"three")
    assert rx.recv().bytes() == b"one!"
    assert rx.recv().bytes() == b"three"
    with pytest.raises(shmkit.Timeout):
        rx.recv(timeout=0)


def test_loan_commit_truncates_and_abort(pair):
    tx, rx = pair
    loan = tx.loan(100)
    assert loan.open and len(loan) == 100
    memoryview(loan)[:3] = b"abc"
    loan.commit(3)
    assert not loan.open
    with pytest.raises(ValueError):
        loan.commit()
    tx.loan(8).abort()
    tx.send(b"x")
    assert rx.recv().bytes() == b"abc"
    assert rx.recv().bytes() == b"x"


def test_loan_with_live_views_refuses_to_commit(pair):
    tx, rx = pair
    with pytest.raises(BufferError):
        with tx.loan(8) as buf:
            arr = np.frombuffer(buf, dtype=np.uint8)
            arr[:] = 1
    # Nothing was published, the loan is still open; the array still works.
    arr[:] = 2
    with pytest.raises(shmkit.Timeout):
        rx.recv(timeout=0)
    with pytest.raises(BufferError):
        tx.send(b"blocked by the open loan's views")
    with pytest.raises(BufferError):
        tx.close()
    del arr
    tx.send(b"after")  # abandons the open loan, which has no views any more
    assert rx.recv().bytes() == b"after"


def test_numpy_in_place_round_trip(pair):
    tx, rx = pair
    src = np.random.default_rng(1).random(1000, dtype=np.float32)
    with tx.loan(src.nbytes) as buf:
        np.frombuffer(buf, dtype=np.float32)[:] = src
    with rx.recv() as s:
        got = np.frombuffer(s, dtype=np.float32)
        assert not got.flags.writeable
        assert np.array_equal(got, src)
        del got


def test_views_outliving_their_sample(pair):
    tx, rx = pair
    tx.send(b"first")
    tx.send(b"second")
    s = rx.recv()
    mv = memoryview(s)
    assert mv.readonly
    # A sample with live views is neither released nor replaced by the next recv.
    with pytest.raises(BufferError):
        s.release()
    with pytest.raises(BufferError):
        rx.recv()
    with pytest.raises(BufferError):
        with s:
            pass
    with pytest.raises(BufferError):
        rx.close()
    assert bytes(mv) == b"first" and s.held
    mv.release()
    s.release()
    assert not s.held
    with pytest.raises(BufferError):
        memoryview(s)  # released: no new views of memory the producer may reuse
    with pytest.raises(ValueError):
        s.bytes()
    assert rx.recv().bytes() == b"second"


def test_view_keeps_memory_after_handles_are_dropped(name):
    tx = channel.create_producer(name, 1 << 16)
    rx = channel.open_consumer(name)
    tx.send(b"kept alive")
    arr = np.frombuffer(rx.recv(), dtype=np.uint8)
    del rx, tx
    import gc

    gc.collect()
    assert arr.tobytes() == b"kept alive"


def test_next_recv_releases_a_sample_without_views(pair):
    tx, rx = pair
    tx.send(b"a")
    tx.send(b"b")
    first = rx.recv()
    second = rx.recv()
    assert not first.held and second.bytes() == b"b"


def test_recv_into(pair):
    tx, rx = pair
    tx.send(b"hello")
    buf = bytearray(b"longer than the message")
    assert rx.recv_into(buf) == 5 and buf == b"hello"
    tx.send(b"0123456789")
    out = np.zeros(16, dtype=np.uint8)
    assert rx.recv_into(out) == 10
    assert out[:10].tobytes() == b"0123456789"
    tx.send(b"too long for four bytes")
    with pytest.raises(ValueError):
        rx.recv_into(np.zeros(4, dtype=np.uint8))
    with pytest.raises(shmkit.Timeout):  # the message was discarded
        rx.recv(timeout=0.01)


def test_timeouts_disconnect_and_sizes(pair):
    tx, rx = pair
    with pytest.raises(shmkit.Timeout) as e:
        rx.recv(timeout=0.05)
    assert isinstance(e.value, TimeoutError)
    with pytest.raises(shmkit.WouldBlock):
        rx.recv(timeout=0)
    with pytest.raises(ValueError):
        rx.recv(timeout=-1)
    with pytest.raises(shmkit.SizeInvalid):
        tx.loan(tx.max_message_len + 1)
    tx.send(b"last")
    tx.close()
    assert tx.closed
    assert rx.recv().bytes() == b"last"
    with pytest.raises(shmkit.Disconnected):
        rx.recv()


def test_full_ring_times_out(name):
    tx = channel.create_producer(name, 4096, wait_strategy="blocking")
    rx = channel.open_consumer(name)
    with pytest.raises(shmkit.Timeout):
        for _ in range(1000):
            tx.send(b"x" * 1000, timeout=0.05)
    rx.close()
    with pytest.raises(shmkit.Disconnected):
        tx.send(b"x" * 1000)
    tx.close()


def test_reverse_roles_and_options(names):
    a, b = names(), names()
    rx = channel.create_consumer(a, 1 << 12, wait_strategy="busy_poll")
    tx = channel.open_producer(a, wait_strategy="blocking")
    assert rx.is_creator and not tx.is_creator and rx.capacity == tx.capacity == 1 << 12
    assert (rx.wait_strategy, tx.wait_strategy) == ("busy_poll", "blocking")
    tx.set_wait_strategy("adaptive")
    rx.set_wait_strategy("blocking")
    assert (rx.wait_strategy, tx.wait_strategy) == ("blocking", "adaptive")
    tx.send(b"reversed")
    assert rx.recv().bytes() == b"reversed"
    with pytest.raises(shmkit.InUse):
        channel.open_producer(a)
    with pytest.raises(ValueError):
        channel.create_producer(b, 4096, wait_strategy="sometimes")
    p = channel.open_or_create_producer(b, 1 << 12)
    c = channel.open_or_create_consumer(b, 1 << 12)
    assert p.is_creator and not c.is_creator
    for h in (tx, rx, c, p):
        h.close()


def test_kind_mismatch(name):
    ev = shmkit.sync.Event.create(name)
    with pytest.raises(shmkit.KindMismatch):
        channel.open_consumer(name)
    ev.close()


def test_handles_work_across_threads(pair):
    tx, rx = pair
    n = 2000
    got: list[bytes] = []

    def consume():
        for _ in range(n):
            got.append(rx.recv(timeout=30).bytes())

    t = threading.Thread(target=consume)
    t.start()
    for i in range(n):
        tx.send(i.to_bytes(4, "little"))
    t.join(60)
    assert [int.from_bytes(g, "little") for g in got] == list(range(n))


def test_blocking_recv_releases_the_gil(pair):
    tx, rx = pair
    started = threading.Event()

    def later():
        started.wait()
        tx.send(b"from another thread")

    t = threading.Thread(target=later)
    t.start()
    started.set()
    assert rx.recv(timeout=30).bytes() == b"from another thread"
    t.join()


def test_accessors_leave_an_open_loan_alone(pair):
    tx, rx = pair
    with tx.loan(3) as buf:
        buf[:] = b"abc"
        assert tx.max_message_len > 3 and tx.capacity == 1 << 16
        with pytest.raises(RuntimeError):
            tx.set_wait_strategy("blocking")
    assert rx.recv().bytes() == b"abc"
    tx.set_wait_strategy("blocking")
