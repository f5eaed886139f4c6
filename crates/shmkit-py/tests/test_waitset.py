"""shmkit.WaitSet: 256 channels fed by a child process, timeouts, mixed kinds, closed
members, Ctrl-C in a wait, and a wait from several threads."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest

import shmkit
from shmkit import broadcast, channel
from shmkit.sync import Event, Semaphore
from conftest import HANG, child, finish


def test_256_channels_child_sends_on_one(names):
    n = 256
    chans = [names("ws") for _ in range(n)]
    consumers = [channel.create_consumer(c, 4096) for c in chans]
    ws = shmkit.WaitSet(consumers)
    assert len(ws) == n
    with pytest.raises(shmkit.WouldBlock):
        ws.wait(timeout=0)
    target = 201
    p = child(
        """
        import sys, shmkit
        tx = shmkit.channel.open_producer(sys.argv[1])
        tx.send(b"only here")
        print("sent", flush=True)
        sys.stdin.readline()  # stay alive (a gone producer would make it ready too)
        """,
        chans[target],
        stdin=subprocess.PIPE,
    )
    assert p.stdout.readline().strip() == "sent"
    ready = ws.wait(timeout=HANG)
    assert ready == [consumers[target]]
    assert ready[0] is consumers[target]
    with ready[0].recv(timeout=0) as msg:
        assert bytes(msg) == b"only here"
    with pytest.raises(shmkit.Timeout):
        ws.wait(timeout=0.1)
    p.stdin.write("go\n")
    p.stdin.flush()
    finish(p)
    # The producer is gone: its consumer is ready (recv says Disconnected).
    assert ws.wait(timeout=HANG) == [consumers[target]]
    with pytest.raises(shmkit.Disconnected):
        consumers[target].recv(timeout=0)


def test_timeout_and_validation(name):
    ws = shmkit.WaitSet()
    with pytest.raises(shmkit.Timeout):
        ws.wait(timeout=0.05)  # no members: waits out the timeout
    with pytest.raises(shmkit.WouldBlock):
        ws.wait(timeout=0)
    with pytest.raises(ValueError):
        ws.wait(timeout=-1)
    with pytest.raises(TypeError):
        ws.add(object())
    rx = channel.create_consumer(name, 4096)
    ws.add(rx)
    ws.add(rx)  # once only
    assert len(ws) == 1 and rx in ws and ws.members == [rx]
    ws.remove(rx)
    with pytest.raises(KeyError):
        ws.remove(rx)
    ws.discard(rx)
    ws.add(rx)
    ws.clear()
    assert len(ws) == 0


def test_mixed_kinds(names):
    ev = Event.create(names("ev"))
    sem = Semaphore.create(names("sem"), 0)
    tx = channel.create_producer(names("ch"), 4096)
    rx = channel.open_consumer(tx.name)
    pub = broadcast.create_publisher(names("bc"), slots=4, slot_size=64)
    sub = broadcast.open_subscriber(pub.name)
    ws = shmkit.WaitSet([ev, sem, rx, sub])
    with pytest.raises(shmkit.Timeout):
        ws.wait(timeout=0.05)
    ev.set()
    assert ws.wait(timeout=HANG) == [ev]
    ev.clear()
    sem.release()
    assert ws.wait(timeout=HANG) == [sem]
    assert sem.acquire(timeout=0)
    pub.send(b"x")
    tx.send(b"y")
    assert ws.wait(timeout=HANG) == [rx, sub]
    # Senders: a producer with room is ready at once; so is a publisher with a free slot.
    assert shmkit.WaitSet([tx, pub]).wait(timeout=HANG) == [tx, pub]
    for h in (rx, sub, tx, pub, ev, sem):
        h.close()


def test_member_closed_while_in_the_set_is_an_error(names):
    rx = channel.create_consumer(names("ch"), 4096)
    ev = Event.create(names("ev"))
    ws = shmkit.WaitSet([rx, ev])
    rx.close()
    with pytest.raises(ValueError, match="closed"):
        ws.wait(timeout=0.1)
    ws.remove(rx)
    ev.close()
    with pytest.raises(ValueError, match="closed"):
        ws.wait(timeout=0.1)


def test_member_closed_by_another_thread_during_a_wait(name):
    rx = channel.create_consumer(name, 4096)
    ws = shmkit.WaitSet([rx])
    closer = threading.Timer(0.2, rx.close)
    closer.start()
    with pytest.raises(ValueError, match="closed"):
        ws.wait(timeout=HANG)
    closer.join()


def test_a_held_sample_is_waited_out(name):
    tx = channel.create_producer(name, 4096)
    rx = channel.open_consumer(name)
    tx.send(b"a")
    tx.send(b"b")
    ws = shmkit.WaitSet([rx])
    msg = rx.recv(timeout=0)
    view = memoryview(msg)  # a live view: the receiver is busy until it ends
    release = threading.Timer(0.1, lambda: (view.release(), msg.release()))
    release.start()
    assert ws.wait(timeout=HANG) == [rx]
    release.join()
    with rx.recv(timeout=0) as m:
        assert bytes(m) == b"b"


def test_other_threads_receive_while_a_wait_sleeps(names):
    # A thread waits on all; others send; the waiter receives everything.
    n_ch, n_msg = 8, 200
    pairs = [channel.create_producer(names("ch"), 1 << 14) for _ in range(n_ch)]
    rxs = [channel.open_consumer(t.name) for t in pairs]
    ws = shmkit.WaitSet(rxs)
    got: list[bytes] = []

    def waiter():
        while len(got) < n_ch * n_msg:
            for r in ws.wait(timeout=HANG):
                while True:
                    try:
                        with r.recv(timeout=0) as m:
                            got.append(bytes(m))
                    except shmkit.WouldBlock:
                        break

    t = threading.Thread(target=waiter)
    t.start()

    def sender(tx, k):
        for i in range(n_msg):
            tx.send(b"%d:%d" % (k, i), timeout=HANG)

    senders = [threading.Thread(target=sender, args=(tx, k)) for k, tx in enumerate(pairs)]
    for s in senders:
        s.start()
    for s in senders:
        s.join(HANG)
    t.join(HANG)
    assert not t.is_alive()
    assert sorted(got) == sorted(b"%d:%d" % (k, i) for k in range(n_ch) for i in range(n_msg))


BLOCKED_WAIT = """
import sys, time, shmkit
rx = shmkit.channel.create_consumer(sys.argv[1], 4096)
ws = shmkit.WaitSet([rx])
print("ready", flush=True)
try:
    ws.wait()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_interrupts_a_wait(name):
    p = child(BLOCKED_WAIT, name)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # let it wait
    p.send_signal(signal.SIGINT)
    assert finish(p).strip() == "interrupted"


