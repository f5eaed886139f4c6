"""shmkit: inter-process communication over named shared memory.

* :class:`Segment` — named raw bytes with the buffer protocol (``numpy.frombuffer``);
* :mod:`shmkit.channel` — a single-producer / single-consumer byte channel with zero-copy
  loans (``with tx.loan(n) as buf``) and in-place samples;
* :mod:`shmkit.broadcast` — one publisher, many subscribers;
* :mod:`shmkit.service` — request/response: one server, many clients;
* :class:`FileMapping` — a file mapped into memory (:class:`View` s of it, ``flush``);
* :mod:`shmkit.sync` — a robust :class:`~shmkit.sync.Mutex`, :class:`~shmkit.sync.Event`,
  :class:`~shmkit.sync.Semaphore` and :class:`~shmkit.sync.Shared` (a value behind the lock);
* :class:`Layout` — the message type of a typed channel, broadcast or service
  (``layout=`` takes a numpy dtype, a ctypes type or a ``Layout``);
* :class:`WaitSet` — wait on many handles at once; ``await rx.recv_async()`` (asyncio, see
  ``shmkit._aio``);
* :func:`inspect`, :func:`list`, :func:`remove`.

Every error is a :class:`shmkit.Error`; see ``shmkit._errors`` for the hierarchy.
"""

from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from . import _shmkit
from ._mode import DEFAULT_MODE
from ._shmkit import LAYOUT_VERSION, FileMapping, Loan, Receiver, Sample, Segment, Sender, View
from ._shmkit import WaitSet
from ._shmkit import inspect, list, remove
from ._layout import Layout
from . import broadcast, channel, service, sync

__version__ = "0.1.0"

__all__ = [
    "Segment",
    "FileMapping",
    "View",
    "Sender",
    "Receiver",
    "Loan",
    "Sample",
    "WaitSet",
    "Layout",
    "channel",
    "broadcast",
    "sync",
    "service",
    "inspect",
    "list",
    "remove",
    "LAYOUT_VERSION",
    "DEFAULT_MODE",
    *_error_names,
]
