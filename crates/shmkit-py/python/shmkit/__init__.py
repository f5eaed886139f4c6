"""shmkit: inter-process communication over named shared memory.

* :class:`Segment` — named raw bytes with the buffer protocol (``numpy.frombuffer``);
* :mod:`shmkit.channel` — a single-producer / single-consumer byte channel with zero-copy
  loans (``with tx.loan(n) as buf``) and in-place samples;
* :mod:`shmkit.broadcast` — one publisher, many subscribers;
* :mod:`shmkit.sync` — a robust :class:`~shmkit.sync.Mutex`, :class:`~shmkit.sync.Event`
  and :class:`~shmkit.sync.Semaphore`;
* :func:`inspect`, :func:`list`, :func:`remove`.

Every error is a :class:`shmkit.Error`; see ``shmkit._errors`` for the hierarchy.
"""

from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from . import _shmkit
from ._shmkit import LAYOUT_VERSION, Loan, Receiver, Sample, Segment, Sender
from ._shmkit import inspect, list, remove
from . import broadcast, channel, sync

__version__ = "0.1.0"

__all__ = [
    "Segment",
    "Sender",
    "Receiver",
    "Loan",
    "Sample",
    "channel",
    "broadcast",
    "sync",
    "inspect",
    "list",
    "remove",
    "LAYOUT_VERSION",
    *_error_names,
]
