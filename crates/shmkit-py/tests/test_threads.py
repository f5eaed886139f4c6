"""One handle shared by several threads: every call happens whole, in some order, and nothing
acknowledged is lost (DESIGN.md, "Readiness and threads").

Every method of every handle is called from 4 threads at once on one handle; the two races of
issue 19 (a loan thread and a send thread on one Block broadcast; ``recv_into`` racing
``recv`` on one consumer) are reproduced as such.
"""

from __future__ import annotations

import os
import signal
import struct
import threading
import time

import numpy as np
import pytest

import shmkit
from shmkit import broadcast, channel
from shmkit.sync import Event, Mutex, Semaphore
from conftest import HANG, child, finish

THREADS = 4
# Messages carry (thread, counter) so that the receiving side can check order and loss.
MSG = struct.Struct("<IQ")


def hammer(work, n: int = THREADS) -> None:
    """Runs `work(i)` in `n` threads released together; re-raises the first failure."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(HANG)
            work(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def check_streams(received: list[list[tuple[int, int]]], sent: dict[int, list[int]]) -> None:
    """Every sent (thread, counter) was received exactly once, each thread's in its order."""
    got: dict[int, list[int]] = {}
    for stream in received:
        last: dict[int, int] = {}
        for src, k in stream:
            assert last.get(src, -1) < k, f"thread {src}'s {k} after {last.get(src)}"
            last[src] = k
            got.setdefault(src, []).append(k)
    for src, ks in sent.items():
        assert sorted(got.pop(src, [])) == ks, f"thread {src}: messages lost or duplicated"
    assert not got, f"messages nobody sent: {got}"


# --- the reproductions of issue 19 ---------------------------------------------------------

SUBSCRIBER = """
import struct, sys
import shmkit
from shmkit import broadcast

name, total = sys.argv[1], int(sys.argv[2])
msg = struct.Struct("<IQ")
sub = broadcast.open_subscriber(name)
print("ready", flush=True)
nxt, seq = {}, 0
for _ in range(total):
    with sub.recv(timeout=60) as m:  # Lagged, on a Block broadcast, raises out of here
        src, k = msg.unpack_from(m)
        assert m.seq == seq, f"seq {m.seq}, expected {seq}: messages lost"
        assert k == nxt.get(src, 0), f"thread {src}: got {k}, expected {nxt.get(src, 0)}"
        nxt[src], seq = k + 1, seq + 1
try:
    sub.recv(timeout=0.2)
    raise AssertionError("more messages than were acknowledged")
except shmkit.Timeout:
    pass
print("ok", seq)
"""


def test_block_broadcast_loan_thread_and_send_thread_lose_nothing(name):
    n = 30_000
    pub = broadcast.create_publisher(name, slots=64, slot_size=64, policy="block")
    sub = child(SUBSCRIBER, name, str(2 * n))
    try:
        assert sub.stdout.readline().strip() == "ready", sub.stderr.read()

        def work(i: int) -> None:
            for k in range(n):
                if i == 0:
                    with pub.loan(16, timeout=HANG) as buf:
                        MSG.pack_into(buf, 0, i, k)
                else:
                    pub.send(MSG.pack(i, k) + bytes(4), timeout=HANG)

        hammer(work, 2)
        assert finish(sub).split() == ["ok", str(2 * n)]
    finally:
        sub.kill()
        sub.wait()
        pub.close()


