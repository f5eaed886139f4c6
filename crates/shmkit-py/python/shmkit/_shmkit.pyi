"""Type stubs of the native module ``shmkit._shmkit`` (re-exported by ``shmkit``)."""

import builtins
import os
from types import TracebackType
from collections.abc import Coroutine, Iterable
from typing import Any, Literal, Self, TypedDict, final

from typing_extensions import Buffer  # collections.abc.Buffer from 3.12 on

from . import broadcast as broadcast
from . import channel as channel
from . import service as service
from . import sync as sync
from ._layout import Layout

WaitStrategy = Literal["adaptive", "blocking", "busy_poll"]

LAYOUT_VERSION: int
DEFAULT_MODE: int

@final
class Segment(Buffer):
    """A named shared-memory segment with the buffer protocol (``numpy.frombuffer(seg)``).

    Thread safety: every method may be called from any thread; the bytes are plain shared
    memory (synchronise writers yourself).
    """

    @classmethod
    def create(cls, name: str, size: int, mode: int = 0o600, keep: bool = False) -> Segment:
        """Create ``name`` with ``size`` zero bytes; the creator removes the name on close."""
    @classmethod
    def open(
        cls, name: str, read_only: bool = False, *, open_timeout: float | None = None
    ) -> Segment:
        """Open the existing segment ``name``, waiting ``open_timeout`` s for it to appear."""
    @property
    def name(self) -> str:
        """The segment's name."""
    @property
    def size(self) -> int:
        """The size in bytes (also ``len(seg)``)."""
    @property
    def read_only(self) -> bool:
        """Whether the segment was opened read-only (its buffers are then read-only)."""
    @property
    def is_creator(self) -> bool:
        """Whether this handle created the segment and removes its name on close."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    keep: bool
    """Whether closing leaves the name in place (always ``True`` for openers)."""
    def close(self) -> None:
        """Unmap; remove the name if this handle created it. ``BufferError`` while views live."""
    def __len__(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool: ...

Access = Literal["read_only", "read_write", "copy_on_write"]

@final
class FileMapping:
    """A file opened for mapping (Rust ``FileMapping``): :meth:`map` gives :class:`View` s,
    whose :meth:`View.flush` writes changes back to the file.

    Thread safety: every method works from any thread.
    """

    @classmethod
    def create(cls, path: str | os.PathLike[str], size: int) -> FileMapping:
        """Create the file ``path`` of ``size`` zero bytes (``AlreadyExists`` if it exists)."""
    @classmethod
    def open(
        cls, path: str | os.PathLike[str], size: int | None = None, *, read_only: bool = False
    ) -> FileMapping:
        """Open ``path`` (at least ``size`` bytes); ``read_only``: views cannot write it."""
    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], size: int) -> FileMapping:
        """Open ``path`` if it exists, else create it with ``size`` zero bytes."""
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def map(
        self, offset: int = 0, size: int | None = None, *, access: Access | None = None
    ) -> View:
        """Map ``size`` bytes from ``offset`` (default: to the end); ``AccessMismatch`` for a
        read-write view of a read-only file, ``SizeInvalid`` for an empty or too long range."""
    def close(self) -> None:
        """Close the handle; views keep their mapping."""
    def __len__(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

@final
class View(Buffer):
    """A mapped range of a :class:`FileMapping`, with the buffer protocol and ``flush``.

    Thread safety: every method works from any thread; the bytes are plain shared memory.
    """

    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def access(self) -> Access: ...
    @property
    def closed(self) -> bool: ...
    def flush(self, offset: int = 0, size: int | None = None) -> None:
        """Write the view's changes (a range of it) to the file and wait for the OS."""
    def flush_async(self) -> None:
        """Start writing the whole view to the file without waiting."""
    def close(self) -> None:
        """Unmap; ``BufferError`` while buffer views of it are alive."""
    def __len__(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

@final
class Loan(Buffer):
    """Room for one message in shared memory; writable buffer; commits on a clean ``with`` exit.

    Thread safety: while open it holds its sender: other threads' calls on the sender wait
    until it is committed or aborted. Its own methods work from any thread.
    """

    @property
    def open(self) -> bool:
        """Whether the loan is neither committed nor aborted."""
    @property
    def value(self) -> Any:
        """A typed loan's writable zero-copy view: a numpy array (shape ``()`` for ``loan()``,
        ``(n,)`` for ``loan_slice(n)``), a ctypes object, or a memoryview for a layout given
        by numbers. ``TypeError`` on a byte side. Must be gone before the commit."""
    def commit(self, size: int | None = None) -> None:
        """Publish the first ``size`` bytes (default all). ``BufferError`` while views live."""
    def abort(self) -> None:
        """Publish nothing. ``BufferError`` while views live."""
    def __len__(self) -> int: ...
    def __enter__(self) -> Any:
        """A memoryview; a typed loan's :attr:`value`."""
    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool: ...

@final
class Sample(Buffer):
    """A received message read in place; read-only buffer; released by ``with``/:meth:`release`.

    Thread safety: while held it holds its receiver: other threads' calls on the receiver
    wait until it is released. Its own methods work from any thread.
    """

    @property
    def held(self) -> bool:
        """Whether the message is still held."""
    @property
    def seq(self) -> int | None:
        """Broadcast sequence number; ``None`` for channel samples."""
    @property
    def value(self) -> Any:
        """A typed sample's read-only zero-copy view: a numpy array (shape ``()`` from
        ``recv()``, ``(n,)`` from ``recv_slice()``), a ctypes object (do not write through
        it), or a memoryview for a layout given by numbers. ``TypeError`` on a byte side.
        Must be gone before the release."""
    def bytes(self) -> bytes:
        """A copy of the message."""
    def release(self) -> None:
        """Give the memory back to the sender. ``BufferError`` while views live."""
    def __len__(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> bool: ...

class Sender:
    """Base class of :class:`shmkit.channel.Producer` and :class:`shmkit.broadcast.Publisher`.

    Thread safety: may be shared between threads; each call happens whole, in some order, and
    nothing acknowledged is lost. While a :class:`Loan` is open, calls from other threads wait
    for it (up to their ``timeout``: ``Timeout``, or ``WouldBlock`` for ``0``; Ctrl-C
    interrupts); ``loan``/``send``/``close`` from the loan's own thread abandon it instead.
    """

    @property
    def name(self) -> str: ...
    @property
    def max_message_len(self) -> int: ...
    @property
    def layout(self) -> Layout | None:
        """A typed side's message type (``layout=``); ``None`` for bytes."""
    @property
    def closed(self) -> bool: ...
    @property
    def wait_strategy(self) -> WaitStrategy:
        """How this side waits."""
    def set_wait_strategy(self, wait_strategy: WaitStrategy) -> None:
        """Change how this side waits (``RuntimeError`` while this thread's loan is open)."""
    def loan(self, size: int | None = None, timeout: float | None = None) -> Loan:
        """Borrow ``size`` bytes of room, waiting up to ``timeout`` s (None: forever); on a
        typed side no size: one record.

        Waits for another thread's open loan; abandons this thread's."""
    def loan_slice(self, count: int, timeout: float | None = None) -> Loan:
        """A typed side's loan of ``count`` records (waits as :meth:`loan`)."""
    def send(self, data: Any, timeout: float | None = None) -> None:
        """Copy any C-contiguous buffer in as one message (waits as :meth:`loan`); on a
        typed side, records of its type or bytes of a whole number of them."""
    def send_async(
        self, data: Buffer, timeout: float | None = None
    ) -> Coroutine[Any, Any, None]:
        """``await tx.send_async(data)``: :meth:`send` suspending the task, not the thread.

        Cancellation-safe: a cancelled await sent nothing."""
    def loan_async(
        self, size: int | None = None, timeout: float | None = None
    ) -> Coroutine[Any, Any, Loan]:
        """``await tx.loan_async(size)``: :meth:`loan` suspending the task, not the thread.

        Cancellation-safe: a cancelled await holds no loan."""
    def close(self) -> None:
        """Close; the receiver sees ``Disconnected`` after draining (waits as :meth:`loan`)."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

class Receiver:
    """Base class of :class:`shmkit.channel.Consumer` and :class:`shmkit.broadcast.Subscriber`.

    Thread safety: may be shared between threads; each call happens whole, in some order, and
    every message is received once. While a :class:`Sample` is held, calls from other threads
    wait for its release (up to their ``timeout``: ``Timeout``, or ``WouldBlock`` for ``0``;
    Ctrl-C interrupts); calls from the sample's own thread release it first.
    """

    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def layout(self) -> Layout | None:
        """A typed side's message type (``layout=``); ``None`` for bytes."""
    @property
    def wait_strategy(self) -> WaitStrategy:
        """How this side waits."""
    def set_wait_strategy(self, wait_strategy: WaitStrategy) -> None:
        """Change how this side waits (releases this thread's sample first)."""
    def recv(self, timeout: float | None = None) -> Sample:
        """The next message, in place; waits up to ``timeout`` s (None: forever). On a
        typed side one record (else ``Corrupt``, and it is dropped).

        Waits for another thread's held sample; releases this thread's."""
    def recv_slice(self, timeout: float | None = None) -> Sample:
        """A typed side's next message of a whole number of records (waits as :meth:`recv`)."""
    def recv_into(self, buffer: Buffer, timeout: float | None = None) -> int:
        """Copy the next message into ``buffer`` (a bytearray is resized); returns its length.

        Waits as :meth:`recv`."""
    def recv_async(self, timeout: float | None = None) -> Coroutine[Any, Any, Sample]:
        """``await rx.recv_async()``: :meth:`recv` suspending the task, not the thread.

        Any asyncio loop (uvloop too); cancellation-safe (a cancelled await consumed nothing);
        one reactor thread per process (``shmkit._aio``)."""
    def recv_slice_async(self, timeout: float | None = None) -> Coroutine[Any, Any, Sample]:
        """``await rx.recv_slice_async()``: :meth:`recv_slice` suspending the task (as
        :meth:`recv_async`)."""
    def close(self) -> None:
        """Close; the sender sees ``Disconnected`` (waits as :meth:`recv`)."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

class _Holder(TypedDict):
    role: str
    pid: int

class Info(TypedDict):
    name: str
    size: int
    kind: str
    layout_version: int | None
    creator_pid: int | None
    creator_alive: bool | None
    in_use: bool | None
    holders: builtins.list[_Holder]
    owner_uid: int | None
    mode: str | None
    modified: str | None
    age_seconds: int | None
    # The object's shape and counters, keyed by ``kind`` ("channel", "broadcast",
    # "service", ...): the fields ``shmkit info --json`` documents (crates/shmkit-cli/README.md).
    details: dict[str, Any] | None
    details_error: str | None

def inspect(name: str) -> Info:
    """What ``name`` is and who uses it."""

def list(all: bool = False) -> builtins.list[Info]:  # noqa: A001
    """The segments the OS can list, as :func:`inspect` dicts."""

def remove(name: str) -> None:
    """Remove the name ``name`` (mappings stay valid)."""

def cli(args: builtins.list[str]) -> int:
    """Run the ``shmkit`` command line with ``args`` in this process; its exit status.

    For ``python -m shmkit`` and the ``shmkit`` script, each a process of its own."""


_Waitable = (
    channel.Producer
    | channel.Consumer
    | broadcast.Publisher
    | broadcast.Subscriber
    | sync.Event
    | sync.Semaphore
    | service.Server
    | service.Client
)

@final
class WaitSet:
    """Waits until any of its members is ready, and says which (``select`` for shmkit handles).

    Members: channel Producers/Consumers, broadcast Publishers/Subscribers, Events,
    Semaphores, and service Servers (a request) and Clients (a response, or the server
    gone). Ready: the member's next ``timeout=0`` call would not raise ``WouldBlock``
    (another thread or process may take it first: receive with ``timeout=0`` and loop). The
    set holds its members; one closed while in the set makes ``wait`` raise ``ValueError``.
    The interpreter is released while waiting; Ctrl-C interrupts.

    Thread safety: may be shared between threads; two threads waiting on one set take turns.
    A wait holds each channel/broadcast/service member for up to 50 ms at a time (less when
    one is ready): another thread's call on that member waits as long (a server's
    ``respond`` does not: it goes through the server's responder).
    """

    def __init__(self, members: Iterable[_Waitable] | None = None) -> None: ...
    def add(self, member: _Waitable) -> None:
        """Add ``member`` (again: no effect); ``TypeError`` for a kind that cannot wait."""
    def remove(self, member: _Waitable) -> None:
        """Remove ``member``; ``KeyError`` if absent."""
    def discard(self, member: _Waitable) -> None:
        """Remove ``member`` if present."""
    def clear(self) -> None:
        """Remove every member."""
    @property
    def members(self) -> builtins.list[_Waitable]:
        """The members, in the order added."""
    def wait(self, timeout: float | None = None) -> builtins.list[_Waitable]:
        """The ready members (in the order added), waiting up to ``timeout`` s (None: forever,
        0: not at all); ``Timeout`` (``WouldBlock`` for 0) if none."""
    @staticmethod
    def native() -> bool:
        """Whether waits sleep in the OS (Linux ≥ 5.16, Windows) rather than poll."""
    def __len__(self) -> int: ...
    def __contains__(self, member: object) -> bool: ...
