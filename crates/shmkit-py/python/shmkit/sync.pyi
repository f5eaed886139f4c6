"""Process-shared synchronisation: a robust Mutex, Events, Semaphores and Shared values,
found by name."""

import ctypes
from collections.abc import Coroutine
from typing import Any, NoReturn, Self, final

from numpy.typing import DTypeLike


#: What a Shared value may hold: a numpy dtype, a ctypes type, or a size in bytes.
SharedType = DTypeLike | type[ctypes._SimpleCData[Any]] | type[ctypes.Structure] | type[
    ctypes.Union
] | type[ctypes.Array[Any]] | int

@final
class Mutex:
    """A robust named mutex, shaped like ``threading.Lock`` (but see :meth:`locked`).

    Thread safety: a handle may be shared between threads; ``acquire`` waits for another
    thread's hold (releasing the GIL), and only the holding thread may release it."""

    @classmethod
    def create(cls, name: str, *, mode: int = 0o600, keep: bool = False) -> Mutex: ...
    @classmethod
    def open(cls, name: str, *, open_timeout: float | None = None) -> Mutex: ...
    @classmethod
    def open_or_create(cls, name: str, *, mode: int = 0o600, keep: bool = False) -> Mutex: ...
    @property
    def name(self) -> str: ...
    @property
    def is_creator(self) -> bool: ...
    @property
    def needs_repair(self) -> bool: ...
    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Acquire; raises ``OwnerDied`` with the lock held after a holder's death."""
    def release(self) -> None: ...
    def make_consistent(self) -> None: ...
    def unlock_unrepaired(self) -> None: ...
    def held(self) -> bool:
        """Whether this handle holds the mutex (in any thread); says nothing of other handles."""
    def locked(self) -> NoReturn:
        """Raises ``NotImplementedError``: whether *anyone* holds it (``threading.Lock.locked``)
        cannot be told of another process without taking it. Use :meth:`held` or
        ``acquire(blocking=False)``."""
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

@final
class Event:
    """A named event, shaped like ``threading.Event``; every method works from any thread,
    and ``wait_async`` from any asyncio event loop."""

    @classmethod
    def create(
        cls, name: str, *, auto_reset: bool = False, mode: int = 0o600, keep: bool = False
    ) -> Event: ...
    @classmethod
    def open(cls, name: str, *, open_timeout: float | None = None) -> Event: ...
    @property
    def name(self) -> str: ...
    @property
    def is_creator(self) -> bool: ...
    @property
    def auto_reset(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def wait_async(self, timeout: float | None = None) -> Coroutine[Any, Any, bool]:
        """``await ev.wait_async()``: :meth:`wait` suspending the task, not the thread;
        cancellation-safe (a cancelled await passes nothing)."""
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...

@final
class Semaphore:
    """A named counting semaphore, shaped like ``threading.Semaphore``; every method works
    from any thread, and ``acquire_async`` from any asyncio event loop."""

    @classmethod
    def create(
        cls, name: str, value: int = 0, *, max: int = ..., mode: int = 0o600, keep: bool = False
    ) -> Semaphore: ...
    @classmethod
    def open(cls, name: str, *, open_timeout: float | None = None) -> Semaphore: ...
    @property
    def name(self) -> str: ...
    @property
    def is_creator(self) -> bool: ...
    @property
    def value(self) -> int: ...
    @property
    def max(self) -> int: ...
    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...
    def acquire_async(self, timeout: float | None = None) -> Coroutine[Any, Any, bool]:
        """``await sem.acquire_async()``: :meth:`acquire` suspending the task, not the thread;
        cancellation-safe (a cancelled await took no permit)."""
    def release(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

class Shared:
    """A value that processes share by name behind a robust mutex (Rust ``Shared<T>``), of a
    numpy dtype, a ctypes type or a size in bytes. ``with shared.lock() as value:`` yields
    it in place (a 0-d numpy array, a ctypes object, a memoryview), valid inside the block.

    Thread safety: a handle may be shared between threads; each ``lock`` is a hold of its
    own, which only the locking thread may end."""

    @classmethod
    def create(
        cls,
        name: str,
        type: SharedType,
        value: Any = None,
        *,
        tag: str | None = None,
        align: int | None = None,
        mode: int = 0o600,
        keep: bool = False,
    ) -> Shared: ...
    @classmethod
    def open(
        cls,
        name: str,
        type: SharedType | None = None,
        *,
        tag: str | None = None,
        align: int | None = None,
        open_timeout: float | None = None,
    ) -> Shared: ...
    @classmethod
    def open_or_create(
        cls,
        name: str,
        type: SharedType,
        value: Any = None,
        *,
        tag: str | None = None,
        align: int | None = None,
        mode: int = 0o600,
        keep: bool = False,
    ) -> Shared: ...
    @property
    def name(self) -> str: ...
    @property
    def is_creator(self) -> bool: ...
    @property
    def size(self) -> int: ...
    @property
    def align(self) -> int: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def closed(self) -> bool: ...
    def lock(self, timeout: float | None = None) -> SharedGuard:
        """Lock; raises ``OwnerDied`` with the lock held (``e.guard``) after a holder's death."""
    def get(self, timeout: float | None = None) -> Any:
        """A private copy of the value, taken under the lock."""
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> bool: ...

class SharedGuard:
    """One hold of a :class:`Shared` value's lock; ``with`` it for the value in place.

    Thread safety: ``unlock``, ``make_consistent`` and ``unlock_unrepaired`` only on the
    locking thread."""

    @property
    def locked(self) -> bool: ...
    @property
    def needs_repair(self) -> bool: ...
    def make_consistent(self) -> None: ...
    def unlock(self) -> None:
        """Unlock; ``BufferError`` (still locked) while views of the value are alive."""
    def unlock_unrepaired(self) -> None: ...
    def get(self) -> Any: ...
    def set(self, value: Any) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, t: object, e: object = None, tb: object = None) -> bool: ...