def test_recv_into_racing_recv_receives_each_message_once(name):
    n = 20_000
    tx = channel.create_producer(name, 1 << 12)
    rx = channel.open_consumer(name)
    received: list[list[tuple[int, int]]] = [[] for _ in range(THREADS)]

    def produce() -> None:
        for k in range(n):
            tx.send(MSG.pack(0, k), timeout=HANG)
        tx.close()

    def consume(i: int) -> None:
        buf = bytearray()
        arr = np.zeros(MSG.size, dtype=np.uint8)
        while True:
            try:
                if i == 0:
                    rx.recv_into(buf, timeout=HANG)
                    data = bytes(buf)
                elif i == 1:
                    assert rx.recv_into(arr, timeout=HANG) == MSG.size
                    data = arr.tobytes()
                elif i == 2:
                    data = rx.recv(timeout=HANG).bytes()
                else:
                    with rx.recv(timeout=HANG) as s:
                        data = bytes(s)
            except shmkit.Disconnected:
                return
            received[i].append(MSG.unpack(data))

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    hammer(consume)
    producer.join(HANG)
    check_streams(received, {0: list(range(n))})
    rx.close()


# --- loans and samples hold their handle -------------------------------------------------


def test_a_loan_holds_its_sender_until_it_ends(name):
    tx = channel.create_producer(name, 1 << 12)
    rx = channel.open_consumer(name)
    loan = tx.loan(4)
    order: list[str] = []

    def other() -> None:
        tx.send(b"sent", timeout=HANG)  # waits for the loan, without the GIL
        order.append("sent")

    t = threading.Thread(target=other, daemon=True)
    t.start()
    # The waiting thread needs no help from us, and we need the GIL to finish the loan.
    with pytest.raises(shmkit.WouldBlock):
        _from_thread(lambda: tx.send(b"x", timeout=0))
    with pytest.raises(shmkit.Timeout):
        _from_thread(lambda: tx.loan(4, timeout=0.1))
    time.sleep(0.1)
    assert order == [] and loan.open
    memoryview(loan)[:] = b"loan"
    order.append("commit")
    loan.commit()
    t.join(HANG)
    assert order == ["commit", "sent"]
    assert rx.recv().bytes() == b"loan"
    assert rx.recv().bytes() == b"sent"
    tx.close()
    rx.close()


def _from_thread(call):
    """Runs `call` in another thread and returns its result or raises its exception."""
    out: list = []

    def run() -> None:
        try:
            out.append((True, call()))
        except BaseException as e:  # noqa: BLE001 - re-raised below
            out.append((False, e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG)
    ok, value = out[0]
    if not ok:
        raise value
    return value


def test_a_sample_holds_its_receiver_until_released(name):
    tx = channel.create_producer(name, 1 << 12)
    rx = channel.open_consumer(name)
    tx.send(b"first")
    tx.send(b"second")
    s = rx.recv()
    with pytest.raises(shmkit.WouldBlock):
        _from_thread(lambda: rx.recv(timeout=0))
    with pytest.raises(shmkit.Timeout):
        _from_thread(lambda: rx.recv_into(bytearray(), timeout=0.1))
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.append(rx.recv(timeout=HANG).bytes()), daemon=True)
    t.start()
    time.sleep(0.1)
    assert s.bytes() == b"first" and got == []
    s.release()
    t.join(HANG)
    assert got == [b"second"]
    tx.close()
    rx.close()


def test_the_owning_thread_still_abandons_its_own_loan(name):
    tx = channel.create_producer(name, 1 << 12)
    rx = channel.open_consumer(name)
    first = tx.loan(4)
    tx.send(b"next")  # one loan at a time, as documented: the open one publishes nothing
    assert not first.open
    assert rx.recv().bytes() == b"next"
    tx.close()
    rx.close()


def test_ctrl_c_interrupts_a_thread_waiting_for_another_threads_loan(name):
    tx = channel.create_producer(name, 1 << 12)
    rx = channel.open_consumer(name)
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with tx.loan(4) as buf:
            buf[:] = b"held"
            held.set()
            done.wait(HANG)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    assert held.wait(HANG)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            tx.send(b"never", timeout=HANG)
    finally:
        timer.cancel()
        done.set()
        t.join(HANG)
    assert rx.recv().bytes() == b"held"
    with pytest.raises(shmkit.WouldBlock):
        rx.recv(timeout=0)
    tx.close()
    rx.close()


# --- every method of every handle, 4 threads at once --------------------------------------


