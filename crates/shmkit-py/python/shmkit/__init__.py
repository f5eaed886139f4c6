"""shmkit: inter-process communication over named shared memory.

* :class:`Segment` — named raw bytes with the buffer protocol (``numpy.frombuffer``);
* :mod:`shmkit.channel` — a single-producer / single-consumer byte channel with zero-copy
  loans (``with tx.loan(n) as buf``) and in-place samples;
* :mod:`shmkit.broadcast` — one publisher, many subscribers;
* :mod:`shmkit.service` — request/response: one server, many clients;
* :mod:`shmkit.sync` — a robust :class:`~shmkit.sync.Mutex`, :class:`~shmkit.sync.Event`
  and :class:`~shmkit.sync.Semaphore`;
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
from ._shmkit import LAYOUT_VERSION, Loan, Receiver, Sample, Segment, Sender, WaitSet
from ._shmkit import inspect, list, remove
from ._layout import Layout
from . import broadcast, channel, service, sync

__version__ = "0.1.0"


class _Octal(int):
    """An ``int`` whose ``repr`` is octal (``0o600``); ``str`` stays decimal.

    The native functions' text signatures say ``mode=shmkit.DEFAULT_MODE``; ``inspect`` (and
    so ``help()``) looks the name up and shows its ``repr``, so signatures read
    ``mode=0o600``. A literal ``0o600`` there would be parsed into the plain int 384.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"0o{int(self):o}"

    __str__ = int.__repr__


#: The permission bits a new object gets unless ``mode=`` says otherwise: ``0o600``, its
#: owner only (Rust: ``shmkit::segment::DEFAULT_MODE``).
DEFAULT_MODE: int = _Octal(_shmkit.DEFAULT_MODE)

__all__ = [
    "Segment",
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
