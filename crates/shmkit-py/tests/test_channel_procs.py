"""Channels between processes: multiprocessing, unrelated interpreters, the Rust CLI,
a 64 MiB numpy array, a producer killed with SIGKILL, and Ctrl-C in a blocking recv."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import struct
import subprocess
import time

import numpy as np
import pytest

import shmkit
from shmkit import channel
from conftest import HANG, child, finish

MIB = 1 << 20


def _consume_count(name: str, n: int, q) -> None:
    rx = channel.open_consumer(name)
    total = 0
    for i in range(n):
        with rx.recv(timeout=HANG) as s:
            assert int.from_bytes(s, "little") == i
            total += 1
    q.put(total)


@pytest.mark.parametrize("start", ["spawn", "fork"])
def test_multiprocessing_python_to_python(name, start):
    n = 10_000
    tx = channel.create_producer(name, 1 << 16)
    ctx = mp.get_context(start)
    q = ctx.Queue()
    p = ctx.Process(target=_consume_count, args=(name, n, q))
    p.start()
    for i in range(n):
        tx.send(i.to_bytes(4, "little"), timeout=HANG)
    assert q.get(timeout=HANG) == n
    p.join(HANG)
    assert p.exitcode == 0
    tx.close()


def test_unrelated_interpreter_is_the_producer(name):
    rx = channel.create_consumer(name, 1 << 16)
    p = child(
        """
        import sys, shmkit
        tx = shmkit.channel.open_producer(sys.argv[1])
        for i in range(1000):
            tx.send(b"msg %d" % i)
        tx.close()
        """,
        name,
    )
    got = []
    while True:
        try:
            got.append(rx.recv(timeout=HANG).bytes())
        except shmkit.Disconnected:
            break
    finish(p)
    assert got == [b"msg %d" % i for i in range(1000)]
    rx.close()


ARRAY_PRODUCER = """
import sys, numpy as np, shmkit
tx = shmkit.channel.open_producer(sys.argv[1])
src = np.arange(16 * 1024 * 1024, dtype=np.float32)   # 64 MiB; exact in float32 (< 2**24)
with tx.loan(src.nbytes) as buf:
    np.copyto(np.frombuffer(buf, dtype=np.float32), src)
tx.close()
"""


def test_64_mib_float32_array_by_loan_received_in_place(name):
    rx = channel.create_consumer(name, 256 * MIB)
    p = child(ARRAY_PRODUCER, name)
    with rx.recv(timeout=HANG) as s:
        assert len(s) == 64 * MIB
        got = np.frombuffer(s, dtype=np.float32)
        assert not got.flags.owndata  # in place, not a copy
        assert np.array_equal(got, np.arange(16 * 1024 * 1024, dtype=np.float32))
        del got
    finish(p)
    with pytest.raises(shmkit.Disconnected):
        rx.recv(timeout=HANG)
    rx.close()


ENDLESS_PRODUCER = """
import sys, shmkit
tx = shmkit.channel.open_producer(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    body = i.to_bytes(8, "little") * (1 + i % 7)
    with tx.loan(len(body)) as buf:
        buf[:] = body
    i += 1
"""


def test_killed_producer_delivers_everything_committed_then_disconnects(name):
    rx = channel.create_consumer(name, 1 << 14)
    p = child(ENDLESS_PRODUCER, name)
    assert p.stdout.readline().strip() == "ready"
    expected = 0

    def check(msg: bytes) -> None:
        nonlocal expected
        word = expected.to_bytes(8, "little")
        assert msg == word * (1 + expected % 7), f"message {expected} is damaged"
        expected += 1

    for _ in range(5000):  # the stream is flowing...
        check(rx.recv(timeout=HANG).bytes())
    os.kill(p.pid, signal.SIGKILL)  # ...kill it mid-stream
    p.wait(HANG)
    with pytest.raises(shmkit.Disconnected):
        while True:
            check(rx.recv(timeout=HANG).bytes())
    assert expected >= 5000
    rx.close()


BLOCKED_CONSUMER = """
import sys, time, shmkit
rx = shmkit.channel.create_consumer(sys.argv[1], 4096)
print("ready", flush=True)
t = time.monotonic()
try:
    rx.recv()
except KeyboardInterrupt:
    print("interrupted after %.3f s" % (time.monotonic() - t), flush=True)
"""


def test_ctrl_c_interrupts_a_blocking_recv(name):
    p = child(BLOCKED_CONSUMER, name)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # let it block in recv
    p.send_signal(signal.SIGINT)
    out = finish(p)
    assert out.startswith("interrupted"), out


def test_rust_cli_sends_to_python(name, cli, tmp_path):
    data = np.random.default_rng(7).integers(0, 256, 3 * MIB + 123, dtype=np.uint8).tobytes()
    src = tmp_path / "input.bin"
    src.write_bytes(data)
    rx = channel.create_consumer(name, 8 * MIB)
    sender = subprocess.Popen([cli, "send", name, str(src)], stderr=subprocess.PIPE)
    (announced,) = struct.unpack("<Q", rx.recv(timeout=HANG).bytes())
    assert announced == len(data)
    got = bytearray()
    buf = bytearray()
    while rx.recv_into(buf, timeout=HANG):
        got += buf
    assert sender.wait(HANG) == 0, sender.stderr.read()
    assert bytes(got) == data
    rx.close()


def test_python_sends_to_rust_cli(name, cli, tmp_path):
    data = np.random.default_rng(8).integers(0, 256, 2 * MIB + 5, dtype=np.uint8).tobytes()
    out = tmp_path / "output.bin"
    receiver = subprocess.Popen([cli, "recv", name, "-o", str(out)], stderr=subprocess.PIPE)
    tx = channel.open_producer(name, open_timeout=HANG)  # the CLI creates it
    tx.send(struct.pack("<Q", len(data)))
    view = memoryview(data)
    for at in range(0, len(data), MIB):
        chunk = view[at : at + MIB]
        with tx.loan(len(chunk)) as buf:
            buf[:] = chunk
    tx.send(b"")  # the end of the stream
    assert receiver.wait(HANG) == 0, receiver.stderr.read()
    assert out.read_bytes() == data
    tx.close()