@pytest.mark.parametrize("kind", ["channel", "broadcast"])
def test_every_sender_and_receiver_method_from_four_threads(names, kind):
    name = names()
    n = 1500
    if kind == "channel":
        tx = channel.create_producer(name, 1 << 12)
        rx = channel.open_consumer(name)
    else:
        tx = broadcast.create_publisher(name, slots=16, slot_size=64, policy="block")
        rx = broadcast.open_subscriber(name)
    sent: dict[int, list[int]] = {i: [] for i in range(THREADS)}
    received: list[list[tuple[int, int]]] = [[] for _ in range(THREADS)]

    def produce(i: int) -> None:
        for k in range(n):
            msg = MSG.pack(i, k)
            op = (i + k) % 7
            assert tx.name == name and tx.max_message_len >= MSG.size and not tx.closed
            if op == 0:
                tx.send(msg, timeout=HANG)
            elif op == 1:
                with tx.loan(MSG.size, timeout=HANG) as buf:
                    buf[:] = msg
            elif op == 2:
                loan = tx.loan(MSG.size + 8, timeout=HANG)
                assert loan.open and len(loan) == MSG.size + 8
                memoryview(loan)[: MSG.size] = msg
                loan.commit(MSG.size)
                assert not loan.open
            elif op == 3:
                loan = tx.loan(MSG.size, timeout=HANG)
                memoryview(loan)[:] = MSG.pack(i, 1 << 40)
                loan.abort()  # publishes nothing
                continue
            elif op == 4:
                with pytest.raises(KeyError):
                    with tx.loan(MSG.size, timeout=HANG) as buf:
                        buf[:] = MSG.pack(i, 1 << 41)
                        raise KeyError("publishes nothing")
                continue
            elif op == 5:
                arr = np.frombuffer(msg, dtype=np.uint8)
                tx.send(arr, timeout=HANG)
            else:
                if kind == "channel":
                    tx.set_wait_strategy(("adaptive", "blocking")[k % 2])
                    assert tx.capacity == 1 << 12 and tx.is_creator
                else:
                    assert tx.subscribers == 1 and tx.policy == "block"
                assert repr(tx)
                continue
            sent[i].append(k)

    def consume(i: int) -> None:
        buf = bytearray()
        arr = np.zeros(MSG.size, dtype=np.uint8)
        for k in range(10**9):
            assert rx.name == name and not rx.closed and repr(rx)
            try:
                op = (i + k) % 5
                if op == 0:
                    rx.recv_into(buf, timeout=0.5)
                    data = bytes(buf)
                elif op == 1:
                    rx.recv_into(arr, timeout=0.5)
                    data = arr.tobytes()
                elif op == 2:
                    s = rx.recv(timeout=0.5)
                    assert s.held and len(s) == MSG.size
                    data = s.bytes()
                    s.release()
                    assert not s.held
                elif op == 3:
                    with rx.recv(timeout=0.5) as s:
                        data = np.frombuffer(s, dtype=np.uint8).tobytes()
                        assert (s.seq is None) == (kind == "channel")
                else:
                    if kind == "channel":
                        rx.set_wait_strategy(("adaptive", "blocking")[k % 2])
                        assert rx.capacity == 1 << 12 and not rx.is_creator
                    else:
                        assert rx.policy == "block"
                    continue
            except shmkit.Timeout:
                if producers_done.is_set():
                    return
                continue
            received[i].append(MSG.unpack(data))

    producers_done = threading.Event()
    consumers = threading.Thread(target=hammer, args=(consume,), daemon=True)
    consumers.start()
    hammer(produce)
    producers_done.set()
    consumers.join(HANG)
    assert not consumers.is_alive()
    check_streams(received, sent)
    def close(i: int) -> None:
        for side in (tx, rx):
            if i % 2:
                side.close()
            else:
                with side:  # __enter__ / __exit__ (which closes)
                    pass

    hammer(close)
    assert tx.closed and rx.closed


