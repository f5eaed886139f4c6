"""``open_timeout=``: every open waits for its object to appear, so the two processes start
in either order; and ``Publisher.wait_for_subscribers``. Across processes, as users run them."""

from __future__ import annotations

import math
import signal
import subprocess
import time

import pytest

import shmkit
from shmkit import broadcast, channel, sync
from conftest import HANG, child, finish

# Each kind: the code a late creator runs (`n` is the name), and how this side opens it.
KINDS = {
    "segment": (
        "h = shmkit.Segment.create(n, 4096)",
        lambda n, t: shmkit.Segment.open(n, open_timeout=t),
    ),
    "consumer": (
        "h = shmkit.channel.create_producer(n, 4096)",
        lambda n, t: channel.open_consumer(n, open_timeout=t),
    ),
    "producer": (
        "h = shmkit.channel.create_consumer(n, 4096)",
        lambda n, t: channel.open_producer(n, open_timeout=t),
    ),
    "subscriber": (
        "h = shmkit.broadcast.create_publisher(n, slots=4, slot_size=64)",
        lambda n, t: broadcast.open_subscriber(n, open_timeout=t),
    ),
    "mutex": ("h = shmkit.sync.Mutex.create(n)", lambda n, t: sync.Mutex.open(n, open_timeout=t)),
    "event": ("h = shmkit.sync.Event.create(n)", lambda n, t: sync.Event.open(n, open_timeout=t)),
    "semaphore": (
        "h = shmkit.sync.Semaphore.create(n, 1)",
        lambda n, t: sync.Semaphore.open(n, open_timeout=t),
    ),
}

# Creates argv[1] after argv[2] seconds, says so, and keeps it until stdin closes.
LATE_CREATOR = """
import sys, time, shmkit
n = sys.argv[1]
time.sleep(float(sys.argv[2]))
{create}
print("created", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("open_timeout", [HANG, math.inf])
def test_open_waits_for_a_creator_that_comes_later(name, kind, open_timeout):
    create, open_ = KINDS[kind]
    p = child(LATE_CREATOR.format(create=create), name, "0.3", stdin=subprocess.PIPE)
    try:
        h = open_(name, open_timeout)  # started before the creator made it
        assert p.stdout.readline().strip() == "created"
        h.close()
    finally:
        finish(p)  # closes its stdin: it lets go


@pytest.mark.parametrize("kind", KINDS)
def test_without_open_timeout_a_missing_object_is_not_found_at_once(name, kind):
    _, open_ = KINDS[kind]
    with pytest.raises(shmkit.NotFound) as e:
        open_(name, None)
    assert e.value.name == name


@pytest.mark.parametrize("kind", KINDS)
def test_when_the_time_is_up_the_error_is_not_found(name, kind):
    _, open_ = KINDS[kind]
    t = time.monotonic()
    with pytest.raises(shmkit.NotFound) as e:
        open_(name, 0.2)
    assert e.value.name == name
    assert time.monotonic() - t >= 0.2  # it did wait (no upper bound asserted)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_a_bad_open_timeout_is_a_value_error(name, bad):
    with pytest.raises(ValueError):
        channel.open_consumer(name, open_timeout=bad)


BLOCKED_OPENER = """
import math, sys, time, shmkit
print("ready", flush=True)
try:
    shmkit.channel.open_consumer(sys.argv[1], open_timeout=math.inf)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_interrupts_an_open_that_waits_forever(name):
    p = child(BLOCKED_OPENER, name)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)  # let it wait in open
    p.send_signal(signal.SIGINT)
    assert finish(p).strip() == "interrupted"


# A subscriber that may start before its publisher: it waits for the channel, then for a
# message, and prints it.
SUBSCRIBER = """
import sys, shmkit
sub = shmkit.broadcast.open_subscriber(sys.argv[1], open_timeout=float(sys.argv[2]))
print(sub.recv(timeout=float(sys.argv[2])).bytes().decode(), flush=True)
"""


def test_subscribers_first_then_the_publisher_waits_for_them(name):
    subs = [child(SUBSCRIBER, name, str(HANG)) for _ in range(2)]
    time.sleep(0.2)  # both are waiting for the channel to appear
    pub = broadcast.create_publisher(name, slots=4, slot_size=64)
    assert pub.wait_for_subscribers(2, timeout=HANG) == 2
    assert pub.subscribers == 2
    pub.send(b"hello", timeout=HANG)
    assert [finish(p).strip() for p in subs] == ["hello", "hello"]
    pub.close()


def test_wait_for_subscribers_without_enough_raises_timeout(name):
    pub = broadcast.create_publisher(name, slots=4, slot_size=64)
    assert pub.wait_for_subscribers(0) == 0
    with pytest.raises(shmkit.WouldBlock):
        pub.wait_for_subscribers(1, timeout=0)
    with pytest.raises(shmkit.Timeout) as e:
        pub.wait_for_subscribers(1, timeout=0.1)
    assert e.value.name == name
    sub = broadcast.open_subscriber(name)
    assert pub.wait_for_subscribers(1, timeout=0) == 1
    sub.close()
    with pytest.raises(RuntimeError):
        with pub.loan(1):  # this thread's open loan holds the publisher
            pub.wait_for_subscribers(1)
    pub.close()


WAITING_PUBLISHER = """
import sys, shmkit
pub = shmkit.broadcast.create_publisher(sys.argv[1], slots=4, slot_size=64)
print("ready", flush=True)
try:
    pub.wait_for_subscribers(1)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_interrupts_wait_for_subscribers(name):
    p = child(WAITING_PUBLISHER, name)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    assert finish(p).strip() == "interrupted"