def test_service_servers_and_clients_join_a_set(names):
    """A request from another process makes the server ready; its answer makes a client
    ready; a server gone makes its client ready (with Disconnected)."""
    from shmkit import service

    srv = service.create_server(names("svc"))
    ev = Event.create(names("ev"))
    ws = shmkit.WaitSet([ev, srv])
    with pytest.raises(shmkit.WouldBlock):
        ws.wait(timeout=0)
    p = child(
        """
        import sys
        from shmkit import service
        with service.open_client(sys.argv[1], open_timeout=30.0) as c:
            assert bytes(c.call(b"ping", timeout=30.0)) == b"pong"
        """,
        srv.name,
    )
    assert ws.wait(timeout=HANG) == [srv]
    req = srv.recv(timeout=0)
    assert bytes(req.payload) == b"ping"
    srv.respond(req.handle, b"pong")
    finish(p)
    # A client in this process: ready when its response is there.
    cl = service.open_client(srv.name)
    ws2 = shmkit.WaitSet([cl])
    pending = cl.request(b"x")
    assert ws.wait(timeout=HANG) == [srv]
    r = srv.recv(timeout=0)
    srv.respond(r.handle, b"y")
    assert ws2.wait(timeout=HANG) == [cl]
    assert bytes(cl.wait(pending, timeout=0)) == b"y"
    # The server closed while in a set is an error; its client is ready (Disconnected).
    srv.close()
    with pytest.raises(ValueError):
        ws.wait(timeout=0)
    assert ws2.wait(timeout=HANG) == [cl]
    with pytest.raises(shmkit.Disconnected):
        cl.call(b"z", timeout=0)
    cl.close()
    ev.close()