def test_every_segment_method_from_four_threads(name):
    seg = shmkit.Segment.create(name, 4096)
    other = shmkit.Segment.open(name)

    def work(i: int) -> None:
        for k in range(2000):
            assert seg.name == name and seg.size == len(seg) == 4096 and not seg.closed
            assert seg.is_creator and not seg.read_only and repr(seg)
            seg.keep = k % 2 == 1
            assert seg.keep in (True, False)
            mv = memoryview(seg)
            mv[i * 8 : i * 8 + 8] = k.to_bytes(8, "little")
            mv.release()
            arr = np.frombuffer(other, dtype=np.uint64)
            assert arr[i] == k
            del arr
            if k % 100 == 0:
                with shmkit.Segment.open(name, read_only=True) as ro:
                    assert bytes(memoryview(ro)[i * 8 : i * 8 + 8]) == k.to_bytes(8, "little")
                info = shmkit.inspect(name)
                assert info["name"] == name and info["size"] >= 4096
                assert any(d["name"] == name for d in shmkit.list())

    hammer(work)
    seg.keep = False
    hammer(lambda i: (seg.close(), other.close()))
    assert seg.closed and other.closed


def test_every_mutex_method_from_four_threads(name):
    m = Mutex.create(name)
    count = [0]

    def work(i: int) -> None:
        mine = Mutex.open(name) if i % 2 else Mutex.open_or_create(name)
        for k in range(500):
            if k % 3 == 0:
                with m:
                    assert m.held() and not m.needs_repair
                    m.make_consistent()  # harmless when nothing needs repair
                    v = count[0]
                    time.sleep(0)
                    count[0] = v + 1
            else:
                h = m if k % 2 else mine
                assert h.acquire(timeout=HANG)
                v = count[0]
                time.sleep(0)
                count[0] = v + 1
                h.unlock_unrepaired() if k % 3 == 1 else h.release()  # a plain unlock here
            if not m.acquire(blocking=False):
                with pytest.raises(RuntimeError):  # held by another thread, or not at all
                    m.release()
            else:
                m.release()
            assert m.name == name and m.is_creator and repr(m)
            m.held()
            with pytest.raises(NotImplementedError):
                m.locked()
        mine.close()

    hammer(work)
    assert count[0] == THREADS * 500 and not m.held()
    hammer(lambda i: m.close())


def test_every_event_and_semaphore_method_from_four_threads(names):
    ev_name, sem_name = names(), names()
    ev = Event.create(ev_name)
    sem = Semaphore.create(sem_name, 2, max=2)
    inside = [0]
    lock = threading.Lock()

    def work(i: int) -> None:
        Event.open(ev_name).close()
        Semaphore.open(sem_name).close()
        for k in range(500):
            assert not ev.auto_reset and ev.name and repr(ev) and sem.max == 2
            (ev.set if k % 2 else ev.clear)()
            ev.is_set()
            ev.wait(timeout=0.001)
            ctx = sem if k % 2 else None
            if ctx is None:
                assert sem.acquire(timeout=HANG)
            else:
                sem.__enter__()
            with lock:
                inside[0] += 1
                assert inside[0] <= 2
            assert sem.value <= 1
            with lock:
                inside[0] -= 1
            if ctx is None:
                sem.release()
            else:
                sem.__exit__(None, None, None)

    hammer(work)
    assert sem.value == 2
    hammer(lambda i: (ev.close(), sem.close()))


def test_every_public_class_states_its_thread_safety():
    modules = (shmkit, shmkit.sync, shmkit.channel, shmkit.broadcast, shmkit.service)
    missing = [
        f"{m.__name__}.{n}"
        for m in modules
        for n in m.__all__
        if isinstance(getattr(m, n), type)
        and not issubclass(getattr(m, n), BaseException)
        and "Thread safety" not in (getattr(m, n).__doc__ or "")
    ]
    assert missing == []
