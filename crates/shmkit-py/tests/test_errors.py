"""The exception hierarchy, and Ctrl-C in the other blocking calls."""

from __future__ import annotations

import pickle
import signal
import time

import pytest

import shmkit
from conftest import child, finish


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (shmkit.NotFound, FileNotFoundError),
        (shmkit.AlreadyExists, FileExistsError),
        (shmkit.AccessDenied, PermissionError),
        (shmkit.Timeout, TimeoutError),
        (shmkit.WouldBlock, TimeoutError),
        (shmkit.NameInvalid, ValueError),
        (shmkit.SizeInvalid, ValueError),
        (shmkit.LayoutMismatch, TypeError),
        (shmkit.NotOutstanding, ValueError),
        (shmkit.Disconnected, EOFError),
        (shmkit.Lagged, shmkit.Error),
        (shmkit.OwnerDied, shmkit.Error),
    ],
)
def test_every_class_is_an_error_and_its_builtin(cls, builtin):
    assert issubclass(cls, shmkit.Error) and issubclass(cls, builtin)
    assert cls.__module__ == "shmkit"


def test_errors_pickle_as_shmkit_classes(name):
    with pytest.raises(shmkit.NotFound) as e:
        shmkit.channel.open_consumer(name)
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is shmkit.NotFound and str(again) == str(e.value)


BLOCKED = """
import sys, shmkit
what = sys.argv[2]
if what == "loan":
    rx = shmkit.channel.create_consumer(sys.argv[1], 4096)
    tx = shmkit.channel.open_producer(sys.argv[1])
    tx.send(b"x" * tx.max_message_len)                 # the ring has no room for another
    block = lambda: tx.loan(tx.max_message_len)
elif what == "mutex":
    block = shmkit.sync.Mutex.open(sys.argv[1]).acquire   # the test holds it
else:
    ev = shmkit.sync.Event.create(sys.argv[1])
    block = ev.wait
print("ready", flush=True)
try:
    block()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("what", ["loan", "mutex", "event"])
def test_ctrl_c_interrupts_other_blocking_calls(name, what):
    held = None
    if what == "mutex":
        held = shmkit.sync.Mutex.create(name)
        held.acquire()
    p = child(BLOCKED, name, what)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    assert finish(p).strip() == "interrupted"
    if held is not None:
        held.release()
        held.close()
